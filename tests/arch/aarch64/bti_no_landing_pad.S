/* bti_no_landing_pad.S — the BTI negative control (aarch64-bti preset only).
 *
 * Built as its own shared library exactly like slp_arch in BTI mode, so glibc maps it
 * with PROT_BTI under qemu-aarch64 -cpu max. test_bti_negative.cpp calls these
 * functions through pointers:
 *   slp_bti_probe_without_pad   no landing pad: an indirect call must die with SIGILL
 *                               (if it returns 42, BTI is not enforced and the
 *                               positive tests prove nothing);
 *   slp_bti_probe_with_pad      the same body behind `bti c`: must return 7;
 *   slp_bti_ontop_identity      guarded slp_ontop callback (entered by `br x16`);
 *   slp_bti_entry_bounce        guarded slp_make entry (entered by the trampoline's
 *                               `blr`): jumps straight back with the data it got.
 * Every instruction here is in the HINT space or base A64, so this file assembles
 * without branch protection too (the test that uses it is only built with it).
 */

.macro func_begin name
    .text
    .p2align 2
    .globl \name
    .type \name, %function
\name:
    .cfi_startproc
.endm

.macro func_end name
    .cfi_endproc
    .size \name, . - \name
.endm

/* int slp_bti_probe_without_pad(void) — deliberately no `bti c`. */
func_begin slp_bti_probe_without_pad
    mov  w0, #42
    ret
func_end slp_bti_probe_without_pad

/* int slp_bti_probe_with_pad(void) */
func_begin slp_bti_probe_with_pad
    hint 34                          /* bti c */
    mov  w0, #7
    ret
func_end slp_bti_probe_with_pad

/* slp_transfer slp_bti_ontop_identity(slp_transfer t): returns t (x0, x1) as it is. */
func_begin slp_bti_ontop_identity
    hint 34                          /* bti c */
    ret
func_end slp_bti_ontop_identity

/* void slp_bti_entry_bounce(slp_transfer t): slp_jump(t.from, t.data), as a tail call
 * (through the PLT: `br x17` into slp_jump's `bti c`). Never resumed. */
func_begin slp_bti_entry_bounce
    hint 34                          /* bti c */
    b    slp_jump
func_end slp_bti_entry_bounce

/* This object claims BTI (and PAC, which it trivially honours: it spills no lr), so the
 * linker marks the library guarded although one function lacks a landing pad: that
 * is the point. */
    .pushsection .note.gnu.property, "a", %note
    .p2align 3
    .long 4                          /* n_namesz */
    .long 16                         /* n_descsz */
    .long 5                          /* NT_GNU_PROPERTY_TYPE_0 */
    .asciz "GNU"
    .long 0xc0000000                 /* GNU_PROPERTY_AARCH64_FEATURE_1_AND */
    .long 4                          /* pr_datasz */
    .long 3                          /* BTI | PAC */
    .long 0                          /* pr_padding */
    .popsection

    .section .note.GNU-stack, "", %progbits

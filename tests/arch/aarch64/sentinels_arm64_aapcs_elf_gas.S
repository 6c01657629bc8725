/* sentinels_arm64_aapcs_elf_gas.S — the conformance suite's register helpers
 * (tests/arch/sentinels.h) for AArch64, AAPCS64, ELF, GNU as.
 *
 * slp_test_with_sentinels keeps the caller's callee-saved state in this frame while
 * the sentinels are loaded:
 *
 *      sp + 0xB0  +---------------------+  <- sp at entry (CFA, PAC modifier)
 *      sp + 0xA8  |  out                |  x29 holds a sentinel: `out` is found via sp
 *      sp + 0xA0  |  caller's FPCR      |
 *      sp + 0x90  |  x29      x30       |
 *      sp + 0x40  |  x19 .. x28         |
 *      sp + 0x00  |  d8 .. d15          |
 *                 +---------------------+
 *
 * struct slp_test_regs (W = 8): gpr[0..10] = x19..x29 at 0, fpr[0..7] = d8..d15 at 144,
 * ctl[0] = FPCR (32 bits) at 288. Unused slots are neither read nor written.
 */

#define FRAME_SIZE 0xB0
#define OFF_D8     0x00
#define OFF_D10    0x10
#define OFF_D12    0x20
#define OFF_D14    0x30
#define OFF_X19    0x40
#define OFF_X21    0x50
#define OFF_X23    0x60
#define OFF_X25    0x70
#define OFF_X27    0x80
#define OFF_FP     0x90
#define OFF_FPCR   0xA0
#define OFF_OUT    0xA8

#define REGS_GPR   0   /* slp_test_regs.gpr: x19 at +0, x20 at +8, ..., x29 at +80 */
#define REGS_FPR   144 /* slp_test_regs.fpr: d8 at +144, ..., d15 at +200 */
#define REGS_CTL   288 /* slp_test_regs.ctl[0]: FPCR */

#if defined(__ARM_FEATURE_BTI_DEFAULT) && __ARM_FEATURE_BTI_DEFAULT == 1
#define SLP_BTI 1
#else
#define SLP_BTI 0
#endif
#if defined(__ARM_FEATURE_PAC_DEFAULT) && (__ARM_FEATURE_PAC_DEFAULT & 3)
#define SLP_PAC 1
#define SLP_PAC_BKEY ((__ARM_FEATURE_PAC_DEFAULT & 2) != 0)
#else
#define SLP_PAC 0
#define SLP_PAC_BKEY 0
#endif

.macro func_begin name
    .text
    .p2align 2
    .globl \name
    .type \name, %function
\name:
    .cfi_startproc
#if SLP_PAC_BKEY
    .cfi_b_key_frame
#endif
#if SLP_BTI
    hint 34 /* bti c */
#endif
.endm

.macro func_end name
    .cfi_endproc
    .size \name, . - \name
.endm


/* void slp_test_with_sentinels(const slp_test_regs *in /x0/, slp_test_regs *out /x1/,
 *                              void (*fn)(void *) /x2/, void *arg /x3/) */
func_begin slp_test_with_sentinels
#if SLP_PAC_BKEY
    hint 27 /* pacibsp */
    .cfi_negate_ra_state
#elif SLP_PAC
    hint 25 /* paciasp */
    .cfi_negate_ra_state
#endif
    sub  sp, sp, #FRAME_SIZE
    .cfi_def_cfa_offset FRAME_SIZE
    stp  d8,  d9,  [sp, #OFF_D8]
    stp  d10, d11, [sp, #OFF_D10]
    stp  d12, d13, [sp, #OFF_D12]
    stp  d14, d15, [sp, #OFF_D14]
    stp  x19, x20, [sp, #OFF_X19]
    stp  x21, x22, [sp, #OFF_X21]
    stp  x23, x24, [sp, #OFF_X23]
    stp  x25, x26, [sp, #OFF_X25]
    stp  x27, x28, [sp, #OFF_X27]
    stp  x29, x30, [sp, #OFF_FP]
    mrs  x9, fpcr
    stp  x9,  x1,  [sp, #OFF_FPCR]   /* caller's FPCR, then out */
    .cfi_offset d8,  OFF_D8 - FRAME_SIZE
    .cfi_offset d9,  OFF_D8 + 8 - FRAME_SIZE
    .cfi_offset d10, OFF_D10 - FRAME_SIZE
    .cfi_offset d11, OFF_D10 + 8 - FRAME_SIZE
    .cfi_offset d12, OFF_D12 - FRAME_SIZE
    .cfi_offset d13, OFF_D12 + 8 - FRAME_SIZE
    .cfi_offset d14, OFF_D14 - FRAME_SIZE
    .cfi_offset d15, OFF_D14 + 8 - FRAME_SIZE
    .cfi_offset x19, OFF_X19 - FRAME_SIZE
    .cfi_offset x20, OFF_X19 + 8 - FRAME_SIZE
    .cfi_offset x21, OFF_X21 - FRAME_SIZE
    .cfi_offset x22, OFF_X21 + 8 - FRAME_SIZE
    .cfi_offset x23, OFF_X23 - FRAME_SIZE
    .cfi_offset x24, OFF_X23 + 8 - FRAME_SIZE
    .cfi_offset x25, OFF_X25 - FRAME_SIZE
    .cfi_offset x26, OFF_X25 + 8 - FRAME_SIZE
    .cfi_offset x27, OFF_X27 - FRAME_SIZE
    .cfi_offset x28, OFF_X27 + 8 - FRAME_SIZE
    .cfi_offset x29, OFF_FP - FRAME_SIZE
    .cfi_offset x30, OFF_FP + 8 - FRAME_SIZE

    /* Load the sentinels from *in. */
    mov  x9,  x0
    mov  x10, x2
    mov  x0,  x3
    ldr  w11, [x9, #REGS_CTL]
    msr  fpcr, x11
    ldp  x19, x20, [x9, #REGS_GPR + 0]
    ldp  x21, x22, [x9, #REGS_GPR + 16]
    ldp  x23, x24, [x9, #REGS_GPR + 32]
    ldp  x25, x26, [x9, #REGS_GPR + 48]
    ldp  x27, x28, [x9, #REGS_GPR + 64]
    ldr  x29,      [x9, #REGS_GPR + 80]
    ldp  d8,  d9,  [x9, #REGS_FPR + 0]
    ldp  d10, d11, [x9, #REGS_FPR + 16]
    ldp  d12, d13, [x9, #REGS_FPR + 32]
    ldp  d14, d15, [x9, #REGS_FPR + 48]

    blr  x10                          /* fn(arg) */

    /* Store what survived into *out. */
    ldr  x9, [sp, #OFF_OUT]
    stp  x19, x20, [x9, #REGS_GPR + 0]
    stp  x21, x22, [x9, #REGS_GPR + 16]
    stp  x23, x24, [x9, #REGS_GPR + 32]
    stp  x25, x26, [x9, #REGS_GPR + 48]
    stp  x27, x28, [x9, #REGS_GPR + 64]
    str  x29,      [x9, #REGS_GPR + 80]
    stp  d8,  d9,  [x9, #REGS_FPR + 0]
    stp  d10, d11, [x9, #REGS_FPR + 16]
    stp  d12, d13, [x9, #REGS_FPR + 32]
    stp  d14, d15, [x9, #REGS_FPR + 48]
    mrs  x11, fpcr
    str  w11, [x9, #REGS_CTL]

    /* Give the caller its own state back. */
    ldr  x11,      [sp, #OFF_FPCR]
    msr  fpcr, x11
    ldp  d8,  d9,  [sp, #OFF_D8]
    ldp  d10, d11, [sp, #OFF_D10]
    ldp  d12, d13, [sp, #OFF_D12]
    ldp  d14, d15, [sp, #OFF_D14]
    ldp  x19, x20, [sp, #OFF_X19]
    ldp  x21, x22, [sp, #OFF_X21]
    ldp  x23, x24, [sp, #OFF_X23]
    ldp  x25, x26, [sp, #OFF_X25]
    ldp  x27, x28, [sp, #OFF_X27]
    ldp  x29, x30, [sp, #OFF_FP]
    add  sp, sp, #FRAME_SIZE
    .cfi_def_cfa_offset 0
#if SLP_PAC_BKEY
    hint 31 /* autibsp */
#elif SLP_PAC
    hint 29 /* autiasp */
#endif
    ret
func_end slp_test_with_sentinels


/* void slp_test_entry_probe(slp_transfer t /x0, x1/): record sp as seen on entry, then
 * tail-branch to slp_test_entry_target with x0, x1 untouched. */
func_begin slp_test_entry_probe
    mov  x9, sp
    adrp x10, slp_test_entry_sp
    str  x9, [x10, #:lo12:slp_test_entry_sp]
    adrp x16, slp_test_entry_target
    ldr  x16, [x16, #:lo12:slp_test_entry_target]
    br   x16                          /* x16: allowed into a `bti c` landing pad */
func_end slp_test_entry_probe

#if SLP_BTI || SLP_PAC
    .pushsection .note.gnu.property, "a", %note
    .p2align 3
    .long 4                           /* n_namesz */
    .long 16                          /* n_descsz */
    .long 5                           /* NT_GNU_PROPERTY_TYPE_0 */
    .asciz "GNU"
    .long 0xc0000000                  /* GNU_PROPERTY_AARCH64_FEATURE_1_AND */
    .long 4                           /* pr_datasz */
    .long (SLP_BTI * 1) | (SLP_PAC * 2) /* BTI = bit 0, PAC = bit 1 */
    .long 0                           /* pr_padding */
    .popsection
#endif

    .section .note.GNU-stack, "", %progbits

/* sentinels_s390x_elf_elf_gas.S — the s390x test helpers of tests/arch/sentinels.h:
 * slp_test_with_sentinels and slp_test_entry_probe.
 *
 * slp_test_with_sentinels keeps the caller's %r6..%r15 in the caller's register save
 * area (where the ABI puts them) and the rest in this frame:
 *   offset  +------------------------------+
 *   0x000   | save area for fn (160 bytes) |
 *   0x0a0   | f8 .. f15 (8 bytes each)     |  FRAME_FPR + 8*i
 *   0x0e0   | FPC (32 bits) | padding      |  FRAME_FPC
 *   0x0e8   | out (slp_test_regs *)        |  FRAME_OUT
 *   0x0f0   +------------------------------+  %r15 at entry; CFA = that + 160
 * Every callee-saved register (%r11, gcc's frame pointer, included) carries a sentinel
 * while fn runs, so `out` is reached through %r15 only.
 */

#if !defined(__s390x__)
#error "this file is for s390x (64-bit z/Architecture)"
#endif

    /* struct slp_test_regs (sentinels.h), W = 8 */
    .equ REGS_GPR,   0              /* %r6..%r13 in gpr[0..7] */
    .equ REGS_FPR,   18*8           /* f8..f15 in fpr[0..7] */
    .equ REGS_CTL,   18*8 + 144     /* ctl[0] = FPC */

    .equ SAVE_AREA,  160
    .equ SAVE_R6,    0x30
    .equ FRAME_FPR,  0x0a0
    .equ FRAME_FPC,  0x0e0
    .equ FRAME_OUT,  0x0e8
    .equ FRAME_SIZE, 0x0f0

.macro for_each_fpr m, off, base
    \m 8, 0, \off, \base
    \m 9, 1, \off, \base
    \m 10, 2, \off, \base
    \m 11, 3, \off, \base
    \m 12, 4, \off, \base
    \m 13, 5, \off, \base
    \m 14, 6, \off, \base
    \m 15, 7, \off, \base
.endm
.macro st_f n, i, off, base         /* raw 64-bit patterns: std/ld never convert */
    std %f\n, (\off + 8*\i)(\base)
.endm
.macro ld_f n, i, off, base
    ld %f\n, (\off + 8*\i)(\base)
.endm
.macro cfi_f n, i, off, base
    .cfi_offset %f\n, \off + 8*\i - FRAME_SIZE - SAVE_AREA
.endm

    .text

/* void slp_test_with_sentinels(const slp_test_regs *in /%r2/, slp_test_regs *out /%r3/,
 *                              void (*fn)(void *) /%r4/, void *arg /%r5/) */
    .globl slp_test_with_sentinels
    .type slp_test_with_sentinels, @function
    .p2align 3
slp_test_with_sentinels:
    .cfi_startproc
    stmg %r6, %r15, SAVE_R6(%r15)
    .cfi_offset %r6, -112
    .cfi_offset %r7, -104
    .cfi_offset %r8, -96
    .cfi_offset %r9, -88
    .cfi_offset %r10, -80
    .cfi_offset %r11, -72
    .cfi_offset %r12, -64
    .cfi_offset %r13, -56
    .cfi_offset %r14, -48
    .cfi_offset %r15, -40
    aghi %r15, -FRAME_SIZE
    .cfi_def_cfa_offset SAVE_AREA + FRAME_SIZE
    for_each_fpr st_f, FRAME_FPR, %r15
    for_each_fpr cfi_f, FRAME_FPR
    stfpc FRAME_FPC(%r15)
    stg %r3, FRAME_OUT(%r15)

    /* Load the sentinels. */
    for_each_fpr ld_f, REGS_FPR, %r2
    lfpc REGS_CTL(%r2)
    lmg %r6, %r13, REGS_GPR(%r2)
    lgr %r1, %r4
    lgr %r2, %r5
    basr %r14, %r1

    /* Record what survived fn. */
    lg %r1, FRAME_OUT(%r15)
    stmg %r6, %r13, REGS_GPR(%r1)
    for_each_fpr st_f, REGS_FPR, %r1
    stfpc REGS_CTL(%r1)

    /* Give the caller its own state back. */
    for_each_fpr ld_f, FRAME_FPR, %r15
    lfpc FRAME_FPC(%r15)
    lmg %r6, %r15, (FRAME_SIZE + SAVE_R6)(%r15)
    br %r14
    .cfi_endproc
    .size slp_test_with_sentinels, .-slp_test_with_sentinels

/* void slp_test_entry_probe(slp_transfer t /%r2: its address/): record %r15 at entry,
 * then tail-jump to slp_test_entry_target with %r2 (and %r14) untouched. */
    .globl slp_test_entry_probe
    .type slp_test_entry_probe, @function
    .p2align 3
slp_test_entry_probe:
    .cfi_startproc
    larl %r1, slp_test_entry_sp
    stg %r15, 0(%r1)
    larl %r1, slp_test_entry_target
    lg %r1, 0(%r1)
    br %r1
    .cfi_endproc
    .size slp_test_entry_probe, .-slp_test_entry_probe

    .section .note.GNU-stack,"",%progbits

/* sentinels_riscv64_sysv_elf_gas.S — the riscv64 (LP64D) test helpers of
 * tests/arch/sentinels.h: slp_test_with_sentinels and slp_test_entry_probe.
 *
 * slp_test_with_sentinels keeps the caller's state in this frame:
 *   offset  +------------------------------+
 *    0x00   | s0 .. s11  (8 bytes each)    |  FRAME_S + 8*i
 *    0x60   | ra                           |  FRAME_RA
 *    0x68   | frm (32 bits) | padding      |  FRAME_FRM
 *    0x70   | fs0 .. fs11 (8 bytes each)   |  FRAME_FS + 8*i
 *    0xd0   | out (slp_test_regs *)        |  FRAME_OUT
 *    0xd8   | in  (const slp_test_regs *)  |  FRAME_IN
 *    0xe0   +------------------------------+  CFA
 * Every callee-saved register, s0 (the frame pointer) included, carries a sentinel
 * while fn runs, so `in` and `out` are reached through sp only.
 */

#if !defined(__riscv) || __riscv_xlen != 64 || !defined(__riscv_float_abi_double)
#error "this file is for riscv64 with the LP64D ABI (hard double float)"
#endif

    /* struct slp_test_regs (sentinels.h), W = 8 */
    .equ REGS_GPR,   0
    .equ REGS_FPR,   18*8
    .equ REGS_CTL,   18*8 + 144     /* ctl[0] = frm, ctl[1] unused on riscv64 */

    .equ FRAME_S,    0x00
    .equ FRAME_RA,   0x60
    .equ FRAME_FRM,  0x68
    .equ FRAME_FS,   0x70
    .equ FRAME_OUT,  0xd0
    .equ FRAME_IN,   0xd8
    .equ FRAME_SIZE, 0xe0           /* multiple of 16: fn is called with sp aligned */

.macro for_each_s m, off, base
    \m s0, 0, \off, \base
    \m s1, 1, \off, \base
    \m s2, 2, \off, \base
    \m s3, 3, \off, \base
    \m s4, 4, \off, \base
    \m s5, 5, \off, \base
    \m s6, 6, \off, \base
    \m s7, 7, \off, \base
    \m s8, 8, \off, \base
    \m s9, 9, \off, \base
    \m s10, 10, \off, \base
    \m s11, 11, \off, \base
.endm
.macro for_each_fs m, off, base
    \m fs0, 0, \off, \base
    \m fs1, 1, \off, \base
    \m fs2, 2, \off, \base
    \m fs3, 3, \off, \base
    \m fs4, 4, \off, \base
    \m fs5, 5, \off, \base
    \m fs6, 6, \off, \base
    \m fs7, 7, \off, \base
    \m fs8, 8, \off, \base
    \m fs9, 9, \off, \base
    \m fs10, 10, \off, \base
    \m fs11, 11, \off, \base
.endm
.macro st_x reg, i, off, base
    sd \reg, (\off + 8*\i)(\base)
.endm
.macro ld_x reg, i, off, base
    ld \reg, (\off + 8*\i)(\base)
.endm
.macro st_f reg, i, off, base       /* raw 64-bit patterns: fsd/fld never convert */
    fsd \reg, (\off + 8*\i)(\base)
.endm
.macro ld_f reg, i, off, base
    fld \reg, (\off + 8*\i)(\base)
.endm
.macro cfi_x reg, i, off, base
    .cfi_offset \reg, \off + 8*\i - FRAME_SIZE
.endm
.macro cfi_restore_x reg, i, off, base
    .cfi_restore \reg
.endm

    .text

/* void slp_test_with_sentinels(const slp_test_regs *in /a0/, slp_test_regs *out /a1/,
 *                              void (*fn)(void *) /a2/, void *arg /a3/) */
    .globl slp_test_with_sentinels
    .type slp_test_with_sentinels, @function
    .p2align 2
slp_test_with_sentinels:
    .cfi_startproc
    addi sp, sp, -FRAME_SIZE
    .cfi_def_cfa_offset FRAME_SIZE
    for_each_s st_x, FRAME_S, sp
    for_each_s cfi_x, FRAME_S
    sd ra, FRAME_RA(sp)
    .cfi_offset ra, FRAME_RA - FRAME_SIZE
    for_each_fs st_f, FRAME_FS, sp
    for_each_fs cfi_x, FRAME_FS
    frrm t0
    sw t0, FRAME_FRM(sp)
    sd a1, FRAME_OUT(sp)
    sd a0, FRAME_IN(sp)

    /* Load the sentinels. */
    for_each_s ld_x, REGS_GPR, a0
    for_each_fs ld_f, REGS_FPR, a0
    lw t0, REGS_CTL(a0)
    fsrm t0
    mv a0, a3
    jalr a2

    /* Record what survived fn. */
    ld t0, FRAME_OUT(sp)
    for_each_s st_x, REGS_GPR, t0
    for_each_fs st_f, REGS_FPR, t0
    frrm t1
    sw t1, REGS_CTL(t0)
    ld t2, FRAME_IN(sp)                 /* ctl[1] has no riscv64 meaning: pass it through */
    lw t1, (REGS_CTL + 4)(t2)
    sw t1, (REGS_CTL + 4)(t0)

    /* Give the caller its own state back. */
    for_each_s ld_x, FRAME_S, sp
    for_each_fs ld_f, FRAME_FS, sp
    lw t0, FRAME_FRM(sp)
    fsrm t0
    ld ra, FRAME_RA(sp)
    addi sp, sp, FRAME_SIZE
    .cfi_def_cfa_offset 0
    for_each_s cfi_restore_x
    for_each_fs cfi_restore_x
    .cfi_restore ra
    ret
    .cfi_endproc
    .size slp_test_with_sentinels, .-slp_test_with_sentinels

/* void slp_test_entry_probe(slp_transfer t /a0, a1/): record sp at entry, then tail-jump
 * to slp_test_entry_target with a0/a1 (and ra) untouched. */
    .globl slp_test_entry_probe
    .type slp_test_entry_probe, @function
    .p2align 2
slp_test_entry_probe:
    .cfi_startproc
    lla t0, slp_test_entry_sp
    sd sp, 0(t0)
    lla t0, slp_test_entry_target
    ld t0, 0(t0)
    jr t0
    .cfi_endproc
    .size slp_test_entry_probe, .-slp_test_entry_probe

    .section .note.GNU-stack,"",%progbits

/* sentinels_ppc64le_elfv2_elf_gas.S — the ppc64le (ELFv2) test helpers of
 * tests/arch/sentinels.h: slp_test_with_sentinels and slp_test_entry_probe.
 *
 * slp_test_with_sentinels keeps the caller's state in this frame:
 *   offset  +------------------------------+
 *   0x000   | ELFv2 header (TOC at 0x18)   |  for fn's use, and r2 across the call
 *   0x020   | r14 .. r31 (8 bytes each)    |  FRAME_GPR + 8*i
 *   0x0b0   | f14 .. f31 (8 bytes each)    |  FRAME_FPR + 8*i
 *   0x140   | v20 .. v31 (16 bytes each)   |  FRAME_VR + 16*i
 *   0x200   | FPSCR                        |  FRAME_FPSCR
 *   0x208   | LR                           |  FRAME_LR
 *   0x210   | CR (32) | VRSAVE (32)        |  FRAME_CR, FRAME_VRSAVE
 *   0x218   | out (slp_test_regs *)        |  FRAME_OUT
 *   0x220   | padding                      |
 *   0x230   +------------------------------+  CFA
 * Every callee-saved register carries a sentinel while fn runs (r31, gcc's frame
 * pointer, included), so `out` is reached through r1 only. Vectors move through VSX
 * lxvd2x/stxvd2x (vs52..vs63 are v20..v31), which need no alignment: the struct is only
 * 8-byte aligned.
 */

#if !defined(__powerpc64__) || !defined(__LITTLE_ENDIAN__) || !defined(_CALL_ELF) || _CALL_ELF != 2
#error "this file is for 64-bit little-endian PowerPC with the ELFv2 ABI"
#endif

    /* struct slp_test_regs (sentinels.h), W = 8 */
    .equ REGS_GPR,    0             /* r14..r31 in gpr[0..17] */
    .equ REGS_FPR,    18*8          /* f14..f31 in fpr[0..17] */
    .equ REGS_CTL,    18*8 + 144    /* ctl[0] FPSCR bits 32..63, [1] VRSAVE, [2] CR */
    .equ REGS_VR,     18*8 + 160    /* v20..v31 in vr[0..11] */

    .equ FRAME_GPR,    0x020
    .equ FRAME_FPR,    0x0b0
    .equ FRAME_VR,     0x140
    .equ FRAME_FPSCR,  0x200
    .equ FRAME_LR,     0x208
    .equ FRAME_CR,     0x210
    .equ FRAME_VRSAVE, 0x214
    .equ FRAME_OUT,    0x218
    .equ FRAME_SIZE,   0x230        /* multiple of 16: fn is called with r1 aligned */
    .equ HDR_TOC,      24
    .equ CR_SAVED,     0x38         /* CR2, CR3, CR4 */
    .equ FPSCR_CONTROL, 0x03        /* FPSCR fields 6 and 7 */
    .equ SPR_VRSAVE,   256

.macro for_each_gpr m, off, base
    \m 14, 0, \off, \base
    \m 15, 1, \off, \base
    \m 16, 2, \off, \base
    \m 17, 3, \off, \base
    \m 18, 4, \off, \base
    \m 19, 5, \off, \base
    \m 20, 6, \off, \base
    \m 21, 7, \off, \base
    \m 22, 8, \off, \base
    \m 23, 9, \off, \base
    \m 24, 10, \off, \base
    \m 25, 11, \off, \base
    \m 26, 12, \off, \base
    \m 27, 13, \off, \base
    \m 28, 14, \off, \base
    \m 29, 15, \off, \base
    \m 30, 16, \off, \base
    \m 31, 17, \off, \base
.endm
.macro for_each_vr m, off, base
    \m 20, 0, \off, \base
    \m 21, 1, \off, \base
    \m 22, 2, \off, \base
    \m 23, 3, \off, \base
    \m 24, 4, \off, \base
    \m 25, 5, \off, \base
    \m 26, 6, \off, \base
    \m 27, 7, \off, \base
    \m 28, 8, \off, \base
    \m 29, 9, \off, \base
    \m 30, 10, \off, \base
    \m 31, 11, \off, \base
.endm
.macro st_r n, i, off, base
    std %r\n, (\off + 8*\i)(\base)
.endm
.macro ld_r n, i, off, base
    ld %r\n, (\off + 8*\i)(\base)
.endm
.macro st_f n, i, off, base        /* raw 64-bit patterns: stfd/lfd never convert */
    stfd %f\n, (\off + 8*\i)(\base)
.endm
.macro ld_f n, i, off, base
    lfd %f\n, (\off + 8*\i)(\base)
.endm
.macro st_v n, i, off, base        /* r12 is free: the index register */
    li %r12, \off + 16*\i
    stxvd2x %vs\n+32, %r12, \base
.endm
.macro ld_v n, i, off, base
    li %r12, \off + 16*\i
    lxvd2x %vs\n+32, %r12, \base
.endm
.macro cfi_r n, i, off, base
    .cfi_offset \n, \off + 8*\i - FRAME_SIZE
.endm
.macro cfi_f n, i, off, base
    .cfi_offset 32+\n, \off + 8*\i - FRAME_SIZE
.endm
.macro cfi_v n, i, off, base
    .cfi_offset 77+\n, \off + 16*\i - FRAME_SIZE
.endm

    .abiversion 2
    .text

/* void slp_test_with_sentinels(const slp_test_regs *in /r3/, slp_test_regs *out /r4/,
 *                              void (*fn)(void *) /r5/, void *arg /r6/) */
    .globl slp_test_with_sentinels
    .type slp_test_with_sentinels, @function
    .p2align 4
slp_test_with_sentinels:
    .cfi_startproc
    mflr %r0
    stdu %r1, -FRAME_SIZE(%r1)
    .cfi_def_cfa_offset FRAME_SIZE
    std %r0, FRAME_LR(%r1)
    .cfi_offset 65, FRAME_LR - FRAME_SIZE
    for_each_gpr st_r, FRAME_GPR, %r1
    for_each_gpr cfi_r, FRAME_GPR
    for_each_gpr st_f, FRAME_FPR, %r1
    for_each_gpr cfi_f, FRAME_FPR
    for_each_vr st_v, FRAME_VR, %r1
    for_each_vr cfi_v, FRAME_VR
    mfcr %r0
    stw %r0, FRAME_CR(%r1)
    mfspr %r0, SPR_VRSAVE
    stw %r0, FRAME_VRSAVE(%r1)
    mffs %f0
    stfd %f0, FRAME_FPSCR(%r1)
    std %r4, FRAME_OUT(%r1)
    std %r2, HDR_TOC(%r1)

    /* Load the sentinels. */
    for_each_gpr ld_r, REGS_GPR, %r3
    for_each_gpr ld_f, REGS_FPR, %r3
    for_each_vr ld_v, REGS_VR, %r3
    lwz %r0, REGS_CTL(%r3)
    mtvsrd %vs0, %r0
    mtfsf FPSCR_CONTROL, %f0
    lwz %r0, (REGS_CTL + 4)(%r3)
    mtspr SPR_VRSAVE, %r0
    lwz %r0, (REGS_CTL + 8)(%r3)
    mtcrf CR_SAVED, %r0
    mr %r3, %r6
    mr %r12, %r5
    mtctr %r12
    bctrl
    ld %r2, HDR_TOC(%r1)

    /* Record what survived fn. */
    ld %r3, FRAME_OUT(%r1)
    for_each_gpr st_r, REGS_GPR, %r3
    for_each_gpr st_f, REGS_FPR, %r3
    for_each_vr st_v, REGS_VR, %r3
    mffs %f0
    mfvsrd %r0, %vs0
    stw %r0, REGS_CTL(%r3)
    mfspr %r0, SPR_VRSAVE
    stw %r0, (REGS_CTL + 4)(%r3)
    mfcr %r0
    stw %r0, (REGS_CTL + 8)(%r3)

    /* Give the caller its own state back. */
    for_each_gpr ld_r, FRAME_GPR, %r1
    for_each_gpr ld_f, FRAME_FPR, %r1
    for_each_vr ld_v, FRAME_VR, %r1
    lwz %r0, FRAME_CR(%r1)
    mtcrf CR_SAVED, %r0
    lwz %r0, FRAME_VRSAVE(%r1)
    mtspr SPR_VRSAVE, %r0
    lfd %f0, FRAME_FPSCR(%r1)
    mtfsf 0xff, %f0
    ld %r0, FRAME_LR(%r1)
    mtlr %r0
    addi %r1, %r1, FRAME_SIZE
    .cfi_def_cfa_offset 0
    .cfi_restore 65
    blr
    .cfi_endproc
    .size slp_test_with_sentinels, .-slp_test_with_sentinels

/* void slp_test_entry_probe(slp_transfer t /r3, r4/): record r1 at entry, then
 * tail-jump to slp_test_entry_target with r3/r4 (and LR) untouched. It reaches its data
 * through the TOC, so it has a global entry point that sets r2 from r12. */
    .globl slp_test_entry_probe
    .type slp_test_entry_probe, @function
    .p2align 4
slp_test_entry_probe:
    .cfi_startproc
0:  addis %r2, %r12, (.TOC. - 0b)@ha
    addi %r2, %r2, (.TOC. - 0b)@l
    .localentry slp_test_entry_probe, . - slp_test_entry_probe
    addis %r11, %r2, slp_test_entry_sp@toc@ha
    std %r1, slp_test_entry_sp@toc@l(%r11)
    addis %r11, %r2, slp_test_entry_target@toc@ha
    ld %r12, slp_test_entry_target@toc@l(%r11)
    mtctr %r12
    bctr
    .cfi_endproc
    .size slp_test_entry_probe, .-slp_test_entry_probe

    .section .note.GNU-stack,"",%progbits

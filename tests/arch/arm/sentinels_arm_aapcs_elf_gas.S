/* sentinels_arm_aapcs_elf_gas.S — the 32-bit arm (AAPCS, VFP) test helpers of
 * tests/arch/sentinels.h: slp_test_with_sentinels and slp_test_entry_probe. Thumb-2.
 *
 * slp_test_with_sentinels keeps the caller's state in this frame:
 *   offset  +------------------------------+
 *    0x00   | FPSCR of the caller          |  FRAME_FPSCR
 *    0x04   | padding                      |
 *    0x08   | d8 .. d15 (8 bytes each)     |  FRAME_D8
 *    0x48   | out (slp_test_regs *)        |  FRAME_OUT
 *    0x4c   | r4 .. r11 (4 bytes each)     |
 *    0x6c   | lr                           |
 *    0x70   +------------------------------+  CFA
 * Every callee-saved register, r7 and r11 (the frame pointers) included, carries a
 * sentinel while fn runs, so `out` is reached through sp only. FRAME_SIZE is a multiple
 * of 8: fn is called with sp aligned as AAPCS demands.
 */

#if !defined(__arm__) || defined(__aarch64__)
#error "this file is for 32-bit arm (AAPCS)"
#endif
#if !(defined(__ARM_PCS_VFP) || (defined(__VFP_FP__) && !defined(__SOFTFP__)))
#error "the arm conformance suite expects a VFP unit (d8-d15 and FPSCR)"
#endif

    /* struct slp_test_regs (sentinels.h), W = 4 */
    .equ REGS_GPR,   0              /* r4..r11 in gpr[0..7] */
    .equ REGS_FPR,   18*4           /* d8..d15 in fpr[0..7] */
    .equ REGS_CTL,   18*4 + 144     /* ctl[0] = FPSCR, ctl[1] unused on arm */

    .equ FRAME_FPSCR, 0x00
    .equ FRAME_D8,    0x08
    .equ FRAME_OUT,   0x48
    .equ FRAME_R4,    0x4c
    .equ FRAME_LR,    0x6c
    .equ FRAME_SIZE,  0x70
    .equ FRAME_PAD,   FRAME_D8 - FRAME_FPSCR
    .equ FRAME_FPR,   FRAME_OUT - FRAME_D8
    .equ FRAME_GPR,   FRAME_SIZE - FRAME_OUT

    .syntax unified
    .thumb
    .cfi_sections .debug_frame
    .text

/* void slp_test_with_sentinels(const slp_test_regs *in /r0/, slp_test_regs *out /r1/,
 *                              void (*fn)(void *) /r2/, void *arg /r3/) */
    .globl slp_test_with_sentinels
    .type slp_test_with_sentinels, %function
    .thumb_func
    .p2align 2
slp_test_with_sentinels:
    .fnstart
    .cfi_startproc
    push {r1, r4-r11, lr}               /* r1 = out lands in FRAME_OUT */
    .save {r1, r4-r11, lr}
    .cfi_adjust_cfa_offset FRAME_GPR
    .cfi_offset r4,  FRAME_R4 + 4*0 - FRAME_SIZE
    .cfi_offset r5,  FRAME_R4 + 4*1 - FRAME_SIZE
    .cfi_offset r6,  FRAME_R4 + 4*2 - FRAME_SIZE
    .cfi_offset r7,  FRAME_R4 + 4*3 - FRAME_SIZE
    .cfi_offset r8,  FRAME_R4 + 4*4 - FRAME_SIZE
    .cfi_offset r9,  FRAME_R4 + 4*5 - FRAME_SIZE
    .cfi_offset r10, FRAME_R4 + 4*6 - FRAME_SIZE
    .cfi_offset r11, FRAME_R4 + 4*7 - FRAME_SIZE
    .cfi_offset lr,  FRAME_LR - FRAME_SIZE
    vpush {d8-d15}
    .vsave {d8-d15}
    .cfi_adjust_cfa_offset FRAME_FPR
    .cfi_offset d8,  FRAME_D8 + 8*0 - FRAME_SIZE
    .cfi_offset d9,  FRAME_D8 + 8*1 - FRAME_SIZE
    .cfi_offset d10, FRAME_D8 + 8*2 - FRAME_SIZE
    .cfi_offset d11, FRAME_D8 + 8*3 - FRAME_SIZE
    .cfi_offset d12, FRAME_D8 + 8*4 - FRAME_SIZE
    .cfi_offset d13, FRAME_D8 + 8*5 - FRAME_SIZE
    .cfi_offset d14, FRAME_D8 + 8*6 - FRAME_SIZE
    .cfi_offset d15, FRAME_D8 + 8*7 - FRAME_SIZE
    sub sp, sp, #FRAME_PAD
    .pad #FRAME_PAD
    .cfi_adjust_cfa_offset FRAME_PAD
    vmrs r12, fpscr
    str r12, [sp, #FRAME_FPSCR]

    /* Load the sentinels from *in: FP part first, while r0 (in) is free to use. */
    ldr r12, [r0, #REGS_CTL]
    vmsr fpscr, r12
    add r12, r0, #REGS_FPR
    vldmia r12, {d8-d15}
    mov r12, r2                         /* fn */
    ldm r0, {r4-r11}                    /* REGS_GPR == 0 */
    mov r0, r3
    blx r12                             /* fn(arg) */

    /* Store what came back into *out. */
    ldr r0, [sp, #FRAME_OUT]
    stm r0, {r4-r11}
    add r1, r0, #REGS_FPR
    vstmia r1, {d8-d15}
    vmrs r2, fpscr
    str r2, [r0, #REGS_CTL]

    /* Restore the caller's state. */
    ldr r12, [sp, #FRAME_FPSCR]
    vmsr fpscr, r12
    add sp, sp, #FRAME_PAD
    .cfi_adjust_cfa_offset -FRAME_PAD
    vpop {d8-d15}
    .cfi_adjust_cfa_offset -FRAME_FPR
    pop {r1, r4-r11, pc}
    .cfi_endproc
    .fnend
    .size slp_test_with_sentinels, .-slp_test_with_sentinels

/* void slp_test_entry_probe(slp_transfer t /r0, r1/)
 * Records sp as it is at entry and tail-branches to slp_test_entry_target with r0-r3
 * and lr (the trampoline's return address) untouched; only r12 (ip) is used.
 * The globals are reached PC-relatively: the executable is PIE. */
    .globl slp_test_entry_probe
    .type slp_test_entry_probe, %function
    .thumb_func
    .p2align 2
slp_test_entry_probe:
    .fnstart
    .cfi_startproc
    movw r12, #:lower16:(slp_test_entry_sp - (1f + 4))
    movt r12, #:upper16:(slp_test_entry_sp - (1f + 4))
1:  add r12, pc                        /* pc reads as this instruction + 4 in Thumb */
    str sp, [r12]
    movw r12, #:lower16:(slp_test_entry_target - (2f + 4))
    movt r12, #:upper16:(slp_test_entry_target - (2f + 4))
2:  add r12, r12, pc
    ldr r12, [r12]
    bx r12
    .cfi_endproc
    .fnend
    .size slp_test_entry_probe, .-slp_test_entry_probe

    .section .note.GNU-stack,"",%progbits

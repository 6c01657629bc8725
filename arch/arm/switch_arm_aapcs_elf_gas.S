/* switch_arm_aapcs_elf_gas.S — slp_make, slp_jump, slp_ontop and slp_switch for 32-bit
 * arm, AAPCS (hard-float armhf, or softfp with a VFP unit), ELF, GNU as, Thumb-2.
 * The contract is arch/slp_arch.h.
 *
 * Every routine that suspends a context pushes the same frame on that context's stack
 * and leaves sp pointing at its lowest byte; a slp_ctx is that sp.
 *
 *            saved frame (sp = the slp_ctx)
 *   offset  +------------------------------------+
 *    0x00   | FPSCR (the whole register)         |  FRAME_FPSCR
 *    0x04   | padding (keeps the frame 8-aligned)|
 *    0x08   | d8                                 |  FRAME_D8 + 8*0
 *     ...   | ...                                |
 *    0x40   | d15                                |  FRAME_D8 + 8*7
 *    0x48   | result: where the pending switch   |  FRAME_RESULT
 *           | returns its slp_transfer           |
 *    0x4c   | r4  (fresh context: entry fn)      |  FRAME_R4 + 4*0
 *     ...   | r5 .. r10 (r7: Thumb frame pointer)|
 *    0x68   | r11 (frame pointer in ARM state)   |  FRAME_R4 + 4*7
 *    0x6c   | lr  (where the context resumes)    |  FRAME_LR
 *    0x70   +------------------------------------+  = sp of the suspended code (CFA)
 *
 * The frame is built by `push {r0, r4-r11, lr}; vpush {d8-d15}; sub sp, #8`, so the
 * offsets above are the push order; FRAME_SIZE (0x70) is a multiple of 8 and the
 * suspended code's sp keeps the AAPCS alignment on both sides of the frame.
 *
 * Returning the transfer. slp_transfer (two pointers) is returned through memory on
 * arm32: the caller of slp_jump/slp_ontop passes a hidden result pointer in r0 (so the
 * real arguments are r0 = result, r1 = to, r2 = data [, r3 = fn]). That pointer is
 * pushed with the frame (FRAME_RESULT), and whoever resumes the context writes
 * {from, data} through it:
 *   - slp_jump stores the pair itself, then returns to the saved lr;
 *   - slp_ontop reloads the frame (r0 = the saved result pointer) and branches to
 *     fn(r0 = result, r1 = from, r2 = data) with lr = the saved lr, so fn, itself
 *     returning a struct through memory, writes its result straight into the slot of
 *     the resumed switch and returns into the code that called it.
 * A fresh context's result pointer is an 8-byte slot at the top of its stack, just
 * above the frame; its lr is the trampoline, which pops the pair from that slot into
 * r0/r1 (a struct argument travels in registers) and calls entry with sp at the top.
 *
 * FP state. armhf always has VFP: d8-d15 are callee-saved, and FPSCR is saved and
 * restored whole, so each context owns its FP environment as a thread would (the
 * cumulative flags travel too; the suite compares only the control bits). A soft-float
 * build (no FP unit, __SOFTFP__) keeps the same frame but skips d8-d15 and FPSCR: those
 * slots are reserved and never read.
 *
 * Unwinding. DWARF CFI (.debug_frame, for gdb) describes every instruction: after sp
 * moves to another context's frame (same layout) it describes that frame. The EHABI
 * tables (.ARM.exidx, which the C++ unwinder of arm32 uses) describe each routine past
 * its prologue. Both unwinders end the stack at the trampoline: its CFI has lr
 * undefined, and its EHABI entry has a personality routine that ends a backtrace with
 * _URC_END_OF_STACK and makes every other unwind end as at a .cantunwind frame.
 */

#if !defined(__arm__) || defined(__aarch64__)
#error "this file is for 32-bit arm (AAPCS)"
#endif
#if !defined(__ARM_ARCH_ISA_THUMB) || __ARM_ARCH_ISA_THUMB < 2
#error "this file is written in Thumb-2 (armv6t2, armv7 and later)"
#endif

/* A VFP unit is present (hard-float, or softfp): d8-d15 and FPSCR belong to a context. */
#if defined(__ARM_PCS_VFP) || (defined(__VFP_FP__) && !defined(__SOFTFP__))
#define SLP_ARM_VFP 1
#endif

    .equ FRAME_FPSCR,  0x00
    .equ FRAME_D8,     0x08     /* d8..d15, 8 bytes each */
    .equ FRAME_RESULT, 0x48
    .equ FRAME_R4,     0x4c     /* r4..r11, 4 bytes each */
    .equ FRAME_LR,     0x6c
    .equ FRAME_SIZE,   0x70
    .equ FRAME_FPR,    FRAME_RESULT - FRAME_D8     /* what vpush adds (64) */
    .equ FRAME_PAD,    FRAME_D8 - FRAME_FPSCR      /* FPSCR word and padding (8) */
    .equ FRAME_GPR,    FRAME_SIZE - FRAME_RESULT   /* what push adds (40) */
    .equ SLOT_SIZE,    8        /* a fresh context's result slot: {from, data} */
    .equ STACK_ALIGN,  16       /* slp_make aligns to this (AAPCS asks for 8) */

/* The offsets must match what save_frame's push/vpush/sub produce. */
.if FRAME_GPR != 4*10 || FRAME_FPR != 8*8 || FRAME_PAD != 8 || FRAME_R4 != FRAME_RESULT + 4 \
    || FRAME_LR != FRAME_R4 + 4*8 || (FRAME_SIZE % 8) != 0
    .error "the frame offsets do not match the push order"
.endif

    .syntax unified
    .thumb
    .cfi_sections .debug_frame
    .text

/* CFI for the frame at sp = CFA - FRAME_SIZE (as an offset from the CFA). */
.macro cfi_gprs_saved
    .cfi_offset r4,  FRAME_R4 + 4*0 - FRAME_SIZE
    .cfi_offset r5,  FRAME_R4 + 4*1 - FRAME_SIZE
    .cfi_offset r6,  FRAME_R4 + 4*2 - FRAME_SIZE
    .cfi_offset r7,  FRAME_R4 + 4*3 - FRAME_SIZE
    .cfi_offset r8,  FRAME_R4 + 4*4 - FRAME_SIZE
    .cfi_offset r9,  FRAME_R4 + 4*5 - FRAME_SIZE
    .cfi_offset r10, FRAME_R4 + 4*6 - FRAME_SIZE
    .cfi_offset r11, FRAME_R4 + 4*7 - FRAME_SIZE
    .cfi_offset lr,  FRAME_LR - FRAME_SIZE
.endm
.macro cfi_fprs_saved
#ifdef SLP_ARM_VFP
    .cfi_offset d8,  FRAME_D8 + 8*0 - FRAME_SIZE
    .cfi_offset d9,  FRAME_D8 + 8*1 - FRAME_SIZE
    .cfi_offset d10, FRAME_D8 + 8*2 - FRAME_SIZE
    .cfi_offset d11, FRAME_D8 + 8*3 - FRAME_SIZE
    .cfi_offset d12, FRAME_D8 + 8*4 - FRAME_SIZE
    .cfi_offset d13, FRAME_D8 + 8*5 - FRAME_SIZE
    .cfi_offset d14, FRAME_D8 + 8*6 - FRAME_SIZE
    .cfi_offset d15, FRAME_D8 + 8*7 - FRAME_SIZE
#endif
.endm

/* Push the frame on the current stack; r12 is clobbered. EHABI: .save/.vsave/.pad. */
.macro save_frame
    push {r0, r4-r11, lr}
    .save {r0, r4-r11, lr}
    .cfi_adjust_cfa_offset FRAME_GPR
    cfi_gprs_saved
#ifdef SLP_ARM_VFP
    vpush {d8-d15}
    .vsave {d8-d15}
#else
    sub sp, sp, #FRAME_FPR
    .pad #FRAME_FPR
#endif
    .cfi_adjust_cfa_offset FRAME_FPR
    cfi_fprs_saved
    sub sp, sp, #FRAME_PAD
    .pad #FRAME_PAD
    .cfi_adjust_cfa_offset FRAME_PAD
#ifdef SLP_ARM_VFP
    vmrs r12, fpscr
    str r12, [sp, #FRAME_FPSCR]
#endif
.endm

/* Reload FPSCR, d8-d15 and the padding from the frame at sp and pop them; `tmp` is
 * clobbered. The GPR part (result, r4-r11, lr) is popped by the caller of the macro,
 * each routine into the registers it needs. */
.macro load_fp_part tmp
#ifdef SLP_ARM_VFP
    ldr \tmp, [sp, #FRAME_FPSCR]
    vmsr fpscr, \tmp
#endif
    add sp, sp, #FRAME_PAD
    .cfi_adjust_cfa_offset -FRAME_PAD
#ifdef SLP_ARM_VFP
    vpop {d8-d15}
    .cfi_restore d8
    .cfi_restore d9
    .cfi_restore d10
    .cfi_restore d11
    .cfi_restore d12
    .cfi_restore d13
    .cfi_restore d14
    .cfi_restore d15
#else
    add sp, sp, #FRAME_FPR
#endif
    .cfi_adjust_cfa_offset -FRAME_FPR
.endm
.macro cfi_gprs_restored
    .cfi_adjust_cfa_offset -FRAME_GPR
    .cfi_restore r4
    .cfi_restore r5
    .cfi_restore r6
    .cfi_restore r7
    .cfi_restore r8
    .cfi_restore r9
    .cfi_restore r10
    .cfi_restore r11
    .cfi_restore lr
.endm

/* slp_ctx slp_make(void *stack_top /r0/, size_t size /r1, unused/, slp_entry_fn entry /r2/)
 * Below the aligned top: the 8-byte result slot, and below it a zeroed frame whose
 * result pointer is the slot, whose r4 is entry and whose lr is the trampoline. Its
 * FPSCR is ours: the new context inherits our FP environment. */
    .globl slp_make
    .type slp_make, %function
    .thumb_func
    .p2align 2
slp_make:
    .fnstart
    .cfi_startproc
    bic r0, r0, #(STACK_ALIGN - 1)
    sub r3, r0, #SLOT_SIZE              /* r3 = the result slot */
    sub r0, r3, #FRAME_SIZE             /* r0 = the frame = the new slp_ctx */
    movs r1, #0
    mov r12, r0
1:  str r1, [r12], #4                   /* zero the frame: no stale registers leak in */
    cmp r12, r3
    bne 1b
    str r3, [r0, #FRAME_RESULT]
    str r2, [r0, #FRAME_R4]             /* r4 = entry, for the trampoline */
    adr r12, slp_arm_context_start
    orr r12, r12, #1                    /* a Thumb address, for the bx that resumes it */
    str r12, [r0, #FRAME_LR]
#ifdef SLP_ARM_VFP
    vmrs r12, fpscr
    str r12, [r0, #FRAME_FPSCR]
#endif
    bx lr
    .cfi_endproc
    .fnend
    .size slp_make, .-slp_make

/* slp_transfer slp_jump(slp_ctx to, void *data)
 *   real arguments: r0 = result (hidden), r1 = to, r2 = data.
 * Pushes the frame (with our r0), switches sp, pops to's frame, writes {from, data}
 * through to's saved result pointer and returns to to's saved lr. */
    .globl slp_jump
    .type slp_jump, %function
    .thumb_func
    .p2align 2
slp_jump:
    .fnstart
    .cfi_startproc
    save_frame
    mov r12, sp                         /* from: the frame just pushed */
    mov sp, r1
    load_fp_part r3
    pop {r0, r4-r11, lr}                /* r0 = to's result pointer */
    cfi_gprs_restored
    strd r12, r2, [r0]                  /* *result = {from, data} */
    mov r0, r12                         /* and in r0/r1 too, for whoever looks */
    mov r1, r2
    bx lr                               /* into to's pending switch, or its trampoline */
    .cfi_endproc
    .fnend
    .size slp_jump, .-slp_jump

/* slp_transfer slp_ontop(slp_ctx to, void *data, slp_transfer (*fn)(slp_transfer))
 *   real arguments: r0 = result (hidden), r1 = to, r2 = data, r3 = fn.
 * Switches like slp_jump, then branches to fn(r0 = to's result pointer, r1 = from,
 * r2 = data) with lr = to's resume address: fn writes its slp_transfer where to's
 * pending switch (or a fresh context's trampoline) expects it and returns into to. */
    .globl slp_ontop
    .type slp_ontop, %function
    .thumb_func
    .p2align 2
slp_ontop:
    .fnstart
    .cfi_startproc
    save_frame
    mov r12, sp
    mov sp, r1
    load_fp_part r1
    pop {r0, r4-r11, lr}
    cfi_gprs_restored
    mov r1, r12                         /* r2 (data) and r3 (fn) survived the reload */
    bx r3
    .cfi_endproc
    .fnend
    .size slp_ontop, .-slp_ontop

/* int slp_switch(slp_save_fn save /r0/, slp_restore_fn restore /r1/, void *arg /r2/)
 * restore and arg live in r4/r5 across save(): their old values are in the frame (the
 * result slot just holds save's address; slp_switch returns an int in r0). */
    .globl slp_switch
    .type slp_switch, %function
    .thumb_func
    .p2align 2
slp_switch:
    .fnstart
    .cfi_startproc
    save_frame
    mov r3, r0
    mov r4, r1
    mov r5, r2
    mov r0, sp                          /* the lowest address holding saved state */
    mov r1, r5
    blx r3                              /* r0 = delta to the incoming stack */
    add sp, sp, r0
    add r7, r7, r0                      /* keep the frame pointer (r7 in Thumb code, */
    add r11, r11, r0                    /* r11 in ARM code) in the moved stack */
    mov r0, r5
    blx r4                              /* copies the incoming slice (and frame) in */
    load_fp_part r3
    movs r0, #0
    pop {r1, r4-r11, pc}                /* r1 takes the unused result slot */
    .cfi_endproc
    .fnend
    .size slp_switch, .-slp_switch

/* The first code a fresh context runs. sp is the result slot at the top of the stack,
 * holding {from, data} (written by slp_jump, or by fn of slp_ontop); r4 is entry.
 * Pops the pair into r0/r1 and calls entry(transfer) with sp at the top (16-aligned)
 * and both frame pointers (r7 for Thumb code, r11 for ARM code) zeroed.
 * Unwinders end the stack here: lr is undefined in the CFI, and the EHABI entry names
 * slp_arm_context_start_pr (below) instead of the usual unwind opcodes. The nop belongs
 * to the function because slp_ontop on a fresh context gives fn a return address equal
 * to slp_arm_context_start, and unwinders look up the instruction before a return
 * address. */
    .type slp_arm_context_start, %function
    .thumb_func
    .p2align 2
    .fnstart
    .personality slp_arm_context_start_pr
    .cfi_startproc
    .cfi_undefined lr
    nop
slp_arm_context_start:
    pop {r0, r1}
    movs r7, #0
    mov r11, #0
    blx r4                              /* entry(transfer); must never return */
    bl slp_arch_entry_returned          /* prints why, aborts */
    .cfi_endproc
    .fnend
    .size slp_arm_context_start, .-slp_arm_context_start

/* The EHABI personality routine of the trampoline (its frame has no caller):
 *   _Unwind_Reason_Code pr(_Unwind_State state /r0/, _Unwind_Control_Block * /r1/,
 *                          _Unwind_Context *context /r2/)
 * Why not just .cantunwind: libgcc's _Unwind_Backtrace reports any EXIDX_CANTUNWIND
 * frame as _URC_FAILURE (even glibc's _start), so a walk could not tell a complete
 * stack from a broken one. This routine gives each unwinder what it expects:
 *   - a backtrace (_US_VIRTUAL_UNWIND_FRAME | _US_FORCE_UNWIND, a state only
 *     _Unwind_Backtrace uses) gets _URC_END_OF_STACK, and stops there;
 *   - an exception search (phase 1) and a forced unwind (pthread_exit) get a caller
 *     whose pc lies in slp_arm_stack_end, an EXIDX_CANTUNWIND region, so they end
 *     exactly as at a .cantunwind frame: an exception nobody caught in the context
 *     calls std::terminate, a forced unwind's stop function sees _US_END_OF_STACK. */
    .equ US_BACKTRACE,      0 | 8       /* _US_VIRTUAL_UNWIND_FRAME | _US_FORCE_UNWIND */
    .equ URC_END_OF_STACK,  5
    .equ URC_CONTINUE,      8           /* _URC_CONTINUE_UNWIND */
    .equ UVRSC_CORE,        0
    .equ UVRSD_UINT32,      0
    .equ REG_PC,            15

    .type slp_arm_context_start_pr, %function
    .thumb_func
    .p2align 2
slp_arm_context_start_pr:
    .fnstart
    .cfi_startproc
    cmp r0, #US_BACKTRACE
    bne 1f
    movs r0, #URC_END_OF_STACK
    bx lr
1:  push {r4, lr}
    .save {r4, lr}
    .cfi_adjust_cfa_offset 8
    .cfi_offset r4, -8
    .cfi_offset lr, -4
    sub sp, sp, #8
    .pad #8
    .cfi_adjust_cfa_offset 8
    adr r3, slp_arm_stack_end
    orr r3, r3, #1                      /* a Thumb return address just past the */
    add r3, r3, #2                      /* first nop: the lookup lands on that nop */
    str r3, [sp, #4]
    add r3, sp, #4
    str r3, [sp]                        /* fifth argument: valuep */
    mov r0, r2
    movs r1, #UVRSC_CORE
    movs r2, #REG_PC
    movs r3, #UVRSD_UINT32
    bl _Unwind_VRS_Set                  /* the unwound frame's pc = slp_arm_stack_end */
    add sp, sp, #8
    .cfi_adjust_cfa_offset -8
    movs r0, #URC_CONTINUE
    pop {r4, pc}
    .cfi_endproc
    .fnend
    .size slp_arm_context_start_pr, .-slp_arm_context_start_pr

/* Never executed: an address the unwinders cannot unwind past (see above). */
    .type slp_arm_stack_end, %function
    .thumb_func
    .p2align 2
slp_arm_stack_end:
    .fnstart
    .cantunwind
    .cfi_startproc
    .cfi_undefined lr
    nop
    nop
    .cfi_endproc
    .fnend
    .size slp_arm_stack_end, .-slp_arm_stack_end

    .section .note.GNU-stack,"",%progbits

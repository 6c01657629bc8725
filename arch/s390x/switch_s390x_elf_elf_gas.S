/* switch_s390x_elf_elf_gas.S — slp_make, slp_jump, slp_ontop and slp_switch for
 * z/Architecture (s390x, big endian), the s390x ELF ABI, ELF, GNU as. The contract is
 * arch/slp_arch.h.
 *
 * The ABI gives every callee a 160-byte register save area at 0(%r15) of its caller's
 * frame; a switch keeps its general registers there, where the ABI puts them, and
 * pushes a frame of its own for the rest. A slp_ctx is %r15 after that push.
 *
 *            saved frame (%r15 = the slp_ctx)
 *   offset  +-----------------------------------+
 *   0x000   | register save area for our own    |  what save, restore and an ontop fn
 *           | callees (160 bytes)               |  may write: never saved state
 *   0x0a0   | f8 .. f15 (8 bytes each)          |  FRAME_FPR + 8*i
 *   0x0e0   | FPC (32 bits) | padding           |  FRAME_FPC
 *   0x0e8   +-----------------------------------+  = %r15 of the suspended code
 *           | the suspended code's save area:   |
 *   +0x010  |   %r2: its return buffer          |  SAVE_R2 (a slp_transfer is returned
 *   +0x030  |   %r6 .. %r14 (%r14: where it     |  SAVE_R6  through memory)
 *           |   resumes)                        |
 *           +-----------------------------------+
 *
 * FRAME_SIZE (0xe8) keeps %r15 8-byte aligned. slp_switch passes %r15 + SAVE_AREA to
 * save(), so the slice it copies never holds what save and restore store in the area
 * below it (restore's own return address among it); the caller's save area, with the
 * general registers, lies above and is copied with the slice.
 *
 * What travels: %r6-%r13 (%r12 and %r13 hold GOT and literal-pool pointers in some
 * code), %r14 as the resume address, %r15, f8-f15 and the whole FPC (trap masks,
 * flags, DXC and rounding modes: lfpc/stfpc move it as one). The access registers
 * %a0/%a1 hold the thread pointer, which belongs to the thread: never touched. Only the
 * low 64 bits of v8-v15 (f8-f15) are callee-saved, so no vector register is saved.
 *
 * A slp_transfer (16 bytes) is returned through a buffer whose address arrives in %r2
 * (and goes back in %r2), and passed by reference: entry and an ontop fn get the
 * address of a copy in %r2 (fn: in %r3, with its own return buffer in %r2). Every
 * suspension keeps its return buffer in its SAVE_R2 slot; a resume writes {from, data}
 * there.
 *
 * slp_make puts a 176-byte frame of its own just below the aligned top: the start
 * trampoline's, whose save area is the first frame's caller save area (%r14 = the
 * trampoline, %r6 = entry, %r2 = the transfer buffer above it):
 *
 *   stack_top (aligned down to 16) ->  +--------------------------+
 *                                      | transfer {from, data}    |  entry's argument
 *                                      +--------------------------+  top - 176 = entry's
 *                                      | trampoline's save area   |  caller frame (%r15)
 *                                      +--------------------------+
 *                                      | saved frame as above     |  FPC = the creator's,
 *   slp_ctx ->                         +--------------------------+  the rest zero
 */

#if !defined(__s390x__)
#error "this file is for s390x (64-bit z/Architecture)"
#endif

    .equ SAVE_AREA,   160       /* the ABI's register save area at 0(%r15) */
    .equ SAVE_R2,     0x10      /* slots in it: %rN at 8*N */
    .equ SAVE_R6,     0x30
    .equ SAVE_R14,    0x70
    .equ FRAME_FPR,   0x0a0     /* f8..f15, 8 bytes each */
    .equ FRAME_FPC,   0x0e0
    .equ FRAME_SIZE,  0x0e8
    .equ CFA_FRAME,   SAVE_AREA + FRAME_SIZE    /* s390x CFA: the caller's %r15 + 160 */
    .equ START_FRAME, SAVE_AREA + 16            /* the trampoline's save area + transfer */
    .equ CALL_FRAME,  SAVE_AREA + 16            /* slp_ontop's frame for calling fn */

.macro for_each_fpr m
    \m 8, 0
    \m 9, 1
    \m 10, 2
    \m 11, 3
    \m 12, 4
    \m 13, 5
    \m 14, 6
    \m 15, 7
.endm
.macro for_each_gpr m
    \m 6
    \m 7
    \m 8
    \m 9
    \m 10
    \m 11
    \m 12
    \m 13
    \m 14
.endm
.macro put_fpr n, i
    std %f\n, (FRAME_FPR + 8*\i)(%r15)
    .cfi_offset %f\n, FRAME_FPR + 8*\i - CFA_FRAME
.endm
.macro get_fpr n, i
    ld %f\n, (FRAME_FPR + 8*\i)(%r15)
.endm
.macro zero_fpr n, i
    stg %r0, (FRAME_FPR + 8*\i)(%r2)
.endm
.macro cfi_gpr n                /* %rN at 8*N of the save area; CFA = %r15 + 160 */
    .cfi_offset %r\n, 8*\n - SAVE_AREA
.endm
.macro unsaved_gpr n
    .cfi_restore %r\n
.endm
.macro unsaved_fpr n, i
    .cfi_restore %f\n
.endm

/* Keep %r2 (the return buffer) and %r6..%r14 in the caller's save area, push the frame
 * and fill it. The CFI stays right at every instruction: after %r15 moves to another
 * context's frame (same layout) it describes that frame. */
.macro save_frame
    stg %r2, SAVE_R2(%r15)
    stmg %r6, %r14, SAVE_R6(%r15)
    for_each_gpr cfi_gpr
    aghi %r15, -FRAME_SIZE
    .cfi_def_cfa_offset CFA_FRAME
    for_each_fpr put_fpr
    stfpc FRAME_FPC(%r15)
.endm

/* Reload everything from the frame at %r15 and pop it; %r14 is the resume address and
 * %r2 the resumed side's return buffer. */
.macro load_frame
    for_each_fpr get_fpr
    lfpc FRAME_FPC(%r15)
    aghi %r15, FRAME_SIZE
    .cfi_def_cfa_offset SAVE_AREA
    lg %r2, SAVE_R2(%r15)
    lmg %r6, %r14, SAVE_R6(%r15)
    for_each_gpr unsaved_gpr
    for_each_fpr unsaved_fpr
.endm

    .text

/* slp_ctx slp_make(void *stack_top /%r2/, size_t size /%r3, unused/, slp_entry_fn entry /%r4/)
 * Builds the trampoline's frame below the aligned top and the first saved frame below
 * it; the first jump/ontop pops the saved frame, writes the transfer above the
 * trampoline's save area and lands in the trampoline with %r15 == aligned top - 176. */
    .globl slp_make
    .type slp_make, @function
    .p2align 3
slp_make:
    .cfi_startproc
    nill %r2, 0xfff0
    aghi %r2, -(START_FRAME + FRAME_SIZE)
    lghi %r0, 0
    for_each_fpr zero_fpr
    stfpc FRAME_FPC(%r2)                /* the new context inherits our FPC */
    st %r0, (FRAME_FPC + 4)(%r2)
    /* the trampoline's save area: zeroes, but %r2, %r6 and %r14 */
    xc FRAME_SIZE(SAVE_AREA, %r2), FRAME_SIZE(%r2)
    xc (FRAME_SIZE + SAVE_AREA)(16, %r2), (FRAME_SIZE + SAVE_AREA)(%r2)
    la %r1, (FRAME_SIZE + SAVE_AREA)(%r2)
    stg %r1, (FRAME_SIZE + SAVE_R2)(%r2)        /* %r2 = the transfer buffer */
    stg %r4, (FRAME_SIZE + SAVE_R6)(%r2)        /* %r6 = entry */
    larl %r1, .Lcontext_start_resume
    stg %r1, (FRAME_SIZE + SAVE_R14)(%r2)       /* %r14 = the trampoline */
    br %r14
    .cfi_endproc
    .size slp_make, .-slp_make

/* slp_transfer slp_jump(slp_ctx to /%r3/, void *data /%r4/), result through %r2 */
    .globl slp_jump
    .type slp_jump, @function
    .p2align 3
slp_jump:
    .cfi_startproc
    save_frame
    lgr %r1, %r15                       /* from: the frame just pushed */
    lgr %r15, %r3
    load_frame
    stg %r1, 0(%r2)                     /* {from, data} into the resumed side's buffer */
    stg %r4, 8(%r2)
    br %r14                             /* into to's pending switch, or its trampoline */
    .cfi_endproc
    .size slp_jump, .-slp_jump

/* slp_transfer slp_ontop(slp_ctx to /%r3/, void *data /%r4/, fn /%r5/), result via %r2
 * Switches like slp_jump, then calls fn(&{from, data}) on to's stack with to's return
 * buffer as fn's: fn's result is what to's pending switch returns (or what a fresh
 * context's entry receives). to's resume address waits in its %r14 slot. */
    .globl slp_ontop
    .type slp_ontop, @function
    .p2align 3
slp_ontop:
    .cfi_startproc
    save_frame
    lgr %r1, %r15
    lgr %r15, %r3
    load_frame                          /* %r4 (data) and %r5 (fn) are not touched */
    stg %r14, SAVE_R14(%r15)            /* still there, but fn may be resumed later */
    .cfi_offset %r14, SAVE_R14 - SAVE_AREA
    aghi %r15, -CALL_FRAME
    .cfi_def_cfa_offset SAVE_AREA + CALL_FRAME
    stg %r1, SAVE_AREA(%r15)            /* fn's argument: the copy {from, data} */
    stg %r4, (SAVE_AREA + 8)(%r15)
    la %r3, SAVE_AREA(%r15)
    basr %r14, %r5                      /* fn(%r2 = to's buffer, %r3 = &argument) */
    aghi %r15, CALL_FRAME
    .cfi_def_cfa_offset SAVE_AREA
    lg %r14, SAVE_R14(%r15)
    .cfi_restore %r14
    br %r14                             /* %r2: the buffer fn filled */
    .cfi_endproc
    .size slp_ontop, .-slp_ontop

/* int slp_switch(slp_save_fn save /%r2/, slp_restore_fn restore /%r3/, void *arg /%r4/)
 * restore and arg live in %r6/%r7 across save(): their old values are in the save area.
 * save() gets %r15 + SAVE_AREA, the lowest byte of saved state (see above). */
    .globl slp_switch
    .type slp_switch, @function
    .p2align 3
slp_switch:
    .cfi_startproc
    save_frame
    lgr %r1, %r2
    lgr %r6, %r3
    lgr %r7, %r4
    la %r2, SAVE_AREA(%r15)
    lgr %r3, %r7
    basr %r14, %r1                      /* %r2 = delta to the incoming stack */
    agr %r15, %r2
    lgr %r2, %r7
    basr %r14, %r6                      /* copies the incoming slice (and frame) in */
    load_frame
    lghi %r2, 0
    br %r14
    .cfi_endproc
    .size slp_switch, .-slp_switch

/* The first code a fresh context runs: entry(&transfer) with %r2 the buffer the first
 * switch filled, %r15 at the trampoline's save area, %r11 (the frame pointer gcc uses)
 * zeroed. %r14 is undefined in this FDE so DWARF unwinders (gdb, the C++ unwinder) stop
 * here. The leading nop keeps the resume address - 1 inside this FDE (and symbol):
 * slp_ontop on a fresh context returns to the resume address itself. */
    .type slp_s390x_context_start, @function
    .p2align 3
    .cfi_startproc
    .cfi_undefined %r14                 /* CFA = %r15 + 160: the transfer buffer */
slp_s390x_context_start:
    nopr %r7
.Lcontext_start_resume:                 /* the %r14 slp_make stores */
    lghi %r11, 0
    basr %r14, %r6                      /* entry(&transfer); must never return */
    brasl %r14, slp_arch_entry_returned@PLT     /* prints why, aborts */
    .cfi_endproc
    .size slp_s390x_context_start, .-slp_s390x_context_start

    .section .note.GNU-stack,"",%progbits

/* switch_riscv64_sysv_elf_gas.S — slp_make, slp_jump, slp_ontop and slp_switch for
 * riscv64, LP64D psABI, ELF, GNU as. The contract is arch/slp_arch.h.
 *
 * Every routine that suspends a context stores the same frame on that context's stack
 * and leaves sp pointing at its lowest byte; a slp_ctx is that sp.
 *
 *            saved frame (sp = the slp_ctx)
 *   offset  +--------------------------------+
 *    0x00   | s0  (frame pointer)            |  FRAME_S + 8*0
 *    0x08   | s1  (fresh context: entry fn)  |  FRAME_S + 8*1
 *    0x10   | s2                             |
 *     ...   | ...                            |
 *    0x58   | s11                            |  FRAME_S + 8*11
 *    0x60   | ra  (where the context resumes)|  FRAME_RA
 *    0x68   | frm (32 bits) | padding (32)   |  FRAME_FRM
 *    0x70   | fs0 (raw 64 bits)              |  FRAME_FS + 8*0
 *     ...   | ...                            |
 *    0xc8   | fs11                           |  FRAME_FS + 8*11
 *    0xd0   +--------------------------------+  = sp of the suspended code (CFA)
 *
 * slp_make places that frame below a 16-byte frame of its own, which becomes the start
 * trampoline's frame (a zeroed frame record) once the first switch pops the saved frame:
 *
 *   stack_top (aligned down to 16) ->  +--------------------------+
 *                                      | 0  (record: ra)          |  top - 8
 *                                      | 0  (record: s0)          |  top - 16 = entry's sp
 *                                      +--------------------------+
 *                                      | saved frame as above     |  ra = the trampoline,
 *                                      |                          |  s1 = entry, frm = the
 *   slp_ctx ->                         +--------------------------+  creator's, rest zero
 *
 * so entry starts with sp strictly inside the stack, 16-byte aligned, called from a
 * trampoline that owns a normal (if empty) frame.
 *
 * FRAME_SIZE (0xd0) is a multiple of 16, so the suspended code's sp keeps the psABI's
 * 16-byte alignment on both sides of the frame. fcsr also holds the accrued exception
 * flags (fflags); they are status, not control state, and are left alone: only the
 * rounding mode (frm) travels with a context.
 *
 * A context resumes by returning to its saved ra with the transfer {from, data} in
 * a0/a1 (a struct of two pointers is returned, and passed, in a0/a1 under LP64D). For
 * a fresh context that ra is in slp_riscv64_context_start, which calls entry(transfer).
 */

#if !defined(__riscv) || __riscv_xlen != 64 || !defined(__riscv_float_abi_double)
#error "this file is for riscv64 with the LP64D ABI (hard double float)"
#endif

    .equ FRAME_S,    0x00       /* s0..s11, 8 bytes each */
    .equ FRAME_RA,   0x60
    .equ FRAME_FRM,  0x68
    .equ FRAME_FS,   0x70       /* fs0..fs11, 8 bytes each */
    .equ FRAME_SIZE, 0xd0
    .equ START_FRAME, 16        /* the trampoline's own frame, above the first frame */
    .equ STACK_ALIGN, 16

/* Apply macro `m` to every callee-saved register with its slot index. */
.macro for_each_s m, base
    \m s0, 0, \base
    \m s1, 1, \base
    \m s2, 2, \base
    \m s3, 3, \base
    \m s4, 4, \base
    \m s5, 5, \base
    \m s6, 6, \base
    \m s7, 7, \base
    \m s8, 8, \base
    \m s9, 9, \base
    \m s10, 10, \base
    \m s11, 11, \base
.endm
.macro for_each_fs m, base
    \m fs0, 0, \base
    \m fs1, 1, \base
    \m fs2, 2, \base
    \m fs3, 3, \base
    \m fs4, 4, \base
    \m fs5, 5, \base
    \m fs6, 6, \base
    \m fs7, 7, \base
    \m fs8, 8, \base
    \m fs9, 9, \base
    \m fs10, 10, \base
    \m fs11, 11, \base
.endm

/* Stores into the frame at sp, each described for unwinders (CFA = sp + FRAME_SIZE). */
.macro put_s reg, i, base
    sd \reg, (FRAME_S + 8*\i)(\base)
    .cfi_offset \reg, FRAME_S + 8*\i - FRAME_SIZE
.endm
.macro put_fs reg, i, base
    fsd \reg, (FRAME_FS + 8*\i)(\base)
    .cfi_offset \reg, FRAME_FS + 8*\i - FRAME_SIZE
.endm
.macro get_s reg, i, base
    ld \reg, (FRAME_S + 8*\i)(\base)
.endm
.macro get_fs reg, i, base
    fld \reg, (FRAME_FS + 8*\i)(\base)
.endm
/* Once the frame is popped the registers hold their own values again. */
.macro unsaved reg, i, base
    .cfi_restore \reg
.endm
/* slp_make: a fresh frame starts with zeroes (raw zero bits for the FP registers). */
.macro zero_s reg, i, base
    sd zero, (FRAME_S + 8*\i)(\base)
.endm
.macro zero_fs reg, i, base
    sd zero, (FRAME_FS + 8*\i)(\base)
.endm

/* Push the frame on the current stack. The CFI stays right at every instruction:
 * after sp moves to another context's frame (same layout) it describes that frame. */
.macro save_frame
    addi sp, sp, -FRAME_SIZE
    .cfi_def_cfa_offset FRAME_SIZE
    for_each_s put_s, sp
    sd ra, FRAME_RA(sp)
    .cfi_offset ra, FRAME_RA - FRAME_SIZE
    for_each_fs put_fs, sp
    frrm t0
    sw t0, FRAME_FRM(sp)
.endm

/* Reload everything from the frame at sp and pop it; ra is the resume address. */
.macro load_frame
    for_each_s get_s, sp
    for_each_fs get_fs, sp
    lw t0, FRAME_FRM(sp)
    fsrm t0
    ld ra, FRAME_RA(sp)
    addi sp, sp, FRAME_SIZE
    .cfi_def_cfa_offset 0
    for_each_s unsaved
    for_each_fs unsaved
    .cfi_restore ra
.endm

    .text

/* slp_ctx slp_make(void *stack_top /a0/, size_t size /a1, unused/, slp_entry_fn entry /a2/)
 * Builds, just below the aligned top, the trampoline's frame and under it a saved frame
 * whose ra is the trampoline and whose s1 is entry; the first jump/ontop pops the saved
 * frame and lands in the trampoline with sp == aligned top - START_FRAME. */
    .globl slp_make
    .type slp_make, @function
    .p2align 2
slp_make:
    .cfi_startproc
    andi a0, a0, -STACK_ALIGN
    addi a0, a0, -(START_FRAME + FRAME_SIZE)
    sd zero, (FRAME_SIZE + 0)(a0)       /* the trampoline's zeroed frame record */
    sd zero, (FRAME_SIZE + 8)(a0)
    for_each_s zero_s, a0
    for_each_fs zero_fs, a0
    sd a2, (FRAME_S + 8*1)(a0)          /* s1 = entry, for the trampoline */
    lla t0, .Lcontext_start_resume
    sd t0, FRAME_RA(a0)
    frrm t0                             /* the new context inherits our rounding mode */
    sd t0, FRAME_FRM(a0)                /* (sd: the padding word is zeroed as well) */
    ret
    .cfi_endproc
    .size slp_make, .-slp_make

/* slp_transfer slp_jump(slp_ctx to /a0/, void *data /a1/) -> {from /a0/, data /a1/} */
    .globl slp_jump
    .type slp_jump, @function
    .p2align 2
slp_jump:
    .cfi_startproc
    save_frame
    mv t1, sp                           /* from: the frame just pushed */
    mv sp, a0
    load_frame
    mv a0, t1                           /* a1 (data) passes through untouched */
    ret                                 /* into to's pending switch, or its trampoline */
    .cfi_endproc
    .size slp_jump, .-slp_jump

/* slp_transfer slp_ontop(slp_ctx to /a0/, void *data /a1/, fn /a2/)
 * Switches like slp_jump, then branches to fn({from, data}) on to's stack with to's
 * resume address in ra: fn returns straight into to, its result in a0/a1 becoming
 * what to's pending switch returns (or what a fresh context's entry receives). */
    .globl slp_ontop
    .type slp_ontop, @function
    .p2align 2
slp_ontop:
    .cfi_startproc
    save_frame
    mv t1, sp
    mv sp, a0
    load_frame                          /* a2 (fn) is not touched by the reload */
    mv a0, t1
    jr a2
    .cfi_endproc
    .size slp_ontop, .-slp_ontop

/* int slp_switch(slp_save_fn save /a0/, slp_restore_fn restore /a1/, void *arg /a2/)
 * restore and arg live in s1/s2 across save(): their old values are in the frame. */
    .globl slp_switch
    .type slp_switch, @function
    .p2align 2
slp_switch:
    .cfi_startproc
    save_frame
    mv t1, a0
    mv s1, a1
    mv s2, a2
    mv a0, sp                           /* the lowest address holding saved state */
    mv a1, s2
    jalr t1                             /* a0 = delta to the incoming stack */
    add sp, sp, a0
    add s0, s0, a0                      /* keep a frame pointer into the moved stack */
    mv a0, s2
    jalr s1                             /* copies the incoming slice (and frame) in */
    load_frame
    li a0, 0
    ret
    .cfi_endproc
    .size slp_switch, .-slp_switch

/* The first code a fresh context runs: entry(transfer) with a0/a1 as they arrive, sp
 * 16-byte aligned just below the trampoline's own frame, and s0 zeroed, so
 * frame-pointer walkers stop here. ra is undefined in this FDE so DWARF unwinders (gdb,
 * the C++ unwinder) stop too. The leading nop keeps ra - 1 inside this FDE (and
 * symbol): slp_ontop on a fresh context hands fn the resume address itself as its
 * return address, and unwinders look up ra - 1. */
    .type slp_riscv64_context_start, @function
    .p2align 2
    .cfi_startproc
    .cfi_def_cfa_offset START_FRAME     /* CFA = the aligned stack top */
    .cfi_undefined ra
slp_riscv64_context_start:
    nop
.Lcontext_start_resume:                 /* the ra slp_make stores */
    li s0, 0
    jalr s1                             /* entry(transfer); must never return */
    call slp_arch_entry_returned        /* prints why, aborts */
    .cfi_endproc
    .size slp_riscv64_context_start, .-slp_riscv64_context_start

    .section .note.GNU-stack,"",%progbits

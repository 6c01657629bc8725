/* switch_ppc64le_elfv2_elf_gas.S — slp_make, slp_jump, slp_ontop and slp_switch for
 * 64-bit PowerPC, little endian, ELFv2 ABI, ELF, GNU as. The contract is arch/slp_arch.h.
 *
 * Every routine that suspends a context pushes the same frame on that context's stack
 * (a normal ELFv2 frame: back chain at 0) and leaves r1 pointing at it; a slp_ctx is
 * that r1.
 *
 *            saved frame (r1 = the slp_ctx)
 *   offset  +-------------------------------------+
 *   0x000   | back chain (the suspended code's r1)|  the ELFv2 header: what the
 *   0x008   | CR save   \                         |  routine's own callees (save,
 *   0x010   | LR save    } for our callees        |  restore, an ontop fn) may write;
 *   0x018   | TOC save  /                         |  never part of the saved state
 *   0x020   | r14  (fresh context: entry fn)      |  FRAME_GPR + 8*0
 *     ...   | ...                                 |
 *   0x0a8   | r31                                 |  FRAME_GPR + 8*17
 *   0x0b0   | f14 (raw 64 bits)                   |  FRAME_FPR + 8*0
 *     ...   | ...                                 |
 *   0x138   | f31                                 |  FRAME_FPR + 8*17
 *   0x140   | v20 (16 bytes)                      |  FRAME_VR + 16*0
 *     ...   | ...                                 |
 *   0x1f0   | v31                                 |  FRAME_VR + 16*11
 *   0x200   | FPSCR (as mffs gives it)            |  FRAME_FPSCR
 *   0x208   | r2, the TOC of the suspended code   |  FRAME_TOC
 *   0x210   | LR (where the context resumes)      |  FRAME_LR
 *   0x218   | CR (32 bits)  | VRSAVE (32 bits)    |  FRAME_CR, FRAME_VRSAVE
 *   0x220   +-------------------------------------+  = r1 of the suspended code (CFA)
 *
 * FRAME_SIZE (0x220 = 544 bytes) is a multiple of 16, so r1 keeps the ABI's 16-byte
 * alignment and the vector slots are aligned for stvx/lvx (which ignore the low four
 * address bits). The state lies above the 32-byte header: slp_switch passes
 * r1 + FRAME_STATE to save(), so the slice it copies never holds what save and restore
 * store in the header (restore's own return address among it).
 *
 * What travels: r14-r31, f14-f31, v20-v31, VRSAVE, the nonvolatile CR fields CR2-CR4
 * (only they are reloaded), r2 (the module pointer: a context resumes with the TOC it
 * was suspended with, even after an ontop fn from another module ran), and the control
 * byte of the FPSCR (bits 56-63: the trap enables VE OE UE ZE XE, NI and RN). The
 * FPSCR's exception bits are status and stay with the thread: mtfsf writes only
 * fields 6 and 7.
 *
 * slp_make places that frame below a 32-byte frame of its own, the start trampoline's
 * (a zero back chain ends the chain there):
 *
 *   stack_top (aligned down to 16) ->  +--------------------------+
 *                                      | trampoline's header:     |  top - 32 = entry's
 *                                      | zero back chain, zeroes  |  caller frame (r1)
 *                                      +--------------------------+
 *                                      | saved frame as above     |  LR = the trampoline,
 *                                      |                          |  r14 = entry, FPSCR =
 *   slp_ctx ->                         +--------------------------+  the creator's, rest 0
 *
 * A context resumes by returning to its saved LR with the transfer {from, data} in
 * r3/r4 (ELFv2 returns a 16-byte aggregate in r3/r4). For a fresh context that LR is
 * in slp_ppc64le_context_start, which calls entry(transfer).
 *
 * No routine uses the TOC itself: none has a global entry point, and r12 is left alone
 * on entry. Every call out (save, restore, fn, entry) goes through CTR with r12 = the
 * target, as ELFv2 asks of an indirect call.
 */

#if !defined(__powerpc64__) || !defined(__LITTLE_ENDIAN__) || !defined(_CALL_ELF) || _CALL_ELF != 2
#error "this file is for 64-bit little-endian PowerPC with the ELFv2 ABI"
#endif

    .equ FRAME_STATE,  0x020    /* the first byte of saved state, above the header */
    .equ FRAME_GPR,    0x020    /* r14..r31, 8 bytes each */
    .equ FRAME_FPR,    0x0b0    /* f14..f31, 8 bytes each */
    .equ FRAME_VR,     0x140    /* v20..v31, 16 bytes each */
    .equ FRAME_FPSCR,  0x200
    .equ FRAME_TOC,    0x208
    .equ FRAME_LR,     0x210
    .equ FRAME_CR,     0x218
    .equ FRAME_VRSAVE, 0x21c
    .equ FRAME_SIZE,   0x220
    .equ START_FRAME,  32       /* the trampoline's own frame, above the first frame */
    .equ CALL_FRAME,   32       /* slp_ontop's frame for calling fn: the bare header */
    .equ HDR_LR,       16       /* the LR save slot of an ELFv2 frame header */
    .equ HDR_TOC,      24       /* the TOC save slot */
    .equ CR_SAVED,     0x38     /* mtcrf mask: CR2, CR3, CR4 */
    .equ FPSCR_CONTROL, 0x03    /* mtfsf mask: fields 6 and 7, FPSCR bits 56..63 */
    .equ SPR_VRSAVE,   256
/* CFI names registers by DWARF number (ELFv2): r0-r31 0-31, f0-f31 32-63, LR 65,
 * v0-v31 77-108 (GNU as takes no symbol there). */

/* Apply macro `m` to every saved register with its slot index. */
.macro for_each_gpr m
    \m 14, 0
    \m 15, 1
    \m 16, 2
    \m 17, 3
    \m 18, 4
    \m 19, 5
    \m 20, 6
    \m 21, 7
    \m 22, 8
    \m 23, 9
    \m 24, 10
    \m 25, 11
    \m 26, 12
    \m 27, 13
    \m 28, 14
    \m 29, 15
    \m 30, 16
    \m 31, 17
.endm
.macro for_each_vr m
    \m 20, 0
    \m 21, 1
    \m 22, 2
    \m 23, 3
    \m 24, 4
    \m 25, 5
    \m 26, 6
    \m 27, 7
    \m 28, 8
    \m 29, 9
    \m 30, 10
    \m 31, 11
.endm

/* Stores into the frame at r1, each described for unwinders (CFA = r1 + FRAME_SIZE). */
.macro put_gpr n, i
    std %r\n, (FRAME_GPR + 8*\i)(%r1)
    .cfi_offset \n, FRAME_GPR + 8*\i - FRAME_SIZE
.endm
.macro put_fpr n, i
    stfd %f\n, (FRAME_FPR + 8*\i)(%r1)
    .cfi_offset 32+\n, FRAME_FPR + 8*\i - FRAME_SIZE
.endm
.macro put_vr n, i
    li %r12, FRAME_VR + 16*\i
    stvx %v\n, %r12, %r1
    .cfi_offset 77+\n, FRAME_VR + 16*\i - FRAME_SIZE
.endm
.macro get_gpr n, i
    ld %r\n, (FRAME_GPR + 8*\i)(%r1)
.endm
.macro get_fpr n, i
    lfd %f\n, (FRAME_FPR + 8*\i)(%r1)
.endm
.macro get_vr n, i
    li %r12, FRAME_VR + 16*\i
    lvx %v\n, %r12, %r1
.endm
/* Once the frame is popped the registers hold their own values again. */
.macro unsaved_gpr n, i
    .cfi_restore \n
.endm
.macro unsaved_fpr n, i
    .cfi_restore 32+\n
.endm
.macro unsaved_vr n, i
    .cfi_restore 77+\n
.endm
/* slp_make: a fresh frame starts with zeroes (%r3 = the new frame, %r0 = 0). */
.macro zero_gpr n, i
    std %r0, (FRAME_GPR + 8*\i)(%r3)
.endm
.macro zero_fpr n, i
    std %r0, (FRAME_FPR + 8*\i)(%r3)
.endm
.macro zero_vr n, i
    std %r0, (FRAME_VR + 16*\i)(%r3)
    std %r0, (FRAME_VR + 16*\i + 8)(%r3)
.endm

/* Push the frame on the current stack. Uses r0, r12 and f0 (volatile). The CFI stays
 * right at every instruction: after r1 moves to another context's frame (same layout)
 * it describes that frame. */
.macro save_frame
    mflr %r0
    stdu %r1, -FRAME_SIZE(%r1)
    .cfi_def_cfa_offset FRAME_SIZE
    std %r0, FRAME_LR(%r1)
    .cfi_offset 65, FRAME_LR - FRAME_SIZE
    std %r2, FRAME_TOC(%r1)
    for_each_gpr put_gpr
    for_each_gpr put_fpr                /* f14..f31: the same numbers, the same count */
    for_each_vr put_vr
    mfcr %r0
    stw %r0, FRAME_CR(%r1)
    mfspr %r0, SPR_VRSAVE
    stw %r0, FRAME_VRSAVE(%r1)
    mffs %f0
    stfd %f0, FRAME_FPSCR(%r1)
.endm

/* Reload everything from the frame at r1 and pop it; LR is the resume address. Uses
 * r0, r12 and f0. */
.macro load_frame
    for_each_gpr get_gpr
    for_each_gpr get_fpr
    for_each_vr get_vr
    lwz %r0, FRAME_CR(%r1)
    mtcrf CR_SAVED, %r0
    lwz %r0, FRAME_VRSAVE(%r1)
    mtspr SPR_VRSAVE, %r0
    lfd %f0, FRAME_FPSCR(%r1)
    mtfsf FPSCR_CONTROL, %f0
    ld %r2, FRAME_TOC(%r1)
    ld %r0, FRAME_LR(%r1)
    mtlr %r0
    addi %r1, %r1, FRAME_SIZE
    .cfi_def_cfa_offset 0
    for_each_gpr unsaved_gpr
    for_each_gpr unsaved_fpr
    for_each_vr unsaved_vr
    .cfi_restore 65
.endm

    .abiversion 2
    .text

/* slp_ctx slp_make(void *stack_top /r3/, size_t size /r4, unused/, slp_entry_fn entry /r5/)
 * Builds, just below the aligned top, the trampoline's frame and under it a saved frame
 * whose LR is the trampoline and whose r14 is entry; the first jump/ontop pops the
 * saved frame and lands in the trampoline with r1 == aligned top - START_FRAME. */
    .globl slp_make
    .type slp_make, @function
    .p2align 4
slp_make:
    .cfi_startproc
    clrrdi %r3, %r3, 4
    addi %r3, %r3, -(START_FRAME + FRAME_SIZE)
    li %r0, 0
    std %r0, (FRAME_SIZE + 0)(%r3)      /* the trampoline's header: back chain 0 ends */
    std %r0, (FRAME_SIZE + 8)(%r3)      /* the chain, the save slots start empty */
    std %r0, (FRAME_SIZE + 16)(%r3)
    std %r0, (FRAME_SIZE + 24)(%r3)
    for_each_gpr zero_gpr
    for_each_gpr zero_fpr
    for_each_vr zero_vr
    std %r0, FRAME_CR(%r3)              /* CR and VRSAVE */
    addi %r4, %r3, FRAME_SIZE
    std %r4, 0(%r3)                     /* back chain: the trampoline's frame */
    std %r0, 8(%r3)
    std %r0, 16(%r3)
    std %r0, 24(%r3)
    std %r5, FRAME_GPR(%r3)             /* r14 = entry, for the trampoline */
    std %r2, FRAME_TOC(%r3)             /* the module the context starts in: ours */
    mflr %r0
    bcl 20, 31, 1f                      /* the trampoline's address, pc-relative */
1:  mflr %r4
    mtlr %r0
    addi %r4, %r4, .Lcontext_start_resume - 1b
    std %r4, FRAME_LR(%r3)
    mffs %f0                            /* the new context inherits our FP control */
    stfd %f0, FRAME_FPSCR(%r3)
    blr
    .cfi_endproc
    .size slp_make, .-slp_make

/* slp_transfer slp_jump(slp_ctx to /r3/, void *data /r4/) -> {from /r3/, data /r4/} */
    .globl slp_jump
    .type slp_jump, @function
    .p2align 4
slp_jump:
    .cfi_startproc
    save_frame
    mr %r5, %r1                         /* from: the frame just pushed */
    mr %r1, %r3
    load_frame
    mr %r3, %r5                         /* r4 (data) passes through untouched */
    blr                                 /* into to's pending switch, or its trampoline */
    .cfi_endproc
    .size slp_jump, .-slp_jump

/* slp_transfer slp_ontop(slp_ctx to /r3/, void *data /r4/, fn /r5/)
 * Switches like slp_jump, then calls fn({from, data}) on to's stack, from a bare frame
 * whose TOC save slot keeps to's r2: fn may live in another module and come back with
 * its own r2. fn's result in r3/r4 becomes what to's pending switch returns (or what a
 * fresh context's entry receives). */
    .globl slp_ontop
    .type slp_ontop, @function
    .p2align 4
slp_ontop:
    .cfi_startproc
    save_frame
    mr %r6, %r1
    mr %r1, %r3
    load_frame                          /* r5 (fn) and r6 are not touched by the reload */
    mflr %r0                            /* to's resume address, in the LR save slot of */
    std %r0, HDR_LR(%r1)                /* to's caller frame (ours, as its callee) */
    .cfi_offset 65, HDR_LR
    stdu %r1, -CALL_FRAME(%r1)
    .cfi_def_cfa_offset CALL_FRAME
    std %r2, HDR_TOC(%r1)
    mr %r3, %r6
    mr %r12, %r5
    mtctr %r12
    bctrl                               /* fn({from, data}) -> r3/r4 */
    ld %r2, HDR_TOC(%r1)
    addi %r1, %r1, CALL_FRAME
    .cfi_def_cfa_offset 0
    ld %r0, HDR_LR(%r1)
    mtlr %r0
    .cfi_restore 65
    blr
    .cfi_endproc
    .size slp_ontop, .-slp_ontop

/* int slp_switch(slp_save_fn save /r3/, slp_restore_fn restore /r4/, void *arg /r5/)
 * restore and arg live in r14/r15 across save(): their old values are in the frame.
 * save() gets r1 + FRAME_STATE, the lowest byte of saved state (see above). */
    .globl slp_switch
    .type slp_switch, @function
    .p2align 4
slp_switch:
    .cfi_startproc
    save_frame
    mr %r12, %r3
    mr %r14, %r4
    mr %r15, %r5
    addi %r3, %r1, FRAME_STATE
    mr %r4, %r15
    mtctr %r12
    bctrl                               /* r3 = delta to the incoming stack */
    add %r1, %r1, %r3
    mr %r3, %r15
    mr %r12, %r14
    mtctr %r12
    bctrl                               /* copies the incoming slice (and frame) in */
    load_frame
    li %r3, 0
    blr
    .cfi_endproc
    .size slp_switch, .-slp_switch

/* The first code a fresh context runs: entry(transfer) with r3/r4 as they arrive, r1
 * 16-byte aligned at the trampoline's frame, whose zero back chain ends the chain.
 * LR is undefined in this FDE so DWARF unwinders (gdb, the C++ unwinder) stop here.
 * The leading nop keeps LR - 4 inside this FDE (and symbol): slp_ontop on a fresh
 * context returns to the resume address itself, and unwinders look up LR - 1. */
    .type slp_ppc64le_context_start, @function
    .p2align 4
    .cfi_startproc
    .cfi_def_cfa_offset START_FRAME     /* CFA = the aligned stack top */
    .cfi_undefined 65
slp_ppc64le_context_start:
    nop
.Lcontext_start_resume:                 /* the LR slp_make stores */
    std %r2, HDR_TOC(%r1)
    mr %r12, %r14
    mtctr %r12
    bctrl                               /* entry(transfer); must never return */
    ld %r2, HDR_TOC(%r1)
    bl slp_arch_entry_returned          /* prints why, aborts */
    nop
    .cfi_endproc
    .size slp_ppc64le_context_start, .-slp_ppc64le_context_start

    .section .note.GNU-stack,"",%progbits

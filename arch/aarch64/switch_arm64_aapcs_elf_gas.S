/* switch_arm64_aapcs_elf_gas.S — the slp arch contract (arch/slp_arch.h) for AArch64,
 * AAPCS64, ELF, GNU as.
 *
 * The saved frame. slp_jump, slp_ontop and slp_switch all push the same 176-byte frame,
 * and slp_make builds one by hand; a context (slp_ctx) is the address of its lowest
 * byte, i.e. the stack pointer of the suspended context.
 *
 *      ctx + 0xB0  +---------------------+  <- sp at entry of the suspending routine
 *                  |  (pad)              |     = the CFA, = the PAC modifier of lr
 *      ctx + 0xA0  |  FPCR               |
 *                  +---------------------+
 *      ctx + 0x98  |  x30 (lr) = resume  |  PAC-signed when built with pac-ret
 *      ctx + 0x90  |  x29 (fp)           |  <- a standard frame record {fp, lr}
 *                  +---------------------+
 *      ctx + 0x80  |  x27      x28       |
 *      ctx + 0x70  |  x25      x26       |
 *      ctx + 0x60  |  x23      x24       |
 *      ctx + 0x50  |  x21      x22       |
 *      ctx + 0x40  |  x19      x20       |
 *                  +---------------------+
 *      ctx + 0x30  |  d14      d15       |
 *      ctx + 0x20  |  d12      d13       |
 *      ctx + 0x10  |  d10      d11       |
 *      ctx + 0x00  |  d8       d9        |  <- ctx (the saved sp)
 *                  +---------------------+
 *
 * Resuming pops the frame and returns with `ret` to the saved lr: returns are not
 * checked by BTI, so resume points need no landing pad. A fresh context (slp_make) has
 * lr = the entry trampoline, x19 = entry and x29 = 0, and sits below a 16-byte zeroed
 * frame record at the stack top, so entry starts with sp = top - 16: inside the stack.
 *
 *      top         +---------------------+  (aligned down to 16)
 *      top - 0x10  |  0        0         |  START_RECORD: {fp, lr} = {0, 0}
 *      top - 0xC0  |  the frame above    |  <- ctx
 *
 * Branch protection (-mbranch-protection=standard), all in the HINT space, so the same
 * object runs, unprotected, on a CPU without BTI or PAC:
 *   - every global entry point starts with `bti c` (hint 34);
 *   - routines that spill lr sign it on entry (paciasp, hint 25) with sp as the
 *     modifier and authenticate it (autiasp, hint 29) with the same sp before `ret`.
 *     The frame is popped before autiasp, so the modifier is always ctx + 0xB0, for
 *     whichever context is resumed. slp_make signs the trampoline address with that
 *     same modifier (pacia1716, hint 8), so a fresh context's first resume authenticates
 *     like any other;
 *   - tail branches to C code use x16 (`br x16` is allowed into a `bti c` pad);
 *   - .note.gnu.property says BTI and/or PAC, so the linker keeps the property.
 */

/* ---- the frame (offsets from ctx / from sp after the frame is pushed) ---- */
#define FRAME_SIZE 0xB0 /* a multiple of 16: sp stays aligned */
#define OFF_D8     0x00
#define OFF_D10    0x10
#define OFF_D12    0x20
#define OFF_D14    0x30
#define OFF_X19    0x40
#define OFF_X21    0x50
#define OFF_X23    0x60
#define OFF_X25    0x70
#define OFF_X27    0x80
#define OFF_FP     0x90 /* x29, followed by x30 at OFF_FP + 8 */
#define OFF_FPCR   0xA0
#define START_RECORD 0x10 /* slp_make: the zeroed frame record above a fresh frame */

/* ---- branch protection, as chosen by the compiler flags ---- */
#if defined(__ARM_FEATURE_BTI_DEFAULT) && __ARM_FEATURE_BTI_DEFAULT == 1
#define SLP_BTI 1
#else
#define SLP_BTI 0
#endif
#if defined(__ARM_FEATURE_PAC_DEFAULT) && (__ARM_FEATURE_PAC_DEFAULT & 3)
#define SLP_PAC 1
#define SLP_PAC_BKEY ((__ARM_FEATURE_PAC_DEFAULT & 2) != 0) /* pac-ret+b-key */
#else
#define SLP_PAC 0
#define SLP_PAC_BKEY 0
#endif

/* Start a global function: symbol, CFI, landing pad. */
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
    hint 34 /* bti c: an indirect call (blr, or br x16/x17) may land here */
#endif
.endm

.macro func_end name
    .cfi_endproc
    .size \name, . - \name
.endm

/* Sign lr with sp (the CFA) as the modifier. */
.macro sign_lr
#if SLP_PAC_BKEY
    hint 27 /* pacibsp */
    .cfi_negate_ra_state
#elif SLP_PAC
    hint 25 /* paciasp */
    .cfi_negate_ra_state
#endif
.endm

/* Authenticate lr against sp; sp must be back where sign_lr saw it. */
.macro auth_lr
#if SLP_PAC_BKEY
    hint 31 /* autibsp */
    .cfi_negate_ra_state
#elif SLP_PAC
    hint 29 /* autiasp */
    .cfi_negate_ra_state
#endif
.endm

/* Sign x17 with x16 as the modifier: what sign_lr would do with lr = x17, sp = x16. */
.macro sign_x17_with_x16
#if SLP_PAC_BKEY
    hint 10 /* pacib1716 */
#elif SLP_PAC
    hint 8  /* pacia1716 */
#endif
.endm

/* Push the frame drawn above. Leaves the current FPCR in x10 for pop_frame. */
.macro push_frame
    sub  sp, sp, #FRAME_SIZE
    .cfi_adjust_cfa_offset FRAME_SIZE
    mrs  x10, fpcr /* early: mrs of FPCR may take a few cycles */
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
    str  x10,      [sp, #OFF_FPCR]
    /* Offsets from the CFA (= sp + FRAME_SIZE). They describe whichever frame sp
     * points at, so they stay true after sp moves to another context's frame. */
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
.endm

/* Reload the frame at sp and pop it. Expects in x10 the FPCR value now in force:
 * writing FPCR is slow on many cores, so it is written only when it changes.
 * Clobbers x10, x11; x0..x9 survive. */
.macro pop_frame
    ldr  x11,      [sp, #OFF_FPCR]
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
    cmp  x10, x11
    b.eq 1f
    msr  fpcr, x11
1:
    add  sp, sp, #FRAME_SIZE
    .cfi_adjust_cfa_offset -FRAME_SIZE
    .cfi_restore d8
    .cfi_restore d9
    .cfi_restore d10
    .cfi_restore d11
    .cfi_restore d12
    .cfi_restore d13
    .cfi_restore d14
    .cfi_restore d15
    .cfi_restore x19
    .cfi_restore x20
    .cfi_restore x21
    .cfi_restore x22
    .cfi_restore x23
    .cfi_restore x24
    .cfi_restore x25
    .cfi_restore x26
    .cfi_restore x27
    .cfi_restore x28
    .cfi_restore x29
    .cfi_restore x30
.endm


/* slp_ctx slp_make(void *stack_top /x0/, size_t size /x1/, slp_entry_fn entry /x2/)
 * Leaf: lr is never spilled, so it is not signed. */
func_begin slp_make
    and  x0, x0, #~15              /* AAPCS64: sp is 16-byte aligned */
    stp  xzr, xzr, [x0, #-START_RECORD]
    sub  x0, x0, #(START_RECORD + FRAME_SIZE) /* the fresh frame; x0 is the new context */
    /* Callee-saved registers of a fresh context: zero, except x19 = entry. Zero
     * rather than stale stack bytes, so a debugger shows nothing misleading. */
    stp  xzr, xzr, [x0, #OFF_D8]
    stp  xzr, xzr, [x0, #OFF_D10]
    stp  xzr, xzr, [x0, #OFF_D12]
    stp  xzr, xzr, [x0, #OFF_D14]
    stp  x2,  xzr, [x0, #OFF_X19]
    stp  xzr, xzr, [x0, #OFF_X21]
    stp  xzr, xzr, [x0, #OFF_X23]
    stp  xzr, xzr, [x0, #OFF_X25]
    stp  xzr, xzr, [x0, #OFF_X27]
    /* The resume address is the trampoline, signed as pop_frame + auth_lr will check
     * it: with the sp seen after the frame is popped, ctx + FRAME_SIZE. */
    adr  x17, .Lslp_trampoline
    add  x16, x0, #FRAME_SIZE
    sign_x17_with_x16
    stp  xzr, x17, [x0, #OFF_FP]   /* x29 = 0: frame-pointer walkers stop here */
    mrs  x3, fpcr                  /* the new context inherits our FP control state */
    str  x3, [x0, #OFF_FPCR]
    ret
func_end slp_make


/* slp_transfer slp_jump(slp_ctx to /x0/, void *data /x1/)
 * Returns {from, data} in x0, x1 to wherever `to` was suspended (or to the trampoline,
 * which hands them to entry). */
func_begin slp_jump
    sign_lr
    push_frame
    mov  x9, sp                    /* from: the frame just pushed */
    mov  sp, x0                    /* to: the CFI above now describes its frame */
    pop_frame
    mov  x0, x9                    /* x1 = data, untouched */
    auth_lr
    ret
func_end slp_jump


/* slp_transfer slp_ontop(slp_ctx to /x0/, void *data /x1/,
 *                        slp_transfer (*fn)(slp_transfer) /x2/)
 * As slp_jump, but instead of returning to `to`'s resume address, tail-call
 * fn({from, data}) with lr = that address: fn's result becomes the transfer `to`
 * receives. */
func_begin slp_ontop
    sign_lr
    push_frame
    mov  x9, sp
    mov  sp, x0
    pop_frame
    mov  x16, x2                   /* x16: `br x16` may enter a `bti c` pad */
    mov  x0, x9                    /* fn's argument: {from, data}; x1 = data */
    auth_lr                        /* lr is now plain: fn signs it anew */
    br   x16
func_end slp_ontop


/* int slp_switch(slp_save_fn save /x0/, slp_restore_fn restore /x1/, void *arg /x2/)
 * Copy-stack switch. restore and arg live in x19, x20 across the calls (their caller's
 * values are in the frame). x29 points at the frame record, as in any AAPCS64 frame,
 * and moves with sp. */
func_begin slp_switch
    sign_lr
    push_frame
    add  x29, sp, #OFF_FP          /* frame record: {caller's fp, signed lr} */
    mov  x19, x1                   /* restore */
    mov  x20, x2                   /* arg */
    mov  x9, x0
    mov  x0, sp                    /* lowest address holding the saved state */
    mov  x1, x20
    blr  x9                        /* x0 = save(sp, arg): delta to the incoming sp */
    add  sp, sp, x0
    add  x29, x29, x0
    mov  x0, x20
    blr  x19                       /* restore(arg): the incoming frame is at sp now */
    mrs  x10, fpcr                 /* the FPCR in force, as pop_frame expects */
    pop_frame
    mov  w0, #0
    auth_lr                        /* the modifier is the resumed slp_switch's sp */
    ret
func_end slp_switch


/* The first code of a fresh context, reached by the `ret` of slp_jump/slp_ontop (or of
 * ontop's fn) with x0, x1 = the transfer, x19 = entry, sp = the aligned top - 16.
 * It calls entry with a normal call frame: sp 16-byte aligned, x29 = 0, lr pointing
 * here. Its CFI marks the return address undefined, so unwinders end the stack here. */
    .text
    .p2align 2
    .type slp_arch_trampoline, %function
slp_arch_trampoline:
    .cfi_startproc
    .cfi_undefined x30
    /* An unwinder looks up (return address - 1); for a fresh, never-run context the
     * return address is .Lslp_trampoline, so keep one instruction of this FDE before it. */
    nop
.Lslp_trampoline:
    mov  x29, xzr                  /* already 0 from slp_make; kept as the promise */
    blr  x19                       /* entry(transfer); must not return */
    bl   slp_arch_entry_returned   /* it did: report and abort */
    brk  #0x1                      /* never reached */
    .cfi_endproc
    .size slp_arch_trampoline, . - slp_arch_trampoline


#if SLP_BTI || SLP_PAC
/* GNU property note: this object is BTI-ready and/or signs return addresses, so the
 * linker may keep GNU_PROPERTY_AARCH64_FEATURE_1_AND on the output (it ANDs the notes
 * of all inputs). */
#define GNU_PROPERTY_AARCH64_FEATURE_1_AND 0xc0000000
#define GNU_PROPERTY_AARCH64_FEATURE_1_BTI 1
#define GNU_PROPERTY_AARCH64_FEATURE_1_PAC 2
    .pushsection .note.gnu.property, "a", %note
    .p2align 3
    .long 4                        /* n_namesz */
    .long 16                       /* n_descsz: one property, padded to 8 */
    .long 5                        /* n_type: NT_GNU_PROPERTY_TYPE_0 */
    .asciz "GNU"
    .long GNU_PROPERTY_AARCH64_FEATURE_1_AND
    .long 4                        /* pr_datasz */
    .long (SLP_BTI * GNU_PROPERTY_AARCH64_FEATURE_1_BTI) | (SLP_PAC * GNU_PROPERTY_AARCH64_FEATURE_1_PAC)
    .long 0                        /* pr_padding */
    .popsection
#endif

    .section .note.GNU-stack, "", %progbits

/* slp_arch.h — the contract every arch/<cpu>/ port implements.
 *
 * One header for every CPU. A port is one assembly file in arch/<cpu>/ that defines
 * the four routines below with C linkage. arch/README.md explains how to write one;
 * tests/arch/ proves a port meets this contract.
 *
 * What a switch preserves (for the context that is switched away and later resumed):
 *   every callee-saved general register, every callee-saved FP/SIMD register and the
 *   FP control state of the ABI (x86_64: MXCSR and the x87 control word; aarch64: FPCR;
 *   arm: FPSCR; riscv64: frm). MXCSR and FPSCR travel whole, sticky flags included, so
 *   each context owns its FP environment as a thread does. Nothing below the stack
 *   pointer is relied upon, so a signal may arrive at any instruction.
 */
#ifndef SLP_ARCH_H
#define SLP_ARCH_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* A suspended context: its saved stack pointer. Valid for exactly one resume: after a
 * slp_jump or slp_ontop to it, the value is spent and must not be used again. */
typedef void* slp_ctx;

/* What a resumed context receives: the context that switched to it (now suspended,
 * and resumable with its own slp_jump) and the data pointer that came with the switch. */
typedef struct slp_transfer {
    slp_ctx from;
    void* data;
} slp_transfer;

/* The function a new context starts in. It must never return: it ends by jumping to
 * another context. If it returns anyway, the port calls slp_arch_entry_returned(),
 * which prints a message and aborts the process. */
typedef void (*slp_entry_fn)(slp_transfer);

/* slp_make — prepare a new context on a separate stack.
 *   stack_top: the highest address of the stack (stacks grow down); size: its usable
 *   size in bytes. The port writes its initial frame just below stack_top and aligns
 *   down as its ABI demands; it checks nothing. The caller (slp::make_context in core)
 *   must pass a top aligned to 16 bytes and at least SLP_ARCH_MIN_STACK bytes: with a
 *   smaller or misaligned stack the raw routine writes below the stack or misaligns
 *   entry's frame, and the result is undefined.
 *   The new context inherits the FP control state of the caller of slp_make.
 *   Returns the context; nothing runs until the first slp_jump/slp_ontop to it, where
 *   entry starts with a normal call frame, a zero frame pointer and a return address
 *   that unwinders treat as the end of the stack. */
slp_ctx slp_make(void* stack_top, size_t size, slp_entry_fn entry);

/* slp_jump — suspend the running context and resume `to`, passing `data`.
 *   Returns (in the suspended context, when something later resumes it) the transfer
 *   of that later switch: who resumed it and with which data.
 *   Never jump to the running context, or to a context twice. */
slp_transfer slp_jump(slp_ctx to, void* data);

/* slp_ontop — like slp_jump, but before `to` continues, call fn({from, data}) on top of
 * `to`'s stack; what fn returns is what `to`'s pending slp_jump/slp_ontop returns (or,
 * for a fresh context, what its entry receives). fn may itself jump away. */
slp_transfer slp_ontop(slp_ctx to, void* data, slp_transfer (*fn)(slp_transfer));

/* Stack copying on one shared stack (Stackless/greenlet style).
 *   slp_switch saves the callee-saved state on the current stack, then calls
 *   save(sp, arg) with sp the lowest address in use. save copies the outgoing slice
 *   [sp, base) away and returns the distance (in bytes) from sp to the incoming stack
 *   pointer (0 to start a new context right here). slp_switch moves sp and the frame
 *   pointer by it, calls restore(arg), which copies the incoming slice in, reloads the
 *   saved state from it and returns 0 in the resumed context.
 *   save and restore run on the current stack below sp and must not touch the slice
 *   they are copying. */
typedef intptr_t (*slp_save_fn)(void* sp, void* arg);
typedef void (*slp_restore_fn)(void* arg);
int slp_switch(slp_save_fn save, slp_restore_fn restore, void* arg);

/* Called by a port when a context's entry function returns; prints a message that
 * names the problem and aborts. Defined once, in arch/slp_arch_fatal.c. */
void slp_arch_entry_returned(void) __attribute__((noreturn));

/* The smallest stack slp::make_context accepts: room for the initial frame, the
 * entry's frame, and a signal frame. */
#define SLP_ARCH_MIN_STACK 8192u
/* The alignment slp::make_context demands of a stack top. */
#define SLP_ARCH_STACK_ALIGN 16u

#ifdef __cplusplus
}
#endif

#endif /* SLP_ARCH_H */

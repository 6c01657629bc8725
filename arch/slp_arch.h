/* slp_arch.h — the contract every arch/<cpu>/ port implements.
 *
 * One header for every CPU. A port is one assembly file in arch/<cpu>/ that defines
 * the four routines below with C linkage. arch/README.md explains how to write one;
 * tests/arch/ proves a port meets this contract.
 *
 * What a switch preserves (for the context that is switched away and later resumed):
 *   every callee-saved general register, every callee-saved FP/SIMD/vector register, the
 *   module pointer where the ABI has one (ppc64le: r2, the TOC), and the FP control state.
 *   Nothing below the stack pointer is relied upon, so a signal may arrive at any
 *   instruction.
 *
 * Which FP control bits travel with a context, per CPU (arch/README.md has the table):
 *   x86_64   MXCSR whole (status flags included) and the x87 control word
 *   aarch64  FPCR whole (FPSR, the status, stays with the thread)
 *   arm      FPSCR whole (cumulative flags and NZCV included)
 *   riscv64  frm (fflags, the status, stays with the thread)
 *   ppc64le  FPSCR bits 56..63: the trap enables VE OE UE ZE XE, NI and RN
 *            (the exception bits stay with the thread)
 *   s390x    FPC whole (masks, flags, DXC and rounding modes)
 *   Where a control bit exists it travels: trap enables, flush-to-zero and default-NaN
 *   bits as well as the rounding mode. A port that skips a slow reload when the value is
 *   unchanged compares every bit that travels, never the rounding mode alone.
 *
 * Module pointers: an slp_ontop fn may live in another shared object, and runs with its
 *   own module pointer. The resumed context continues with the one it was suspended with:
 *   the port reloads it after fn returns (so fn is called, not tail-called, where the
 *   ABI has a module pointer).
 *
 * The caller's frame: on some ABIs a callee stores into its caller's frame (ppc64le
 *   ELFv2: LR at 16(r1), CR at 8(r1), the TOC at 24(r1); s390x: r6..r15 in the 160-byte
 *   register save area at 0(r15)). slp_switch is such a callee of its caller, and the
 *   caller of save and restore. The sp it passes to save must lie above the area its own
 *   callees may write in its frame (ppc64le: the 32-byte header at 0(r1); s390x: the
 *   160-byte register save area at 0(r15)), so that the slice restore copies in never
 *   overwrites the return address restore itself stored. What slp_switch stores into its
 *   caller's frame lies above that sp, inside the slice.
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
 *   save(sp, arg) with sp the lowest address holding that state (above the area its
 *   callees may write in its frame: see "The caller's frame" above). save copies the outgoing slice
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

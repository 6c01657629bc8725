/* sentinels.h — the per-CPU test helpers of the conformance suite.
 *
 * Each tests/arch/<cpu>/ holds one small assembly file that defines these two
 * routines for its ABI; everything else in the suite is the same source on every CPU.
 */
#ifndef SLP_TEST_SENTINELS_H
#define SLP_TEST_SENTINELS_H

#include <stdint.h>

#include "slp_arch.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Callee-saved state of one ABI, as the helpers load and store it. Sized for the largest
 * ABI a port has (ppc64le ELFv2: 18 GPRs, 18 FPRs, 12 vector registers and three control
 * words); each CPU's facts (tests/arch/<cpu>/abi_facts.h) say how many slots it fills.
 *   gpr: callee-saved general registers, in the order of the port's table
 *        (x86_64: rbx rbp r12 r13 r14 r15; aarch64: x19..x29; arm: r4..r11;
 *        riscv64: s0..s11; ppc64le: r14..r31; s390x: r6..r13). Unused slots are ignored.
 *   fpr: callee-saved FP registers as raw 64-bit patterns
 *        (aarch64: d8..d15; arm: d8..d15; riscv64: fs0..fs11; ppc64le: f14..f31;
 *        s390x: f8..f15; x86_64: none).
 *   ctl: control words (x86_64: MXCSR, x87 control word; aarch64: FPCR; arm: FPSCR;
 *        riscv64: frm; ppc64le: FPSCR bits 32..63, VRSAVE, CR; s390x: FPC).
 *   vr:  callee-saved vector registers, 16 bytes each as two 64-bit halves in the order
 *        the CPU's vector store writes them (ppc64le: v20..v31).
 * Layout (the assembly uses these offsets; W is the pointer size):
 *   gpr at 0, fpr at 18*W, ctl at 18*W + 144, vr at 18*W + 160. */
#define SLP_TEST_GPRS 18
#define SLP_TEST_FPRS 18
#define SLP_TEST_CTLS 4
#define SLP_TEST_VRS 12
typedef struct slp_test_regs {
    uintptr_t gpr[SLP_TEST_GPRS];
    uint64_t fpr[SLP_TEST_FPRS];
    uint32_t ctl[SLP_TEST_CTLS];
    uint64_t vr[SLP_TEST_VRS][2];
} slp_test_regs;

/* Save the caller's callee-saved state on the stack, load every register and control
 * word the ABI calls callee-saved from *in, call fn(arg), store the same registers and
 * control words into *out, restore the caller's state and return. If a switch made
 * inside fn lost any of them, *out differs from *in. */
void slp_test_with_sentinels(const slp_test_regs* in, slp_test_regs* out, void (*fn)(void*),
                             void* arg);

/* An entry function for slp_make that records the stack pointer it was entered with
 * (as the ABI sees it at a function's first instruction: on x86_64 that includes the
 * pushed return address) into slp_test_entry_sp, then tail-jumps to
 * slp_test_entry_target with its argument registers untouched. */
void slp_test_entry_probe(slp_transfer t);
extern uintptr_t slp_test_entry_sp;
extern slp_entry_fn slp_test_entry_target;

#ifdef __cplusplus
}
#endif

#endif /* SLP_TEST_SENTINELS_H */

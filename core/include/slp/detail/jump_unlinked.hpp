// slp/detail/jump_unlinked.hpp — slp_jump entered without a call instruction, for the
// inline channel path (slp/detail/fast_channel.hpp). Not API.
//
// Why: a call pushes its return address on the CPU's return-stack predictor, and
// slp_jump resumes the other context by an indirect jump, so that entry is never popped
// by the switch. The resumed tasklet's next `ret` then pops it: the suspending
// tasklet's address after its call into slp_jump, never right. Entered by a jump, the
// predictor is left as the suspending tasklet had it, and the resumed tasklet's next
// `ret` is predicted by the entry that tasklet's own caller pushed. When both tasklets
// called their channel action from the same place — CPython's eval loop calling
// ch.send() in one and ch.receive() in the other, from the one call site of its
// specialized builtin call — that prediction is right. Measured with the Python module
// on this project's x86_64 machine: 62 -> 50 ns per channel switch.
//
// The frame slp_jump builds is the one a call would have made (return address, then
// slp_jump's pushes), so anything that resumes or unwinds a suspended context sees no
// difference. x86_64 only: on the other CPUs slp_jump resumes by a return (aarch64,
// riscv64) or returns its result through memory (arm), and this is a plain call.
#pragma once

#include "slp_arch.h"

namespace slp::detail {

#if defined(__x86_64__)
// The push writes below the stack pointer: the red zone of a leaf function. Every
// function this is inlined into also calls another function (not only by a tail call),
// so none is a leaf, and GCC and Clang use the red zone in leaf functions only. Everything
// the System V ABI lets a call clobber is clobbered: the resumed context ran arbitrary
// code.
#define SLP_JUMP_UNLINKED_ASM  \
    "lea 1f(%%rip), %%rax\n\t" \
    "push %%rax\n\t"           \
    "jmp slp_jump\n"           \
    "1:\n\t"                   \
    "endbr64" /* reached by slp_jump's indirect jump (a nop without CET) */
#if defined(__AVX512F__)
#define SLP_JUMP_UNLINKED_AVX512_CLOBBERS                                                         \
    "xmm16", "xmm17", "xmm18", "xmm19", "xmm20", "xmm21", "xmm22", "xmm23", "xmm24", "xmm25",     \
        "xmm26", "xmm27", "xmm28", "xmm29", "xmm30", "xmm31", "k1", "k2", "k3", "k4", "k5", "k6", \
        "k7",
#else
#define SLP_JUMP_UNLINKED_AVX512_CLOBBERS
#endif
#define SLP_JUMP_UNLINKED_CLOBBERS                                                           \
    "rcx", "r8", "r9", "r10", "r11", "memory", "cc", "xmm0", "xmm1", "xmm2", "xmm3", "xmm4", \
        "xmm5", "xmm6", "xmm7", "xmm8", "xmm9", "xmm10", "xmm11", "xmm12", "xmm13", "xmm14", \
        "xmm15", SLP_JUMP_UNLINKED_AVX512_CLOBBERS "st", "st(1)", "st(2)", "st(3)", "st(4)", \
        "st(5)", "st(6)", "st(7)"

[[gnu::always_inline]] inline slp_transfer jump_unlinked(slp_ctx to) noexcept {
    register void* from asm("rax");
    register void* data asm("rdx");
    register void* arg0 asm("rdi") = to;
    register void* arg1 asm("rsi") = nullptr;
    asm volatile(SLP_JUMP_UNLINKED_ASM
                 : "=r"(from), "=r"(data), "+r"(arg0), "+r"(arg1)
                 :
                 : SLP_JUMP_UNLINKED_CLOBBERS);
    return slp_transfer{from, data};
}

// The same for a caller that keeps what it needs after the jump in `kept`, a local
// object: it is in memory (the frame) at the jump and read from there after it, so that
// none of it is held in a register across the jump (such a register is a callee-saved
// one, which the caller's prologue would save besides slp_jump).
template <class Kept>
[[gnu::always_inline]] inline slp_transfer jump_unlinked_keeping(slp_ctx to, Kept& kept) noexcept {
    register void* from asm("rax");
    register void* data asm("rdx");
    register void* arg0 asm("rdi") = to;
    register void* arg1 asm("rsi") = nullptr;
    asm volatile(SLP_JUMP_UNLINKED_ASM
                 : "=r"(from), "=r"(data), "+r"(arg0), "+r"(arg1), "+m"(kept)
                 :
                 : SLP_JUMP_UNLINKED_CLOBBERS);
    return slp_transfer{from, data};
}
#undef SLP_JUMP_UNLINKED_ASM
#undef SLP_JUMP_UNLINKED_AVX512_CLOBBERS
#undef SLP_JUMP_UNLINKED_CLOBBERS
#else
[[gnu::always_inline]] inline slp_transfer jump_unlinked(slp_ctx to) noexcept {
    return slp_jump(to, nullptr);
}
template <class Kept>
[[gnu::always_inline]] inline slp_transfer jump_unlinked_keeping(slp_ctx to, Kept& kept) noexcept {
    asm volatile("" : "+m"(kept));
    const slp_transfer tr = slp_jump(to, nullptr);
    asm volatile("" : "+m"(kept));
    return tr;
}
#endif

}  // namespace slp::detail

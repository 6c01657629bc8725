// c_stack.hpp (CPython 3.14) — the C stack's bounds CPython checks recursion against.
// Since 3.14 CPython checks the C stack by address: each thread state keeps the top of its
// C stack and a soft limit (RecursionError below it) and a hard one (a fatal error below
// it), computed once from the thread's stack. A tasklet runs on another stack (its own, or
// a shared one for copied tasklets), which may lie anywhere in memory: with the thread's
// limits CPython would see an overflow at once, or none until the guard page. So each
// tasklet carries limits of its own stack, set where its body starts and swapped with the
// rest of its share of the thread state.
#pragma once

#include <cstdint>
#include <slp/stack.hpp>

#include "headers.hpp"

namespace slpy::cpy {

struct c_stack_limits {
    // As a new thread state has them: CPython computes the thread's at its first check.
    uintptr_t top = 0, soft = UINTPTR_MAX, hard = 0;

    static c_stack_limits of(const PyThreadState* ts) noexcept {
        auto* t = reinterpret_cast<const _PyThreadStateImpl*>(ts);
        return {t->c_stack_top, t->c_stack_soft_limit, t->c_stack_hard_limit};
    }
    void set(PyThreadState* ts) const noexcept {
        auto* t = reinterpret_cast<_PyThreadStateImpl*>(ts);
        t->c_stack_top = top;
        t->c_stack_soft_limit = soft;
        t->c_stack_hard_limit = hard;
    }
    // Give `ts` the limits of the stack the calling tasklet runs on, with CPython's margins
    // (one margin above the stack's end is the hard limit, two the soft one); on the
    // thread's own stack, leave the thread's.
    static void set_for_running_stack(PyThreadState* ts) noexcept {
        const std::span<std::byte> s = slp::running_stack();
        if (s.empty()) return;
        const auto lo = reinterpret_cast<uintptr_t>(s.data());
        c_stack_limits{lo + s.size(), lo + 2 * _PyOS_STACK_MARGIN_BYTES,
                       lo + _PyOS_STACK_MARGIN_BYTES}
            .set(ts);
    }
};

}  // namespace slpy::cpy

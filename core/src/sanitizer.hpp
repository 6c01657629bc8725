// sanitizer.hpp — the one place that tells ASan, TSan and valgrind about switches.
//
// ASan (SLP_ASAN): __sanitizer_start_switch_fiber before leaving a stack, with the
//   bounds of the stack being entered; __sanitizer_finish_switch_fiber first thing after
//   arriving. A context that will never resume passes a null fake-stack slot.
// TSan (SLP_TSAN): one fiber per tasklet; __tsan_switch_to_fiber just before a switch.
// valgrind: every stack is registered while mapped (VALGRIND_STACK_REGISTER).
// Stack copying reads and writes stack memory that ASan has poisoned and that belongs
// to other fibers: copy_stack_bytes is uninstrumented, and the slots being overwritten
// are unpoisoned.
// Everything here compiles to nothing in a plain build, except the valgrind requests
// (a few no-op instructions when not under valgrind).
#pragma once

#include <valgrind/memcheck.h>
#include <valgrind/valgrind.h>

#include <cstddef>
#include <cstring>

#include "slp/detail/runtime.hpp"

#if defined(SLP_ASAN)
#include <sanitizer/asan_interface.h>
#include <sanitizer/common_interface_defs.h>
#endif
#if defined(SLP_TSAN)
#include <sanitizer/tsan_interface.h>
#endif

namespace slp::detail::san {

// Before leaving the running context. leaving: the fiber state of the context left
// (nullptr if it will never resume); entering: that of the context entered.
inline void start_switch([[maybe_unused]] fiber_state* leaving, [[maybe_unused]] const void* to_lo,
                         [[maybe_unused]] std::size_t to_size,
                         [[maybe_unused]] const fiber_state& entering) noexcept {
#if defined(SLP_ASAN)
    __sanitizer_start_switch_fiber(leaving != nullptr ? &leaving->asan_fake_stack : nullptr, to_lo,
                                   to_size);
#endif
#if defined(SLP_TSAN)
    __tsan_switch_to_fiber(entering.tsan_fiber, 0);
#endif
}

// First thing in the context just entered (arrived: its fiber state; nullptr if new).
inline void finish_switch([[maybe_unused]] const fiber_state* arrived) noexcept {
#if defined(SLP_ASAN)
    __sanitizer_finish_switch_fiber(arrived != nullptr ? arrived->asan_fake_stack : nullptr,
                                    nullptr, nullptr);
#endif
}

// A context about to be entered gets its TSan fiber if it has none yet.
inline void fiber_create_if_missing([[maybe_unused]] fiber_state& f) noexcept {
#if defined(SLP_TSAN)
    if (f.tsan_fiber == nullptr) f.tsan_fiber = __tsan_create_fiber(0);
#endif
}
// The thread's own context (main) is TSan's current fiber.
inline void fiber_adopt_current([[maybe_unused]] fiber_state& f) noexcept {
#if defined(SLP_TSAN)
    f.tsan_fiber = __tsan_get_current_fiber();
#endif
}
inline void fiber_destroy([[maybe_unused]] fiber_state& f) noexcept {
#if defined(SLP_TSAN)
    if (f.tsan_fiber != nullptr) __tsan_destroy_fiber(f.tsan_fiber);
    f.tsan_fiber = nullptr;
#endif
}

// Forget ASan's poisoning of stack memory that is about to hold other frames.
inline void unpoison([[maybe_unused]] const void* p, [[maybe_unused]] std::size_t n) noexcept {
#if defined(SLP_ASAN)
    __asan_unpoison_memory_region(p, n);
#endif
}

// Copy raw stack bytes (saved registers, redzones, other fibers' frames): without
// sanitizer checks, and without letting the compiler turn the loop into a memcpy call
// that the sanitizer runtime would intercept.
#if defined(SLP_ASAN) || defined(SLP_TSAN)
__attribute__((no_sanitize("address", "thread"), noinline)) inline void copy_stack_bytes(
    void* dst, const void* src, std::size_t n) noexcept {
    auto* d = static_cast<unsigned char*>(dst);
    auto* s = static_cast<const unsigned char*>(src);
    for (std::size_t i = 0; i < n; ++i) {
        d[i] = s[i];
        __asm__ volatile("" ::: "memory");
    }
}
#else
inline void copy_stack_bytes(void* dst, const void* src, std::size_t n) noexcept {
    std::memcpy(dst, src, n);
}
#endif

// Stack memory of a stack we are not running on is about to be written (a slice copied
// in): memcheck may have marked it inaccessible when that stack last shrank.
inline void make_writable([[maybe_unused]] const void* p, [[maybe_unused]] std::size_t n) noexcept {
    (void)VALGRIND_MAKE_MEM_UNDEFINED(p, n);
}

inline unsigned stack_register([[maybe_unused]] const void* lo,
                               [[maybe_unused]] const void* hi) noexcept {
    return VALGRIND_STACK_REGISTER(lo, hi);
}
inline void stack_deregister([[maybe_unused]] unsigned id) noexcept {
    VALGRIND_STACK_DEREGISTER(id);
}

}  // namespace slp::detail::san

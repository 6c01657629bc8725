// slp/detail/fast_soft_schedule.hpp — the common case of async_schedule(), inline in the
// soft tasklet's coroutine. Not API: slp::schedule_awaiter uses it, and falls back to the
// general soft schedule (core/src/soft.cpp: soft_schedule) whenever it declines.
//
// Why inline: a switch between two soft tasklets is only bookkeeping (the coroutine
// returns to the runner's loop, which resumes the next one), so a call into the library
// and the frame of a general function are a large part of its cost.
//
// What it handles: schedule() (not schedule_remove()) of a running soft tasklet whose
// successor in the ring is another soft tasklet; no switch trap, no observer, no schedule
// callback, no other thread's request pending. Then the switch is what schedule_running()
// and complete_deferred() would do for it: the successor becomes the head and the running
// tasklet, and counts as a soft switch. (No callback is running — callbacks are not
// coroutines — and no zombie is left: the landing after every switch clears it.)
#pragma once

#include <atomic>

#include "slp/detail/runtime.hpp"

namespace slp::detail {

// True: switched (the caller suspends and the runner resumes the new running tasklet).
// False: declined, nothing changed.
[[gnu::always_inline]] inline bool fast_soft_schedule() noexcept {
    scheduler_hot* s = tls_sched;
    if (s == nullptr) [[unlikely]]  // awaited outside any tasklet
        return false;
    tasklet_impl* prev = s->running;
    if (prev->kind != stack_kind::soft) [[unlikely]]  // a hard or promoted tasklet
        return false;
    tasklet_impl* next = prev->next;  // a running soft tasklet is in the ring
    if (next->kind != stack_kind::soft || next == prev || s->trap != 0 || s->observer != nullptr ||
        schedule_callback_installed() || s->inbox_nonempty.load(std::memory_order_acquire))
        [[unlikely]]
        return false;
    if (next->state == life::ready) next->state = life::started;
    s->make_running(next);
    ++s->counts.soft;
    return true;
}

}  // namespace slp::detail

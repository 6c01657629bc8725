// slp/detail/fast_schedule.hpp — the common case of schedule(), inline in the caller's
// own function, for the same reason as the channel's (slp/detail/fast_channel.hpp): the
// switch then happens where the resumed tasklet's returns are predicted right. Not API:
// slp::schedule() and the Python module's schedule() use it, and fall back to the
// general schedule (core/src/scheduler.cpp: schedule_running) whenever it declines.
//
// What it handles: the running hard tasklet is the head of the ring and another one
// follows it, suspended by a jump (jump_resumable); no callback, no switch trap, no
// other thread's request pending. Then schedule() is one jump to that next tasklet,
// which is what schedule_running(false) does for it. Declined too: a copied tasklet
// among more runnables than a thread may have shared stacks (a crowd taking turns, whose
// slices are copied on most switches): the general path switches it from a frame that
// keeps almost nothing, so that what is copied stays small.
#pragma once

#include "slp/detail/fast_channel.hpp"

namespace slp::detail {

// schedule() of the running tasklet. False: declined, nothing changed. Throws what was
// thrown at the caller while it was suspended.
template <class Hooks = observer_hooks>
[[gnu::always_inline]] inline bool fast_schedule(Hooks hooks = {}) {
    if constexpr (!inline_switch) return false;  // sanitizer builds: told of every switch
    scheduler_hot* s = fast_scheduler(hooks.scheduler());
    if (s == nullptr) [[unlikely]]
        return false;
    tasklet_impl* prev = s->running;
    tasklet_impl* next = prev->next;
    if (prev != s->head || next == prev || !prev->in_ring || !jump_resumable(*next)) [[unlikely]]
        return false;
    if (prev->kind == stack_kind::copied && !prev->is_main &&
        s->runcount > max_shared_stacks_per_thread) [[unlikely]]
        return false;
    jump_switch(*s, *prev, *next, hooks);
    s->claim(prev);
    return true;
}

}  // namespace slp::detail

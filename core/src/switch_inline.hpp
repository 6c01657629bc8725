// switch_inline.hpp — the part of switch.cpp that the channel's hot path inlines: the
// common own-stack switch, and the helpers it shares with switch.cpp (see switch.cpp for
// how tasklets are entered in general). core/src only.
#pragma once

#include "internal.hpp"
#include "sanitizer.hpp"

namespace slp::detail {

// The bounds of the stack t runs on (for ASan's fiber switch).
inline void bounds_of(scheduler_impl& s, tasklet_impl& t, const void*& lo,
                      std::size_t& n) noexcept {
    if (const stack* st = stack_of(s, t)) {
        lo = st->lo();
        n = st->size();
    } else {
        lo = s.thread_stack_lo;
        n = s.thread_stack_size;
    }
}

// ASan: remember how deep the shared stack has been used (see scrub() in switch.cpp).
inline void note_depth([[maybe_unused]] scheduler_impl& s,
                       [[maybe_unused]] const void* p) noexcept {
#if defined(SLP_ASAN)
    auto* b = static_cast<std::byte*>(const_cast<void*>(p));
    if (b >= s.shared.mem.lo() && b < s.shared.lowest) s.shared.lowest = b;
#endif
}

// Every landing stores the transfer's `from` into the tasklet that jumped.
inline void land(scheduler_impl& s, slp_transfer tr) noexcept {
    if (s.rec.record_from) {
        tasklet_impl* p = s.rec.prev;
        p->ctx = tr.from;
        if (p->kind == stack_kind::copied) {
            p->x->slice_lo = static_cast<std::byte*>(tr.from);
            note_depth(s, p->x->slice_lo);
        }
    }
}

// The common case of schedule_task(prev, next), for the channel's hot path: next is in
// the ring, an own-stack (or main) tasklet suspended by a jump, no schedule callback;
// the caller has checked the switch trap. Inlined into the channel action, so that the
// bookkeeping, the observer and the jump happen in the user's call itself: after a
// switch every return up to the user mispredicts (the return-stack predictor was filled
// by the other tasklet), so every frame less between the user's call and the jump
// counts. Returns false, having done nothing, in any other case (then call
// schedule_task).
[[gnu::always_inline]] inline bool switch_fast(scheduler_impl& s, tasklet_impl& prev,
                                               tasklet_impl& next) noexcept {
    // Only an own-stack (or main) next that was suspended by a jump: nothing to start,
    // no slice to move, resumed by one slp_jump.
    // A soft prev (running on the runner's stack) goes through transfer().
    const bool plain = next.how == suspended_by::jump &&
                       (next.kind == stack_kind::own || next.is_main) &&
                       prev.kind != stack_kind::soft;
    if (!plain || schedule_callback_installed()) [[unlikely]]
        return false;
    if (s.observer != nullptr) s.observer->before_switch(tasklet_view(&prev), tasklet_view(&next));
    s.head = &next;
    s.running = &next;
    s.rec.prev = &prev;
    s.rec.next = &next;
    s.rec.from = &prev;
    ++s.counts.hard;
    if (prev.kind == stack_kind::copied && !prev.is_main) note_depth(s, __builtin_frame_address(0));
    const void* lo = nullptr;
    std::size_t n = 0;
    bounds_of(s, next, lo, n);
    san::start_switch(&prev.x->asan_fake_stack, lo, n, next.x->tsan_fiber);
    prev.how = suspended_by::jump;
    s.rec.record_from = true;
    land(s, slp_jump(next.ctx, nullptr));
    san::finish_switch(prev.x->asan_fake_stack);
    prev.how = suspended_by::none;
    s.after_switch();
    return true;
}

}  // namespace slp::detail

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

// ASan: remember how deep a shared stack has been used (see scrub() in switch.cpp).
inline void note_depth([[maybe_unused]] scheduler_impl& s,
                       [[maybe_unused]] const void* p) noexcept {
#if defined(SLP_ASAN)
    auto* b = static_cast<std::byte*>(const_cast<void*>(p));
    for (shared_stack& sh : s.shared)
        if (b >= sh.mem.lo() && b < sh.lowest) sh.lowest = b;
#endif
}

// ASan, after a landing: how deep the copied tasklet that jumped used the shared stack
// (its context, where the jump left its stack pointer).
inline void note_landing_depth(scheduler_impl& s) noexcept {
    if (s.rec.record_from && s.rec.prev->kind == stack_kind::copied) note_depth(s, s.rec.prev->ctx);
}

// Every landing stores the transfer's `from` into the tasklet that jumped.
inline void land(scheduler_impl& s, slp_transfer tr) noexcept {
    land_plain(s, tr);
    note_landing_depth(s);
}

// jump_switch's announcements to the sanitizers (and ASan's shared-stack depth). Inline
// into the switching function: TSan's fiber switch inside a call of its own would pair
// that call's exit with the other fiber's entries.
struct sanitizer_switch_hooks : observer_hooks {
    scheduler_impl* s;
    [[gnu::always_inline]] void before_jump(scheduler_hot&, tasklet_impl& prev,
                                            tasklet_impl& next) noexcept {
        if (prev.kind == stack_kind::copied && !prev.is_main)
            note_depth(*s, __builtin_frame_address(0));
        const void* lo = nullptr;
        std::size_t n = 0;
        bounds_of(*s, next, lo, n);
        san::start_switch(&prev.x->fiber, lo, n, next.x->fiber);
    }
    [[gnu::always_inline]] void after_jump(tasklet_impl& prev) noexcept {
        note_landing_depth(*s);  // (jump_switch landed with land_plain)
        san::finish_switch(&prev.x->fiber);
    }
};

// The common case of schedule_task(prev, next), for the channel's general action: next
// is in the ring, an own-stack (or main) tasklet suspended by a jump, no schedule
// callback; the caller has checked the switch trap. Inlined into the channel action, so
// that the bookkeeping, the observer and the jump happen in as few frames as possible
// (slp/detail/fast_channel.hpp says why). Returns false, having done nothing, in any
// other case (then call schedule_task).
[[gnu::always_inline]] inline bool switch_fast(scheduler_impl& s, tasklet_impl& prev,
                                               tasklet_impl& next) noexcept {
    // A soft prev (running on the runner's stack) goes through transfer().
    if (!jump_resumable(next) || prev.kind == stack_kind::soft || schedule_callback_installed())
        [[unlikely]]
        return false;
    jump_switch(s, prev, next, sanitizer_switch_hooks{{}, &s});
    return true;
}

}  // namespace slp::detail

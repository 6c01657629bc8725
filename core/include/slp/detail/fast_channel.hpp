// slp/detail/fast_channel.hpp — the common case of a channel action, inline in the
// caller's own function. Not API: channel<T>::send and receive use it, and fall back to
// the general action (core/src/channel.cpp) whenever it declines.
//
// Why inline: after a switch, every `ret` between the jump and the user's code
// mispredicts — the return-stack predictor holds the other tasklet's calls. Measured on
// this project's x86_64 machine: a minimal channel ping-pong costs 4.6 ns per switch
// with the jump inline in the user's loop and 16.3 ns with the same code in a function
// of its own (a raw slp_jump: 3.2 ns). So the path that switches is written here, where
// it is inlined into the user's call, and it enters slp_jump without a call where it
// can (slp/detail/jump_unlinked.hpp), so that the return-stack predictor is left as the
// suspending tasklet had it.
//
// What it handles (everything else returns false having changed nothing):
//   - a partner of this thread is waiting: the exchange, then the switch to the partner
//     (preference on its side) or no switch (the other preferences);
//   - nobody is waiting: the caller blocks, and the next runnable tasklet of this thread
//     resumes;
// and only when no callback is installed, no switch trap is set, the caller is a hard
// tasklet, schedule_all is off and the value is stored inline in the payload. When the
// tasklet to resume is an own-stack (or main) one suspended by a jump, the jump is inline
// here; any other goes through switch_other (switch.cpp). The semantics are exactly those
// of channel.cpp's action(), which the core tests check for every pair of stack kinds.
#pragma once

#include "slp/detail/jump_unlinked.hpp"
#include "slp/detail/runtime.hpp"

namespace slp::detail {

// The sanitizers must be told of every stack switch; their builds switch out of line.
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
inline constexpr bool inline_switch = false;
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer)
inline constexpr bool inline_switch = false;
#else
inline constexpr bool inline_switch = true;
#endif
#else
inline constexpr bool inline_switch = true;
#endif

// Stackless's channel rules (Stackless/module/channelobject.c), each in one function that
// the inline path here and the general one (core/src/channel.cpp) both call.
//
// An action in direction dir (+1 send, -1 receive) finds a partner waiting: the queue
// holds tasklets of the other direction.
[[gnu::always_inline]] constexpr bool partner_waits(int dir, int balance) noexcept {
    return dir > 0 ? balance < 0 : balance > 0;
}
// After the exchange the partner runs at once (preference on its side), unless
// schedule_all makes every action a plain schedule.
[[gnu::always_inline]] constexpr bool partner_runs_now(int dir, int preference,
                                                       bool schedule_all) noexcept {
    return !schedule_all && preference == -dir;
}
// Where the partner of this thread goes after the exchange: next to run (it runs now),
// or to the end of the runnables.
[[gnu::always_inline]] inline void requeue_partner(scheduler_hot& s, tasklet_impl* partner,
                                                   bool runs_now) noexcept {
    if (runs_now)
        s.insert_after_head(partner);
    else
        s.insert(partner);
}

// The channel's queue (the channel's lock is held). Its head says whether it is empty;
// its tail is meaningful only when it is not (queue_pop_partner leaves it behind).
[[gnu::always_inline]] inline void queue_push(channel_base& ch, tasklet_impl* t, int dir) noexcept {
    auto& q = ch.q();
    t->next = nullptr;
    if (q.head == nullptr) {
        t->prev = nullptr;
        q.head = t;
    } else {
        tasklet_impl* last = q.tail;  // (read once: see scheduler_hot::insert)
        t->prev = last;
        last->next = t;
    }
    q.tail = t;
    ch.add_balance(dir);
    t->blocked_dir = static_cast<std::int8_t>(dir);
    t->blocked_on.store(&ch, std::memory_order_release);
}

[[gnu::always_inline]] inline void queue_unlink(channel_base& ch, tasklet_impl* t) noexcept {
    auto& q = ch.q();
    tasklet_impl* p = t->prev;
    tasklet_impl* n = t->next;
    if (p != nullptr)
        p->next = n;
    else
        q.head = n;
    if (n != nullptr)
        n->prev = p;
    else
        q.tail = p;
    ch.add_balance(-t->blocked_dir);
    t->next = t->prev = nullptr;
    t->blocked_dir = 0;
    t->blocked_on.store(nullptr, std::memory_order_release);
}

// The head of ch's queue, `t`, a tasklet of direction dir (partner_waits: the queue holds
// only those), leaves the queue for its partner's exchange. Its links and blocked_dir are
// left as they are: the caller links it into the ring at once (requeue_partner), and
// nothing reads those of a tasklet that is neither in the ring nor blocked (queue_push
// writes them again).
[[gnu::always_inline]] inline void queue_pop_partner(channel_base& ch, tasklet_impl* t,
                                                     int dir) noexcept {
    auto& q = ch.q();
    tasklet_impl* n = t->next;
    q.head = n;
    if (n != nullptr) n->prev = nullptr;
    ch.add_balance(-dir);
    t->blocked_on.store(nullptr, std::memory_order_release);
}

// Where a landing context stores the transfer's `from`: into the tasklet that jumped.
// (A copied one's slice begins there too: reserve_slice, core/src/copystack.cpp, takes
// it from the context whenever the slice is about to move.)
[[gnu::always_inline]] inline void land_plain(scheduler_hot& s, slp_transfer tr) noexcept {
    if (s.rec.record_from) s.rec.prev->ctx = tr.from;
}

// Can `next` be resumed from a hard tasklet by one slp_jump, with nothing else to do?
// (Started, suspended by a jump, on its own stack or the thread's, or copied with its
// slice still in place on its shared stack: a copied tasklet suspended by a jump is its
// shared stack's occupant until its slice is copied out.)
// A tasklet suspended by a jump is a hard one (own, main or copied: a soft tasklet that
// jumps was promoted to own), and only a copied one ever has its slice in the heap.
[[gnu::always_inline]] inline bool jump_resumable(const tasklet_impl& next) noexcept {
    return next.how == suspended_by::jump && !next.slice_in_heap;
}

// What a switch does besides its bookkeeping and jump: the default tells the
// scheduler's observer (a virtual call) and the sanitizers nothing (inline_switch rules
// them out here). core/src/switch_inline.hpp adds the sanitizers' announcements. A
// binding that is itself the observer of the calling thread's scheduler may pass hooks
// that do the observer's work inline instead (the Python module: switch_hooks in
// python/src/runtime.hpp); they must do exactly what its before_switch and after_switch
// do, which the general path (switch_other, channel.cpp) still calls.
struct observer_hooks {
    [[gnu::always_inline]] void observe_before(scheduler_hot& s, tasklet_impl& prev,
                                               tasklet_impl& next) noexcept {
        if (s.observer != nullptr)
            s.observer->before_switch(tasklet_view(&prev), tasklet_view(&next));
    }
    [[gnu::always_inline]] void observe_after(scheduler_hot& s) noexcept { s.notify_after(); }
    [[gnu::always_inline]] void before_jump(scheduler_hot&, tasklet_impl&, tasklet_impl&) noexcept {
    }
    [[gnu::always_inline]] void after_jump(tasklet_impl&) noexcept {}
    // The calling thread's scheduler, or null before it first used slp. (A binding that
    // keeps it at hand saves the thread-local's load and its test.)
    [[gnu::always_inline]] scheduler_hot* scheduler() const noexcept { return tls_sched; }
    // Around a channel action's switch (switch_to), whichever way it switches: the running
    // tasklet is about to be suspended in the action, and it runs again (not called when
    // the action completes without a switch, nor when the switch throws before it).
    [[gnu::always_inline]] void suspending() noexcept {}
    [[gnu::always_inline]] void resumed() noexcept {}
};

// The scheduler's record of a jump from prev (running) to next: next runs, and the
// tasklet that lands (land_plain) stores the jump's `from` into prev.
[[gnu::always_inline]] inline void record_jump(scheduler_hot& s, tasklet_impl& prev,
                                               tasklet_impl& next) noexcept {
    s.make_running(&next);
    s.rec.prev = &prev;
    s.rec.from = &prev;
    ++s.counts.hard;
}

// Suspend prev (running, a hard tasklet) and resume next (jump_resumable); returns when
// prev runs again. The bookkeeping of schedule_task + transfer for this one case.
template <class Hooks = observer_hooks>
[[gnu::always_inline]] inline void jump_switch(scheduler_hot& s, tasklet_impl& prev,
                                               tasklet_impl& next, Hooks hooks = {}) noexcept {
    hooks.observe_before(s, prev, next);
    record_jump(s, prev, next);
    hooks.before_jump(s, prev, next);
    prev.how = suspended_by::jump;
    s.rec.record_from = true;
    land_plain(s, jump_unlinked(next.ctx));
    hooks.after_jump(prev);
    // (prev.how stays `jump` while prev runs: it is read only of a suspended tasklet, and
    // every suspension sets it.)
    hooks.observe_after(s);
    s.release_zombie_if_any();
}

// Out of line (switch.cpp): suspend prev (running, a hard tasklet) and resume or start
// next, a runnable tasklet of any kind, when next is not jump_resumable: from a copied
// prev by one slp_switch (next on the same shared stack) or one slp_jump (anywhere
// else) from a frame that keeps almost nothing (a blocked tasklet saves its callers'
// frames in its slice), anything else by the general switch. The caller has checked the switch trap
// and the callbacks. It may throw (no memory for a stack or a slice) before prev is suspended;
// then, if prev had just blocked on channel `blocked_on`, prev is taken off that channel again.
[[gnu::noinline]] void switch_other(scheduler_hot& s, tasklet_impl& prev, tasklet_impl& next,
                                    channel_base* blocked_on);

// Switch from prev to next whatever next's kind and state: inline when one jump does it.
template <class Hooks>
[[gnu::always_inline]] inline void switch_to(scheduler_hot& s, tasklet_impl& prev,
                                             tasklet_impl& next, channel_base* blocked_on,
                                             Hooks hooks) {
    hooks.suspending();
    if (jump_resumable(next)) [[likely]]
        jump_switch(s, prev, next, hooks);
    else
        switch_other(s, prev, next, blocked_on);
    hooks.resumed();
}

// The calling thread's scheduler `s` (hooks.scheduler()) if the inline path may act for it
// now (nothing holds it: no switch trap, callback or other thread's request; the
// running tasklet is a hard one), else null.
[[gnu::always_inline]] inline scheduler_hot* fast_scheduler(scheduler_hot* s) noexcept {
    if (s == nullptr || !s->fast_ok()) [[unlikely]]
        return nullptr;
    if (s->running->kind == stack_kind::soft) [[unlikely]]
        return nullptr;
    return s;
}

// The exchange with `target` is done (it is off the queue; the lock still held): release
// the lock, and make the partner the next to run (to_partner: preference on its side) or
// put it at the end of the runnables. The caller switches to it in the first case.
[[gnu::always_inline]] inline void hand_over(scheduler_hot& s, channel_base& ch, bool biased,
                                             tasklet_impl& target, bool to_partner) noexcept {
    ch.unlock(biased);
    requeue_partner(s, &target, to_partner);
}

// The exchange with `target` is done (it is off the queue; the lock still held): the
// partner runs now (preference on its side), or goes to the end of the runnables.
template <class Hooks>
[[gnu::always_inline]] inline void after_exchange(scheduler_hot& s, channel_base& ch, bool biased,
                                                  tasklet_impl& src, tasklet_impl& target,
                                                  bool to_partner, Hooks hooks) {
    hand_over(s, ch, biased, target, to_partner);
    if (!to_partner) return;
    switch_to(s, src, target, nullptr, hooks);
    s.claim(&src);
}

// Whether src (running) may block on ch here: another tasklet of this thread is runnable,
// no error (block trap, closing channel) is pending, and its tempval is free for what the
// partner will leave there. (No other thread's request is pending: fast_scheduler saw
// none.)
[[gnu::always_inline]] inline bool may_block(scheduler_hot& s, channel_base& ch,
                                             tasklet_impl& src) noexcept {
    return src.next != &src && &src == s.head && !src.block_trap && !ch.closing() &&
           !src.tempval.value.has_value() && !src.tempval.error;
}

// src (running; may_block) leaves the runnables for ch's queue in direction dir, and the
// lock is released; returns the tasklet to run next (the caller switches to it).
[[gnu::always_inline]] inline tasklet_impl* join_queue(scheduler_hot& s, channel_base& ch,
                                                       bool biased, tasklet_impl& src,
                                                       int dir) noexcept {
    tasklet_impl* next = src.next;
    s.unlink_head_for_queue(&src);
    queue_push(ch, &src, dir);
    ch.unlock(biased);
    return next;
}

// src (running; may_block) joins ch's queue in direction dir and the next runnable
// tasklet runs; returns when src resumes, having raised what was thrown at it meanwhile.
template <class Hooks>
[[gnu::always_inline]] inline void block(scheduler_hot& s, channel_base& ch, bool biased,
                                         tasklet_impl& src, int dir, Hooks hooks) {
    tasklet_impl* next = join_queue(s, ch, biased, src, dir);
    switch_to(s, src, *next, &ch, hooks);
    s.claim(&src);
}

// Whether the inline path may take the value of `sender`, the head of a channel's queue
// of senders (the lock held): it is a tasklet of this thread (`s`) and left a T held
// inline, not an error.
template <class T>
[[gnu::always_inline]] inline bool value_takes_inline(const scheduler_hot* s,
                                                      const tasklet_impl* sender) noexcept {
    return sender->sched == s && !sender->tempval.error &&
           sender->tempval.value.template holds<T>();
}

// Whether the inline path may hand a value to `receiver`, the head of a channel's queue
// of receivers (the lock held): it is a tasklet of this thread (`s`), the channel does not
// schedule all, and nothing (value or error) waits in its tempval yet.
[[gnu::always_inline]] inline bool receiver_takes_inline(const scheduler_hot* s,
                                                         const channel_base& ch,
                                                         const tasklet_impl* receiver) noexcept {
    return receiver->sched == s && !ch.schedule_all() && !receiver->tempval.value.has_value() &&
           !receiver->tempval.error;
}

// Send a T (as in channel<T>) made from `value` (forwarded: a T is moved from, anything
// else converted) when the action takes it. False: declined, nothing changed.
template <class T, class V, class Hooks = observer_hooks>
[[gnu::always_inline]] inline bool fast_send(channel_base& ch, V&& value, Hooks hooks = {}) {
    // (A boxed T would be allocated, or moved by a move that may throw, under the lock.)
    if constexpr (!payload::stores_inline<T>()) return false;
    scheduler_hot* s = fast_scheduler(hooks.scheduler());
    if (s == nullptr) [[unlikely]]
        return false;
    tasklet_impl* src = s->running;
    const bool biased = ch.lock(s);
    if (partner_waits(1, ch.balance())) {  // a receiver waits
        tasklet_impl* target = ch.q().head;
        const bool to_partner = partner_runs_now(1, ch.preference(), false);
        if (!receiver_takes_inline(s, ch, target)) [[unlikely]] {
            ch.unlock(biased);
            return false;
        }
        queue_pop_partner(ch, target, -1);
        target->tempval.value.template fill<T>(std::forward<V>(value));  // (empty: tested)
        after_exchange(*s, ch, biased, *src, *target, to_partner, hooks);
        return true;
    }
    // nobody waits: block
    if (!may_block(*s, ch, *src)) [[unlikely]] {
        ch.unlock(biased);
        return false;
    }
    src->tempval.value.template fill<T>(std::forward<V>(value));  // (empty: may_block)
    block(*s, ch, biased, *src, 1, hooks);  // kill, throw: the value was not taken
    src->tempval.clear();
    return true;
}

// The receive that completes without a switch: a sender of this thread waits, and the
// preference keeps the receiver running (the sender goes to the end of the runnables),
// exactly as fast_receive does it. Apart from fast_receive so that a binding can try it
// first in a function that calls nothing, and so saves no registers (a ping-pong's every
// other action is this one), and enter the action that may switch only when it declines.
// So it calls nothing: it peeks at the channel before the lock (to decline an action
// that will switch at the cost of a few loads; the balance is read again under the lock)
// and takes only a lock biased to this thread. False: declined, nothing changed.
template <class T, class Take, class Hooks = observer_hooks>
[[gnu::always_inline]] inline bool fast_receive_at_once(channel_base& ch, Take&& take,
                                                        Hooks hooks = {}) {
    if constexpr (!payload::stores_inline<T>()) return false;
    if (!partner_waits(-1, ch.balance()) || ch.schedule_all() ||
        partner_runs_now(-1, ch.preference(), false))
        return false;
    scheduler_hot* s = fast_scheduler(hooks.scheduler());
    if (s == nullptr || !ch.lock_if_biased(s)) [[unlikely]]
        return false;
    tasklet_impl* target = ch.q().head;
    if (!partner_waits(-1, ch.balance()) || !value_takes_inline<T>(s, target)) [[unlikely]] {
        ch.unlock(true);
        return false;
    }
    queue_pop_partner(ch, target, 1);
    take(target->tempval.value.template take_held<T>());
    ch.unlock(true);
    requeue_partner(*s, target, false);
    return true;
}

// Receive a T (as in channel<T>) and hand it to `take(T&&)`, called once on success
// (inline: no optional to fill and destroy, which the compiler would call out of line).
// False: declined, nothing changed. Throws what the sender sent as an error, or what was
// thrown at the caller while it waited.
template <class T, class Take, class Hooks = observer_hooks>
[[gnu::always_inline]] inline bool fast_receive(channel_base& ch, Take&& take, Hooks hooks = {}) {
    if constexpr (!payload::stores_inline<T>()) return false;
    scheduler_hot* s = fast_scheduler(hooks.scheduler());
    if (s == nullptr) [[unlikely]]
        return false;
    tasklet_impl* src = s->running;
    const bool biased = ch.lock(s);
    if (partner_waits(-1, ch.balance())) {  // a sender waits
        tasklet_impl* target = ch.q().head;
        const bool to_partner = partner_runs_now(-1, ch.preference(), false);
        if (ch.schedule_all() || !value_takes_inline<T>(s, target)) [[unlikely]] {
            ch.unlock(biased);
            return false;
        }
        queue_pop_partner(ch, target, 1);
        take(target->tempval.value.template take_held<T>());
        after_exchange(*s, ch, biased, *src, *target, to_partner, hooks);
        return true;
    }
    // nobody waits: block
    if (!may_block(*s, ch, *src)) [[unlikely]] {
        ch.unlock(biased);
        return false;
    }
    block(*s, ch, biased, *src, -1, hooks);  // kill, throw, or an exception sent instead of a value
    take(src->tempval.value.template take<T>());
    return true;
}

}  // namespace slp::detail

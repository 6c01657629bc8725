// channel.cpp — the one channel implementation (Stackless/module/channelobject.c:
// generic_channel_action, generic_channel_cando, generic_channel_block).
#include <linux/membarrier.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <thread>

#include "internal.hpp"
#include "switch_inline.hpp"

namespace slp {
namespace {

using detail::scheduler_impl;
using detail::tasklet_impl;

void swap_messages(message& a, message& b) noexcept {
    if (!b.value.has_value() && !b.error) {  // a waiting receiver: one move, not three
        b.value = std::move(a.value);
        b.error = std::move(a.error);
        return;
    }
    swap(a.value, b.value);
    std::swap(a.error, b.error);
}

// Cold paths stay out of line, so that the hot path keeps a small frame (a copied-stack
// tasklet blocked in receive() saves that frame).
[[noreturn, gnu::cold, gnu::noinline]] void fail_runtime(const char* m) {
    throw runtime_error(m);
}
[[noreturn, gnu::cold, gnu::noinline]] void fail_value(const char* m) {
    throw value_error(m);
}

[[gnu::noinline]] void notify_channel(scheduler_impl& s, channel_base& ch, tasklet_impl* t,
                                      int dir) {
    const channel_callback* cb = detail::current_channel_callback();
    if (cb == nullptr) return;
    const bool biased = ch.lock();
    const bool cando = detail::partner_waits(dir, ch.balance());
    const bool interthread = cando && ch.q().head->sched != &s;
    ch.unlock(biased);
    if (interthread) return;  // Stackless notifies those late; slp does not notify them
    s.in_callback = true;
    s.refresh();
    try {
        (*cb)(ch, tasklet::borrow(t), dir > 0, !cando);
    } catch (...) {
        std::fputs("slp: Error in channel callback (exception dropped)\n", stderr);
    }
    s.in_callback = false;
    s.refresh();
}

// The common case of scheduler_impl::block(src): another tasklet of this thread is
// runnable and nothing forbids the switch; false (nothing done) otherwise.
inline bool block_fast(scheduler_impl& s, tasklet_impl* src) noexcept {
    if (s.head == nullptr || s.trap > 0 || s.inbox_nonempty.load(std::memory_order_acquire))
        return false;
    return detail::switch_fast(s, *src, *s.head);
}

}  // namespace

// The lock's handover. A channel's lock is biased to the first thread that takes it
// (owner_ = its scheduler): the owner marks itself inside (owner_busy_) with a plain
// store and checks that it still owns the lock, with only a compiler barrier between the
// two. A second thread that wants the lock takes the ownership away (owner_ =
// revoking), then issues a process-wide memory barrier (membarrier(2), private
// expedited): every thread of the process executes a full barrier, so either the owner
// sees the change at its next check, or its busy mark is visible now. The second thread
// waits for the owner to leave, marks the channel shared, and from then on every thread,
// the old owner included, takes the spin lock (locked_). The barrier costs microseconds,
// once per channel that two threads use; the owner's every lock saves an atomic
// exchange (a full barrier on most CPUs), which on the same-thread path costs as much
// as a stack switch. Where membarrier is missing, channels start shared.
namespace {

detail::scheduler_hot* const revoking = reinterpret_cast<detail::scheduler_hot*>(std::uintptr_t{1});
detail::scheduler_hot* const shared_lock =
    reinterpret_cast<detail::scheduler_hot*>(std::uintptr_t{2});

bool process_barrier_available() noexcept {
#if defined(__SANITIZE_THREAD__)
    return false;
#else
    static const bool ok =
        syscall(SYS_membarrier, MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED, 0, 0) == 0;
    return ok;
#endif
}

void process_barrier() noexcept {
    if (syscall(SYS_membarrier, MEMBARRIER_CMD_PRIVATE_EXPEDITED, 0, 0) != 0) {
        std::fputs("slp: membarrier failed after it was registered\n", stderr);
        std::abort();
    }
}

}  // namespace

bool channel_base::biased_locking_available() noexcept {
    return process_barrier_available();
}

void channel_base::lock_shared() const noexcept {
    detail::scheduler_hot* me = detail::tls_sched;
    for (;;) {
        detail::scheduler_hot* o = owner_.load(std::memory_order_acquire);
        // (o == me: the owner got here without trying its biased way — code built with
        // TSan does not. The spin lock serves it: a taker waits for that as well.)
        if (o == shared_lock || (o == me && me != nullptr)) break;
        if (o == revoking) {  // another thread is taking it away: wait for it
            std::this_thread::yield();
            continue;
        }
        if (o == nullptr) {  // first use: bias it to this thread, or share it
            detail::scheduler_hot* want =
                me != nullptr && process_barrier_available() ? me : shared_lock;
            if (owner_.compare_exchange_strong(o, want, std::memory_order_acq_rel)) break;
            continue;
        }
        // Owned by another thread: take it away. (An owner that is no registered
        // scheduler has gone — in a forked child, with the fork: its busy mark is stale.)
        if (!owner_.compare_exchange_strong(o, revoking, std::memory_order_acq_rel)) continue;
        process_barrier();
        if (detail::scheduler_exists(static_cast<detail::scheduler_impl*>(o)))
            while (owner_busy_.load(std::memory_order_acquire)) std::this_thread::yield();
        owner_busy_.store(false, std::memory_order_relaxed);
        owner_.store(shared_lock, std::memory_order_release);
        break;
    }
    // The spin lock holds the holder's lock_tag: one from before the last fork was taken
    // by a thread that the forked child does not have, and is taken over.
    const int tag = detail::lock_tag();
    for (;;) {
        int seen = 0;
        if (locked_.compare_exchange_weak(seen, tag, std::memory_order_acquire)) break;
        if (seen != 0 && seen != tag) {
            if (locked_.compare_exchange_strong(seen, tag, std::memory_order_acquire)) break;
            continue;
        }
        while (locked_.load(std::memory_order_relaxed) == tag) std::this_thread::yield();
    }
}

bool detail::channel_remove(channel_base& ch, tasklet_impl* t) {
    const bool biased = ch.lock();
    bool there = t->blocked_on.load(std::memory_order_relaxed) == &ch;
    if (there) detail::queue_unlink(ch, t);
    ch.unlock(biased);
    return there;
}

channel_base::~channel_base() {
    // Stackless kills the tasklets of a channel that goes away; here pending kills.
    scheduler_impl* s = detail::this_scheduler_if_any();
    const bool biased = lock();
    while (q_.head != nullptr) {
        tasklet_impl* t = q_.head;
        detail::queue_unlink(*this, t);
        std::exception_ptr e = std::make_exception_ptr(tasklet_exit{});
        if (s != nullptr && t->sched == s) {
            t->tempval.clear();
            t->tempval.error = e;
            if (!t->in_ring) s->insert(t);
        } else if (t->sched != nullptr) {
            sched_of(*t)->post({t, e});
        }
    }
    unlock(biased);
}

// Inlined into send_message and receive_payload: after a switch every return up to the
// user mispredicts, so the hot path keeps as few frames as it can (see switch_fast).
// Soft (begin_action, for the awaitables of soft.cpp): the same up to the switch, which
// may be left to the awaiter; the caller's message goes to its tempval, and the awaiter
// claims it when the tasklet resumes.
template <bool Soft>
[[gnu::always_inline]] inline message channel_base::action(int dir, message&& m) {
    scheduler_impl& s = detail::this_scheduler();
    tasklet_impl* src = s.running;
    if (s.in_callback) fail_runtime(msg::recursive_channel);
    if (detail::current_channel_callback() != nullptr) notify_channel(s, *this, src, dir);

    const bool biased = lock();
    if (detail::partner_waits(dir, balance())) {
        // communication 1): somebody is waiting
        tasklet_impl* target = q_.head;
        const bool interthread = target->sched != &s;
        const bool all = schedule_all();
        const bool to_partner = detail::partner_runs_now(dir, preference(), all);
        if (!interthread && (all || to_partner) && (s.trap > 0 || s.in_callback)) {
            unlock(biased);
            s.check_switch(src, target);  // throws
        }
        // Another thread's target is handed over from before it leaves the queue to
        // its post: its own thread (drop(), a child forked meanwhile) sees it either
        // blocked or handed over.
        if (interthread) target->handed_over.store(true, std::memory_order_relaxed);
        detail::queue_unlink(*this, target);
        swap_messages(m, target->tempval);  // the partner gets ours; we get its
        if constexpr (Soft) src->tempval = std::move(m);
        if (interthread) {
            sched_of(*target)->post({target, nullptr});  // it runs on its own thread
            unlock(biased);
        } else {
            unlock(biased);
            detail::requeue_partner(s, target, to_partner);
            // schedule_all: every action schedules (the partner waits at the end)
            tasklet_impl* switchto = to_partner ? target : all ? src->next : src;
            if constexpr (Soft) {
                if (switchto != src) s.schedule_task(src, switchto);
                return {};
            }
            if (switchto != src) {
                // to_partner is the common case (the default preference on send);
                // the trap was checked above.
                if (!to_partner || !detail::switch_fast(s, *src, *switchto))
                    s.schedule_task(src, switchto);
                s.claim(src);
            }
        }
        return m;
    }
    // communication 2): nobody is waiting, block
    if (src->block_trap) {
        unlock(biased);
        fail_runtime(msg::block_trap);
    }
    if (closing()) {
        unlock(biased);
        fail_value(msg::closed_channel);
    }
    src->tempval = std::move(m);
    s.remove(src);
    detail::queue_push(*this, src, dir);
    unlock(biased);
    if (Soft || !block_fast(s, src)) {
        try {
            s.block(src);
        } catch (...) {
            // Could not block (deadlock, switch trap, interrupted wait): undo, as if never
            // called, unless another thread's partner completed the action meanwhile.
            if (undo_block(s, src, std::current_exception())) throw;
        }
    }
    if constexpr (Soft) return {};
    s.claim(src);
    message out = std::move(src->tempval);
    src->tempval.clear();
    return out;
}

[[gnu::noinline]] bool channel_base::undo_block(detail::scheduler_impl& s,
                                                detail::tasklet_impl* src, std::exception_ptr why) {
    if (detail::channel_remove(*this, src)) {
        s.unremove(src);
        src->tempval.clear();
        return true;
    }
    // A partner of another thread took src off the queue, made the exchange and posted
    // src back to us (all under this channel's lock, which channel_remove just took): its
    // result is in its tempval. Make it the running head again, and keep the result.
    s.drain_inbox();
    if (src->in_ring) s.remove(src);
    s.unremove(src);
    if (s.observer != nullptr) s.observer->action_completed_anyway(std::move(why));
    return false;
}

// Not flattened (unlike slp::schedule()): inlining the whole switch path here would make
// the frame that a blocked copied-stack tasklet saves about 1.4 KiB instead of 0.7; only
// action() and the small switch_fast() come in.
void channel_base::send_message(message&& m) {
    action<false>(1, std::move(m));
}

payload channel_base::receive_payload() {
    message in;
    message out = action<false>(-1, std::move(in));
    if (out.error) std::rethrow_exception(out.error);
    return std::move(out.value);
}

void channel_base::begin_action(int dir, message&& m) {
    action<true>(dir, std::move(m));
}

void channel_base::send_throw(std::exception_ptr e) {
    if (!e) throw std::invalid_argument("slp::channel::send_throw: null exception");
    message m;
    m.error = std::move(e);
    send_message(std::move(m));
}

tasklet channel_base::queue() const {
    const bool biased = lock();
    tasklet t = q_.head != nullptr ? tasklet::borrow(q_.head) : tasklet{};
    unlock(biased);
    return t;
}

}  // namespace slp

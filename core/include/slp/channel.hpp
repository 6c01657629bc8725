// slp/channel.hpp — channels: tasklets hand values (or exceptions) to each other.
//
// Semantics are Stackless's (Doc/library/stackless/channels.rst, channelobject.c).
// A channel holds a queue of blocked tasklets, all senders or all receivers; balance()
// is +n for n waiting senders, -n for n waiting receivers.
//
// An action (send or receive) with a partner waiting completes at once, then:
//   schedule_all    the partner goes to the end of the runnables, and the next
//                   runnable tasklet runs (the caller stays runnable);
//   preference == the partner's side (-1 prefer receiver, the default, on send;
//                   1 prefer sender on receive): the partner runs now, the caller is
//                   put right behind it in the runnables;
//   otherwise       (0, or preference == the caller's side): the caller continues,
//                   the partner goes to the end of the runnables.
// With nobody waiting the caller blocks (joins the queue) until a partner comes; if the
// channel is closing it throws value_error(msg::closed_channel) instead, under a block
// trap runtime_error(msg::block_trap), and see slp/scheduler.hpp for deadlock.
// If the partner belongs to another thread, the caller always continues and the
// partner is made runnable on its own thread (woken if that thread is idle).
//
// Values move as untyped payloads (slp/payload.hpp): channel_base is the one
// implementation, channel<T> a typed face for C++, and the Python binding moves
// PyObject* through channel_base. Channels are thread-safe: any thread's tasklets may
// use one channel. A channel must not be moved; destroying it with tasklets blocked on
// it kills them (pending: they become runnable with tasklet_exit to raise).
#pragma once

#include <atomic>
#include <coroutine>
#include <cstddef>
#include <exception>
#include <iterator>
#include <optional>
#include <stdexcept>
#include <utility>

#include "slp/detail/runtime.hpp"
#include "slp/payload.hpp"
#include "slp/tasklet.hpp"

namespace slp {

class channel_base;

namespace detail {
struct scheduler_impl;
// The awaitable actions' halves (core/src/soft.cpp): perform the action, switching the
// way the running tasklet allows (soft: without touching a stack); true if the tasklet
// was switched away and is to be resumed later. Then claim: raise what was thrown at the
// tasklet meanwhile, and take the message it got.
bool soft_action(channel_base& ch, int dir, message&& m);
void soft_claim();
message soft_take_message();
// Set when the tasklet an awaiter resumes in has an exception to raise: await_resume
// tests it inline and calls soft_claim() only then.
[[gnu::tls_model("initial-exec")]] extern thread_local constinit bool soft_raise;
}  // namespace detail

class channel_base {
 public:
    channel_base() noexcept = default;
    channel_base(const channel_base&) = delete;
    channel_base& operator=(const channel_base&) = delete;
    ~channel_base();

    // Send `m` (a value, or with m.error set an exception for the receiver to raise).
    // Returns when a receiver has it (or at once when one is waiting). Throws
    // value_error(msg::closed_channel), runtime_error(msg::block_trap /
    // msg::switch_trap), deadlock_error, or whatever is raised in the sender while it
    // waits (e.g. tasklet_exit from kill()); on a throw before blocking nothing changed.
    void send_message(message&& m);
    // Receive a message; returns its payload, or throws its error. Other errors as
    // send_message.
    payload receive_payload();

    // Stackless send_exception(exc_class, *args): the receiver raises E(args...).
    template <class E, class... Args>
    void send_exception(Args&&... args) {
        send_throw(std::make_exception_ptr(E(std::forward<Args>(args)...)));
    }
    // Stackless send_throw(exc): the receiver raises e (must not be null).
    void send_throw(std::exception_ptr e);

    // Waiting senders (>0) or receivers (<0).
    int balance() const noexcept { return balance_.load(std::memory_order_relaxed); }
    // close(): no tasklet may block on it any more; actions that find a partner still
    // work. open() undoes close().
    void close() noexcept { closing_.store(true, std::memory_order_relaxed); }
    void open() noexcept { closing_.store(false, std::memory_order_relaxed); }
    bool closing() const noexcept { return closing_.load(std::memory_order_relaxed); }
    bool closed() const noexcept { return closing() && balance() == 0; }
    // -1 prefer receiver (default), 1 prefer sender, 0 neither; any value is clamped.
    int preference() const noexcept { return preference_.load(std::memory_order_relaxed); }
    void set_preference(int p) noexcept {
        preference_.store(p > 0 ? 1 : (p < 0 ? -1 : 0), std::memory_order_relaxed);
    }
    bool schedule_all() const noexcept { return schedule_all_.load(std::memory_order_relaxed); }
    void set_schedule_all(bool on) noexcept { schedule_all_.store(on, std::memory_order_relaxed); }
    // The first tasklet in the queue (empty handle if none); follow tasklet::next().
    tasklet queue() const;
    // Iteration has ended: closing and no sender waiting (Stackless: StopIteration).
    bool iteration_done() const noexcept { return closing() && balance() <= 0; }

    // Internal (core/src, slp/detail/fast_channel.hpp): the queue and its lock.
    struct queue_state {
        detail::tasklet_impl* head = nullptr;
        detail::tasklet_impl* tail = nullptr;
    };
    queue_state& q() noexcept { return q_; }
    // The lock is biased to the first thread that takes it: that thread locks and
    // unlocks with plain stores, with no atomic read-modify-write, until another thread
    // wants the lock; from then on every thread takes a spin lock (core/src/channel.cpp
    // explains the handover). lock() returns whether it took the biased way; pass that
    // to unlock().
    [[nodiscard]] bool lock() const noexcept { return lock(detail::tls_sched); }
    // The same, `me` being the calling thread's scheduler (tls_sched). (Inline: every
    // channel action's inline path takes it, and GCC 16 called it out of line there.)
    [[nodiscard, gnu::always_inline]] bool lock(detail::scheduler_hot* me) const noexcept {
        if (me != nullptr && lock_if_biased(me)) [[likely]]
            return true;
        lock_shared();
        return false;
    }
    // The lock the biased way, if it is biased to `me` (not null), as lock(me) takes it;
    // otherwise false, not locked. (For an inline path that calls nothing: lock_shared()
    // is a call. unlock(true) releases it.)
    [[nodiscard, gnu::always_inline]] bool lock_if_biased(
        [[maybe_unused]] detail::scheduler_hot* me) const noexcept {
#if !defined(__SANITIZE_THREAD__)  // TSan cannot see the handover's process-wide barrier
        if (owner_.load(std::memory_order_relaxed) == me) [[likely]] {
            owner_busy_.store(true, std::memory_order_relaxed);
            std::atomic_signal_fence(std::memory_order_seq_cst);
            if (owner_.load(std::memory_order_relaxed) == me) [[likely]]
                return true;
            owner_busy_.store(false, std::memory_order_release);
        }
#endif
        return false;
    }
    [[gnu::always_inline]] void unlock(bool biased) const noexcept {
        if (biased) [[likely]]
            owner_busy_.store(false, std::memory_order_release);
        else
            locked_.store(0, std::memory_order_release);
    }
    [[gnu::always_inline]] void add_balance(int d) noexcept {
        balance_.store(balance_.load(std::memory_order_relaxed) + d, std::memory_order_relaxed);
    }
    // Internal (tests): whether the lock is biased to the calling thread, and whether
    // this process can bias locks at all (membarrier(2) private expedited; never under
    // TSan).
    bool lock_biased_here() const noexcept {
        return detail::tls_sched != nullptr &&
               owner_.load(std::memory_order_relaxed) == detail::tls_sched;
    }
    static bool biased_locking_available() noexcept;
    // Internal (core/src/switch.cpp): the running tasklet src, queued on this channel,
    // could not switch away after all (`why`): take it off the queue, as if it never
    // blocked, and return true. If a partner of another thread took it off first, the
    // action is complete (src runs, its result in its tempval): return false, and hand
    // `why` to the observer (switch_observer::action_completed_anyway).
    bool undo_block(detail::scheduler_impl& s, detail::tasklet_impl* src, std::exception_ptr why);
    // Internal (core/src/soft.cpp): the action up to its switch; the message the caller
    // gets is left in its tasklet's tempval.
    void begin_action(int dir, message&& m);

 private:
    template <bool Soft>
    message action(int dir, message&& m);
    void lock_shared() const noexcept;
    queue_state q_;
    // The biased lock's owner: null (nobody yet), a thread's scheduler, or one of the
    // handover states of channel.cpp.
    mutable std::atomic<detail::scheduler_hot*> owner_{nullptr};
    mutable std::atomic<bool> owner_busy_{false};  // the owner is inside the lock
    mutable std::atomic<int> locked_{0};           // int: a word-sized exchange needs no libatomic
    std::atomic<int> balance_{0};
    std::atomic<bool> closing_{false};
    std::atomic<int> preference_{-1};
    std::atomic<bool> schedule_all_{false};
};

}  // namespace slp

#include "slp/detail/fast_channel.hpp"

namespace slp {

// A typed channel. T must be move-constructible; T's move constructor runs while the
// channel's lock is held, so it should be cheap and must not use channels.
template <class T>
class channel : public channel_base {
 public:
    // Send a value (see channel_base::send_message for what it throws). Inline in the
    // caller (slp/detail/fast_channel.hpp says why).
    [[gnu::always_inline]] void send(T value) {
        if constexpr (detail::inline_switch) {
            if (detail::fast_send<T>(*this, std::move(value))) return;
        }
        message m;
        m.value.template emplace<T>(std::move(value));
        send_message(std::move(m));
    }
    // Receive a value; throws what the sender sent with send_exception/send_throw.
    [[gnu::always_inline]] T receive() {
        if constexpr (detail::inline_switch) {
            std::optional<T> v;
            auto take = [&v](T&& x) { v.emplace(std::move(x)); };
            if (detail::fast_receive_at_once<T>(*this, take) ||
                detail::fast_receive<T>(*this, take))
                return std::move(*v);
        }
        return receive_payload().template take<T>();
    }

    // Send each element of a range in turn; returns how many were sent.
    template <class Range>
    std::size_t send_sequence(Range&& r) {
        std::size_t n = 0;
        for (auto&& v : r) {
            send(T(std::forward<decltype(v)>(v)));
            ++n;
        }
        return n;
    }
    // One step of iteration: nothing once iteration_done(), else receive().
    std::optional<T> next() {
        if (iteration_done()) return std::nullopt;
        return receive();
    }

    // for (T v : ch) receives until the channel is closed and drained of senders.
    class iterator {
     public:
        using value_type = T;
        using difference_type = std::ptrdiff_t;
        iterator() = default;
        explicit iterator(channel* c) : c_(c) { advance(); }
        T& operator*() { return *v_; }
        iterator& operator++() {
            advance();
            return *this;
        }
        void operator++(int) { advance(); }
        bool operator==(std::default_sentinel_t) const { return !v_.has_value(); }

     private:
        void advance() { v_ = c_->next(); }
        channel* c_ = nullptr;
        std::optional<T> v_;
    };
    iterator begin() { return iterator(this); }
    std::default_sentinel_t end() { return {}; }

    // The same actions for soft tasklets (slp/soft.hpp): `co_await ch.async_send(v)`,
    // `T v = co_await ch.async_receive()`. Same semantics and errors as send/receive; a
    // soft tasklet that waits is switched without touching any stack. Awaited from a
    // promoted soft tasklet they switch as a hard tasklet would.
    class send_awaiter {
     public:
        send_awaiter(channel* c, message m) : c_(c), m_(std::move(m)) {}
        bool await_ready() const noexcept { return false; }
        bool await_suspend(std::coroutine_handle<>) {
            return detail::soft_action(*c_, 1, std::move(m_));
        }
        void await_resume() {
            if (detail::soft_raise) [[unlikely]]
                detail::soft_claim();
        }

     private:
        channel* c_;
        message m_;
    };
    class receive_awaiter {
     public:
        explicit receive_awaiter(channel* c) : c_(c) {}
        bool await_ready() const noexcept { return false; }
        bool await_suspend(std::coroutine_handle<>) {
            return detail::soft_action(*c_, -1, message{});
        }
        T await_resume() {
            message m = detail::soft_take_message();
            if (m.error) std::rethrow_exception(m.error);
            return m.value.template take<T>();
        }

     private:
        channel* c_;
    };
    [[nodiscard]] send_awaiter async_send(T value) {
        message m;
        m.value.template emplace<T>(std::move(value));
        return send_awaiter(this, std::move(m));
    }
    [[nodiscard]] send_awaiter async_send_throw(std::exception_ptr e) {
        if (!e) throw std::invalid_argument("slp::channel::async_send_throw: null exception");
        message m;
        m.error = std::move(e);
        return send_awaiter(this, std::move(m));
    }
    [[nodiscard]] receive_awaiter async_receive() { return receive_awaiter(this); }
};

}  // namespace slp

// slp/soft.hpp — soft tasklets: tasklets whose body is a C++20 coroutine.
//
// Stackless's "soft switching": a soft tasklet keeps nothing on a C stack between
// switches; its coroutine frames on the heap are its whole state. It is scheduled by the
// same scheduler and uses the same channels as hard tasklets (slp/tasklet.hpp), with the
// same semantics (preference, kill, throw, atomic, deadlock, callbacks):
//
//     slp::channel<int> ch;
//     slp::spawn_soft([&]() -> slp::task<> {
//         int v = co_await ch.async_receive();   // waits without a stack
//         co_await slp::async_schedule();
//     });
//
// Soft tasklets run on a per-thread "runner" stack; a switch between two soft tasklets
// returns from one coroutine and resumes the other. A switch to or from a hard tasklet
// jumps between the runner and that tasklet's stack.
//
// The 80/20 rule, automatic: when code that is not a coroutine — a qsort callback, a
// virtual call three frames down, or a plain ch.receive() — blocks inside a soft
// tasklet, the tasklet is promoted on the spot: the runner stack it is running on becomes
// its own stack (its kind() becomes own), and soft tasklets go on on a fresh runner
// stack from the pool. switch_counts() tells how many switches were soft, hard, and how
// many promotions happened.
//
// Nested calls: a task<T> may co_await other task<U>s to any depth; each step returns to
// the runner's loop (no C stack grows, whatever the compiler does with tail calls), and an
// exception thrown deep inside propagates to the awaiting coroutine as in ordinary code.
// A task is started by co_await and must be awaited by its creator (from a soft tasklet);
// it cannot be awaited by foreign coroutine types or run outside a tasklet.
//
// g++ 12 caveat: a co_await inside an if/while condition or an arm of ?: is miscompiled
// (the frame is corrupted or the await runs in both arms): put its result in a variable
// first — `int v = co_await ch.async_receive(); if (v < 0) ...`.
#pragma once

#include <coroutine>
#include <cstdint>
#include <exception>
#include <functional>
#include <new>
#include <type_traits>
#include <utility>

#include "slp/channel.hpp"
#include "slp/detail/fast_soft_schedule.hpp"
#include "slp/scheduler.hpp"
#include "slp/tasklet.hpp"

namespace slp {

template <class T = void>
class task;

namespace detail {

// core/src/soft.cpp. The running tasklet's innermost coroutine becomes `h` (a child
// starts, or a child finished and its parent goes on); the runner's loop resumes it.
void soft_set_top(std::coroutine_handle<> h) noexcept;
// The starting soft tasklet's root coroutine (called by its body, see soft_tasklet).
void soft_start(std::coroutine_handle<> root) noexcept;
// The root coroutine finished (with `escaped` if an exception left it): end the tasklet.
void soft_end(std::exception_ptr escaped) noexcept;
// async_schedule / async_schedule_remove when fast_soft_schedule declined: true if the
// tasklet was switched away.
bool soft_schedule(bool remove);

struct task_promise_base {
    std::coroutine_handle<> parent;  // null: the root of a soft tasklet
    std::exception_ptr error;

    std::suspend_always initial_suspend() noexcept { return {}; }
    struct final_awaiter {
        bool await_ready() const noexcept { return false; }
        template <class P>
        bool await_suspend(std::coroutine_handle<P> h) noexcept {
            task_promise_base& p = h.promise();
            if (p.parent) {
                soft_set_top(p.parent);
            } else {
                soft_end(std::move(p.error));  // may free this frame: touch nothing after
            }
            return true;  // back to the runner's loop
        }
        void await_resume() const noexcept {}
    };
    final_awaiter final_suspend() noexcept { return {}; }
    void unhandled_exception() noexcept { error = std::current_exception(); }
};

template <class T>
struct task_promise : task_promise_base {
    union {
        T value;
    };
    bool has_value = false;
    task_promise() noexcept {}
    ~task_promise() {
        if (has_value) value.~T();
    }
    task<T> get_return_object() noexcept;
    template <class U>
    void return_value(U&& v) {
        ::new (static_cast<void*>(&value)) T(std::forward<U>(v));
        has_value = true;
    }
    T take() {
        if (error) std::rethrow_exception(error);
        return std::move(value);
    }
};

template <>
struct task_promise<void> : task_promise_base {
    task<void> get_return_object() noexcept;
    void return_void() noexcept {}
    void take() {
        if (error) std::rethrow_exception(error);
    }
};

}  // namespace detail

// A lazily started coroutine that soft tasklets run and await. Move-only; destroying a
// task that has not finished destroys its frame (and the frames it awaits).
template <class T>
class [[nodiscard]] task {
 public:
    using promise_type = detail::task_promise<T>;

    task() noexcept = default;
    explicit task(std::coroutine_handle<promise_type> h) noexcept : h_(h) {}
    task(task&& o) noexcept : h_(std::exchange(o.h_, {})) {}
    task& operator=(task&& o) noexcept {
        if (this != &o) {
            if (h_) h_.destroy();
            h_ = std::exchange(o.h_, {});
        }
        return *this;
    }
    ~task() {
        if (h_) h_.destroy();
    }

    bool await_ready() const noexcept { return false; }
    bool await_suspend(std::coroutine_handle<> awaiting) noexcept {
        h_.promise().parent = awaiting;
        detail::soft_set_top(h_);
        return true;
    }
    T await_resume() { return h_.promise().take(); }

    // Internal: hand the frame over (the root of a soft tasklet).
    std::coroutine_handle<promise_type> release() noexcept { return std::exchange(h_, {}); }

 private:
    std::coroutine_handle<promise_type> h_;
};

namespace detail {
template <class T>
task<T> task_promise<T>::get_return_object() noexcept {
    return task<T>(std::coroutine_handle<task_promise<T>>::from_promise(*this));
}
inline task<void> task_promise<void>::get_return_object() noexcept {
    return task<void>(std::coroutine_handle<task_promise<void>>::from_promise(*this));
}
}  // namespace detail

// A soft tasklet bound to `fn`, a callable returning task<> (called when the tasklet
// starts; kept until it ends, so that a lambda's captures outlive its coroutine). Not
// alive: setup() makes it runnable, as for any tasklet. options.kind is ignored.
template <class F>
requires std::is_invocable_r_v<task<>, F&> tasklet soft_tasklet(F fn,
                                                                tasklet_options options = {}) {
    options.kind = stack_kind::soft;
    return tasklet([fn = std::move(fn)]() mutable { detail::soft_start(fn().release()); },
                   std::move(options));
}

// Create, bind and set up a soft tasklet in one go.
template <class F>
requires std::is_invocable_r_v<task<>, F&> tasklet spawn_soft(F fn, tasklet_options options = {}) {
    tasklet t = soft_tasklet(std::move(fn), std::move(options));
    t.setup();
    return t;
}

// The awaitable schedule() and schedule_remove(): same semantics and errors, for soft
// tasklets (`co_await slp::async_schedule();`).
class schedule_awaiter {
 public:
    explicit schedule_awaiter(bool remove) noexcept : remove_(remove) {}
    bool await_ready() const noexcept { return false; }
    bool await_suspend(std::coroutine_handle<>) {
        if (!remove_ && detail::fast_soft_schedule()) [[likely]]
            return true;
        return detail::soft_schedule(remove_);
    }
    void await_resume() {
        if (detail::soft_raise) [[unlikely]]
            detail::soft_claim();
    }

 private:
    bool remove_;
};
[[nodiscard]] inline schedule_awaiter async_schedule() noexcept {
    return schedule_awaiter(false);
}
[[nodiscard]] inline schedule_awaiter async_schedule_remove() noexcept {
    return schedule_awaiter(true);
}

// This thread's switch counters since its scheduler started: soft switches (between
// two soft tasklets, no stack touched), hard ones (any other, a stack switched), and
// promotions of soft tasklets to hard.
switch_counts get_switch_counts();

}  // namespace slp

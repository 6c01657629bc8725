// slp/tasklet.hpp — tasklets: functions that run as cooperative microthreads.
//
// Semantics are Stackless's (Doc/library/stackless/tasklets.rst); the Python module
// exposes this same implementation. A tasklet belongs to the thread that created it and
// only ever runs there; each thread has its own scheduler and main tasklet
// (slp/scheduler.hpp).
//
// Life cycle (Stackless names):
//   bound      tasklet(fn): has a function, not alive, not scheduled
//   alive      after setup(): scheduled (runnable), or blocked on a channel, or paused
//              (alive but neither, e.g. after remove()); the running one is current
//   dead       its function returned or threw, or it was killed; alive() is false
// An exception that escapes a tasklet's function (other than tasklet_exit) ends the
// tasklet and is raised in the main tasklet (more exactly: the innermost run() caller,
// the "watchdog") where it is suspended, at once.
//
// How a tasklet's function is run is its stack_kind, chosen per tasklet; both kinds
// behave identically to the user:
//   own     its own mmap'd stack (slp_jump): constant switch cost, default 256 KiB
//           reserved per tasklet (committed only as touched)
//   copied  one of the thread's shared stacks (shared_stacks_per_thread, more for a
//           crowd of runnable ones up to max_shared_stacks_per_thread; chosen when it
//           starts): its live slice is copied out only when another copied tasklet
//           needs that stack, and back in when it resumes; memory only for what it
//           uses. Tasklets that switch among themselves on stacks of their own copy
//           nothing (as fast as own stacks); in larger crowds switch cost grows with depth
// The scheduler and the channels never look at the kind: one function (detail::transfer
// in core/src/switch.cpp) switches any pair. A third kind, soft tasklets whose body is
// a C++20 coroutine switched without touching a stack, is made by slp::soft_tasklet
// (slp/soft.hpp); kind() of a soft tasklet that had to be promoted says own.
#pragma once

#include <cstddef>
#include <cstdint>
#include <exception>
#include <functional>
#include <string>
#include <utility>

#include "slp/errors.hpp"

namespace slp {

namespace detail {
struct tasklet_impl;
void retain(tasklet_impl* t) noexcept;
void release(tasklet_impl* t) noexcept;
}  // namespace detail

enum class stack_kind : std::uint8_t {
    own,     // own stack, slp_jump
    copied,  // shared stack, slp_switch, live slice copied
    soft,    // no stack: a C++20 coroutine (slp/soft.hpp); own once promoted
};

struct tasklet_options {
    stack_kind kind = stack_kind::own;
    std::size_t stack_size = 0;  // own stacks only; 0: default_stack_size
    std::string name;            // shown by the stack-overflow message; may be empty
};

// A tasklet handle: shared ownership of the tasklet object (copying a handle is cheap;
// the scheduler and channels keep their own references, so a tasklet made runnable by
// setup() needs no handle to stay alive). A default-constructed handle is empty; every
// operation on an empty handle throws slp::runtime_error.
// Handles may be copied and dropped on any thread; the operations below are for the
// tasklet's own thread unless said otherwise.
class tasklet {
 public:
    tasklet() noexcept = default;
    // Bind to `fn` (Stackless: tasklet(func)). Not alive, not scheduled: call setup()
    // (or operator()) to make it runnable. The atomic flag is inherited from the current
    // tasklet. Throws std::bad_alloc.
    explicit tasklet(std::function<void()> fn, tasklet_options options = {});
    tasklet(const tasklet& o) noexcept : p_(o.p_) { detail::retain(p_); }
    tasklet(tasklet&& o) noexcept : p_(std::exchange(o.p_, nullptr)) {}
    tasklet& operator=(tasklet o) noexcept {
        std::swap(p_, o.p_);
        return *this;
    }
    ~tasklet() { detail::release(p_); }

    // (Re)bind the function of a tasklet that is not alive.
    // Throws runtime_error(msg::alive) if it is alive.
    tasklet& bind(std::function<void()> fn);
    // Make it alive and insert it at the end of the runnables (Stackless: setup(),
    // t(...)). Returns *this. From another thread (a tasklet bound there: bind_thread)
    // it is alive at once and handed to its own thread's scheduler, which takes it into
    // its ring at its next scheduling point (woken if idle). Throws
    // runtime_error(msg::alive) if already alive, runtime_error(msg::not_bound) if it
    // has no function, runtime_error(msg::no_thread) if its thread has ended.
    tasklet& setup();
    tasklet& operator()() { return setup(); }
    // setup() without the insert: alive and paused (Stackless: bind(func, args)). From
    // another thread as setup(), but the tasklet is not made runnable there.
    tasklet& setup_paused();

    // Insert at the end of the runnables if not already scheduled. From another thread
    // the tasklet is handed to its own thread's scheduler (which is woken if idle).
    // Throws runtime_error(msg::run_blocked) if blocked, runtime_error(msg::run_dead) if
    // not alive.
    tasklet& insert();
    // Take it out of the runnables (it becomes paused); no-op if not scheduled.
    // Throws runtime_error(msg::remove_blocked) if blocked, (msg::remove_current) if it
    // is the current tasklet, (msg::other_thread) from another thread.
    tasklet& remove();
    // Insert (as insert()) and switch to it now; the caller stays runnable, so it
    // resumes when the scheduler comes round to it. Returns in the caller; throws what
    // insert() throws, runtime_error(msg::switch_trap) under a switch trap, and whatever
    // exception is raised in the caller while it is suspended. From another thread:
    // like insert(), except that its thread runs it before the runnables it has.
    void run();
    // Like run(), but the caller is paused (removed from the runnables) instead.
    // Throws as run(); runtime_error(msg::other_thread) from another thread.
    void switch_to();

    // Raise TaskletExit in the tasklet (unwinding its stack) — Stackless kill(pending).
    // No-op if it is not alive (never set up, or dead). If it is the current tasklet,
    // tasklet_exit is thrown right here. If blocked, it is taken off its channel first.
    // pending=false: switch to it now (the caller stays runnable, right after it);
    // pending=true: only make it runnable with the exception waiting for it.
    // From another thread: always pending.
    void kill(bool pending = false);
    // Raise `e` in the tasklet (Stackless throw(exc, pending)); as kill(), except:
    // throws runtime_error(msg::throw_dead) if the tasklet is not alive (unless e is a
    // tasklet_exit: then nothing happens), and e must not be null.
    void throw_exception(std::exception_ptr e, bool pending = false);
    // Stackless raise_exception(exc_class, *args): throw_exception(E(args...)), now.
    template <class E, class... Args>
    void raise_exception(Args&&... args) {
        throw_exception(std::make_exception_ptr(E(std::forward<Args>(args)...)), false);
    }
    // Give up on a tasklet that will not die (it catches every kill; Stackless drops
    // such a tasklet at thread and interpreter end): it is taken off its channel and out
    // of the runnables and is dead, its stack is released without being unwound (what
    // its frames hold is leaked, never run again). No-op if it is not alive. Own thread
    // only: throws runtime_error(msg::other_thread) from another thread,
    // runtime_error(msg::remove_current) for the current or a main tasklet.
    void drop();

    bool alive() const;      // set up and not dead (the main tasklet: always)
    bool blocked() const;    // waiting on a channel
    bool scheduled() const;  // runnable or blocked
    bool paused() const;     // alive, neither runnable nor blocked
    bool is_main() const;
    bool is_current() const;  // the running tasklet of its thread
    bool restorable() const;  // always false for hard tasklets
    // Atomic: the tasklet is not auto-scheduled (by preemption, which slp does not do
    // yet) — a flag inherited by tasklets created while it is set. Returns the old value.
    bool set_atomic(bool flag);
    bool atomic() const;
    // Block trap: a channel action that would block throws
    // runtime_error(msg::block_trap) instead. Returns the old value.
    bool set_block_trap(bool flag);
    bool block_trap() const;

    // The neighbours in the chain it is in (runnables or a channel queue); empty if
    // none. Own thread only.
    tasklet next() const;
    tasklet prev() const;

    std::uint64_t id() const;  // unique per process, never reused
    const char* name() const;  // the options' name, at most 31 bytes kept
    stack_kind kind() const;
    // A pointer the user owns (the Python binding keeps its object here).
    void* user_data() const;
    void set_user_data(void* p);

    explicit operator bool() const noexcept { return p_ != nullptr; }
    friend bool operator==(const tasklet& a, const tasklet& b) noexcept { return a.p_ == b.p_; }

    // Internal: adopt / borrow the implementation object.
    static tasklet adopt(detail::tasklet_impl* p) noexcept {
        tasklet t;
        t.p_ = p;
        return t;
    }
    static tasklet borrow(detail::tasklet_impl* p) noexcept {
        detail::retain(p);
        return adopt(p);
    }
    detail::tasklet_impl* impl() const noexcept { return p_; }

 private:
    detail::tasklet_impl& checked() const;
    detail::tasklet_impl* p_ = nullptr;
};

// A non-owning view of a tasklet, handed to the switch observer (slp/scheduler.hpp):
// copying one costs nothing, unlike a tasklet handle (whose copies count references
// atomically). Valid only during the call it is passed to; handle() makes an owning
// handle when one must be kept. Any thread may read these; they do not throw.
class tasklet_view {
 public:
    explicit tasklet_view(detail::tasklet_impl* p) noexcept : p_(p) {}
    void* user_data() const noexcept;
    bool alive() const noexcept;  // as tasklet::alive(): false once it ended
    bool is_main() const noexcept;
    bool is_current() const noexcept;
    std::uint64_t id() const noexcept;
    tasklet handle() const noexcept { return tasklet::borrow(p_); }
    detail::tasklet_impl* impl() const noexcept { return p_; }

 private:
    detail::tasklet_impl* p_;
};

// Create, bind and set up in one go (Stackless: stackless.tasklet(func)()).
inline tasklet spawn(std::function<void()> fn, tasklet_options options = {}) {
    tasklet t(std::move(fn), std::move(options));
    t.setup();
    return t;
}

// Scope guard for the current tasklet's atomic flag (Stackless: stackless.atomic()).
class atomic_guard {
 public:
    atomic_guard();
    ~atomic_guard();
    atomic_guard(const atomic_guard&) = delete;
    atomic_guard& operator=(const atomic_guard&) = delete;

 private:
    bool old_;
};

}  // namespace slp

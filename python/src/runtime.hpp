// runtime.hpp — the per-thread side of the binding: the switch observer that saves and
// restores interpreter state, the objects of a thread's tasklets, and safe points.
//
// Core switches tasklets inside its own functions; the observer (before/after every
// switch) moves the interpreter state between PyThreadState and the tasklets'
// python_state. No Python code runs inside the observer: references that must be
// dropped there (an ended tasklet's) are deferred to the next safe point — the return
// of a module function from core, or the start of a tasklet.
#pragma once

#include <atomic>
#include <bit>
#include <cstdint>
#include <vector>

#include "objects.hpp"
#include "slp/detail/fast_channel.hpp"
#include "slp/scheduler.hpp"

namespace slpy {

// Whether `tid` is the id of a thread of this interpreter (one with a Python thread state).
bool is_python_thread(unsigned long tid) noexcept;

class thread_runtime;
// preemption.cpp, the observer's part while run(timeout) runs. After a tasklet was
// switched to (its state restored): with a per-tasklet budget (not totaltimeout) it gets
// a full one; outside the main thread it gets the tick's trace function.
void preempt_after_switch(thread_runtime* rt) noexcept;
// Before the running tasklet's state is saved: outside the main thread, take the tick's
// trace function back from it.
void preempt_before_switch(thread_runtime* rt) noexcept;

class thread_runtime final : public slp::switch_observer {
 public:
    // The calling thread's runtime, created (with its main tasklet object) on first use.
    // Returns nullptr with a Python error set if that fails. (Inline: every channel
    // action asks.)
    static thread_runtime* get() noexcept {
        thread_runtime* rt = tls_;
        return rt != nullptr ? rt : create();
    }
    // The calling thread's runtime if it exists.
    static thread_runtime* current_if_any() noexcept { return tls_; }
    // The runtime of another thread (by Python thread id), or nullptr.
    static thread_runtime* of_thread(unsigned long tid) noexcept;
    // Thread ids that have a runtime.
    static PyObject* thread_ids() noexcept;
    // The main tasklet object of a Python thread `tid` that has not used stackless yet
    // (borrowed; nullptr with an error set): Stackless has one for every thread. It
    // stands for that thread's running main until the thread makes its runtime, which
    // then takes it as its main. An object of a thread that has ended is forgotten.
    static TaskletObject* main_of_thread_without_runtime(unsigned long tid) noexcept;

    // Quiet: not inside core without the GIL (slp/scheduler.hpp's "quiet", which core's
    // get_thread_info() and bind_thread() need of another thread). A thread runs core
    // with the GIL, except in a channel action or a tasklet's end when other threads use
    // stackless (release_gil_if_shared) — unless core parks it waiting for another thread
    // (before_wait .. after_wait): that counts as quiet. Read with the GIL held.
    bool quiet() const noexcept {
        return !in_core_.load(std::memory_order_acquire) || parked_.load(std::memory_order_acquire);
    }
    // This thread's scheduler in core.
    slp::thread_ref sched() const noexcept { return sched_; }
    // The same, as core's inline paths see it (never null: the scheduler outlives the
    // runtime, which the thread's Python state ends first).
    slp::detail::scheduler_hot* hot() const noexcept { return hot_; }
    // While another thread waits for this one to be quiet, it keeps the GIL in core
    // (release_gil_if_shared does not release it): it is then quiet whenever it does not
    // hold the GIL, except parked. Changed with the GIL held.
    int quiet_wanted = 0;

    void before_switch(slp::tasklet_view from, slp::tasklet_view) noexcept override {
        suspend_running(from.alive());
    }
    void after_switch(slp::tasklet_view, slp::tasklet_view to) noexcept override {
        resume_running(static_cast<TaskletObject*>(to.user_data()));
    }
    // The observer's work, inline: also what switch_hooks (below) does in the channel's
    // inline path, without the virtual calls. Before a switch: the running tasklet's
    // state goes from the thread state into its object (`alive`: false if it ended).
    [[gnu::always_inline]] void suspend_running(bool alive) noexcept {
        // The object resume_running() restored the running tasklet from: saving into the
        // same one keeps them paired, and costs no call into core.
        suspend_running(current_, alive);
    }
    // The same, `f` being current_object() (a caller that has it already).
    [[gnu::always_inline]] void suspend_running(TaskletObject* f, bool alive) noexcept {
        if (any_of({.gil_released = true, .preempt_traced = true})) [[unlikely]]
            before_suspend_slow();
        if (f == nullptr) [[unlikely]] {
            foreign_.save(ts_);
            return;
        }
        f->state.save(ts_);
        if (!alive) [[unlikely]]
            drop_ended(f);
    }
    // After a switch: `t` (the object of the tasklet that runs now; may be null) gets
    // the thread state.
    [[gnu::always_inline]] void resume_running(TaskletObject* t) noexcept {
        current_ = t;
        if (t == nullptr) [[unlikely]] {
            foreign_.restore(ts_);
        } else {
            t->pending_throw = false;  // it runs: whatever exception was pending is delivered
            t->state.restore(ts_);
        }
        if (flags_.preempt_active) [[unlikely]]
            preempt_after_switch(this);
    }
    // Whether a switch has nothing unusual to do: no GIL to take back, nothing to drop, no
    // run(timeout) of this thread. Then suspend_plainly() and resume_plainly() do the
    // observer's work (no call in them), and back_from_core() has nothing to do.
    [[gnu::always_inline]] bool switches_plainly() const noexcept {
        return !any_of({.gil_released = true,
                        .flush_due = true,
                        .preempt_active = true,
                        .preempt_traced = true});
    }
    // suspend_running(f, true) when switches_plainly(), `f` being current_object() (not
    // null), but for the rest of python_state::save after save_usual (save_rare, which it
    // returns whether to call, and saved), for a caller that makes save_rare's call itself.
    [[gnu::always_inline]] bool suspend_plainly(TaskletObject* f) noexcept {
        return f->state.save_usual(ts_);
    }
    // resume_running(t) when switches_plainly() and `t` (not null) restores_plainly().
    [[gnu::always_inline]] void resume_plainly(TaskletObject* t) noexcept {
        current_ = t;
        t->pending_throw = false;
        t->state.restore_plainly(ts_);
    }
    // Core blocks this thread for another one: let the other threads have the GIL.
    void before_wait() noexcept override;
    void after_wait() noexcept override {
        hold_gil();
        parked_.store(false, std::memory_order_release);
    }
    // In the main thread, Python's signal handlers run while a tasklet waits for another
    // thread (Ctrl-C raises KeyboardInterrupt from the waiting channel action, as from a
    // wait on a lock); their exception ends the wait.
    std::exception_ptr poll_wait() noexcept override;
    // poll_wait's Ctrl-C came too late (another thread completed the channel action):
    // the action returns its result, and Ctrl-C is raised again at the next check.
    void action_completed_anyway(std::exception_ptr why) noexcept override;

    // A tasklet of this thread that core ended before it started (tasklet::drop): drop
    // what its object holds for it, as for one that ended running.
    void end_unstarted(TaskletObject* t) noexcept { drop_ended(t); }

    // Drop deferred references (call where Python code may run).
    void flush() noexcept {
        if (flags_.flush_due) [[unlikely]]
            flush_slow();
    }
    // Keep `o` (a reference we own) until the next flush.
    void defer(PyObject* o) {
        deferred_.push_back(o);
        flags_.flush_due = true;
    }
    // A module function's return from core: hold_gil() and flush(), in one test.
    [[gnu::always_inline]] void back_from_core() noexcept {
        if (any_of({.gil_released = true, .flush_due = true})) [[unlikely]] {
            hold_gil();
            flush();
        }
    }

    // Whether a module function may return from core without back_from_core() (nothing
    // to take back or drop).
    [[gnu::always_inline]] bool nothing_due() const noexcept {
        return !any_of({.gil_released = true, .flush_due = true});
    }

    TaskletObject* main_object() const noexcept { return main_; }
    TaskletObject* current_object() const noexcept { return current_; }
    unsigned long thread_id() const noexcept { return thread_id_; }
    PyThreadState* tstate() const noexcept { return ts_; }

    // The GIL while core may block this thread. When other threads use stackless too, a
    // channel action (and a tasklet's end) may wait in core for another thread, so it
    // runs without the GIL; whoever needs Python next on this thread (the observer before
    // a switch, a callback, the module function when core returns) takes it back.
    void release_gil_if_shared() noexcept {
        if (shared_ && !flags_.gil_released && quiet_wanted == 0) [[unlikely]]
            release_gil_slow();
    }
    void hold_gil() noexcept {
        if (flags_.gil_released) hold_gil_slow();
    }

    // The alive tasklet objects of this thread (for killing them at thread/interpreter
    // end).
    void link_alive(TaskletObject* t) noexcept;
    void unlink_alive(TaskletObject* t) noexcept;
    TaskletObject* alive_head() const noexcept { return alive_head_; }
    // The one rule of a tasklet's reference to itself: held while it is alive and not a
    // paused tasklet of this thread (runnable, blocked, running, another thread's, the
    // watchdog of a run(), or kept_forever); given up while paused. Called after every
    // change of those (the tasklet methods; schedule_remove()). Never frees `t` here:
    // a last reference goes at the next flush().
    void settle_self_ref(TaskletObject* t) noexcept;
    // The running tasklet `me` is about to pause itself (schedule_remove(), switch()):
    // its reference to itself goes at the next flush, unless it runs again before.
    void pausing(TaskletObject* me) noexcept;
    // Kill every alive tasklet of this thread (from its main tasklet); up to `rounds`
    // passes. Errors are reported as unraisable.
    void kill_all(int rounds) noexcept;
    // Detach from core and drop everything (the thread's Python state is going away).
    void shutdown() noexcept;

    // The collector's passes over the objects must see the same channel queues and
    // rings: while it runs (gc.callbacks, install_gc_guard), every other thread is held
    // quiet, so no thread changes them without the GIL.
    static void quiet_others_for_gc() noexcept;
    static void release_others_after_gc() noexcept;
    // In a forked child: only the calling thread exists; the other threads' runtimes are
    // forgotten (leaked) and their tasklets are of no thread.
    static void after_fork_in_child() noexcept;

    // Preemption (preemption.cpp): the instruction budget of the running run(timeout).
    // (Whether one is active, and ticks from a trace function — threads other than main
    // — are tested on every switch: preempt_active(), preempt_traced(), in flags_.)
    struct preempt_state {
        long budget = 0;   // ticks left before an interrupt
        long timeout = 0;  // ticks per slice
        bool soft = false;
        bool ignore_nesting = false;
        bool totaltimeout = false;
        // soft=True: the budget of the tasklet that ran was spent; `due` until the next
        // switch (a convenient scheduling moment), then `now`: the next tick ends run().
        enum class soft_state : unsigned char { none, due, now };
        soft_state soft_stop = soft_state::none;
        TaskletObject* interrupted = nullptr;  // owned reference, for run() to return
        TaskletObject* watchdog = nullptr;     // borrowed: the run() caller
    } preempt;
    // Stackless's watchdog list (watchdogs.hpp; owned), from the thread's first run().
    PyObject* watchdog_list = nullptr;
    // Stackless's stub serial (get_thread_info's flag 1 << 30): the thread's entry into
    // the module, numbered in the process. Every tasklet of the thread runs on stacks of
    // that entry, so it is also the serial of the stack of the last switch.
    long long serial = 0;
    bool preempt_active() const noexcept { return flags_.preempt_active; }
    bool preempt_traced() const noexcept { return flags_.preempt_traced; }
    void set_preempt_active(bool on) noexcept { flags_.preempt_active = on; }
    void set_preempt_traced(bool on) noexcept { flags_.preempt_traced = on; }

 private:
    // What the switch path tests on every action, in one word, so that each place tests
    // the ones it needs with one load and one test (any_of).
    struct alignas(4) action_flags {
        bool gil_released = false;
        bool flush_due = false;       // flush() has work: deferred_ or gil_shared_
        bool preempt_active = false;  // a run(timeout) of this thread runs
        bool preempt_traced = false;  // ... and ticks from a trace function
    };
    static_assert(sizeof(action_flags) == sizeof(std::uint32_t));
    [[gnu::always_inline]] bool any_of(action_flags which) const noexcept {
        return (std::bit_cast<std::uint32_t>(flags_) & std::bit_cast<std::uint32_t>(which)) != 0;
    }
    // suspend_running()'s rare part: the GIL back, the tick's tracer kept with run().
    [[gnu::noinline]] void before_suspend_slow() noexcept;

    thread_runtime() = default;
    static thread_runtime* create() noexcept;
    void release_gil_slow() noexcept;
    // initial-exec: a plain %fs access, not __tls_get_addr; constinit: no TLS wrapper.
    __attribute__((tls_model("initial-exec"))) static constinit thread_local thread_runtime* tls_;
    static inline bool shared_ = false;  // more than one thread has a runtime (GIL held)
    void flush_slow() noexcept;
    void drop_ended(TaskletObject* f) noexcept;
    void drop_survivors() noexcept;
    void enter_temporary_main() noexcept;
    void hold_gil_slow() noexcept;
    bool held_for_gc_ = false;  // quiet_wanted counts one for the collector
    bool main_thread_ = false;  // the thread that runs Python's signal handlers
    action_flags flags_;
    bool gil_shared_ = false;           // has released the GIL in core once (orphans possible)
    std::atomic<bool> in_core_{false};  // the GIL released for core (see quiet())
    std::atomic<bool> parked_{false};   // ... and core waits for another thread
    slp::thread_ref sched_;
    slp::detail::scheduler_hot* hot_ = nullptr;

    PyThreadState* ts_ = nullptr;
    unsigned long thread_id_ = 0;
    TaskletObject* main_ = nullptr;     // owned
    TaskletObject* current_ = nullptr;  // borrowed
    TaskletObject* alive_head_ = nullptr;
    std::vector<PyObject*> deferred_;
    python_state foreign_;  // state of a tasklet without a Python object (none, today)
};

// The observer's work done inline in core's inline channel path
// (slp/detail/fast_channel.hpp), for a switch away from the running tasklet `self` (its
// object, maybe null) of this thread, whose runtime is `rt`: exactly what rt's
// before_switch and after_switch do, without the virtual calls. Before the switch rt is
// the scheduler's observer: a thread's runtime is its scheduler's observer from its
// creation to its shutdown, and the caller got rt from the running thread in between.
// After it, the observer is asked again (the tasklet resumes whenever something
// resumes it). (When the switch returns, `self` runs again: it is the object
// after_switch would find in the running tasklet.)
struct switch_hooks : slp::detail::observer_hooks {
    thread_runtime* rt;
    TaskletObject* self;
    [[gnu::always_inline]] slp::detail::scheduler_hot* scheduler() const noexcept {
        slp::detail::scheduler_hot* s = rt->hot();
        if (s == nullptr) __builtin_unreachable();
        return s;
    }
    [[gnu::always_inline]] void observe_before(slp::detail::scheduler_hot&,
                                               slp::detail::tasklet_impl&,
                                               slp::detail::tasklet_impl&) noexcept {
        rt->suspend_running(self, true);  // prev: the running tasklet, in a channel action
    }
    [[gnu::always_inline]] void observe_after(slp::detail::scheduler_hot& s) noexcept {
        if (s.observer == rt) [[likely]]
            rt->resume_running(self);
        else
            observer_hooks::observe_after(s);
    }
};

// Holds up to two threads (Python thread ids; 0, the calling thread or a thread without
// a runtime: none) quiet while it lives, for core's get_thread_info() / bind_thread() on
// their schedulers. The constructor waits, the GIL released meanwhile, until both are
// quiet at once; ok() is false (RuntimeError set) if that did not happen within seconds.
// Nothing may release the GIL between the constructor and the use of core.
class quiet_threads {
 public:
    quiet_threads(unsigned long a, unsigned long b) noexcept;
    ~quiet_threads();
    quiet_threads(const quiet_threads&) = delete;
    quiet_threads& operator=(const quiet_threads&) = delete;
    bool ok() const noexcept { return ok_; }

 private:
    thread_runtime* rt_[2] = {nullptr, nullptr};
    bool ok_ = false;
};

// Register the collector's guard (thread_runtime::quiet_others_for_gc) in gc.callbacks
// and the forked child's reset (thread_runtime::after_fork_in_child) with
// os.register_at_fork.
bool install_process_hooks() noexcept;

// The Python object of a core tasklet (new reference); creates one for a tasklet that
// has none (e.g. made from C++).
PyObject* tasklet_object_of(const slp::tasklet& t) noexcept;
// Same, or None for an empty handle.
PyObject* tasklet_or_none(const slp::tasklet& t) noexcept;

// tasklet_object.cpp: the body every Python tasklet runs (on its own stack).
void run_tasklet_body(TaskletObject* self);
// The prologue and epilogue of every tasklet's body, a new one's (run_tasklet_body) or
// a restored one's (pickle.cpp), run on its own C stack: `base` is a local of the body's
// frame, where its Python frames start (cpy::enter_body); end_body takes the body's
// result (new reference, null with the exception that ended the tasklet) and hands an
// escaping exception to core, for the watchdog.
void begin_body(TaskletObject* self, cpy::body_base* base) noexcept;
void end_body(TaskletObject* self, PyObject* result);
// tasklet_object.cpp: create the object for a tasklet that has none.
TaskletObject* new_tasklet_object_for(const slp::tasklet& t) noexcept;

}  // namespace slpy

// runtime.hpp — the per-thread side of the binding: the switch observer that saves and
// restores interpreter state, the objects of a thread's tasklets, and safe points.
//
// Core switches tasklets inside its own functions; the observer (before/after every
// switch) moves the interpreter state between PyThreadState and the tasklets'
// python_state. No Python code runs inside the observer: references that must be
// dropped there (an ended tasklet's) are deferred to the next safe point — the return
// of a module function from core, or the start of a tasklet.
#pragma once

#include <vector>

#include "objects.hpp"
#include "slp/scheduler.hpp"

namespace slpy {

class thread_runtime final : public slp::switch_observer {
 public:
    // The calling thread's runtime, created (with its main tasklet object) on first use.
    // Returns nullptr with a Python error set if that fails.
    static thread_runtime* get() noexcept;
    // The calling thread's runtime if it exists.
    static thread_runtime* current_if_any() noexcept;
    // The runtime of another thread (by Python thread id), or nullptr.
    static thread_runtime* of_thread(unsigned long tid) noexcept;
    // Thread ids that have a runtime.
    static PyObject* thread_ids() noexcept;

    void before_switch(slp::tasklet_view from, slp::tasklet_view to) noexcept override;
    void after_switch(slp::tasklet_view from, slp::tasklet_view to) noexcept override;
    // Core blocks this thread for another one: let the other threads have the GIL.
    void before_wait() noexcept override;
    void after_wait() noexcept override { hold_gil(); }

    // Drop deferred references (call where Python code may run).
    void flush() noexcept {
        if (!deferred_.empty() || gil_shared_) flush_slow();
    }
    // Keep `o` (a reference we own) until the next flush.
    void defer(PyObject* o) { deferred_.push_back(o); }

    TaskletObject* main_object() const noexcept { return main_; }
    TaskletObject* current_object() const noexcept { return current_; }
    unsigned long thread_id() const noexcept { return thread_id_; }
    PyThreadState* tstate() const noexcept { return ts_; }

    // The GIL while core may block this thread. When other threads use stackless too, a
    // channel action (and a tasklet's end) may wait in core for another thread, so it
    // runs without the GIL; whoever needs Python next on this thread (the observer before
    // a switch, a callback, the module function when core returns) takes it back.
    void release_gil_if_shared() noexcept;
    void hold_gil() noexcept {
        if (gil_released_) hold_gil_slow();
    }

    // The alive tasklet objects of this thread (for killing them at thread/interpreter
    // end).
    void link_alive(TaskletObject* t) noexcept;
    void unlink_alive(TaskletObject* t) noexcept;
    TaskletObject* alive_head() const noexcept { return alive_head_; }
    // Kill every alive tasklet of this thread (from its main tasklet); up to `rounds`
    // passes. Errors are reported as unraisable.
    void kill_all(int rounds) noexcept;
    // Detach from core and drop everything (the thread's Python state is going away).
    void shutdown() noexcept;

    // This thread's runcount as it last saw it (for get_thread_info from other threads).
    long runcount_hint = 1;

    // Preemption (preemption.cpp): the instruction budget of the running run(timeout).
    struct preempt_state {
        long budget = 0;   // ticks left before an interrupt
        long timeout = 0;  // ticks per slice
        bool active = false;
        bool soft = false;
        bool ignore_nesting = false;
        bool totaltimeout = false;
        TaskletObject* interrupted = nullptr;  // owned reference, for run() to return
        TaskletObject* watchdog = nullptr;     // borrowed: the run() caller
    } preempt;

 private:
    thread_runtime() = default;
    void flush_slow() noexcept;
    void hold_gil_slow() noexcept;
    bool gil_released_ = false;
    bool gil_shared_ = false;  // has released the GIL in core once (orphans possible)

    PyThreadState* ts_ = nullptr;
    unsigned long thread_id_ = 0;
    TaskletObject* main_ = nullptr;     // owned
    TaskletObject* current_ = nullptr;  // borrowed
    TaskletObject* alive_head_ = nullptr;
    std::vector<PyObject*> deferred_;
    python_state foreign_;  // state of a tasklet without a Python object (none, today)
};

// The Python object of a core tasklet (new reference); creates one for a tasklet that
// has none (e.g. made from C++).
PyObject* tasklet_object_of(const slp::tasklet& t) noexcept;
// Same, or None for an empty handle.
PyObject* tasklet_or_none(const slp::tasklet& t) noexcept;

// tasklet_object.cpp: the body every Python tasklet runs (on its own stack).
void run_tasklet_body(TaskletObject* self);
// tasklet_object.cpp: create the object for a tasklet that has none.
TaskletObject* new_tasklet_object_for(const slp::tasklet& t) noexcept;

}  // namespace slpy

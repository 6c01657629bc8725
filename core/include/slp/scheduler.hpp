// slp/scheduler.hpp — the per-thread scheduler (Stackless's module functions).
//
// Every thread has its own scheduler and its own main tasklet (the thread's original
// stack), created the first time the thread uses slp. The runnables form a ring in
// which the current tasklet sits at the head; inserting appends at the end (just before
// the current one). The functions here act on the calling thread's scheduler.
//
// Deadlock (Stackless rules): when a tasklet would block on a channel and nothing else
// of its thread is runnable, then
//   - if the watchdog (the innermost caller of run(), else the main tasklet) is paused,
//     it is resumed (so run() returns while tasklets stay blocked);
//   - else, if another thread that uses slp is not itself idle, this thread waits until
//     a tasklet of it becomes runnable (a channel action or insert() from that thread);
//     a thread counts once it has touched slp (e.g. getcurrent()), so start the partner
//     thread's scheduler before relying on it;
//   - else the blocking action throws deadlock_error(msg::deadlock) and the tasklet
//     stays where it was, runnable and current.
// When the last runnable tasklet ends while the watchdog is blocked on a channel, the
// watchdog's action throws deadlock_error(msg::main_receiving / msg::main_sending).
#pragma once

#include <cstdint>
#include <exception>
#include <functional>

#include "slp/tasklet.hpp"

namespace slp {

class channel_base;

// Run the runnables until none is left but the caller (Stackless: stackless.run()).
// The caller is taken out of the ring while the others run, and becomes the watchdog:
// it resumes when the ring is empty (every other tasklet ended, blocked or paused) or
// when an exception escapes a tasklet (then run() throws it). Returns at once if
// nothing else is runnable. Throws runtime_error(msg::switch_trap) under a switch trap.
void run();
// Let the next runnable tasklet run; the caller stays runnable and resumes when its
// turn comes. Returns at once if it is the only runnable tasklet. Throws as run().
void schedule();
// Like schedule(), but the caller is paused (taken out of the ring). If nothing else is
// runnable, the watchdog resumes if it is paused in run() (run() returns; Stackless
// does the same), else the caller stays current and this returns at once.
void schedule_remove();

tasklet getcurrent();  // the running tasklet of this thread
tasklet getmain();     // this thread's main tasklet
int getruncount();     // tasklets in this thread's ring, the current one included

// How many switches this thread made: soft ones (between two soft tasklets, no stack
// touched; slp/soft.hpp), hard ones (any other, a stack switched), and promotions of soft
// tasklets to hard; and how often a copied-stack tasklet's slice was copied, out to the
// heap or back onto its shared stack. See get_switch_counts() (slp/soft.hpp).
struct switch_counts {
    std::uint64_t soft = 0;
    std::uint64_t hard = 0;
    std::uint64_t promotions = 0;
    std::uint64_t slice_copies = 0;
};

// Add delta to this thread's switch trap and return the old value. While it is above
// zero, any operation that would switch tasklets throws runtime_error(msg::switch_trap)
// and changes nothing.
int switch_trap(int delta);

// Callbacks (process-wide, like Stackless's). Install with a callable, remove with an
// empty one; the previous one is returned. They run on the thread doing the work, must
// not throw (an exception is reported to stderr and dropped, as Stackless does) and
// must not switch tasklets or use channels (that throws runtime_error(
// msg::recursive_schedule / msg::recursive_channel)).
//   schedule callback: (prev, next) before every switch of tasklets.
//   channel callback: (channel, tasklet, sending, will_block) before every channel
//   action, will_block telling whether the tasklet is about to block.
using schedule_callback = std::function<void(const tasklet& prev, const tasklet& next)>;
using channel_callback =
    std::function<void(channel_base& ch, const tasklet& t, bool sending, bool will_block)>;
schedule_callback set_schedule_callback(schedule_callback cb);
channel_callback set_channel_callback(channel_callback cb);

// The switch observer: a per-thread hook told about every switch of that thread's
// tasklets, for the Python binding to save and restore interpreter state in one place.
// before_switch runs in `from` just before it is suspended (from is still current);
// after_switch runs in `to` right after it resumes or starts (to is current). A
// starting tasklet gets after_switch before its function runs; an ending one gets
// before_switch as `from`. Both must not throw, switch or use channels. The tasklets
// come as non-owning views (slp/tasklet.hpp), so that telling the observer costs no
// reference counting on the switch path.
//
// before_wait / after_wait bracket every time core blocks this thread waiting for
// another thread (an idle scheduler, see "Deadlock" above): the Python binding releases
// the GIL there. Between the two the observer must not touch core.
class switch_observer {
 public:
    virtual ~switch_observer() = default;
    virtual void before_switch(tasklet_view from, tasklet_view to) noexcept = 0;
    virtual void after_switch(tasklet_view from, tasklet_view to) noexcept = 0;
    virtual void before_wait() noexcept {}
    virtual void after_wait() noexcept {}
    // While a tasklet waits (between before_wait and after_wait) for another thread to
    // make it runnable, core asks about every 50 ms whether to give up: a non-null
    // result is thrown from the blocking action, which is undone (the tasklet stays
    // where it was, as on deadlock). The Python binding delivers signals there (Ctrl-C).
    // Not asked while an ended tasklet waits for its successor.
    virtual std::exception_ptr poll_wait() noexcept { return nullptr; }
    // A blocking channel action that was to be undone by `why` (poll_wait's result, or a
    // failed switch) had been completed by a partner of another thread already: the
    // action returns its result, and `why` is not thrown (the Python binding raises
    // Ctrl-C again at the next chance, so that neither the value nor the interrupt is
    // lost).
    virtual void action_completed_anyway(std::exception_ptr /*why*/) noexcept {}
};
// Set this thread's observer (nullptr: none); returns the previous one. The observer
// must outlive its installation.
switch_observer* set_switch_observer(switch_observer* obs);

// ---- Other threads' schedulers (core/src/thread_binding.cpp) -------------------------
//
// thread_ref names one thread's scheduler. It stays valid until that thread ends (its
// scheduler goes at thread exit); whoever keeps one must drop it before then (the
// Python binding drops its own when the thread's Python state is cleared).
//
// The functions below that look into or change another thread's scheduler need that
// thread to be *quiet* for the duration of the call: not executing slp code. A thread
// blocked outside slp (on a lock the caller holds, say) is quiet, and so is a thread
// that slp itself blocks waiting for other threads (between switch_observer::
// before_wait and after_wait). The Python binding makes threads quiet with the GIL: a
// thread only enters slp holding it, or marks itself while it waits without it. The
// calling thread is always quiet for itself. Nor may another thread use the tasklet
// passed to bind_thread() during the call.
namespace detail {
struct scheduler_impl;
}
class thread_ref {
 public:
    thread_ref() noexcept = default;
    explicit thread_ref(detail::scheduler_impl* s) noexcept : s_(s) {}
    explicit operator bool() const noexcept { return s_ != nullptr; }
    friend bool operator==(thread_ref a, thread_ref b) noexcept { return a.s_ == b.s_; }
    detail::scheduler_impl* impl() const noexcept { return s_; }

 private:
    detail::scheduler_impl* s_ = nullptr;
};

// The calling thread's scheduler (created if the thread has none yet).
thread_ref this_thread();

// What Stackless's get_thread_info(thread_id) reports about a thread.
struct thread_info {
    tasklet main;     // the thread's main tasklet
    tasklet current;  // its running tasklet (blocked, if runcount is 0)
    // Runnable tasklets, the current one included (as getruncount()), plus those that
    // other threads made runnable (insert(), a channel action, a remote kill) and that
    // the thread has not taken into its ring yet. 0 while the thread waits for another.
    int runcount = 0;
};
// The state of thread `th`, which must be quiet (or the caller). Throws
// runtime_error(msg::no_thread) if th is empty.
thread_info get_thread_info(thread_ref th);

// Rebind tasklet t to thread `to` (Stackless: tasklet.bind_thread(thread_id)): from now
// on t belongs to that thread's scheduler and runs only there (t.insert(), or t.setup()
// if it is not alive, from `to` or from any other thread, which hands it over). Possible for a
// tasklet without execution state: one that is not alive (never set up, or ended — also when its
// thread has ended), or one that is alive but has not started and is paused (set up, then
// remove()d, never run: it stays alive and paused). t's thread and `to` must be quiet (see above).
// The checks below apply even if t already belongs to `to` (then nothing else happens). Throws (and
// changes nothing):
//   runtime_error(msg::null_tasklet)   t is empty
//   runtime_error(msg::no_thread)      `to` is empty
//   runtime_error(msg::bind_runnable)  t is runnable (in its ring, or handed to its
//                                      thread by another thread and not taken in yet)
//   runtime_error(msg::bind_c_state)   t has started (blocked, paused in a switch, or
//                                      ending), or is a main tasklet
void bind_thread(const tasklet& t, thread_ref to);

// Stackless's tasklet.remove() of a tasklet of another thread, which must be quiet: t
// leaves that thread's runnables (and what other threads handed it to run: an insert(),
// a setup()); the calling thread's are untouched. Throws as tasklet::remove(), and
// runtime_error(msg::no_thread) if t has no thread.
void remove_from_its_thread(const tasklet& t);

}  // namespace slp

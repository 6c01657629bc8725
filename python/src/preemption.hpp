// preemption.hpp — stackless.run(timeout): run the scheduler, interrupting a tasklet
// that runs longer than about `timeout` bytecode instructions (in any thread, each
// counting its own).
#pragma once

#include "runtime.hpp"

namespace slpy {

struct run_options {
    long timeout = 0;             // 0: cooperative, run until only the caller is left
    bool soft = false;            // reschedule the tasklet instead of returning it
    bool ignore_nesting = false;  // interrupt even with C frames between its frames
    bool totaltimeout = false;    // the budget is for the whole run(), not per tasklet
};

// The body of stackless.run(): returns None, or the interrupted tasklet (new
// references), or nullptr with an exception set.
PyObject* run_with_timeout(thread_runtime* rt, const run_options& opt);

// The observer, while run(timeout) runs: a tasklet was switched to (its state restored):
// with a per-tasklet budget (not totaltimeout) it gets a full one; outside the main
// thread it gets the tick's trace function.
void preempt_after_switch(thread_runtime* rt) noexcept;
// The observer, before the running tasklet's state is saved: outside the main thread,
// take the tick's trace function back from it.
void preempt_before_switch(thread_runtime* rt) noexcept;

}  // namespace slpy

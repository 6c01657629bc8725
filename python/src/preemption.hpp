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

}  // namespace slpy

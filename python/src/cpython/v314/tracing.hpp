// tracing.hpp (CPython 3.14) — a C trace function for the running tasklet only (the
// preemption tick off the main thread). Since 3.12 line and call events come from
// instrumented bytecode (PEP 669): a function put into ts->c_tracefunc is never called
// unless installed through PyEval_SetTrace, which instruments the code for it (for the
// calling thread, which is the tasklet's).
#pragma once

#include "../monitoring.hpp"
#include "headers.hpp"

namespace slpy::cpy {

// Give the running tasklet `fn` as its trace function, unless it has one.
inline void install_tracer(PyThreadState* ts, Py_tracefunc fn) noexcept {
    if (ts->c_tracefunc != nullptr) return;
    PyEval_SetTrace(fn, nullptr);
}
// Take `fn` back from the running tasklet, if it has it.
inline void remove_tracer(PyThreadState* ts, Py_tracefunc fn) noexcept {
    if (ts->c_tracefunc != fn) return;
    PyEval_SetTrace(nullptr, nullptr);
}
// The thread is done with `fn` (after remove_tracer): nothing more to undo.
inline void end_tracer(PyThreadState*, Py_tracefunc) noexcept {}

// (retrace_suspended(): ../monitoring.hpp, for every version since 3.12.)

}  // namespace slpy::cpy

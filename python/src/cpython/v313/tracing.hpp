// tracing.hpp (CPython 3.13) — a C trace function for the running tasklet only (the
// preemption tick off the main thread). Since PEP 669 (3.12) trace events come from
// instrumented bytecode: a function poked into c_tracefunc is called only while the
// interpreter has sys.settrace's instrumentation on, which PyEval_SetTrace() turns on
// (counting the threads that trace) and off again. So the tick is counted once per
// thread, through PyEval_SetTrace; otherwise the function is handed to each tasklet
// (and taken back) as a field, as on 3.11; end_tracer() gives the count back.
#pragma once

#include "../monitoring.hpp"
#include "headers.hpp"

namespace slpy::cpy {

namespace detail {
// (initial-exec, as the module's other thread-locals: in the general model GCC calls
// __tls_get_addr at the entry of every function that may reach these, schedule() included.)
// This thread holds one count of sys.settrace's instrumentation for the tick (the
// interpreter counts the threads whose c_tracefunc is set, and instruments while any is).
[[gnu::tls_model("initial-exec")]] inline constinit thread_local bool tracer_armed = false;
// The running tasklet was given the tick (install_tracer put it in c_tracefunc).
[[gnu::tls_model("initial-exec")]] inline constinit thread_local bool tracer_given = false;
}  // namespace detail

// Give the running tasklet `fn` as its trace function, unless it has one.
inline void install_tracer(PyThreadState* ts, Py_tracefunc fn) noexcept {
    if (ts->c_tracefunc != nullptr) return;
    if (!detail::tracer_armed) {
        PyEval_SetTrace(fn, nullptr);  // (counts this thread, instruments the code)
        detail::tracer_armed = detail::tracer_given = ts->c_tracefunc == fn;
        return;
    }
    ts->c_tracefunc = fn;
    ts->c_traceobj = nullptr;
    detail::tracer_given = true;
}
// Take `fn` back from the running tasklet, if it was given it. If the tasklet replaced it
// meanwhile (sys.settrace), the count went with it: sys.settrace(None) uncounts it, and
// the next install_tracer counts the tick again.
inline void remove_tracer(PyThreadState* ts, Py_tracefunc fn) noexcept {
    if (!detail::tracer_given) return;
    detail::tracer_given = false;
    if (ts->c_tracefunc == fn)
        ts->c_tracefunc = nullptr;
    else
        detail::tracer_armed = false;
}
// The thread is done with `fn` (after remove_tracer): the count install_tracer took goes
// back, through PyEval_SetTrace (which turns the instrumentation off when no thread
// traces); the running tasklet's own trace function stays.
inline void end_tracer(PyThreadState* ts, Py_tracefunc fn) noexcept {
    if (!detail::tracer_armed) return;
    detail::tracer_armed = false;
    Py_tracefunc own = ts->c_tracefunc;
    PyObject* own_obj = ts->c_traceobj;  // (reference moves out and back)
    ts->c_tracefunc = fn;
    ts->c_traceobj = nullptr;
    PyEval_SetTrace(nullptr, nullptr);
    ts->c_tracefunc = own;
    ts->c_traceobj = own_obj;
}

// (retrace_suspended(): ../monitoring.hpp, for every version since 3.12.)

}  // namespace slpy::cpy

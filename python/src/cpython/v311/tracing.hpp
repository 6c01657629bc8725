// tracing.hpp (CPython 3.11) — a C trace function for the running tasklet only (the
// preemption tick off the main thread), as sys.settrace installs one: the function in
// the thread state, and the current cframe's use_tracing, which the eval loop tests.
#pragma once

#include "headers.hpp"

namespace slpy::cpy {

// Give the running tasklet `fn` as its trace function, unless it has one.
inline void install_tracer(PyThreadState* ts, Py_tracefunc fn) noexcept {
    if (ts->c_tracefunc != nullptr) return;
    ts->c_tracefunc = fn;
    ts->c_traceobj = nullptr;
    // (A starting tasklet, still on the root cframe, takes use_tracing from the
    // functions in enter_body.)
    if (ts->tracing == 0 && ts->cframe != &ts->root_cframe) ts->cframe->use_tracing = 255;
}
// Take `fn` back from the running tasklet, if it has it.
inline void remove_tracer(PyThreadState* ts, Py_tracefunc fn) noexcept {
    if (ts->c_tracefunc != fn) return;
    ts->c_tracefunc = nullptr;
    if (ts->tracing == 0) ts->cframe->use_tracing = ts->c_profilefunc != nullptr ? 255 : 0;
}
// The thread is done with `fn` (after remove_tracer): nothing more to undo on 3.11.
inline void end_tracer(PyThreadState*, Py_tracefunc) noexcept {}

// A suspended tasklet's trace (profile: false) or profile function `fn` with `obj` (an
// owned reference, or null) becomes `new_fn` with `new_obj` (borrowed, or null), as
// sys.settrace / sys.setprofile would make it while the tasklet runs: 3.11 counts no
// tracing threads and instruments no code, the eval loop tests use_tracing (the tasklet's
// thread share sets it when the tasklet resumes).
template <class Top>
void retrace_suspended(PyThreadState*, bool, Py_tracefunc& fn, PyObject*& obj, Py_tracefunc new_fn,
                       PyObject* new_obj, Top) {
    PyObject* old = obj;
    fn = new_fn;
    obj = Py_XNewRef(new_obj);
    Py_XDECREF(old);
}

}  // namespace slpy::cpy

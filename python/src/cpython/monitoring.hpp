// monitoring.hpp (CPython 3.12+) — bringing suspended frames' code up to date with the
// monitoring in force (PEP 669: sys.settrace, sys.setprofile and sys.monitoring fire
// their events from instrumented bytecode). The eval loop instruments a code object at
// its RESUME, which a resumed frame ran long ago, and CPython instruments the code of
// the frames that run (every thread's chain) whenever the monitoring changes; a
// suspended tasklet's frames are in no chain then.
#pragma once

#include <Python.h>

namespace slpy::cpy {

// Bring the code of every frame from `top` out up to date, as CPython does for running
// frames: sys.monitoring.restart_events() is a change of the monitoring that leaves every
// tool's events as they are (it re-enables events a callback had DISABLEd), made while
// those frames are shown as the thread's. If that fails, the frames run unmonitored.
inline void instrument_running(PyThreadState* ts, _PyInterpreterFrame* top) {
    PyObject* monitoring = PySys_GetObject("monitoring");  // borrowed
    if (monitoring == nullptr) return;
    _PyInterpreterFrame* saved = ts->current_frame;
    ts->current_frame = top;
    PyObject* r = PyObject_CallMethod(monitoring, "restart_events", nullptr);
    ts->current_frame = saved;
    if (r == nullptr) PyErr_Clear();
    Py_XDECREF(r);
}

// A suspended tasklet's trace (profile: false) or profile function `fn` with `obj` (an
// owned reference, or null) becomes `new_fn` with `new_obj` (borrowed, or null), as
// sys.settrace / sys.setprofile would make it while the tasklet runs. The interpreter
// counts the threads that trace (profile), and has the instrumentation for them on while
// any does; a tasklet's function counts as its thread's while it runs, and keeps its
// count while suspended (a switch moves the function, not the count). So the change is
// counted through PyEval_SetTrace (SetProfile), which sees it as the thread's: the
// tasklet's function in the thread state for the call, the thread's own aside. Then, if
// it has one, `top()` (the tasklet's innermost frame, null for none) gives its frames,
// whose code is brought up to date.
template <class Top>
void retrace_suspended(PyThreadState* ts, bool profile, Py_tracefunc& fn, PyObject*& obj,
                       Py_tracefunc new_fn, PyObject* new_obj, Top top) {
    Py_tracefunc& ts_fn = profile ? ts->c_profilefunc : ts->c_tracefunc;
    PyObject*& ts_obj = profile ? ts->c_profileobj : ts->c_traceobj;
    const Py_tracefunc own_fn = ts_fn;
    PyObject* const own_obj = ts_obj;  // (references move out and back)
    ts_fn = fn;
    ts_obj = obj;
    if (profile)
        PyEval_SetProfile(new_fn, new_obj);  // (an audit hook that refuses: nothing changes)
    else
        PyEval_SetTrace(new_fn, new_obj);
    fn = ts_fn;
    obj = ts_obj;
    ts_fn = own_fn;
    ts_obj = own_obj;
    if (fn == nullptr) return;
    if (_PyInterpreterFrame* f = top()) instrument_running(ts, f);
}

}  // namespace slpy::cpy

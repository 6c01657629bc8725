// tracer.cpp — tasklet.trace_function and profile_function are writable (Stackless's
// manual, "debugging"): the running tasklet's are sys.settrace's and sys.setprofile's;
// a suspended tasklet's are kept in its saved state until it runs.
#include "objects.hpp"

namespace slpy {

namespace {

// CPython's C function behind a Python trace (profile: false) or profile function: the
// one sys.settrace / sys.setprofile install (sysmodule.c's trampolines, not exported).
// Found by letting sys install it on this thread for a moment; null with an error set.
Py_tracefunc trampoline(bool profile) {
    static Py_tracefunc found[2] = {nullptr, nullptr};
    if (found[profile] != nullptr) return found[profile];
    PyThreadState* ts = PyThreadState_Get();
    const Py_tracefunc old_fn = profile ? ts->c_profilefunc : ts->c_tracefunc;
    PyObject* old_obj = Py_XNewRef(profile ? ts->c_profileobj : ts->c_traceobj);
    // Any callable will do: it is never called.
    PyObject* probe = PyDict_GetItemString(PyEval_GetBuiltins(), "len");
    PyObject* set = PySys_GetObject(profile ? "setprofile" : "settrace");
    PyObject* r = set != nullptr && probe != nullptr ? PyObject_CallOneArg(set, probe) : nullptr;
    if (r == nullptr) {  // (refused, by an audit hook say: nothing was installed)
        Py_XDECREF(old_obj);
        return nullptr;
    }
    Py_DECREF(r);
    found[profile] = profile ? ts->c_profilefunc : ts->c_tracefunc;
    // Back to what the thread had (`ts` is this thread's: the public calls do).
    if (profile)
        PyEval_SetProfile(old_fn, old_obj);
    else
        PyEval_SetTrace(old_fn, old_obj);
    Py_XDECREF(old_obj);
    if (PyErr_Occurred()) return nullptr;
    return found[profile];
}

}  // namespace

int set_tasklet_tracer(TaskletObject* t, PyThreadState* running, bool profile, PyObject* value) {
    if (value == nullptr) {
        PyErr_SetString(PyExc_TypeError, "cannot delete a tasklet's trace or profile function");
        return -1;
    }
    if (!t->core.alive()) {
        PyErr_SetString(PyExc_RuntimeError, "tasklet is not alive");
        return -1;
    }
    if (t->core.is_current()) {
        if (running != PyThreadState_Get()) {
            PyErr_SetString(PyExc_RuntimeError, "tasklet runs in another thread");
            return -1;
        }
        PyObject* set = PySys_GetObject(profile ? "setprofile" : "settrace");
        PyObject* r = set != nullptr ? PyObject_CallOneArg(set, value) : nullptr;
        Py_XDECREF(r);
        return r != nullptr ? 0 : -1;
    }
    Py_tracefunc fn = nullptr;
    if (value != Py_None) {
        fn = trampoline(profile);
        if (fn == nullptr) return -1;
    }
    return t->state.set_tracer(PyThreadState_Get(), profile, fn,
                               value != Py_None ? value : nullptr);
}

}  // namespace slpy

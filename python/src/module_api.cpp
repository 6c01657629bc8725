// module_api.cpp — the parts of Stackless's module API that report or configure and
// switch nothing: the error handler, pickle flags, debug and thread queries, __all__.
#include "module_api.hpp"

#include "runtime.hpp"

namespace slpy {

namespace {

PyObject* g_error_handler = nullptr;  // owned; null: none

// Stackless's pickle flags: bit 0 PRESERVE_TRACING_STATE, bit 1 PRESERVE_AG_FINALIZER,
// bit 2 RESET_AG_FINALIZER. Per thread, each thread starting from the default.
constexpr long kPickleFlagBits = 3;
constexpr long kPickleFlagsValid = (1L << kPickleFlagBits) - 1;
long g_pickle_flags_default = 0;        // guarded by the GIL
thread_local long t_pickle_flags = -1;  // -1: not set in this thread yet

// (new_value=-1, mask=-1) -> old value; *flags becomes (old & ~mask) | (new & mask).
// ValueError for a new value with undefined bits.
PyObject* update_flags(long* flags, PyObject* args, PyObject* kwds, const char* name) {
    static const char* kwlist[] = {"new_flags", "mask", nullptr};
    long value = -1, mask = -1;
    std::string fmt = std::string("|ll:") + name;
    if (!PyArg_ParseTupleAndKeywords(args, kwds, fmt.c_str(), const_cast<char**>(kwlist), &value,
                                     &mask))
        return nullptr;
    const long old = *flags;
    if (value == -1) return PyLong_FromLong(old);
    if (value < -1 || ((value & mask) & ~kPickleFlagsValid) != 0) {
        PyErr_Format(PyExc_ValueError, "%s: undefined bits in %ld", name, value);
        return nullptr;
    }
    *flags = ((old & ~mask) | (value & mask)) & kPickleFlagsValid;
    return PyLong_FromLong(old);
}

PyObject* mod_pickle_flags(PyObject*, PyObject* args, PyObject* kwds) {
    (void)pickle_flags();  // this thread's start from the default
    return update_flags(&t_pickle_flags, args, kwds, "pickle_flags");
}

PyObject* mod_pickle_flags_default(PyObject*, PyObject* args, PyObject* kwds) {
    return update_flags(&g_pickle_flags_default, args, kwds, "pickle_flags_default");
}

PyObject* mod_set_error_handler(PyObject*, PyObject* handler) {
    return replace_callable(g_error_handler, handler, "error handler must be callable or None");
}

PyObject* mod_getdebug(PyObject*, PyObject*) {
    Py_RETURN_FALSE;  // a release build: no debug tracing of the scheduler
}

PyObject* mod_getuncollectables(PyObject*, PyObject*) {
    // Tasklets that would not die are dropped (alive False), not kept as uncollectable.
    return PyList_New(0);
}

PyObject* mod_getthreads(PyObject*, PyObject*) {
    if (thread_runtime::get() == nullptr) return nullptr;
    return thread_runtime::thread_ids();
}

PyObject* mod_reduce(PyObject*, PyObject*) {
    return PyUnicode_FromString("stackless");  // the module pickles by name
}

PyMethodDef api_methods[] = {
    {"pickle_flags", reinterpret_cast<PyCFunction>(reinterpret_cast<void (*)()>(mod_pickle_flags)),
     METH_VARARGS | METH_KEYWORDS,
     "pickle_flags(new_flags=-1, mask=-1) -> old flags of this thread (PICKLEFLAGS_*)."},
    {"pickle_flags_default",
     reinterpret_cast<PyCFunction>(reinterpret_cast<void (*)()>(mod_pickle_flags_default)),
     METH_VARARGS | METH_KEYWORDS,
     "pickle_flags_default(new_default=-1, mask=-1) -> old default for new threads."},
    {"set_error_handler", mod_set_error_handler, METH_O,
     "set_error_handler(callable(exc, val, tb) | None) -> old handler: called in a tasklet\n"
     "that an exception ends, instead of raising it in run()'s caller."},
    {"getdebug", mod_getdebug, METH_NOARGS, "getdebug() -> False (no debug build)."},
    {"getuncollectables", mod_getuncollectables, METH_NOARGS,
     "getuncollectables() -> [] (tasklets that would not die are dropped)."},
    {"getthreads", mod_getthreads, METH_NOARGS, "getthreads() -> ids of threads using stackless."},
    {"__reduce__", mod_reduce, METH_NOARGS, "The module pickles by its name."},
    {"__reduce_ex__", reinterpret_cast<PyCFunction>(reinterpret_cast<void (*)()>(mod_reduce)),
     METH_O, "The module pickles by its name."},
    {nullptr, nullptr, 0, nullptr}};

}  // namespace

PyObject* replace_callable(PyObject*& slot, PyObject* cb, const char* refusal) noexcept {
    if (cb != Py_None && !PyCallable_Check(cb)) {
        PyErr_SetString(PyExc_TypeError, refusal);
        return nullptr;
    }
    PyObject* old = slot != nullptr ? slot : Py_NewRef(Py_None);
    slot = cb == Py_None ? nullptr : Py_NewRef(cb);
    return old;
}

long pickle_flags() noexcept {
    if (t_pickle_flags < 0) t_pickle_flags = g_pickle_flags_default;
    return t_pickle_flags;
}

PyObject* get_pickle_with_tracing_state(PyObject*, void*) {
    return PyBool_FromLong(pickle_flags() & kPickleFlagPreserveTracingState);
}

int set_pickle_with_tracing_state(PyObject*, PyObject* value, void*) {
    if (value == nullptr) {
        PyErr_SetString(PyExc_AttributeError, "cannot delete pickle_with_tracing_state");
        return -1;
    }
    const int on = PyObject_IsTrue(value);
    if (on < 0) return -1;
    const long bit = on ? kPickleFlagPreserveTracingState : 0;
    (void)pickle_flags();  // this thread's start from the default
    t_pickle_flags = (t_pickle_flags & ~kPickleFlagPreserveTracingState) | bit;
    g_pickle_flags_default = (g_pickle_flags_default & ~kPickleFlagPreserveTracingState) | bit;
    return 0;
}

PyObject* error_handler() noexcept {
    return g_error_handler;
}

bool add_module_api(PyObject* m) noexcept {
    if (PyModule_AddFunctions(m, api_methods) < 0) return false;
    if (PyModule_AddIntConstant(m, "PICKLEFLAGS_PRESERVE_TRACING_STATE",
                                kPickleFlagPreserveTracingState) < 0 ||
        PyModule_AddIntConstant(m, "PICKLEFLAGS_PRESERVE_AG_FINALIZER",
                                kPickleFlagPreserveAgFinalizer) < 0 ||
        PyModule_AddIntConstant(m, "PICKLEFLAGS_RESET_AG_FINALIZER", kPickleFlagResetAgFinalizer) <
            0)
        return false;
    PyObject* d = PyModule_GetDict(m);
    if (PyDict_SetItemString(d, "debug", Py_False) < 0) return false;
    if (PyDict_SetItemString(d, "stackless", m) < 0) return false;  // `from stackless import *`
    return true;
}

bool add_module_all(PyObject* m) noexcept {
    // Every public name, those the module's type serves (current, schedule, ...)
    // included, as Stackless's `from stackless import *` binds them.
    ref names = ref::steal(PyObject_Dir(m));
    if (!names) return false;
    ref all = ref::steal(PyList_New(0));
    if (!all) return false;
    for (Py_ssize_t i = 0; i < PyList_GET_SIZE(names.get()); i++) {
        PyObject* key = PyList_GET_ITEM(names.get(), i);
        if (!PyUnicode_Check(key) || PyUnicode_READ_CHAR(key, 0) == '_') continue;
        if (PyList_Append(all.get(), key) < 0) return false;
    }
    return PyDict_SetItemString(PyModule_GetDict(m), "__all__", all.get()) == 0;
}

}  // namespace slpy

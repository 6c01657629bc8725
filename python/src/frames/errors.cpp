// errors.cpp — the library's two exception classes.
#include <string>

#include "frames.hpp"
#include "internal.hpp"

namespace slpy::frames {

namespace {
PyObject* g_unpicklable = nullptr;  // strong, lives as long as the process
PyObject* g_restore = nullptr;

PyObject* make(const std::string& module, const char* name, PyObject* bases) {
    const std::string full = module + "." + name;
    return PyErr_NewException(full.c_str(), bases, nullptr);
}
}  // namespace

int init(PyObject* module) {
    if (g_unpicklable == nullptr) {
        std::string prefix = "slp_frames";
        if (module != nullptr) {
            if (const char* n = PyModule_GetName(module)) prefix = n;
            PyErr_Clear();
        }
        PyObject* pickle = PyImport_ImportModule("pickle");
        if (pickle == nullptr) return -1;
        PyObject* perr = PyObject_GetAttrString(pickle, "PicklingError");
        PyObject* uerr = PyObject_GetAttrString(pickle, "UnpicklingError");
        Py_DECREF(pickle);
        PyObject* bases = uerr != nullptr ? PyTuple_Pack(2, uerr, PyExc_ValueError) : nullptr;
        if (perr != nullptr && bases != nullptr) {
            g_unpicklable = make(prefix, "UnpicklableFrameError", perr);
            g_restore = make(prefix, "FrameRestoreError", bases);
        }
        Py_XDECREF(perr);
        Py_XDECREF(uerr);
        Py_XDECREF(bases);
        if (g_unpicklable == nullptr || g_restore == nullptr) {
            Py_CLEAR(g_unpicklable);
            Py_CLEAR(g_restore);
            return -1;
        }
    }
    if (module == nullptr) return 0;
    if (PyModule_AddObjectRef(module, "UnpicklableFrameError", g_unpicklable) < 0 ||
        PyModule_AddObjectRef(module, "FrameRestoreError", g_restore) < 0)
        return -1;
    return 0;
}

PyObject* unpicklable_error() noexcept {
    return g_unpicklable;
}
PyObject* restore_error() noexcept {
    return g_restore;
}

PyObject* raise_unpicklable(const std::string& msg) {
    PyErr_SetString(g_unpicklable != nullptr ? g_unpicklable : PyExc_ValueError, msg.c_str());
    return nullptr;
}

PyObject* raise_restore(const std::string& msg) {
    // Chain whatever error led here (an ImportError, an AttributeError) as the cause.
    // Normalizing calls the exception class: only with no exception set.
    PyObject *t = nullptr, *v = nullptr, *tb = nullptr;
    PyErr_Fetch(&t, &v, &tb);
    if (t != nullptr) {
        PyErr_NormalizeException(&t, &v, &tb);
        if (tb != nullptr && v != nullptr) PyException_SetTraceback(v, tb);
    }
    PyErr_SetString(g_restore != nullptr ? g_restore : PyExc_ValueError, msg.c_str());
    if (v != nullptr) {
        PyObject *t2 = nullptr, *v2 = nullptr, *tb2 = nullptr;
        PyErr_Fetch(&t2, &v2, &tb2);
        PyErr_NormalizeException(&t2, &v2, &tb2);
        if (v2 != nullptr) {
            PyException_SetCause(v2, Py_NewRef(v));
            PyException_SetContext(v2, Py_NewRef(v));
        }
        PyErr_Restore(t2, v2, tb2);
    }
    Py_XDECREF(t);
    Py_XDECREF(v);
    Py_XDECREF(tb);
    return nullptr;
}

}  // namespace slpy::frames

// errors.hpp — Python exceptions as C++ exceptions and back.
//
// Core reports errors as C++ exceptions (slp/errors.hpp) and carries exceptions between
// tasklets as std::exception_ptr. A Python exception crosses core as py_exception (type,
// value, traceback). Every function Python calls ends in set_python_error() inside its
// catch (...), which maps whatever core threw to the exception Stackless raises.
#pragma once

#include <exception>

#include "common.hpp"

namespace slpy {

// A Python exception travelling through C++ (owned references; needs the GIL to die).
struct py_exception {
    ref type, value, traceback;

    // Take the current Python error (PyErr_Fetch); it must be set.
    static py_exception fetch() noexcept;
    // Build one from an exception class or instance, as `raise` does (bomb semantics).
    static py_exception of(PyObject* type, PyObject* value, PyObject* tb) noexcept;
    // Set it as the current Python error (it is left empty).
    void restore() noexcept;
    // Is it (a subclass of) TaskletExit?
    bool is_tasklet_exit() const noexcept;
};

// Inside a catch (...): set the Python error for the exception being handled.
void set_python_error() noexcept;
// The exception_ptr of the current Python error (cleared), for core to deliver.
std::exception_ptr fetch_as_exception_ptr() noexcept;

// stackless.TaskletExit (a SystemExit subclass), created at module init.
extern PyObject* TaskletExit;

// Run f (returning PyObject*) with every C++ exception turned into a Python error.
template <class F>
PyObject* guarded(F&& f) noexcept {
    try {
        return f();
    } catch (...) {
        set_python_error();
        return nullptr;
    }
}

}  // namespace slpy

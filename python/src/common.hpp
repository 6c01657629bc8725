// common.hpp — what every file of the `stackless` module includes: Python's headers and
// the version-neutral interface to CPython's internals (cpython/version.hpp), and a few
// small helpers.
#pragma once

#include <utility>

#include "cpython/version.hpp"

namespace slpy {

// An owned reference to a Python object. Dropping it needs the GIL; a reference dropped
// by a thread without it (core may destroy a payload while the thread waits, GIL
// released) is parked and dropped at the next safe point instead.
class ref {
 public:
    ref() noexcept = default;
    static ref steal(PyObject* o) noexcept { return ref(o); }
    static ref borrow(PyObject* o) noexcept {
        Py_XINCREF(o);
        return ref(o);
    }
    ref(ref&& o) noexcept : p_(std::exchange(o.p_, nullptr)) {}
    ref& operator=(ref&& o) noexcept {
        if (this != &o) {
            reset();
            p_ = std::exchange(o.p_, nullptr);
        }
        return *this;
    }
    // Copies take a new reference (the GIL must be held).
    ref(const ref& o) noexcept : p_(o.p_) { Py_XINCREF(p_); }
    ref& operator=(const ref& o) noexcept {
        if (this != &o) {
            Py_XINCREF(o.p_);
            reset();
            p_ = o.p_;
        }
        return *this;
    }
    ~ref() { reset(); }

    PyObject* get() const noexcept { return p_; }
    PyObject* release() noexcept { return std::exchange(p_, nullptr); }
    explicit operator bool() const noexcept { return p_ != nullptr; }
    void reset() noexcept {
        if (p_ != nullptr) {
            if (PyGILState_Check())
                Py_DECREF(p_);
            else
                orphan(p_);
            p_ = nullptr;
        }
    }
    // A reference dropped without the GIL (core destroying a payload while this thread
    // waits for another): kept until drop_orphans() runs with the GIL.
    static void orphan(PyObject* o) noexcept;
    static void drop_orphans() noexcept;

 private:
    explicit ref(PyObject* o) noexcept : p_(o) {}
    PyObject* p_ = nullptr;
};

}  // namespace slpy

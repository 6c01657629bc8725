// errors.cpp — mapping core's C++ errors to Stackless's Python exceptions.
#include "errors.hpp"

#include <new>
#include <stdexcept>

#include "slp/errors.hpp"

namespace slpy {

PyObject* TaskletExit = nullptr;

py_exception py_exception::fetch() noexcept {
    PyObject *t, *v, *tb;
    PyErr_Fetch(&t, &v, &tb);
    return py_exception{ref::steal(t), ref::steal(v), ref::steal(tb)};
}

py_exception py_exception::of(PyObject* type, PyObject* value, PyObject* tb) noexcept {
    return py_exception{ref::borrow(type), ref::borrow(value), ref::borrow(tb)};
}

void py_exception::restore() noexcept {
    PyErr_Restore(type.release(), value.release(), traceback.release());
}

bool py_exception::is_tasklet_exit() const noexcept {
    return type && PyType_Check(type.get()) && PyObject_IsSubclass(type.get(), TaskletExit) == 1;
}

void set_python_error() noexcept {
    try {
        throw;
    } catch (py_exception& e) {
        // The same exception object may be rethrown (a copy); move only this one out.
        py_exception copy{ref::borrow(e.type.get()), ref::borrow(e.value.get()),
                          ref::borrow(e.traceback.get())};
        copy.restore();
    } catch (const slp::tasklet_exit&) {
        PyErr_SetNone(TaskletExit);
    } catch (const slp::value_error& e) {
        PyErr_SetString(PyExc_ValueError, e.what());
    } catch (const slp::runtime_error& e) {
        PyErr_SetString(PyExc_RuntimeError, e.what());
    } catch (const std::bad_alloc&) {
        PyErr_NoMemory();
    } catch (const std::exception& e) {
        PyErr_SetString(PyExc_SystemError, e.what());
    } catch (...) {
        PyErr_SetString(PyExc_SystemError, "stackless: unknown C++ exception");
    }
}

std::exception_ptr fetch_as_exception_ptr() noexcept {
    return std::make_exception_ptr(py_exception::fetch());
}

}  // namespace slpy

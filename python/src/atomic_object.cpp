// atomic_object.cpp — stackless.atomic: `with stackless.atomic():` sets the current
// tasklet's atomic flag for the block and restores the old value after it.
#include "errors.hpp"
#include "objects.hpp"
#include "runtime.hpp"

namespace slpy {

namespace {

struct AtomicObject {
    PyObject_HEAD int depth;
    bool saved[8];  // the old flags of nested uses of one object
};

PyObject* atomic_enter(PyObject* self, PyObject*) {
    auto* a = reinterpret_cast<AtomicObject*>(self);
    thread_runtime* rt = thread_runtime::get();
    if (rt == nullptr) return nullptr;
    return guarded([&] {
        bool old = rt->current_object()->core.set_atomic(true);
        if (a->depth < 8) a->saved[a->depth] = old;
        a->depth++;
        return Py_NewRef(self);
    });
}

PyObject* atomic_exit(PyObject* self, PyObject*) {
    auto* a = reinterpret_cast<AtomicObject*>(self);
    thread_runtime* rt = thread_runtime::get();
    if (rt == nullptr) return nullptr;
    return guarded([&] {
        bool old = false;
        if (a->depth > 0) {
            a->depth--;
            old = a->depth < 8 ? a->saved[a->depth] : true;
        }
        rt->current_object()->core.set_atomic(old);
        Py_RETURN_FALSE;
    });
}

PyMethodDef atomic_methods[] = {
    {"__enter__", atomic_enter, METH_NOARGS, "Set the current tasklet's atomic flag."},
    {"__exit__", atomic_exit, METH_VARARGS, "Restore the old atomic flag."},
    {nullptr, nullptr, 0, nullptr}};

}  // namespace

PyTypeObject AtomicType{};

bool init_atomic_type() {
    Py_SET_REFCNT(reinterpret_cast<PyObject*>(&AtomicType), 1);
    AtomicType.tp_name = "stackless.atomic";
    AtomicType.tp_basicsize = sizeof(AtomicObject);
    AtomicType.tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_BASETYPE;
    AtomicType.tp_doc = "with atomic(): the current tasklet is not preempted in the block.";
    AtomicType.tp_new = PyType_GenericNew;
    AtomicType.tp_methods = atomic_methods;
    return PyType_Ready(&AtomicType) == 0;
}

}  // namespace slpy

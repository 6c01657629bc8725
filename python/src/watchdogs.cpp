// watchdogs.cpp — the watchdog list (watchdogs.hpp).
#include "watchdogs.hpp"

namespace slpy {

bool watchdog_push(thread_runtime* rt, TaskletObject* me) noexcept {
    if (rt->watchdog_list == nullptr) {
        rt->watchdog_list = PyList_New(1);
        if (rt->watchdog_list == nullptr) return false;
        PyList_SET_ITEM(rt->watchdog_list, 0, Py_NewRef(Py_None));
    }
    return PyList_Append(rt->watchdog_list, reinterpret_cast<PyObject*>(me)) == 0;
}

void watchdog_pop(thread_runtime* rt, TaskletObject* me) noexcept {
    PyObject* list = rt->watchdog_list;
    if (list == nullptr) return;
    Py_ssize_t at = PyList_GET_SIZE(list);
    while (--at > 0 && PyList_GET_ITEM(list, at) != reinterpret_cast<PyObject*>(me)) {
    }
    if (at <= 0) return;
    PyObject *et, *ev, *etb;
    PyErr_Fetch(&et, &ev, &etb);
    // One item at a time, from the end: deleting a single item needs no memory.
    for (Py_ssize_t n = PyList_GET_SIZE(list); n > at; n--)
        if (PyList_SetSlice(list, n - 1, n, nullptr) < 0) PyErr_WriteUnraisable(list);
    PyErr_Restore(et, ev, etb);
}

void watchdog_set_interrupt(thread_runtime* rt, TaskletObject* w) noexcept {
    PyObject* list = rt->watchdog_list;
    if (list == nullptr || PyList_GET_SIZE(list) == 0) return;
    PyObject* now = w != nullptr ? reinterpret_cast<PyObject*>(w) : Py_None;
    if (PyList_SetItem(list, 0, Py_NewRef(now)) < 0) PyErr_Clear();  // (index 0 exists)
}

}  // namespace slpy

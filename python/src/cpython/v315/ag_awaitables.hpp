// ag_awaitables.hpp (CPython 3.15) — an async generator's asend()/__anext__() and
// athrow()/aclose() awaitables (PyAsyncGenASend and PyAsyncGenAThrow,
// Objects/genobject.c, not exported). asend is laid out as before 3.15
// (../ag_awaitables_311.hpp): the async generator, the value sent (NULL for
// __anext__()), the state. athrow keeps the arguments it was made with apart, as
// async_gen_athrow_new() unpacks them: the async generator, then the type (NULL for
// aclose()), the traceback and the value (each NULL when not given), then the state.
#pragma once

#include "../v314/headers.hpp"

namespace slpy::cpy {

namespace ag_awaitable_layout {
struct ASend {
    PyObject_HEAD PyObject* agen;
    PyObject* sendval;
    int state;  // AwaitableState
};
struct AThrow {
    PyObject_HEAD PyObject* agen;
    PyObject* typ;
    PyObject* tb;
    PyObject* val;
    int state;  // AwaitableState
};
inline ASend* asend(PyObject* o) noexcept {
    return reinterpret_cast<ASend*>(o);
}
inline AThrow* athrow(PyObject* o) noexcept {
    return reinterpret_cast<AThrow*>(o);
}
}  // namespace ag_awaitable_layout

// The number of states an awaitable can be in (AwaitableState's values 0 to 2).
inline constexpr int kAwaitableStates = 3;

// The instance size of the asend (`athrow`: athrow) type: the layout above is the
// type's only if its tp_basicsize says so.
inline constexpr Py_ssize_t awaitable_size(bool athrow) noexcept {
    return athrow ? sizeof(ag_awaitable_layout::AThrow) : sizeof(ag_awaitable_layout::ASend);
}
// The async generator an awaitable `o` of that type belongs to (borrowed).
inline PyObject* awaitable_agen(PyObject* o, bool athrow) noexcept {
    return athrow ? ag_awaitable_layout::athrow(o)->agen : ag_awaitable_layout::asend(o)->agen;
}
// What `o` was made with, as asend()/athrow() take it: the value sent, or the arguments
// thrown as a tuple (type[, value[, traceback]]) (new reference); null without an
// exception when it was made by __anext__() or aclose(), with one on failure.
inline PyObject* awaitable_made_with(PyObject* o, bool athrow) noexcept {
    if (!athrow) return Py_XNewRef(ag_awaitable_layout::asend(o)->sendval);
    const auto* t = ag_awaitable_layout::athrow(o);
    if (t->typ == nullptr) return nullptr;
    if (t->tb != nullptr)
        return PyTuple_Pack(3, t->typ, t->val != nullptr ? t->val : Py_None, t->tb);
    return t->val != nullptr ? PyTuple_Pack(2, t->typ, t->val) : PyTuple_Pack(1, t->typ);
}
inline int awaitable_state(PyObject* o, bool athrow) noexcept {
    return athrow ? ag_awaitable_layout::athrow(o)->state : ag_awaitable_layout::asend(o)->state;
}
inline void set_awaitable_state(PyObject* o, bool athrow, int state) noexcept {
    if (athrow)
        ag_awaitable_layout::athrow(o)->state = state;
    else
        ag_awaitable_layout::asend(o)->state = state;
}

}  // namespace slpy::cpy

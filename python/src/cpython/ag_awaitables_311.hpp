// ag_awaitables_311.hpp — an async generator's asend()/__anext__() and athrow()/aclose()
// awaitables as 3.11 to 3.14 lay them out (PyAsyncGenASend and PyAsyncGenAThrow,
// Objects/genobject.c, not exported): a PyObject_HEAD, the async generator, what the
// awaitable was made with — the value sent (asend), the arguments thrown as one tuple
// (athrow); NULL for __anext__() and aclose() — and the state (AwaitableState: init,
// iterating, closed). Both types have that layout. 3.15 keeps athrow's arguments apart
// (v315/ag_awaitables.hpp).
#pragma once

#include SLP_CPY_HEADER(headers.hpp)

namespace slpy::cpy {

namespace ag_awaitable_layout {
struct Awaitable {
    PyObject_HEAD PyObject* agen;
    PyObject* made_with;
    int state;  // AwaitableState
};
inline Awaitable* of(PyObject* o) noexcept {
    return reinterpret_cast<Awaitable*>(o);
}
}  // namespace ag_awaitable_layout

// The number of states an awaitable can be in (AwaitableState's values 0 to 2).
inline constexpr int kAwaitableStates = 3;

// The instance size of the asend (`athrow`: athrow) type: the layout above is the
// type's only if its tp_basicsize says so.
inline constexpr Py_ssize_t awaitable_size(bool) noexcept {
    return sizeof(ag_awaitable_layout::Awaitable);
}
// The async generator an awaitable `o` of that type belongs to (borrowed).
inline PyObject* awaitable_agen(PyObject* o, bool) noexcept {
    return ag_awaitable_layout::of(o)->agen;
}
// What `o` was made with, as asend()/athrow() take it: the value sent, or the arguments
// thrown as a tuple (new reference); null without an exception when it was made by
// __anext__() or aclose().
inline PyObject* awaitable_made_with(PyObject* o, bool) noexcept {
    return Py_XNewRef(ag_awaitable_layout::of(o)->made_with);
}
inline int awaitable_state(PyObject* o, bool) noexcept {
    return ag_awaitable_layout::of(o)->state;
}
inline void set_awaitable_state(PyObject* o, bool, int state) noexcept {
    ag_awaitable_layout::of(o)->state = state;
}

}  // namespace slpy::cpy

// object_slots.hpp — a frame's value stack and locals for the versions that keep them as
// object pointers with an int top (3.11 to 3.13; 3.14 made them stack references with a
// stack pointer: v314/frame.hpp).
#pragma once

#include SLP_CPY_HEADER(headers.hpp)

namespace slpy::cpy {

// The value stack's top, as an index into localsplus (-1: not known, the frame is in a
// call into C).
inline int stack_top(const _PyInterpreterFrame* f) noexcept {
    return f->stacktop;
}
// A frame was moved `delta` bytes (with its slots): nothing in it points into itself.
inline void frame_moved(_PyInterpreterFrame*, ptrdiff_t) noexcept {}
// localsplus (locals, cells, free variables, value stack), a slot an object pointer.
inline PyObject** slots(_PyInterpreterFrame* f) noexcept {
    return f->localsplus;
}
// The object a word of a frame (a slot, its function, its code; or one copied out of a
// frame) refers to.
inline PyObject* slot_object(PyObject* word) noexcept {
    return word;
}
// The GC's visit of such a word: every non-null one is a counted reference.
inline int visit_word(PyObject* word, visitproc visit, void* arg) {
    Py_VISIT(word);
    return 0;
}

}  // namespace slpy::cpy

// What the frame library (../frames, through the version's frame_layout.hpp) reads and
// writes of such slots.
namespace slpy::cpy::frame {

// Slot `i` of localsplus as a new reference for a snapshot (null: the slot is empty).
inline PyObject* slot_value(_PyInterpreterFrame* f, int i) noexcept {
    return Py_XNewRef(f->localsplus[i]);
}
// A slot the eval loop reads as an int (an exception handler's lasti) holds an int object
// already: nothing to do.
inline void make_tagged_int(_PyInterpreterFrame*, int) noexcept {}
// Nothing is iterated by an index kept on the value stack (3.15 is the first version that
// does: v315/iteration.hpp).
inline constexpr bool kIterationIndex = false;
// How a generator's for loop over a generator ends once that generator returned: its
// FOR_ITER runs again, with the iterator (the top of its stack) taken off and sent back in
// (sending pushes a value), and finds it exhausted (false); or the loop's exit runs, its
// END_FOR popping what is sent (true: 3.15, where the top is the NULL index).
inline constexpr bool kLoopEndsAtExit = false;
// Does an exception table entry keep more of the stack than some instruction it covers
// has (3.15: iteration.hpp)? No.
inline constexpr bool kHandlersMayOutreach = false;
// Take the top value off a suspended frame's stack (a new reference: the slot's).
inline PyObject* take_top(_PyInterpreterFrame* f) noexcept {
    return f->localsplus[--f->stacktop];
}
// Put `o` (stolen) in the stack slot `k` under a suspended frame's top (1: the top).
inline void replace_under_top(_PyInterpreterFrame* f, int k, PyObject* o) noexcept {
    Py_XSETREF(f->localsplus[f->stacktop - k], o);
}
inline bool iterated_by_index(PyObject*) noexcept {
    return false;
}
// Is `f` (the innermost frame) inside a call into C? Then the eval loop keeps its stack
// pointer in a C local, and the frame has none saved.
inline bool in_c_call(_PyInterpreterFrame* f, int /*depth_before*/) noexcept {
    return f->stacktop < 0;
}

}  // namespace slpy::cpy::frame

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
// localsplus (locals, cells, free variables, value stack), a slot an object pointer.
inline PyObject** slots(_PyInterpreterFrame* f) noexcept {
    return f->localsplus;
}
inline PyObject* slot(const _PyInterpreterFrame* f, int i) noexcept {
    return f->localsplus[i];
}
// The object a slot's word (copied out of a frame) refers to.
inline PyObject* slot_object(PyObject* word) noexcept {
    return word;
}

}  // namespace slpy::cpy

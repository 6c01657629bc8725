// iteration.hpp (CPython 3.14) — how the eval loop iterates: GET_ITER leaves an iterator,
// which FOR_ITER and `yield from`'s SEND advance; nothing is iterated by an index.
#pragma once

#include "headers.hpp"

namespace slpy::cpy::frame {

// Does the value stack keep an index (or NULL) above what FOR_ITER and SEND iterate?
inline constexpr bool kIterationIndex = false;
// Is `o` iterated by an index above it?
inline bool iterated_by_index(PyObject*) noexcept {
    return false;
}

}  // namespace slpy::cpy::frame

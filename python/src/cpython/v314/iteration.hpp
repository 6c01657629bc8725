// iteration.hpp (CPython 3.14) — how the eval loop iterates: GET_ITER leaves an iterator,
// which FOR_ITER and `yield from`'s SEND advance; nothing is iterated by an index.
#pragma once

#include "headers.hpp"

namespace slpy::cpy::frame {

// Does the value stack keep an index (or NULL) above what FOR_ITER and SEND iterate?
inline constexpr bool kIterationIndex = false;
// A generator's for loop over a generator that returned: as on 3.11 (object_slots.hpp).
inline constexpr bool kLoopEndsAtExit = false;
// Handlers never keep more of the stack than an instruction they cover has.
inline constexpr bool kHandlersMayOutreach = false;
// Is `o` iterated by an index above it?
inline bool iterated_by_index(PyObject*) noexcept {
    return false;
}

// The state of a generator unpickled to run again in its tasklet's frames, until they
// resume: finished to everyone else (iterating it ends at once, its finalizer closes
// nothing) while its frame stays for the tasklet (the object clears it when it goes).
inline constexpr int8_t kAwaitingFrameState = FRAME_COMPLETED;

}  // namespace slpy::cpy::frame

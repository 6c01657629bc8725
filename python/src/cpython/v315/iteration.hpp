// iteration.hpp (CPython 3.15) — how the eval loop iterates: GET_ITER leaves an object
// whose type has `_tp_iteritem` (exact lists, tuples, str and bytes) itself, with an index
// above it (a tagged int), and any other iterable's iterator with NULL above it; FOR_ITER
// and `yield from`'s SEND read the pair unchecked (the index: the type's _tp_iteritem;
// NULL: the iterator's tp_iternext, or SEND's send into a generator or coroutine), and an
// `await` pushes NULL above its awaitable's iterator for SEND.
#pragma once

#include "../v314/headers.hpp"

namespace slpy::cpy::frame {

inline constexpr bool kIterationIndex = true;
// A generator's for loop over a generator that returned cannot run its FOR_ITER again (the
// top of its stack is the NULL index, which nothing can send back in): its exit runs, the
// END_FOR there popping what is sent, then POP_ITER the pair (object_slots.hpp).
inline constexpr bool kLoopEndsAtExit = true;
// A generator expression makes its iterator pair before RETURN_GENERATOR, and the handler
// that turns a StopIteration into RuntimeError keeps that pair (level 2) over the whole
// body, also over the LOAD_COMMON_CONSTANT and RETURN_VALUE after POP_ITER dropped it.
inline constexpr bool kHandlersMayOutreach = true;
inline bool iterated_by_index(PyObject* o) noexcept {
    return Py_TYPE(o)->_tp_iteritem != nullptr;
}

// The state of a generator unpickled to run again in its tasklet's frames, until they
// resume. 3.15 has no state finished but for a cleared frame: not started, which its
// finalizer and close() clear without running its code (resume() refuses it if anyone
// ran it meanwhile).
inline constexpr int8_t kAwaitingFrameState = FRAME_CREATED;

}  // namespace slpy::cpy::frame

// chain.hpp (CPython 3.15) — how a thread's chain of frames ends and where it entered
// the eval loop. 3.15 ends every thread's chain in a sentinel frame of its own
// (ts->base_frame, for profilers that unwind a thread from outside and check they reached
// its end): a tasklet's chain ends there too, as CPython's own do. Entry frames are as in
// 3.14; the sentinel, the chain's last frame, is none.
#pragma once

#include "../v314/headers.hpp"

namespace slpy::cpy {

inline _PyInterpreterFrame* chain_end(PyThreadState* ts) noexcept {
    return ts->base_frame;
}
inline bool enters_eval(const _PyInterpreterFrame* f) noexcept {
    return f->owner == FRAME_OWNED_BY_INTERPRETER && f->previous != nullptr;
}

}  // namespace slpy::cpy

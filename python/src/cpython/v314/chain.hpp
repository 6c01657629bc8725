// chain.hpp (CPython 3.14) — how a thread's chain of frames ends and where it entered
// the eval loop: it ends in null; each entry into the eval loop from C pushes an entry
// frame of its own (owner FRAME_OWNED_BY_INTERPRETER), the outermost one too.
#pragma once

#include "headers.hpp"

namespace slpy::cpy {

// What the frames of a thread (or of a tasklet that has none yet) end in.
inline _PyInterpreterFrame* chain_end(PyThreadState*) noexcept {
    return nullptr;
}
// Is this the frame an entry into the eval loop pushed (Stackless's nesting_level
// counts them)?
inline bool enters_eval(const _PyInterpreterFrame* f) noexcept {
    return f->owner == FRAME_OWNED_BY_INTERPRETER;
}

}  // namespace slpy::cpy

// trace_functions.hpp — whether a thread state holds a trace or profile function (the
// same four fields on every supported version).
#pragma once

#include <Python.h>

#include <cstdint>

namespace slpy::cpy {

// One branch for the four.
inline bool any_trace_function(const PyThreadState* ts) noexcept {
    return (reinterpret_cast<uintptr_t>(ts->c_tracefunc) |
            reinterpret_cast<uintptr_t>(ts->c_profilefunc) |
            reinterpret_cast<uintptr_t>(ts->c_traceobj) |
            reinterpret_cast<uintptr_t>(ts->c_profileobj)) != 0;
}

}  // namespace slpy::cpy

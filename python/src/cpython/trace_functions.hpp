// trace_functions.hpp — whether a thread state holds a trace or profile function (the
// same four fields on every supported version).
#pragma once

#include <Python.h>

#include <cstdint>

namespace slpy::cpy {

// Not 0 if it holds any of the four (or `also`, another word a caller tests with them):
// their bits ORed, for one test (of this word, or of a word the caller ORs it into).
inline uintptr_t trace_function_bits(const PyThreadState* ts, uintptr_t also = 0) noexcept {
    return reinterpret_cast<uintptr_t>(ts->c_tracefunc) |
           reinterpret_cast<uintptr_t>(ts->c_profilefunc) |
           reinterpret_cast<uintptr_t>(ts->c_traceobj) |
           reinterpret_cast<uintptr_t>(ts->c_profileobj) | also;
}
inline bool any_trace_function(const PyThreadState* ts) noexcept {
    return trace_function_bits(ts) != 0;
}

}  // namespace slpy::cpy

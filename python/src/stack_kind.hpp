// stack_kind.hpp — which kind of hard switching new tasklets use (module setting).
#pragma once

#include <algorithm>
#include <cstring>

#include "common.hpp"
#include "slp/stack.hpp"
#include "slp/tasklet.hpp"

namespace slpy {

slp::stack_kind default_stack_kind() noexcept;
void set_default_stack_kind(slp::stack_kind k) noexcept;

inline const char* stack_kind_name(slp::stack_kind k) noexcept {
    return k == slp::stack_kind::copied ? "copied" : "own";
}
// The size of a new tasklet's own stack: it holds what the interpreter's recursion limit
// lets Python nest through C, as the main thread's stack does, so that a tasklet raises
// RecursionError where the main thread does instead of hitting its guard page. Measured
// on CPython 3.11, x86_64: sorted(key=) recursion takes 1.7 KiB of C stack per level of
// sys.getrecursionlimit(), __getattr__ 0.8, map() and format() 0.7. Reserved, not
// committed: pages cost memory only when touched.
inline std::size_t own_stack_size() noexcept {
    constexpr std::size_t per_level = 2048, margin = 128 * 1024;
    const int limit = Py_GetRecursionLimit();
    const std::size_t levels = limit > 0 ? static_cast<std::size_t>(limit) : 0;
    return std::max(levels * per_level + margin, slp::default_stack_size);
}

// Returns false for an unknown name.
inline bool stack_kind_from_name(const char* s, slp::stack_kind& out) noexcept {
    if (std::strcmp(s, "own") == 0)
        out = slp::stack_kind::own;
    else if (std::strcmp(s, "copied") == 0)
        out = slp::stack_kind::copied;
    else
        return false;
    return true;
}

}  // namespace slpy

// stack_kind.hpp — which kind of hard switching new tasklets use (module setting).
#pragma once

#include <cstring>

#include "slp/tasklet.hpp"

namespace slpy {

slp::stack_kind default_stack_kind() noexcept;
void set_default_stack_kind(slp::stack_kind k) noexcept;

inline const char* stack_kind_name(slp::stack_kind k) noexcept {
    return k == slp::stack_kind::copied ? "copied" : "own";
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

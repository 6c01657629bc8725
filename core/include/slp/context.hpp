// slp/context.hpp — the checked C++ face of the arch layer.
//
// make_context is slp_make with its preconditions enforced: the raw routine trusts its
// caller, this one rejects a stack it cannot use with std::invalid_argument and touches
// nothing. Switching itself stays the raw slp_jump / slp_ontop / slp_switch.
#pragma once

#include <cstddef>
#include <span>

#include "slp_arch.h"

namespace slp {

// The smallest stack make_context accepts, and the alignment its top must have.
inline constexpr std::size_t min_stack_size = SLP_ARCH_MIN_STACK;
inline constexpr std::size_t stack_alignment = SLP_ARCH_STACK_ALIGN;

// Prepare a context that will run `entry` on `stack` (the whole span is the stack; it
// grows down from stack.data() + stack.size()).
// Throws std::invalid_argument if entry is null, the span is smaller than
// min_stack_size, or its end is not aligned to stack_alignment.
// The returned context is valid for one slp_jump/slp_ontop; entry must never return
// (if it does, the process aborts with a message).
slp_ctx make_context(std::span<std::byte> stack, slp_entry_fn entry);

}  // namespace slp

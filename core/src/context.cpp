#include "slp/context.hpp"

#include <cstdint>
#include <stdexcept>
#include <string>

namespace slp {

slp_ctx make_context(std::span<std::byte> stack, slp_entry_fn entry) {
    if (entry == nullptr) {
        throw std::invalid_argument("slp::make_context: entry function is null");
    }
    if (stack.data() == nullptr || stack.size() < min_stack_size) {
        throw std::invalid_argument("slp::make_context: stack of " + std::to_string(stack.size()) +
                                    " bytes is smaller than the minimum of " +
                                    std::to_string(min_stack_size));
    }
    auto top = reinterpret_cast<std::uintptr_t>(stack.data() + stack.size());
    if (top % stack_alignment != 0) {
        throw std::invalid_argument("slp::make_context: stack top is not aligned to " +
                                    std::to_string(stack_alignment) + " bytes");
    }
    return slp_make(stack.data() + stack.size(), stack.size(), entry);
}

}  // namespace slp

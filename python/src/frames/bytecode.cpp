// bytecode.cpp — the running CPython's opcode facts (bytecode.hpp): its version's
// ../cpython/v3XX/opcodes.hpp defines them.
#include "../cpython/opcodes.hpp"

namespace slpy::frames {

bool iterates(int op) noexcept {
    // The same opcode on every version; 3.12+ specialize it (FOR_ITER_GEN pushes the
    // generator's frame itself), but co_code reads de-optimized.
    return op == FOR_ITER;
}

bool sends(int op) noexcept {
    return op == SEND;  // (3.12+ specialize it too: SEND_GEN pushes the delegate's frame)
}

bool drives(int op) noexcept {
    return iterates(op) || sends(op);
}

}  // namespace slpy::frames

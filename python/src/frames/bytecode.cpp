// bytecode.cpp — the running CPython's opcode facts (bytecode.hpp): its version's
// ../cpython/v3XX/opcodes.hpp defines them.
#include "../cpython/opcodes.hpp"

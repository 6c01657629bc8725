// v315/opcodes.hpp — CPython 3.15's opcode facts for the frame library: 3.14's
// (../v314/opcodes.hpp, with 3.15's own tables), and 3.15's iteration: GET_ITER leaves a
// list or tuple itself with an index above it (a tagged int), any other iterable's
// iterator with NULL above it; FOR_ITER reads both (the index into the list or tuple, or
// the iterator's __next__, unchecked), POP_ITER drops both.
#pragma once

#define SLP_FOR_ITER_INDEX 1
#define SLP_GENERATOR_OPCODES 0  // (not analysed on 3.15 yet: `yield from` changed too)
#include "../v314/opcodes.hpp"

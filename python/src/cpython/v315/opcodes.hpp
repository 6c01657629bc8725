// v315/opcodes.hpp — CPython 3.15's opcode facts for the frame library: 3.14's
// (../v314/opcodes.hpp, with 3.15's own tables), and 3.15's iteration (v315/iteration.hpp):
// GET_ITER leaves a list, tuple, str or bytes itself with an index above it, any other
// iterable's iterator with NULL above it; FOR_ITER and `yield from`'s SEND read both,
// POP_ITER, END_SEND and CLEANUP_THROW drop both; `await` pushes NULL above its
// awaitable's iterator for SEND.
#pragma once

#include "../v314/opcodes.hpp"

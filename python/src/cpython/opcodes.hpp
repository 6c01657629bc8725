// opcodes.hpp — the running version's bytecode facts for the frame library's analysis
// (../frames/bytecode.hpp declares them). Included by ../frames/bytecode.cpp only: each
// version's v3XX/opcodes.hpp defines the functions, with the opcode numbers taken from
// that version's own headers.
#pragma once

#include "version.hpp"

#include SLP_CPY_HEADER(opcodes.hpp)

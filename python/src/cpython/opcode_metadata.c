/* opcode_metadata.c — the running version's opcode tables (cache sizes, stack effects,
   flags, names), compiled from that version's own header where it defines them. C, not
   C++: the tables use designated array initializers. */
#include "version.hpp"

#include SLP_CPY_HEADER(opcode_metadata.h)

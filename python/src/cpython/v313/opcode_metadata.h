/* v313/opcode_metadata.h — 3.13's tables from internal/pycore_opcode_metadata.h:
   _PyOpcode_Caches, _PyOpcode_num_popped/_pushed, _PyOpcode_opcode_metadata (flags),
   _PyOpcode_Deopt, _PyOpcode_OpName. CPython's own copies are not exported; these are
   the module's (hidden), from the same header. */
#ifndef Py_BUILD_CORE
#define Py_BUILD_CORE 1
#endif
#define NEED_OPCODE_METADATA
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wpedantic"
#pragma GCC diagnostic ignored "-Wconversion"
#pragma GCC diagnostic ignored "-Wmissing-field-initializers"
#pragma GCC diagnostic ignored "-Wunused-parameter"
#include <internal/pycore_opcode_metadata.h>
#pragma GCC diagnostic pop

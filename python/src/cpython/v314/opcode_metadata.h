/* v314/opcode_metadata.h — 3.14's tables, from its internal/pycore_opcode_metadata.h, made
   as 3.13's are (../v313/opcode_metadata.h: the same header names them the same way). */
#include "../v313/opcode_metadata.h"

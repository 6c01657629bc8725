/* v315/opcode_metadata.h — 3.15's tables, from its internal/pycore_opcode_metadata.h, made
   as 3.13's are (../v313/opcode_metadata.h). 3.15 declares the tables CPython exports
   (_PyOpcode_Caches, _PyOpcode_Deopt, _PyOpcode_OpName, _PyOpcode_opcode_metadata) with
   PyAPI_DATA, which gives them default visibility: declared plainly here, the module's
   copies stay hidden like the rest of the module. */
#ifndef Py_BUILD_CORE
#define Py_BUILD_CORE 1
#endif
#include <Python.h>
#undef PyAPI_DATA
#define PyAPI_DATA(RTYPE) extern RTYPE
#include "../v313/opcode_metadata.h"

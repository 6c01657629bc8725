// version.hpp — which CPython the module is compiled against, and the folder of that
// version's knowledge. The only place that tests PY_VERSION_HEX: everything that differs
// between versions lives in the folder it names, behind the same names in each.
//
// The headers beside this one that the rest of the module includes (frame_layout.hpp,
// opcodes.hpp, ...) pick their version's file with
//   #include SLP_CPYTHON_FILE(frame_layout.hpp)   // v313/frame_layout.hpp on 3.13
// (a quoted include resolves next to the including header, so only headers in this folder
// use it).
#pragma once

#include <Python.h>

#if PY_VERSION_HEX >= 0x030B0000 && PY_VERSION_HEX < 0x030C0000
#define SLP_CPYTHON_DIR v311
#elif PY_VERSION_HEX >= 0x030D0000 && PY_VERSION_HEX < 0x030E0000
#define SLP_CPYTHON_DIR v313
#else
#error "stackless: no folder of version knowledge for this CPython (python/src/cpython/VERSIONS)"
#endif

#define SLP_CPYTHON_STR2(x) #x
#define SLP_CPYTHON_STR(x) SLP_CPYTHON_STR2(x)
#define SLP_CPYTHON_FILE(name) SLP_CPYTHON_STR(SLP_CPYTHON_DIR/name)

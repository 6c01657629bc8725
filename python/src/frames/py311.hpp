// py311.hpp — the CPython headers the frame library needs (public and internal), for
// CPython 3.11 only: 3.12 changed the frame layout, the opcodes and the call protocol.
#pragma once

#include "../cpython/version.hpp"
// (after Python.h)
#include <opcode.h>

#if PY_VERSION_HEX < 0x030B0000 || PY_VERSION_HEX >= 0x030C0000
#error "slp frames: CPython 3.11 only (frame layout, opcodes and call protocol)"
#endif

// Local-kind bits of co_localspluskinds (internal/pycore_code.h, which drags in more
// internal headers than it is worth).
#ifndef CO_FAST_LOCAL
#define CO_FAST_LOCAL 0x20
#define CO_FAST_CELL 0x40
#define CO_FAST_FREE 0x80
#endif

// py311.hpp — the CPython headers the frame library needs (public and internal), for
// CPython 3.11 only: 3.12 changed the frame layout, the opcodes and the call protocol.
#pragma once

#ifndef Py_BUILD_CORE
#define Py_BUILD_CORE 1
#endif
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <frameobject.h>
#include <opcode.h>

#if PY_VERSION_HEX < 0x030B0000 || PY_VERSION_HEX >= 0x030C0000
#error "slp frames: CPython 3.11 only (frame layout, opcodes and call protocol)"
#endif

// The internal header uses C idioms our warning flags dislike; it is not ours.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wpedantic"
#pragma GCC diagnostic ignored "-Wconversion"
#pragma GCC diagnostic ignored "-Wshadow"
#pragma GCC diagnostic ignored "-Wmissing-field-initializers"
#include <internal/pycore_frame.h>
#pragma GCC diagnostic pop

// Local-kind bits of co_localspluskinds (internal/pycore_code.h, which drags in more
// internal headers than it is worth).
#ifndef CO_FAST_LOCAL
#define CO_FAST_LOCAL 0x20
#define CO_FAST_CELL 0x40
#define CO_FAST_FREE 0x80
#endif

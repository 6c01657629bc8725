// version.hpp — the one place that knows which CPython the module is compiled against:
// CPython's headers (public and internal), then the folder of that version's knowledge,
// v<major><minor>/ beside this file, which implements the version-neutral interface the
// rest of the module calls (namespace slpy::cpy; README.md lists what it covers and
// what differs between versions). The folder is named from Python's own version macros,
// so a new version is one new folder (and its line in VERSIONS, the build's gate).
//
// SLP_CPY_HEADER(file) names `file` in that folder, for code that needs one more
// per-version header: #include SLP_CPY_HEADER(frame_layout.hpp). (It needs python/src
// on the include path, as the module's targets have.)
#pragma once

#ifndef Py_BUILD_CORE
#define Py_BUILD_CORE 1
#endif
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <frameobject.h>

#define SLP_CPY_PASTE(a, b, c) a##b##c
#define SLP_CPY_FOLDER(major, minor) SLP_CPY_PASTE(v, major, minor)
#define SLP_CPY_HEADER(file) <cpython/SLP_CPY_FOLDER(PY_MAJOR_VERSION, PY_MINOR_VERSION)/file>

#if !__has_include(SLP_CPY_HEADER(interface.hpp))
#error \
    "stackless: no folder of version knowledge for this CPython in python/src/cpython (see VERSIONS there)"
#endif
#ifdef __cplusplus  // (opcode_metadata.c, in C, needs only the folder)
#include SLP_CPY_HEADER(interface.hpp)
#endif

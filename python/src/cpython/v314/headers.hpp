// headers.hpp (CPython 3.14) — the internal headers the module needs, and the runtime
// facts that are one call or one constant.
#pragma once

// clang-format off
#include "../internal_headers_begin.hpp"
#include <internal/pycore_frame.h>        // PyFrameObject
#include <internal/pycore_moduleobject.h>  // PyModuleObject (module_type.cpp subclasses it)
#include <internal/pycore_interpframe.h>  // the frame struct and its helpers (split in 3.14)
#include <internal/pycore_pythonrun.h>    // _PyOS_STACK_MARGIN_BYTES
#include <internal/pycore_signal.h>       // _PyOS_IsMainThread (private since 3.13)
#include <internal/pycore_stackref.h>
#include <internal/pycore_tstate.h>       // _PyThreadStateImpl: the C stack's limits
#include "../internal_headers_end.hpp"
// clang-format on

#include <cstddef>

namespace slpy::cpy {

// The size of the frame data-stack chunks CPython allocates (in a header since 3.12).
inline constexpr std::size_t datastack_chunk_bytes = _PY_DATA_STACK_CHUNK_SIZE;

// _Py_IsFinalizing() became the public Py_IsFinalizing() in 3.13.
inline bool is_finalizing() noexcept {
    return Py_IsFinalizing() != 0;
}
inline bool is_main_thread() noexcept {
    return _PyOS_IsMainThread() != 0;
}

}  // namespace slpy::cpy

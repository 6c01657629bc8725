// headers.hpp (CPython 3.11) — the internal headers the module needs, and the runtime
// facts that are one call or one constant.
#pragma once

SLP_CPY_INTERNAL_BEGIN
#include <internal/pycore_frame.h>
#include <internal/pycore_moduleobject.h>  // PyModuleObject (module_type.cpp subclasses it)
SLP_CPY_INTERNAL_END

#include <cstddef>

namespace slpy::cpy {

// The size of the frame data-stack chunks CPython allocates (Python/pystate.c's
// DATA_STACK_CHUNK_SIZE, not in a header in 3.11).
inline constexpr std::size_t datastack_chunk_bytes = 16 * 1024;

inline bool is_finalizing() noexcept {
    return _Py_IsFinalizing() != 0;
}
inline bool is_main_thread() noexcept {
    return _PyOS_IsMainThread() != 0;
}

// A module object made by its type (a subclass of ModuleType) gets the definition
// PyModule_Create would have given it.
inline void set_module_def(PyObject* m, PyModuleDef* def) noexcept {
    reinterpret_cast<PyModuleObject*>(m)->md_def = def;
}

}  // namespace slpy::cpy

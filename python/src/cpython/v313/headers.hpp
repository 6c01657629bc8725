// headers.hpp (CPython 3.13) — the internal headers the module needs, and the runtime
// facts that are one call or one constant.
#pragma once

SLP_CPY_INTERNAL_BEGIN
#include <internal/pycore_frame.h>
#include <internal/pycore_moduleobject.h>  // PyModuleObject (module_type.cpp subclasses it)
#include <internal/pycore_signal.h>        // _PyOS_IsMainThread (moved out of Python.h, gh-106320)
SLP_CPY_INTERNAL_END

#include <cstddef>

namespace slpy::cpy {

// The size of the frame data-stack chunks CPython allocates (Python/pystate.c's
// DATA_STACK_CHUNK_SIZE, not in a header). 3.13 also keeps the last chunk a thread
// popped (PyThreadState.datastack_cached_chunk) for its next push: whichever tasklet
// pushes next takes it, and it becomes that tasklet's, as any chunk CPython allocates.
inline constexpr std::size_t datastack_chunk_bytes = 16 * 1024;

// (_Py_IsFinalizing became the public Py_IsFinalizing in 3.13.)
inline bool is_finalizing() noexcept {
    return Py_IsFinalizing() != 0;
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

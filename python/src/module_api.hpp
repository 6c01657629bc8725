// module_api.hpp — Stackless's module API that switches nothing (module_api.cpp).
#pragma once

#include "common.hpp"

namespace slpy {

// Store callable `cb` (None: none, kept as nullptr) in `slot`, an owned reference;
// returns the old one (None if none), or nullptr with TypeError(refusal) if cb is
// neither callable nor None.
PyObject* replace_callable(PyObject*& slot, PyObject* cb, const char* refusal) noexcept;
// The handler set_error_handler() installed (borrowed), or nullptr.
PyObject* error_handler() noexcept;
// Stackless's pickle flags (PICKLEFLAGS_*).
inline constexpr long kPickleFlagPreserveTracingState = 1;
inline constexpr long kPickleFlagPreserveAgFinalizer = 2;
inline constexpr long kPickleFlagResetAgFinalizer = 4;
// This thread's pickle flags (PICKLEFLAGS_* bits, stackless.pickle_flags()).
long pickle_flags() noexcept;
// stackless.pickle_with_tracing_state: PICKLEFLAGS_PRESERVE_TRACING_STATE of this
// thread's flags; setting it sets the bit of this thread's flags and of the default.
PyObject* get_pickle_with_tracing_state(PyObject* module, void*);
int set_pickle_with_tracing_state(PyObject* module, PyObject* value, void*);
// Add the functions, constants and plain attributes to the module.
bool add_module_api(PyObject* m) noexcept;
// Set the module's __all__ (after everything else has been added).
bool add_module_all(PyObject* m) noexcept;

}  // namespace slpy

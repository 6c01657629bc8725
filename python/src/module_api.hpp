// module_api.hpp — Stackless's module API that switches nothing (module_api.cpp).
#pragma once

#include <string_view>

#include "common.hpp"

namespace slpy {

// The handler set_error_handler() installed (borrowed), or nullptr.
PyObject* error_handler() noexcept;
// Add the functions, constants and plain attributes to the module.
bool add_module_api(PyObject* m) noexcept;
// Set the module's __all__ (after everything else has been added).
bool add_module_all(PyObject* m) noexcept;
// A lazily computed module attribute of this file (new reference), or nullptr (no such
// name; no error set).
PyObject* module_api_getattr(std::string_view name) noexcept;

}  // namespace slpy

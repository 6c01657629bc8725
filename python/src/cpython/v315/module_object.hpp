// module_object.hpp (CPython 3.15) — the module object's field PyModule_Create fills
// that a module made by its type (module_type.cpp) fills itself: its definition. 3.15
// keeps it as the module's token, marked as being its definition (md_def became md_token
// and md_token_is_def with PEP 793, module tokens).
#pragma once

#include "../v314/headers.hpp"

namespace slpy::cpy {

inline void set_module_def(PyObject* m, PyModuleDef* def) noexcept {
    auto* mod = reinterpret_cast<PyModuleObject*>(m);
    mod->md_token = def;
    mod->md_token_is_def = true;
}

}  // namespace slpy::cpy

// module_object.hpp (CPython 3.14) — the module object's field PyModule_Create fills
// that a module made by its type (module_type.cpp) fills itself: its definition.
#pragma once

#include "headers.hpp"

namespace slpy::cpy {

inline void set_module_def(PyObject* m, PyModuleDef* def) noexcept {
    reinterpret_cast<PyModuleObject*>(m)->md_def = def;
}

}  // namespace slpy::cpy

// module_type.hpp — the type of the `stackless` module object (module_type.cpp).
#pragma once

#include "common.hpp"

namespace slpy {

// The module object for `def` (what PyModule_Create makes, of the module's own type):
// a new reference, or nullptr with a Python error set.
PyObject* stackless_module(PyModuleDef* def) noexcept;
// Once everything is added to module `m`: the attributes that loops look up move from
// its dictionary into slots of the object, and the type serves the live attributes
// (current, main, runcount, threads, uncollectables). False with a Python error set.
bool serve_from_type(PyObject* m) noexcept;

}  // namespace slpy

// resolve.hpp — find a snapshot frame's function again: by module and qualified name,
// checked by the code digest.
#pragma once

#include "python.hpp"

namespace slpy::frames {

struct Resolved {
    PyObject* func = nullptr;     // the function, if it exists as such (strong), else null
    PyObject* code = nullptr;     // its code (strong)
    PyObject* globals = nullptr;  // globals to run it with (strong)
    ~Resolved() {
        Py_XDECREF(func);
        Py_XDECREF(code);
        Py_XDECREF(globals);
    }
};

// Import `module`, follow `qualname`; a "<locals>" part continues among the constants
// of the function found so far (a nested function has no attribute path: only its code
// exists until the frame is rebuilt). The code found must have `digest`. When that path
// does not lead to it (an attribute replaced or rebound since, a lambda bound to another
// name), the code its loader gives for the module is searched for `qualname` with
// `digest` (out.func stays null).
// Returns 0, or -1 with FrameRestoreError set (the message names module and qualname).
int resolve(PyObject* module, PyObject* qualname, PyObject* digest, Resolved& out);

}  // namespace slpy::frames

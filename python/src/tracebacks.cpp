// tracebacks.cpp — pickling (and copying) of tracebacks, as Stackless does: each entry
// with its frame, line and instruction; a frame as a record of where it was (file, name,
// qualified name, first line, module, line) linked to the frames that called it. Only
// finished frames pickle so (copy.copy of a running frame is a TypeError, as in
// Stackless); a traceback taken in an except block holds the running frame, so it pickles
// once that frame returned, or with the suspended tasklet whose frame it is, as that frame
// of the tasklet (frame_references.cpp). A restored record runs nothing: its code is an
// empty code object with the original's names and place, which is all tracebacks,
// inspect and debuggers' stack listings read (its locals are not kept). reducers.cpp
// registers the reducers.
#include "common.hpp"  // PyFrameObject's fields: the version's internal headers

namespace slpy {

namespace {

bool finished(PyObject* frame) noexcept {
    return reinterpret_cast<PyFrameObject*>(frame)->f_frame->owner == FRAME_OWNED_BY_FRAME_OBJECT;
}

PyObject* frame_finished(PyObject*, PyObject* frame) {
    if (!PyFrame_Check(frame)) {
        PyErr_Format(PyExc_TypeError, "_frame_finished: not a frame: %s", Py_TYPE(frame)->tp_name);
        return nullptr;
    }
    return PyBool_FromLong(finished(frame));
}

// _dead_frame(code, globals, lineno, back) -> a finished frame of `code` at line
// `lineno`, whose caller is `back` (a finished frame, or None).
PyObject* dead_frame(PyObject*, PyObject* args) {
    PyObject *code = nullptr, *globals = nullptr, *back = nullptr;
    int lineno = 0;
    if (!PyArg_ParseTuple(args, "O!O!iO:_dead_frame", &PyCode_Type, &code, &PyDict_Type, &globals,
                          &lineno, &back))
        return nullptr;
    if (back != Py_None && (!PyFrame_Check(back) || !finished(back))) {
        PyErr_SetString(PyExc_TypeError,
                        "_dead_frame: the caller must be a finished frame or None");
        return nullptr;
    }
    if (lineno < 1) {
        PyErr_SetString(PyExc_ValueError, "_dead_frame: line numbers start at 1");
        return nullptr;
    }
    PyFrameObject* f =
        PyFrame_New(PyThreadState_Get(), reinterpret_cast<PyCodeObject*>(code), globals, nullptr);
    if (f == nullptr) return nullptr;
    f->f_frame->previous = nullptr;
    f->f_lineno = lineno;
    if (back != Py_None) f->f_back = reinterpret_cast<PyFrameObject*>(Py_NewRef(back));
    return reinterpret_cast<PyObject*>(f);
}

PyMethodDef traceback_methods[] = {
    {"_frame_finished", frame_finished, METH_O,
     "_frame_finished(frame) -> has the frame's code returned (or raised)?"},
    {"_dead_frame", dead_frame, METH_VARARGS,
     "_dead_frame(code, globals, lineno, back) -> a finished frame (pickled tracebacks)."},
    {nullptr, nullptr, 0, nullptr}};

}  // namespace

bool add_traceback_pickling(PyObject* m) noexcept {
    return PyModule_AddFunctions(m, traceback_methods) == 0;
}

}  // namespace slpy

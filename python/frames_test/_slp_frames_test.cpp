// _slp_frames_test.cpp — a test-only extension over the frame library (python/src/frames),
// so that capture -> pickle -> unpickle (in another process) -> resume can be tested
// without tasklets: capture() snapshots the Python frames calling it, as a tasklet's
// frames are when it is blocked in a stackless call, and returns normally.
#include <string>

#include "../src/frames/analysis.hpp"
#include "../src/frames/bytecode.hpp"
#include "../src/frames/codeinfo.hpp"
#include "../src/frames/frames.hpp"

namespace fr = slpy::frames;

namespace {

// The frame above the outermost frame running `base` (a function, or its code), or the
// frame `levels` frames out; *ok false (and an exception) if there is none.
_PyInterpreterFrame* find_stop(PyObject* base, bool* ok) {
    *ok = true;
    _PyInterpreterFrame* innermost = fr::frame::current(PyThreadState_Get());
    if (PyLong_Check(base)) {
        long levels = PyLong_AsLong(base);
        _PyInterpreterFrame* f = innermost;
        for (; levels > 0 && f != nullptr; --levels) f = fr::frame::caller(f);
        if (levels > 0 || PyErr_Occurred()) {
            if (!PyErr_Occurred()) PyErr_SetString(PyExc_ValueError, "not that many frames");
            *ok = false;
        }
        return f;
    }
    PyObject* code = PyFunction_Check(base) ? PyFunction_GET_CODE(base) : base;
    _PyInterpreterFrame* stop = nullptr;
    bool found = false;
    for (_PyInterpreterFrame* f = innermost; f != nullptr; f = f->previous)
        if (reinterpret_cast<PyObject*>(slpy::cpy::frame_code(f)) == code) {
            stop = f->previous;
            found = true;
        }
    if (!found) {
        PyErr_SetString(PyExc_ValueError, "base function is not running");
        *ok = false;
    }
    return stop;
}

// The innermost frame's stack depth before its CALL, from where our arguments sit in its
// value stack (vectorcall passes a pointer into it), or -1 if they are elsewhere.
int depth_from_args(PyObject* const* args, Py_ssize_t nargs) {
    _PyInterpreterFrame* f = fr::frame::current(PyThreadState_Get());
    if (f == nullptr || args == nullptr) return -1;
    PyObject** base = fr::frame::stack_base(f);
    PyObject* const* end = args + nargs;
    if (args < base || end > base + slpy::cpy::frame_code(f)->co_stacksize) return -1;
    return static_cast<int>(end - base);
}

// capture(base) -> snapshot. `base`: a function (the outermost frame running it is the
// chain's base) or a number of frames.
PyObject* capture(PyObject*, PyObject* const* args, Py_ssize_t nargs) {
    if (nargs != 1) {
        PyErr_SetString(PyExc_TypeError, "capture(base) takes one argument");
        return nullptr;
    }
    bool ok = false;
    _PyInterpreterFrame* stop = find_stop(args[0], &ok);
    if (!ok) return nullptr;
    PyThreadState* ts = PyThreadState_Get();
    PyObject* handled = PyErr_GetHandledException();
    PyObject* snap =
        fr::capture(ts, fr::frame::current(ts), stop, handled, depth_from_args(args, nargs));
    Py_XDECREF(handled);
    return snap;
}

// restorable(base) -> (bool, reason)
PyObject* restorable(PyObject*, PyObject* base) {
    bool ok = false;
    _PyInterpreterFrame* stop = find_stop(base, &ok);
    if (!ok) return nullptr;
    PyThreadState* ts = PyThreadState_Get();
    std::string why;
    const int r = fr::check_restorable(ts, fr::frame::current(ts), stop, &why);
    if (r < 0) return nullptr;
    return Py_BuildValue("(Os)", r ? Py_True : Py_False, why.c_str());
}

// ---- Rebuilt chains as objects (for GC and lifetime tests) --------------------------

struct ChainObject {
    PyObject_HEAD fr::Chain* chain;
};

int chain_traverse(PyObject* self, visitproc visit, void* arg) {
    auto* c = reinterpret_cast<ChainObject*>(self);
    Py_VISIT(Py_TYPE(self));  // a heap type
    return c->chain != nullptr ? fr::traverse(c->chain, visit, arg) : 0;
}

int chain_clear(PyObject* self) {
    auto* c = reinterpret_cast<ChainObject*>(self);
    fr::Chain* chain = c->chain;
    c->chain = nullptr;
    fr::destroy(chain);
    return 0;
}

void chain_dealloc(PyObject* self) {
    PyTypeObject* type = Py_TYPE(self);
    PyObject_GC_UnTrack(self);
    chain_clear(self);
    PyObject_GC_Del(self);
    Py_DECREF(type);
}

PyObject* chain_run(PyObject* self, PyObject* value, bool raise) {
    auto* c = reinterpret_cast<ChainObject*>(self);
    if (c->chain == nullptr) {
        PyErr_SetString(PyExc_RuntimeError, "chain was cleared");
        return nullptr;
    }
    if (raise) {
        PyObject* type =
            PyExceptionInstance_Check(value) ? reinterpret_cast<PyObject*>(Py_TYPE(value)) : value;
        PyErr_SetObject(type, PyExceptionInstance_Check(value) ? value : nullptr);
        return fr::resume(c->chain, nullptr);
    }
    return fr::resume(c->chain, value);
}

PyObject* chain_resume(PyObject* self, PyObject* value) {
    return chain_run(self, value, false);
}
PyObject* chain_throw(PyObject* self, PyObject* exc) {
    return chain_run(self, exc, true);
}
PyObject* chain_depth(PyObject* self, PyObject*) {
    auto* c = reinterpret_cast<ChainObject*>(self);
    return PyLong_FromLong(c->chain != nullptr ? fr::depth(c->chain) : 0);
}

PyMethodDef chain_methods[] = {
    {"resume", chain_resume, METH_O, "resume(value): run the frames as if the call returned it"},
    {"throw", chain_throw, METH_O, "throw(exc): run the frames as if the call raised exc"},
    {"depth", chain_depth, METH_NOARGS, "number of frames"},
    {nullptr, nullptr, 0, nullptr}};

PyType_Slot chain_slots[] = {{Py_tp_dealloc, reinterpret_cast<void*>(chain_dealloc)},
                             {Py_tp_traverse, reinterpret_cast<void*>(chain_traverse)},
                             {Py_tp_clear, reinterpret_cast<void*>(chain_clear)},
                             {Py_tp_methods, chain_methods},
                             {0, nullptr}};
PyType_Spec chain_spec = {"_slp_frames_test.Chain", sizeof(ChainObject), 0,
                          Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC, chain_slots};
PyTypeObject* ChainType = nullptr;  // strong, for the process

PyObject* rebuild(PyObject*, PyObject* snapshot) {
    fr::Chain* chain = fr::rebuild(snapshot);
    if (chain == nullptr) return nullptr;
    auto* obj = PyObject_GC_New(ChainObject, ChainType);
    if (obj == nullptr) {
        fr::destroy(chain);
        return nullptr;
    }
    obj->chain = chain;
    PyObject_GC_Track(reinterpret_cast<PyObject*>(obj));
    return reinterpret_cast<PyObject*>(obj);
}

// resume(snapshot, value) / throw(snapshot, exc): rebuild and run at once.
PyObject* resume_or_throw(PyObject* args, bool raise) {
    PyObject *snapshot = nullptr, *value = nullptr;
    if (!PyArg_UnpackTuple(args, raise ? "throw" : "resume", 2, 2, &snapshot, &value))
        return nullptr;
    PyObject* chain = rebuild(nullptr, snapshot);
    if (chain == nullptr) return nullptr;
    PyObject* r = chain_run(chain, value, raise);
    Py_DECREF(chain);
    return r;
}
PyObject* resume(PyObject*, PyObject* args) {
    return resume_or_throw(args, false);
}
PyObject* throw_(PyObject*, PyObject* args) {
    return resume_or_throw(args, true);
}

// ---- Bytecode analysis probes --------------------------------------------------------

std::shared_ptr<fr::CodeInfo> info_of(PyObject* code) {
    if (PyFunction_Check(code)) code = PyFunction_GET_CODE(code);
    if (!PyCode_Check(code)) {
        PyErr_SetString(PyExc_TypeError, "expected a code object or function");
        return nullptr;
    }
    auto info = fr::code_info(reinterpret_cast<PyCodeObject*>(code));
    if (info != nullptr && !info->analysed) {
        PyErr_SetString(PyExc_ValueError, info->analysis_error.c_str());
        return nullptr;
    }
    return info;
}

// analyze(code) -> list of (index, depth) for every reachable instruction
PyObject* analyze(PyObject*, PyObject* code) {
    auto info = info_of(code);
    if (info == nullptr) return nullptr;
    PyObject* out = PyList_New(0);
    for (int i = 0; out != nullptr && i < info->analysis.units(); ++i) {
        const int d = info->analysis.depth_at(i);
        if (d < 0) continue;
        PyObject* item = Py_BuildValue("(ii)", i, d);
        if (item == nullptr || PyList_Append(out, item) < 0) Py_CLEAR(out);
        Py_XDECREF(item);
    }
    return out;
}

// requirements(code, index) -> tuple of masks, one per stack slot before `index`
PyObject* requirements(PyObject*, PyObject* args) {
    PyObject* code = nullptr;
    int index = 0;
    if (!PyArg_ParseTuple(args, "Oi", &code, &index)) return nullptr;
    auto info = info_of(code);
    if (info == nullptr) return nullptr;
    const int d = info->analysis.depth_at(index);
    if (d < 0) Py_RETURN_NONE;
    PyObject* out = PyTuple_New(d);
    for (int p = 0; out != nullptr && p < d; ++p)
        PyTuple_SET_ITEM(out, p, PyLong_FromLong(info->analysis.requirement(index, p)));
    return out;
}

PyObject* stack_effect(PyObject*, PyObject* args) {
    int op = 0, arg = 0, jump = 0;
    if (!PyArg_ParseTuple(args, "iip", &op, &arg, &jump)) return nullptr;
    const fr::StackEffect e = fr::stack_effect(op, arg, jump != 0);
    if (e.pops < 0) Py_RETURN_NONE;
    return Py_BuildValue("(ii)", e.pops, e.pushes);
}

PyObject* cache_units(PyObject*, PyObject* op) {
    const long v = PyLong_AsLong(op);
    if (v == -1 && PyErr_Occurred()) return nullptr;
    return PyLong_FromLong(fr::cache_units(static_cast<int>(v)));
}

PyObject* digest(PyObject*, PyObject* code) {
    if (PyFunction_Check(code)) code = PyFunction_GET_CODE(code);
    if (!PyCode_Check(code)) {
        PyErr_SetString(PyExc_TypeError, "expected a code object or function");
        return nullptr;
    }
    return fr::code_digest(reinterpret_cast<PyCodeObject*>(code));
}

PyObject* clear_cache(PyObject*, PyObject*) {
    fr::clear_code_cache();
    Py_RETURN_NONE;
}

// ---- PEP 523 ------------------------------------------------------------------------

PyObject* passthrough_eval(PyThreadState* ts, _PyInterpreterFrame* f, int throwflag) {
    return _PyEval_EvalFrameDefault(ts, f, throwflag);
}

PyObject* set_eval_hook(PyObject*, PyObject* on) {
    const int v = PyObject_IsTrue(on);
    if (v < 0) return nullptr;
    _PyInterpreterState_SetEvalFrameFunc(PyThreadState_Get()->interp,
                                         v ? passthrough_eval : _PyEval_EvalFrameDefault);
    Py_RETURN_NONE;
}

PyMethodDef methods[] = {
    {"capture", reinterpret_cast<PyCFunction>(reinterpret_cast<void (*)()>(capture)), METH_FASTCALL,
     "capture(base) -> snapshot of the calling frames up to base"},
    {"restorable", restorable, METH_O, "restorable(base) -> (bool, why)"},
    {"rebuild", rebuild, METH_O, "rebuild(snapshot) -> chain (validates)"},
    {"resume", resume, METH_VARARGS, "resume(snapshot, value) -> base frame's result"},
    {"throw", throw_, METH_VARARGS, "throw(snapshot, exc) -> base frame's result"},
    {"analyze", analyze, METH_O, "analyze(code) -> [(index, depth)]"},
    {"requirements", requirements, METH_VARARGS, "requirements(code, index) -> masks"},
    {"stack_effect", stack_effect, METH_VARARGS, "stack_effect(op, arg, jump)"},
    {"cache_units", cache_units, METH_O, "cache_units(op)"},
    {"digest", digest, METH_O, "digest(code) -> 16 bytes"},
    {"clear_cache", clear_cache, METH_NOARGS, "drop cached code facts"},
    {"set_eval_hook", set_eval_hook, METH_O, "install/remove a pass-through PEP 523 hook"},
    {nullptr, nullptr, 0, nullptr}};

PyModuleDef moduledef = {PyModuleDef_HEAD_INIT,
                         "_slp_frames_test",
                         "Test-only access to slp's frame capture/restore library.",
                         -1,
                         methods,
                         nullptr,
                         nullptr,
                         nullptr,
                         nullptr};

}  // namespace

PyMODINIT_FUNC PyInit__slp_frames_test() {
    if (ChainType == nullptr)
        ChainType = reinterpret_cast<PyTypeObject*>(PyType_FromSpec(&chain_spec));
    if (ChainType == nullptr) return nullptr;
    PyObject* m = PyModule_Create(&moduledef);
    if (m == nullptr) return nullptr;
    if (fr::init(m) < 0 ||
        PyModule_AddObjectRef(m, "Chain", reinterpret_cast<PyObject*>(ChainType)) < 0 ||
        PyModule_AddIntConstant(m, "FORMAT_VERSION", fr::kFormatVersion) < 0) {
        Py_DECREF(m);
        return nullptr;
    }
    return m;
}

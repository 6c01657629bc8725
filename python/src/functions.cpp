// functions.cpp — functions by value, as Stackless pickles them: a function that pickle
// saves by reference (its module has it under its qualified name) pickles exactly as
// without this module; one it cannot find that way (a lambda, a nested function, a
// function whose name was rebound) pickles by value.
//
// Reduced form: stackless._function(module, qualname, digest), state set by
// stackless._function_state(function, state)
//   module, qualname, digest  its code, named as a snapshot frame's (frames/frames.hpp
//                             (h)): its globals' module, the code's qualified name, the
//                             code digest; found again and checked on load
//   state  (name, qualname, module, defaults, kwdefaults, closure, dict, annotations,
//           annotate): its __name__, __qualname__, __module__, __defaults__,
//          __kwdefaults__, closure cells (None without free variables), __dict__ (None if
//          empty), __annotations__ once computed (None otherwise), __annotate__ (3.14 on;
//          None before)
// The state comes after the function exists, so a closure cell holding the function
// itself (a recursive nested function) pickles: pickle has the function by then. Until
// its state is set, a loaded function has empty cells and no defaults.
//
// The hook: the C pickler calls a Pickler's reducer_override before it saves a function
// by reference, but pickle.dumps and pickle.dump make a pickler of the C type itself,
// which has none; the Python pickler saves functions through its dispatch table. So
// installing replaces pickle.Pickler with a subclass whose reducer_override is
// _reducer_override, pickle.dump and pickle.dumps with functions that use it
// (pickle_dumps.cpp: dumps as fast as _pickle.dumps), and the
// Python pickler's entry for functions (pickle._Pickler.dispatch) with one that saves by
// value what save_global cannot find. Importing stackless installs it;
// stackless.pickle_functions_by_value(False) puts pickle's own back.
#include "frames/frames.hpp"
#include "objects.hpp"

namespace slpy {

namespace {

PyObject* g_module = nullptr;  // borrowed: the module's functions keep it alive

// The module whose namespace `f` runs in: its globals' __name__, if sys.modules has that
// module with exactly those globals. New reference, or null with UnpicklableFrameError set.
PyObject* globals_module_name(PyFunctionObject* f) {
    PyObject* name = PyDict_GetItemString(f->func_globals, "__name__");  // borrowed
    if (name != nullptr && PyUnicode_Check(name)) {
        PyObject* mod = PyImport_GetModule(name);
        const bool same =
            mod != nullptr && PyModule_Check(mod) && PyModule_GetDict(mod) == f->func_globals;
        Py_XDECREF(mod);
        if (same) return Py_NewRef(name);
    }
    PyErr_Clear();
    PyErr_Format(frames::unpicklable_error(),
                 "cannot pickle function %R by value: its globals are not the namespace of an "
                 "imported module",
                 reinterpret_cast<PyObject*>(f));
    return nullptr;
}

PyObject* none_if_null(PyObject* o) {
    return Py_NewRef(o != nullptr ? o : Py_None);
}

// __annotate__ of `f` where functions have one (3.14 on), else None. New reference.
PyObject* annotate_of(PyObject* f) {
    if (!PyObject_HasAttrString(reinterpret_cast<PyObject*>(&PyFunction_Type), "__annotate__"))
        return Py_NewRef(Py_None);
    return PyObject_GetAttrString(f, "__annotate__");
}

PyObject* reduce_function(PyObject*, PyObject* obj) {
    if (!PyFunction_Check(obj)) {
        PyErr_Format(PyExc_TypeError, "_reduce_function: not a function: %s",
                     Py_TYPE(obj)->tp_name);
        return nullptr;
    }
    auto* f = reinterpret_cast<PyFunctionObject*>(obj);
    auto* code = reinterpret_cast<PyCodeObject*>(f->func_code);
    ref module = ref::steal(globals_module_name(f));
    if (!module) return nullptr;
    ref digest = ref::steal(frames::digest_of(code));
    ref make = ref::steal(PyObject_GetAttrString(g_module, "_function"));
    ref setter = ref::steal(PyObject_GetAttrString(g_module, "_function_state"));
    ref annotate = ref::steal(annotate_of(obj));
    if (!digest || !make || !setter || !annotate) return nullptr;
    PyObject* dict =
        f->func_dict != nullptr && PyDict_GET_SIZE(f->func_dict) > 0 ? f->func_dict : nullptr;
    PyObject* annotations = PyFunction_GetAnnotations(obj);  // borrowed: the dict, once made
    if (annotations == nullptr && PyErr_Occurred()) return nullptr;
    ref state =
        ref::steal(Py_BuildValue("(OONNNNNNO)", f->func_name, f->func_qualname,
                                 none_if_null(f->func_module), none_if_null(f->func_defaults),
                                 none_if_null(f->func_kwdefaults), none_if_null(f->func_closure),
                                 none_if_null(dict), none_if_null(annotations), annotate.get()));
    if (!state) return nullptr;
    return Py_BuildValue("(O(OOO)OOOO)", make.get(), module.get(), code->co_qualname, digest.get(),
                         state.get(), Py_None, Py_None, setter.get());
}

// A function of the code (module, qualname, digest) names, in that module's namespace,
// its free variables empty cells until its state is set.
PyObject* make_function(PyObject*, PyObject* args) {
    PyObject *module = nullptr, *qualname = nullptr, *digest = nullptr;
    if (!PyArg_ParseTuple(args, "OOO:_function", &module, &qualname, &digest)) return nullptr;
    if (!PyUnicode_CheckExact(module) || !PyUnicode_CheckExact(qualname) ||
        !PyBytes_CheckExact(digest) || PyBytes_GET_SIZE(digest) != 16) {
        PyErr_SetString(frames::restore_error(),
                        "a pickled function's code reference has parts of the wrong type");
        return nullptr;
    }
    PyObject *code = nullptr, *globals = nullptr;
    if (frames::find_code(module, qualname, digest, &code, &globals) < 0) return nullptr;
    ref code_ref = ref::steal(code), globals_ref = ref::steal(globals);
    ref func = ref::steal(PyFunction_NewWithQualName(code, globals, qualname));
    const int nfree = reinterpret_cast<PyCodeObject*>(code)->co_nfreevars;
    if (!func || nfree == 0) return func.release();
    ref closure = ref::steal(PyTuple_New(nfree));
    if (!closure) return nullptr;
    for (int k = 0; k < nfree; ++k) {
        PyObject* cell = PyCell_New(nullptr);
        if (cell == nullptr) return nullptr;
        PyTuple_SET_ITEM(closure.get(), k, cell);
    }
    if (PyFunction_SetClosure(func.get(), closure.get()) < 0) return nullptr;
    return func.release();
}

// Why `closure` cannot be the closure of `f`, or null if it can.
const char* closure_mismatch(PyFunctionObject* f, PyObject* closure) {
    const Py_ssize_t nfree = reinterpret_cast<PyCodeObject*>(f->func_code)->co_nfreevars;
    if (closure == Py_None) return nfree == 0 ? nullptr : "None, but its code has free variables";
    if (!PyTuple_CheckExact(closure)) return "not a tuple";
    if (PyTuple_GET_SIZE(closure) != nfree) return "not as long as its code's free variables";
    for (Py_ssize_t i = 0; i < nfree; ++i)
        if (!PyCell_Check(PyTuple_GET_ITEM(closure, i))) return "not a tuple of cells";
    return nullptr;
}

PyObject* set_function_state(PyObject*, PyObject* args) {
    PyObject *obj = nullptr, *state = nullptr;
    if (!PyArg_ParseTuple(args, "OO:_function_state", &obj, &state)) return nullptr;
    if (!PyFunction_Check(obj) || !PyTuple_CheckExact(state) || PyTuple_GET_SIZE(state) != 9) {
        PyErr_SetString(frames::restore_error(), "malformed state of a pickled function");
        return nullptr;
    }
    auto* f = reinterpret_cast<PyFunctionObject*>(obj);
    PyObject* closure = PyTuple_GET_ITEM(state, 5);
    if (const char* why = closure_mismatch(f, closure)) {
        PyErr_Format(frames::restore_error(), "the closure of pickled function %R is %s", obj, why);
        return nullptr;
    }
    PyObject* dict = PyTuple_GET_ITEM(state, 6);
    PyObject* annotate = PyTuple_GET_ITEM(state, 8);
    if ((dict != Py_None && !PyDict_Check(dict)) ||
        (annotate != Py_None && !PyCallable_Check(annotate))) {
        PyErr_SetString(frames::restore_error(), "malformed state of a pickled function");
        return nullptr;
    }
    // The attributes check their own values (a str name, a tuple of defaults, ...).
    static const char* const kAttrs[] = {"__name__", "__qualname__", "__module__", "__defaults__",
                                         "__kwdefaults__"};
    for (int i = 0; i < 5; ++i)
        if (PyObject_SetAttrString(obj, kAttrs[i], PyTuple_GET_ITEM(state, i)) < 0) return nullptr;
    if (annotate != Py_None && PyObject_SetAttrString(obj, "__annotate__", annotate) < 0)
        return nullptr;
    PyObject* annotations = PyTuple_GET_ITEM(state, 7);
    if (annotations != Py_None && PyObject_SetAttrString(obj, "__annotations__", annotations) < 0)
        return nullptr;
    if (dict != Py_None && PyObject_SetAttrString(obj, "__dict__", dict) < 0) return nullptr;
    if (PyFunction_SetClosure(obj, closure) < 0) return nullptr;
    Py_RETURN_NONE;
}

// A Pickler's reducer_override: NotImplemented (pickle goes on as it would) for anything
// but a function pickle cannot save by reference, which it reduces by value.
PyObject* reducer_override(PyObject*, PyObject* obj) {
    if (!PyFunction_Check(obj)) Py_RETURN_NOTIMPLEMENTED;
    ref decide = ref::steal(PyObject_GetAttrString(g_module, "_function_by_value"));
    return decide ? PyObject_CallOneArg(decide.get(), obj) : nullptr;
}

const char* const kInstallSource = R"PY(
def _by_reference(func):
    """Whether pickle saves `func` by reference: its module (whichmodule, as pickle finds
    it) has it under its qualified name."""
    import pickle, sys
    path = func.__qualname__.split(".")
    if "<locals>" in path:
        return False
    try:
        module_name = pickle.whichmodule(func, func.__qualname__)
        __import__(module_name, level=0)
        obj = sys.modules[module_name]
        for part in path:
            obj = getattr(obj, part)
    except (ImportError, KeyError, AttributeError, ValueError, pickle.PicklingError):
        return False
    return obj is func


def _function_by_value(func):
    """NotImplemented if pickle saves `func` by reference, else its reduce value by value."""
    if _by_reference(func):
        return NotImplemented
    return _reduce_function(func)


def _make_function_pickling():
    import io, pickle, types
    import _pickle

    class Pickler(_pickle.Pickler):
        __slots__ = ()
        __doc__ = _pickle.Pickler.__doc__
        reducer_override = _reducer_override

    def dump(obj, file, protocol=None, *, fix_imports=True, buffer_callback=None):
        Pickler(file, protocol, fix_imports=fix_imports,
                buffer_callback=buffer_callback).dump(obj)

    def fresh_dumps(obj, protocol=None, *, fix_imports=True, buffer_callback=None):
        f = io.BytesIO()
        Pickler(f, protocol, fix_imports=fix_imports, buffer_callback=buffer_callback).dump(obj)
        return f.getvalue()

    class Sink(list):
        __slots__ = ()
        write = list.append

    _set_dumps(Pickler, Sink, fresh_dumps, pickle.DEFAULT_PROTOCOL, pickle.HIGHEST_PROTOCOL)
    dumps = _dumps

    their_save = pickle._Pickler.dispatch[types.FunctionType]

    def save_function(self, obj):
        if _by_reference(obj):
            return their_save(self, obj)
        return self.save_reduce(*_reduce_function(obj), obj=obj)

    for f, like in ((Pickler, _pickle.Pickler), (dump, _pickle.dump)):
        f.__module__, f.__qualname__, f.__name__ = "pickle", like.__name__, like.__name__
        f.__doc__ = like.__doc__
    save_function.__module__ = "pickle"
    save_function.__qualname__ = save_function.__name__ = "save_function"
    ours = {"Pickler": Pickler, "dump": dump, "dumps": dumps}
    theirs = {name: getattr(pickle, name) for name in ours}

    def pickle_functions_by_value(enable=None):
        """pickle_functions_by_value(enable=None) -> whether it was on.

        On (from import on): pickle.dumps, pickle.dump, pickle.Pickler and the Python
        pickler save a function that pickle cannot find by reference (a lambda, a nested
        function, one whose name was rebound) by value, as Stackless does; a function found
        by reference pickles exactly as before. Off: pickle's own are back."""
        was = pickle._Pickler.dispatch.get(types.FunctionType) is save_function
        if enable is None or bool(enable) == was:
            return was
        pickle._Pickler.dispatch[types.FunctionType] = save_function if enable else their_save
        for name in ours:
            setattr(pickle, name, (ours if enable else theirs)[name])
        return was

    pickle_functions_by_value(True)
    return pickle_functions_by_value


pickle_functions_by_value = _make_function_pickling()
del _make_function_pickling
)PY";

PyMethodDef function_methods[] = {
    {"_reduce_function", reduce_function, METH_O,
     "_reduce_function(f) -> how function f pickles by value."},
    {"_function", make_function, METH_VARARGS,
     "_function(module, qualname, digest) -> a function of that code (a pickled function)."},
    {"_function_state", set_function_state, METH_VARARGS,
     "_function_state(f, state): give a pickled function its names, defaults, closure, ..."},
    {"_reducer_override", reducer_override, METH_O,
     "_reducer_override(obj) -> NotImplemented, or obj's reduce value if it is a function "
     "pickle cannot save by reference."},
    {nullptr, nullptr, 0, nullptr}};

}  // namespace

bool add_fast_dumps(PyObject* m) noexcept;  // pickle_dumps.cpp

bool add_function_pickling(PyObject* m) noexcept {
    g_module = m;
    if (PyModule_AddFunctions(m, function_methods) < 0 || !add_fast_dumps(m)) return false;
    PyObject* d = PyModule_GetDict(m);
    PyObject* r = PyRun_String(kInstallSource, Py_file_input, d, d);
    Py_XDECREF(r);
    return r != nullptr;
}

}  // namespace slpy

// generators.cpp — pickling (and copying) of generators, coroutines, async generators and
// coroutine wrappers, by value as Stackless does: a suspended object's frame goes through
// the frame library (frames/frames.hpp: captured, validated and rebuilt on load); a
// finished one becomes a finished object of the same type and name. reducers.cpp
// registers the reducers with copyreg.
//
// Reduced form: stackless._generator(kind, snapshot, name, qualname, extra)
//   kind      0 generator, 1 coroutine, 2 async generator
//   snapshot  the frame library's snapshot of its frame, or None once it finished
//   extra     coroutine: its cr_origin (a tuple, or None);
//             async generator: (hooks_inited, finalizer or None) — the finalizer only with
//             PICKLEFLAGS_PRESERVE_AG_FINALIZER; PICKLEFLAGS_RESET_AG_FINALIZER (on dump or
//             on load) makes the loaded one call the async generator hooks afresh on its
//             first iteration; otherwise a loaded one whose hooks had run runs the hooks
//             in force at load time (firstiter, and their finalizer), as Stackless does;
//             generator: None.
#include "frames/frames.hpp"
#include "module_api.hpp"

namespace slpy {

namespace {

enum Kind : long { kGenerator = 0, kCoroutine = 1, kAsyncGenerator = 2 };

PyGenObject* as_gen(PyObject* o) noexcept {
    return reinterpret_cast<PyGenObject*>(o);
}

long kind_of(PyObject* o) noexcept {
    if (PyGen_CheckExact(o)) return kGenerator;
    if (PyCoro_CheckExact(o)) return kCoroutine;
    if (PyAsyncGen_CheckExact(o)) return kAsyncGenerator;
    return -1;
}

PyObject* g_module = nullptr;  // borrowed: the module's functions keep it alive

// extra of the reduced form (see the top of the file). New reference.
PyObject* extra_state(PyObject* gen, long kind) {
    PyObject* slot = as_gen(gen)->gi_origin_or_finalizer;
    if (kind == kCoroutine) return Py_NewRef(slot != nullptr ? slot : Py_None);
    if (kind != kAsyncGenerator) Py_RETURN_NONE;
    const long flags = pickle_flags();
    const bool inited = as_gen(gen)->gi_hooks_inited && !(flags & kPickleFlagResetAgFinalizer);
    PyObject* finalizer =
        inited && (flags & kPickleFlagPreserveAgFinalizer) && slot != nullptr ? slot : Py_None;
    return Py_BuildValue("(OO)", inited ? Py_True : Py_False, finalizer);
}

PyObject* reduce_generator(PyObject*, PyObject* gen) {
    const long kind = kind_of(gen);
    if (kind < 0) {
        PyErr_Format(PyExc_TypeError, "_reduce_generator: not a generator: %s",
                     Py_TYPE(gen)->tp_name);
        return nullptr;
    }
    ref snapshot = ref::steal(frames::capture_generator(gen));
    if (!snapshot) return nullptr;
    ref make = ref::steal(PyObject_GetAttrString(g_module, "_generator"));
    ref name = ref::steal(PyObject_GetAttrString(gen, "__name__"));
    ref qualname = ref::steal(PyObject_GetAttrString(gen, "__qualname__"));
    ref extra = ref::steal(extra_state(gen, kind));
    if (!make || !name || !qualname || !extra) return nullptr;
    return Py_BuildValue("(O(lOOOO))", make.get(), kind, snapshot.get(), name.get(), qualname.get(),
                         extra.get());
}

// A finished object of `kind`: one of the module's helper functions' objects, run to its
// end (an async generator's hooks marked as run: they are not the helper's business).
PyObject* finished(long kind) {
    static const char* const kHelpers[] = {"_finished_generator", "_finished_coroutine",
                                           "_finished_async_generator"};
    ref helper = ref::steal(PyObject_GetAttrString(g_module, kHelpers[kind]));
    if (!helper) return nullptr;
    PyObject* gen = PyObject_CallNoArgs(helper.get());
    if (gen == nullptr) return nullptr;
    if (kind_of(gen) != kind || as_gen(gen)->gi_frame_state != FRAME_CREATED) {
        Py_DECREF(gen);
        PyErr_SetString(PyExc_SystemError, "stackless: a finished-object helper is broken");
        return nullptr;
    }
    as_gen(gen)->gi_hooks_inited = 1;
    ref step = ref::steal(kind == kAsyncGenerator ? PyObject_CallMethod(gen, "__anext__", nullptr)
                                                  : Py_NewRef(gen));
    ref r = ref::steal(step ? PyObject_CallMethod(step.get(), "send", "O", Py_None) : nullptr);
    if (r || !PyErr_ExceptionMatches(kind == kAsyncGenerator ? PyExc_StopAsyncIteration
                                                             : PyExc_StopIteration)) {
        Py_DECREF(gen);
        if (!PyErr_Occurred())
            PyErr_SetString(PyExc_SystemError, "stackless: a finished-object helper yielded");
        return nullptr;
    }
    PyErr_Clear();
    return gen;
}

// Run the async generator hooks in force for `gen`, as its first iteration would.
int init_hooks_now(PyObject* gen) {
    ref sys = ref::steal(PyImport_ImportModule("sys"));
    ref hooks =
        ref::steal(sys ? PyObject_CallMethod(sys.get(), "get_asyncgen_hooks", nullptr) : nullptr);
    if (!hooks) return -1;
    ref first = ref::steal(PySequence_GetItem(hooks.get(), 0));
    ref fin = ref::steal(PySequence_GetItem(hooks.get(), 1));
    if (!first || !fin) return -1;
    as_gen(gen)->gi_hooks_inited = 1;
    if (fin.get() != Py_None) Py_XSETREF(as_gen(gen)->gi_origin_or_finalizer, Py_NewRef(fin.get()));
    if (first.get() == Py_None) return 0;
    ref r = ref::steal(PyObject_CallOneArg(first.get(), gen));
    return r ? 0 : -1;
}

// Apply `extra` (validated here) to a freshly made object of `kind`.
int apply_extra(PyObject* gen, long kind, PyObject* extra) {
    if (kind == kGenerator) {
        if (extra == Py_None) return 0;
    } else if (kind == kCoroutine) {
        if (extra == Py_None || PyTuple_CheckExact(extra)) {
            Py_XSETREF(as_gen(gen)->gi_origin_or_finalizer,
                       extra == Py_None ? nullptr : Py_NewRef(extra));
            return 0;
        }
    } else if (PyTuple_CheckExact(extra) && PyTuple_GET_SIZE(extra) == 2 &&
               PyBool_Check(PyTuple_GET_ITEM(extra, 0))) {
        PyObject* finalizer = PyTuple_GET_ITEM(extra, 1);
        if (finalizer != Py_None && !PyCallable_Check(finalizer)) {
            PyErr_SetString(frames::restore_error(),
                            "an async generator's pickled finalizer is not callable");
            return -1;
        }
        const long flags = pickle_flags();
        if (PyTuple_GET_ITEM(extra, 0) == Py_False || (flags & kPickleFlagResetAgFinalizer))
            return 0;  // the hooks run at its first iteration
        if ((flags & kPickleFlagPreserveAgFinalizer) && finalizer != Py_None) {
            as_gen(gen)->gi_hooks_inited = 1;
            Py_XSETREF(as_gen(gen)->gi_origin_or_finalizer, Py_NewRef(finalizer));
            return 0;
        }
        return init_hooks_now(gen);
    }
    PyErr_SetString(frames::restore_error(), "malformed extra state of a pickled generator");
    return -1;
}

PyObject* make_generator(PyObject*, PyObject* args) {
    long kind = -1;
    PyObject *snapshot = nullptr, *name = nullptr, *qualname = nullptr, *extra = nullptr;
    if (!PyArg_ParseTuple(args, "lOUUO:_generator", &kind, &snapshot, &name, &qualname, &extra))
        return nullptr;
    if (kind < kGenerator || kind > kAsyncGenerator) {
        PyErr_SetString(frames::restore_error(), "unknown kind of pickled generator");
        return nullptr;
    }
    ref gen =
        ref::steal(snapshot == Py_None ? finished(kind) : frames::rebuild_generator(snapshot));
    if (!gen) return nullptr;
    if (kind_of(gen.get()) != kind) {
        PyErr_SetString(frames::restore_error(),
                        "a pickled generator's frame is of another kind of generator");
        return nullptr;
    }
    if (PyObject_SetAttrString(gen.get(), "__name__", name) < 0 ||
        PyObject_SetAttrString(gen.get(), "__qualname__", qualname) < 0 ||
        apply_extra(gen.get(), kind, extra) < 0)
        return nullptr;
    return gen.release();
}

// A coroutine wrapper (what coroutine.__await__() returns) is its coroutine's __await__()
// again. Its coroutine is not an attribute: CPython's PyCoroWrapper (Objects/genobject.c)
// is a PyObject_HEAD and that pointer, in every version.
struct CoroWrapper {
    PyObject_HEAD PyObject* coroutine;
};

// The type of coroutine wrappers (not exported by CPython), or null with an exception set.
PyTypeObject* coroutine_wrapper_type() {
    static PyTypeObject* type = nullptr;  // kept for good
    if (type != nullptr) return type;
    ref coro = ref::steal(finished(kCoroutine));
    ref wrapper =
        ref::steal(coro ? PyObject_CallMethod(coro.get(), "__await__", nullptr) : nullptr);
    if (!wrapper) return nullptr;
    type = reinterpret_cast<PyTypeObject*>(Py_NewRef(Py_TYPE(wrapper.get())));
    return type;
}

PyObject* reduce_coroutine_wrapper(PyObject*, PyObject* cw) {
    PyTypeObject* type = coroutine_wrapper_type();
    if (type == nullptr) return nullptr;
    if (!Py_IS_TYPE(cw, type)) {
        PyErr_Format(PyExc_TypeError, "_reduce_coroutine_wrapper: not a coroutine wrapper: %s",
                     Py_TYPE(cw)->tp_name);
        return nullptr;
    }
    ref await_name = ref::steal(PyUnicode_FromString("__await__"));
    ref operator_mod = ref::steal(PyImport_ImportModule("operator"));
    if (!await_name || !operator_mod) return nullptr;
    ref caller =
        ref::steal(PyObject_CallMethod(operator_mod.get(), "methodcaller", "O", await_name.get()));
    if (!caller) return nullptr;
    PyObject* coro = reinterpret_cast<CoroWrapper*>(cw)->coroutine;
    return Py_BuildValue("(O(O))", caller.get(), coro);
}

// An async generator's asend()/__anext__() and athrow()/aclose() awaitables: CPython's
// PyAsyncGenASend and PyAsyncGenAThrow (Objects/genobject.c, not exported), read through
// the version's layout (cpython/: the async generator, what the awaitable was made with,
// its state). Reduced to (maker, (agen, given, value, state)): the maker sets the state,
// so copy.copy() (which takes no state setter) copies one as pickle does.

// The asend (athrow: `athrow` true) awaitable type (not exported by CPython), or null
// with an exception set, also when its size is not the version's layout's.
PyTypeObject* awaitable_type(bool athrow) {
    static PyTypeObject* types[2] = {nullptr, nullptr};  // kept for good
    if (types[athrow] != nullptr) return types[athrow];
    ref ag = ref::steal(finished(kAsyncGenerator));
    ref aw = ref::steal(ag ? PyObject_CallMethod(ag.get(), athrow ? "aclose" : "asend",
                                                 athrow ? nullptr : "O", Py_None)
                           : nullptr);
    if (!aw) return nullptr;
    ref closed = ref::steal(PyObject_CallMethod(aw.get(), "close", nullptr));  // never awaited
    if (!closed) return nullptr;
    PyTypeObject* type = Py_TYPE(aw.get());
    if (type->tp_basicsize != cpy::awaitable_size(athrow)) {
        PyErr_Format(PyExc_SystemError,
                     "stackless: %s objects are %zd bytes, not the %zd this build reads",
                     type->tp_name, type->tp_basicsize, cpy::awaitable_size(athrow));
        return nullptr;
    }
    types[athrow] = reinterpret_cast<PyTypeObject*>(Py_NewRef(type));
    return types[athrow];
}

// Is `o` an awaitable of the asend (athrow) type? False with TypeError set if not.
bool is_awaitable(PyObject* o, bool athrow) {
    PyTypeObject* type = awaitable_type(athrow);
    if (type == nullptr) return false;
    if (!Py_IS_TYPE(o, type)) {
        PyErr_Format(PyExc_TypeError, "expected an %s object, not %s", type->tp_name,
                     Py_TYPE(o)->tp_name);
        return false;
    }
    return true;
}

PyObject* reduce_awaitable(PyObject* module, PyObject* o, bool athrow) {
    if (!is_awaitable(o, athrow)) return nullptr;
    ref wrap = ref::steal(PyObject_GetAttrString(module, "_wrap"));
    ref maker =
        ref::steal(wrap ? PyObject_GetAttrString(wrap.get(), athrow ? "async_generator_athrow"
                                                                    : "async_generator_asend")
                        : nullptr);
    if (!maker) return nullptr;
    ref made_with = ref::steal(cpy::awaitable_made_with(o, athrow));
    if (!made_with && PyErr_Occurred()) return nullptr;
    PyObject* agen = cpy::awaitable_agen(o, athrow);
    PyObject* given = made_with ? Py_True : Py_False;
    PyObject* value = made_with ? made_with.get() : Py_None;
    return Py_BuildValue("(O(OOOi))", maker.get(), agen, given, value,
                         cpy::awaitable_state(o, athrow));
}

PyObject* reduce_asend(PyObject* module, PyObject* o) {
    return reduce_awaitable(module, o, false);
}
PyObject* reduce_athrow(PyObject* module, PyObject* o) {
    return reduce_awaitable(module, o, true);
}

// make_awaitable(agen, given, value): agen.asend(value) (athrow: agen.athrow(*value)), or
// agen.__anext__() (aclose()) when not given; the async generator's hooks do not run.
PyObject* make_awaitable(PyObject* args, bool athrow) {
    PyObject *ag = nullptr, *given = nullptr, *value = nullptr;
    if (!PyArg_ParseTuple(args, "O!O!O", &PyAsyncGen_Type, &ag, &PyBool_Type, &given, &value))
        return nullptr;
    if (athrow && given == Py_True && !PyTuple_CheckExact(value)) {
        PyErr_SetString(frames::restore_error(),
                        "an athrow() awaitable's arguments are not a tuple");
        return nullptr;
    }
    const char inited = as_gen(ag)->gi_hooks_inited;
    as_gen(ag)->gi_hooks_inited = 1;  // making it is no iteration of the generator
    PyObject* method = nullptr;
    if (given == Py_True) {
        ref m = ref::steal(PyObject_GetAttrString(ag, athrow ? "athrow" : "asend"));
        method = !m       ? nullptr
                 : athrow ? PyObject_Call(m.get(), value, nullptr)
                          : PyObject_CallOneArg(m.get(), value);
    } else {
        method = PyObject_CallMethod(ag, athrow ? "aclose" : "__anext__", nullptr);
    }
    as_gen(ag)->gi_hooks_inited = inited;
    return method;
}

PyObject* make_asend(PyObject*, PyObject* args) {
    return make_awaitable(args, false);
}
PyObject* make_athrow(PyObject*, PyObject* args) {
    return make_awaitable(args, true);
}

// _set_awaitable_state(aw, (agen, value, state, given)): the awaitable's state.
PyObject* set_awaitable_state(PyObject*, PyObject* args) {
    PyObject *o = nullptr, *state = nullptr;
    if (!PyArg_ParseTuple(args, "OO!", &o, &PyTuple_Type, &state)) return nullptr;
    PyTypeObject* athrow_type = awaitable_type(true);
    if (athrow_type == nullptr) return nullptr;
    const bool athrow = Py_IS_TYPE(o, athrow_type);
    if (!is_awaitable(o, athrow)) return nullptr;
    int st = -1;
    PyObject *ag = nullptr, *value = nullptr, *given = nullptr;
    if (!PyArg_ParseTuple(state, "OOiO", &ag, &value, &st, &given) ||
        ag != cpy::awaitable_agen(o, athrow) || st < 0 || st >= cpy::kAwaitableStates) {
        PyErr_Clear();
        PyErr_SetString(frames::restore_error(), "malformed state of an async generator awaitable");
        return nullptr;
    }
    cpy::set_awaitable_state(o, athrow, st);
    Py_RETURN_NONE;
}

PyMethodDef generator_methods[] = {
    {"_reduce_generator", reduce_generator, METH_O,
     "_reduce_generator(g) -> how a generator, coroutine or async generator pickles."},
    {"_generator", make_generator, METH_VARARGS,
     "_generator(kind, snapshot, name, qualname, extra) -> a pickled generator, rebuilt."},
    {"_reduce_coroutine_wrapper", reduce_coroutine_wrapper, METH_O,
     "_reduce_coroutine_wrapper(w) -> how a coroutine's __await__() pickles."},
    {"_reduce_asend", reduce_asend, METH_O,
     "_reduce_asend(a) -> how an async generator's asend()/__anext__() awaitable pickles."},
    {"_reduce_athrow", reduce_athrow, METH_O,
     "_reduce_athrow(a) -> how an async generator's athrow()/aclose() awaitable pickles."},
    {"_make_asend", make_asend, METH_VARARGS,
     "_make_asend(agen, given, value) -> agen.asend(value), or agen.__anext__()."},
    {"_make_athrow", make_athrow, METH_VARARGS,
     "_make_athrow(agen, given, args) -> agen.athrow(*args), or agen.aclose()."},
    {"_set_awaitable_state", set_awaitable_state, METH_VARARGS,
     "_set_awaitable_state(aw, state): restore a pickled async generator awaitable's state."},
    {nullptr, nullptr, 0, nullptr}};

}  // namespace

bool add_generator_pickling(PyObject* m) noexcept {
    g_module = m;
    return PyModule_AddFunctions(m, generator_methods) == 0;
}

}  // namespace slpy

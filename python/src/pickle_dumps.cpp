// pickle_dumps.cpp — the pickle.dumps that functions.cpp installs: pickle.Pickler's
// subclass with the module's reducer_override, as fast as _pickle.dumps for a small
// object. _pickle.dumps makes a pickler without reducer_override for every call; making
// one of the subclass, and a file for it, every call doubled the time of a small pickle.
// So each (protocol, fix_imports) keeps one pickler writing into a list (its `write` is
// list.append), its memo emptied after each pickle (it keeps nothing alive), reused while
// no other dumps uses it (a __reduce__ that pickles, another thread while this one's
// __reduce__ runs Python code): those get a fresh pickler, as does a call with
// buffer_callback. The bytes are the pickler's own (one write, or the writes joined):
// the same as _pickle.dumps writes (tested).
#include "objects.hpp"

namespace slpy {

namespace {

// After a pickle larger than this, its pickler is dropped: its memo table keeps the size
// the pickle needed.
constexpr Py_ssize_t kKeepPicklerBelow = 16 * 1024;
constexpr int kProtocols = 8;  // more than pickle.HIGHEST_PROTOCOL + 1 (5 since 3.8)

struct Slot {
    PyObject* pickler = nullptr;  // strong
    PyObject* sink = nullptr;     // strong: the list it writes into
    bool busy = false;
};

Slot g_slots[kProtocols][2];         // [protocol][fix_imports]
PyObject* g_pickler_type = nullptr;  // strong: pickle.Pickler's subclass
PyObject* g_sink_type = nullptr;     // strong: a list whose write is append
PyObject* g_fresh = nullptr;         // strong: dumps with a new pickler (any arguments)
long g_default_protocol = 4;
long g_highest_protocol = 5;

void drop(Slot& s) {
    Py_CLEAR(s.pickler);
    Py_CLEAR(s.sink);
}

// The slot for these arguments, or null if the call takes the fresh path.
Slot* slot_for(PyObject* const* args, Py_ssize_t nargs, PyObject* kwnames) {
    PyObject* protocol = nargs > 1 ? args[1] : Py_None;
    bool fix_imports = true;
    const Py_ssize_t nkw = kwnames != nullptr ? PyTuple_GET_SIZE(kwnames) : 0;
    if (nargs < 1 || nargs > 2) return nullptr;
    for (Py_ssize_t i = 0; i < nkw; ++i) {
        PyObject* key = PyTuple_GET_ITEM(kwnames, i);
        PyObject* value = args[nargs + i];
        if (PyUnicode_CompareWithASCIIString(key, "protocol") == 0 && nargs == 1)
            protocol = value;
        else if (PyUnicode_CompareWithASCIIString(key, "fix_imports") == 0 && PyBool_Check(value))
            fix_imports = value == Py_True;
        else if (PyUnicode_CompareWithASCIIString(key, "buffer_callback") != 0 || value != Py_None)
            return nullptr;
    }
    long proto = g_default_protocol;
    if (protocol != Py_None) {
        if (!PyLong_CheckExact(protocol)) return nullptr;
        int overflow = 0;
        proto = PyLong_AsLongAndOverflow(protocol, &overflow);
        if (overflow != 0 || (proto == -1 && PyErr_Occurred())) {
            PyErr_Clear();
            return nullptr;
        }
        if (proto < 0) proto = g_highest_protocol;
    }
    if (proto > g_highest_protocol || proto >= kProtocols) return nullptr;
    return &g_slots[proto][fix_imports ? 1 : 0];
}

// The pickler's writes as one bytes object. New reference, or null with an exception set.
PyObject* written(PyObject* sink) {
    if (PyList_GET_SIZE(sink) == 1) return Py_NewRef(PyList_GET_ITEM(sink, 0));
    ref empty = ref::steal(PyBytes_FromStringAndSize(nullptr, 0));
    return empty ? PyObject_CallMethod(empty.get(), "join", "O", sink) : nullptr;
}

PyObject* fast_dumps(PyObject*, PyObject* const* args, size_t nargsf, PyObject* kwnames) {
    if (g_fresh == nullptr) {
        PyErr_SetString(PyExc_RuntimeError, "stackless._dumps: not set up");
        return nullptr;
    }
    const Py_ssize_t nargs = PyVectorcall_NARGS(nargsf);
    Slot* s = slot_for(args, nargs, kwnames);
    if (s == nullptr || s->busy) return PyObject_Vectorcall(g_fresh, args, nargsf, kwnames);
    s->busy = true;  // before anything that may run Python code (and let another thread in)
    if (s->pickler == nullptr) {
        const auto index = s - &g_slots[0][0];
        s->sink = PyObject_CallNoArgs(g_sink_type);
        ref proto = ref::steal(PyLong_FromLong(static_cast<long>(index / 2)));
        ref kw = ref::steal(Py_BuildValue("{sO}", "fix_imports", index % 2 ? Py_True : Py_False));
        ref posargs = ref::steal(s->sink != nullptr && PyList_Check(s->sink) && proto
                                     ? PyTuple_Pack(2, s->sink, proto.get())
                                     : nullptr);
        s->pickler =
            posargs && kw ? PyObject_Call(g_pickler_type, posargs.get(), kw.get()) : nullptr;
        if (s->pickler == nullptr) {
            drop(*s);
            s->busy = false;
            if (!PyErr_Occurred()) PyErr_SetString(PyExc_TypeError, "stackless._dumps: bad sink");
            return nullptr;
        }
    }
    // Its memo holds every object it pickled: cleared after each pickle, not before the
    // next, so that it keeps nothing alive.
    static PyObject* const kClearMemo = PyUnicode_InternFromString("clear_memo");  // kept
    static PyObject* const kDump = PyUnicode_InternFromString("dump");
    ref done = ref::steal(kClearMemo != nullptr && kDump != nullptr
                              ? PyObject_CallMethodOneArg(s->pickler, kDump, args[0])
                              : nullptr);
    PyObject* out = done ? written(s->sink) : nullptr;
    if (out != nullptr && !PyBytes_Check(out)) {
        Py_CLEAR(out);
        PyErr_SetString(PyExc_TypeError, "stackless._dumps: the pickler wrote no bytes");
    }
    bool keep = out != nullptr && PyBytes_GET_SIZE(out) < kKeepPicklerBelow;
    if (keep) {
        ref cleared = ref::steal(PyObject_CallMethodNoArgs(s->pickler, kClearMemo));
        keep = cleared && PyList_SetSlice(s->sink, 0, PyList_GET_SIZE(s->sink), nullptr) == 0;
        if (!keep) Py_CLEAR(out);
    }
    if (!keep) drop(*s);
    s->busy = false;
    return out;
}

// _set_dumps(pickler_type, sink_type, fresh_dumps, default_protocol, highest_protocol)
PyObject* set_dumps(PyObject*, PyObject* args) {
    PyObject *pickler = nullptr, *sink = nullptr, *fresh = nullptr;
    long dflt = 0, highest = 0;
    if (!PyArg_ParseTuple(args, "OOOll:_set_dumps", &pickler, &sink, &fresh, &dflt, &highest))
        return nullptr;
    if (dflt < 0 || highest < dflt || highest >= kProtocols) {
        PyErr_SetString(PyExc_ValueError, "_set_dumps: unexpected protocol numbers");
        return nullptr;
    }
    for (auto& row : g_slots)
        for (Slot& s : row)
            if (!s.busy) drop(s);
    Py_XSETREF(g_pickler_type, Py_NewRef(pickler));
    Py_XSETREF(g_sink_type, Py_NewRef(sink));
    Py_XSETREF(g_fresh, Py_NewRef(fresh));
    g_default_protocol = dflt;
    g_highest_protocol = highest;
    Py_RETURN_NONE;
}

PyMethodDef dumps_methods[] = {
    {"_dumps", reinterpret_cast<PyCFunction>(reinterpret_cast<void (*)()>(fast_dumps)),
     METH_FASTCALL | METH_KEYWORDS,
     "dumps($module, /, obj, protocol=None, *, fix_imports=True, buffer_callback=None)\n--\n\n"
     "Return the pickled representation of the object as a bytes object (pickle.dumps, "
     "with functions pickle cannot find by reference pickled by value)."},
    {"_set_dumps", set_dumps, METH_VARARGS,
     "_set_dumps(pickler_type, sink_type, fresh_dumps, default_protocol, highest_protocol): "
     "what _dumps uses."},
    {nullptr, nullptr, 0, nullptr}};

}  // namespace

bool add_fast_dumps(PyObject* m) noexcept {
    return PyModule_AddFunctions(m, dumps_methods) == 0;
}

}  // namespace slpy

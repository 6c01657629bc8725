// capture.cpp — turn a restorable chain of live frames into a snapshot tuple.
#include "frames.hpp"
#include "internal.hpp"

namespace slpy::frames {

PyObject* module_name(_PyInterpreterFrame* f) {
    PyObject* m = frame_func(f)->func_module;
    if (m != nullptr && PyUnicode_Check(m)) return Py_NewRef(m);
    PyObject* n = PyDict_GetItemString(f->f_globals, "__name__");  // borrowed
    if (n != nullptr && PyUnicode_Check(n)) return Py_NewRef(n);
    return raise_unpicklable("cannot capture frame " + describe(f) +
                             ": its function belongs to no importable module");
}

PyObject* with_function_of(PyObject* head, _PyInterpreterFrame* f) {
    auto info = code_info(frame_code(f));
    if (info == nullptr) return nullptr;
    PyObject* module = module_name(f);
    if (module == nullptr) return nullptr;
    PyObject* names = Py_BuildValue("(NOO)", module, frame_code(f)->co_qualname, info->digest);
    PyObject* all = names != nullptr ? PySequence_Concat(head, names) : nullptr;
    Py_XDECREF(names);
    return all;
}

namespace {

// A cell as a list of its content, the same list for the same cell (pickle keeps the
// sharing between frames: an outer frame's cell and an inner closure's free variable).
PyObject* cell_as_list(PyObject* cell, PyObject* memo) {
    PyObject* key = PyLong_FromVoidPtr(cell);
    if (key == nullptr) return nullptr;
    PyObject* list = PyDict_GetItemWithError(memo, key);  // borrowed
    if (list != nullptr || PyErr_Occurred()) {
        Py_DECREF(key);
        return Py_XNewRef(list);
    }
    PyObject* content = PyCell_GET(cell);
    list = content != nullptr ? PyList_New(1) : PyList_New(0);
    if (list != nullptr && content != nullptr) PyList_SET_ITEM(list, 0, Py_NewRef(content));
    // Keyed by address: cells are unhashable, and they outlive the memo (frames hold them).
    if (list != nullptr && PyDict_SetItem(memo, key, list) < 0) Py_CLEAR(list);
    Py_DECREF(key);
    return list;
}

}  // namespace

PyObject* capture_frame(const FrameAt& at, PyObject* memo) {
    _PyInterpreterFrame* f = at.frame;
    PyCodeObject* co = frame_code(f);
    const int nlocals = co->co_nlocalsplus;
    const int n = nlocals + at.site.kept;
    PyObject* values = PyTuple_New(n);
    PyObject* nulls = PyList_New(0);
    if (values == nullptr || nulls == nullptr) goto fail;
    for (int i = 0; i < n; ++i) {
        PyObject* v = frame::slot_value(f, i);  // new reference
        if (v == nullptr && PyErr_Occurred()) goto fail;
        const int kind =
            i < nlocals ? static_cast<uint8_t>(PyBytes_AS_STRING(co->co_localspluskinds)[i]) : 0;
        PyObject* item = nullptr;
        if (kind & (CO_FAST_CELL | CO_FAST_FREE)) {
            if (v == nullptr || !PyCell_Check(v)) {
                Py_XDECREF(v);
                raise_unpicklable("cannot capture frame " + describe(f) + ": cell variable " +
                                  std::to_string(i) + " is not a cell");
                goto fail;
            }
            item = memo != nullptr ? cell_as_list(v, memo) : Py_NewRef(v);
            Py_DECREF(v);
        } else if (v == nullptr) {
            PyObject* index = PyLong_FromLong(i);
            const int rc = index != nullptr ? PyList_Append(nulls, index) : -1;
            Py_XDECREF(index);
            if (rc < 0) goto fail;
            item = Py_NewRef(Py_None);
        } else {
            item = v;
        }
        if (item == nullptr) goto fail;
        PyTuple_SET_ITEM(values, i, item);
    }
    {
        PyObject* module = module_name(f);
        if (module == nullptr) goto fail;
        PyObject* nulls_t = PyList_AsTuple(nulls);
        Py_DECREF(nulls);
        nulls = nullptr;
        if (nulls_t == nullptr) {
            Py_DECREF(module);
            goto fail;
        }
        // A preempted frame says so in a seventh item, and so does a class call waiting
        // for __init__; a plain call site needs none.
        if (at.site.preempted())
            return Py_BuildValue("(NOOiNNs)", module, co->co_qualname, at.info->digest,
                                 at.site.index, values, nulls_t, kPreempted);
        if (at.generator != nullptr)
            return Py_BuildValue("(NOOiNN(sO))", module, co->co_qualname, at.info->digest,
                                 at.site.index, values, nulls_t, kGenerator, at.generator);
        if (at.init_object != nullptr)
            return Py_BuildValue("(NOOiNN(sO))", module, co->co_qualname, at.info->digest,
                                 at.site.index, values, nulls_t, kInit, at.init_object);
        return Py_BuildValue("(NOOiNN)", module, co->co_qualname, at.info->digest, at.site.index,
                             values, nulls_t);  // consumes module, values and nulls_t ("N")
    }
fail:
    Py_XDECREF(values);
    Py_XDECREF(nulls);
    return nullptr;
}

PyObject* make_snapshot(PyObject* handled_exc, PyObject* frames) {
    PyObject* handled = handled_exc != nullptr && handled_exc != Py_None ? handled_exc : Py_None;
    return Py_BuildValue("(si(ii)lON)", "slp.frames", kFormatVersion, PY_MAJOR_VERSION,
                         PY_MINOR_VERSION, PyImport_GetMagicNumber(), handled, frames);
}

PyObject* capture(PyThreadState* ts, _PyInterpreterFrame* innermost, _PyInterpreterFrame* stop,
                  PyObject* handled_exc, int innermost_depth, Innermost how) {
    std::vector<FrameAt> chain;
    std::string why;
    const int r = walk(ts, innermost, stop, how, chain, &why);
    if (r < 0) return nullptr;
    if (r == 0) return raise_unpicklable("cannot pickle the frames: " + why);
    if (how == Innermost::kInCall && innermost_depth >= 0 &&
        innermost_depth != chain.front().site.depth_before) {
        PyErr_Format(PyExc_SystemError,
                     "slp frames: stack analysis says depth %d before the call in %s, the "
                     "interpreter has %d",
                     chain.front().site.depth_before, describe(innermost).c_str(), innermost_depth);
        return nullptr;
    }
    PyObject* memo = PyDict_New();
    const auto n = static_cast<Py_ssize_t>(chain.size());
    PyObject* frames = memo != nullptr ? PyTuple_New(n) : nullptr;
    if (frames == nullptr) {
        Py_XDECREF(memo);
        return nullptr;
    }
    for (Py_ssize_t k = 0; k < n; ++k) {
        // The snapshot lists the base first; the walk went innermost first.
        PyObject* fr = capture_frame(chain[static_cast<size_t>(n - 1 - k)], memo);
        if (fr == nullptr) {
            Py_DECREF(frames);
            Py_DECREF(memo);
            return nullptr;
        }
        PyTuple_SET_ITEM(frames, k, fr);
    }
    Py_DECREF(memo);
    return make_snapshot(handled_exc, frames);
}

}  // namespace slpy::frames

// frame_references.cpp — a running frame of a pickled tasklet pickles as that frame of
// the tasklet. A traceback among a suspended tasklet's values holds one of the tasklet's
// own frames (an exception raised in a `with` body reaches __exit__, which switches
// away); after loading, that traceback's frame is the restored tasklet's frame object
// (the frame library's (g): frames.hpp), so identity, f_lineno and f_locals hold and the
// exception can be raised again with its traceback.
//
// reduce_frame (reducers.cpp) pickles a running frame of a suspended tasklet of this
// thread as
//   _tasklet_frame(mark, tasklet, position, module, qualname, digest, mark)
// and the tasklet must be in the pickle before it (it is, when the frame is reached from
// the tasklet's own state). The pickler reduces the first mark, which names the tasklet
// (_frame_ref_pending), then the tasklet: a reference to it if it was pickled already;
// otherwise the tasklet's __reduce__ runs now, sees itself named and refuses, as any other
// running frame is refused; then the second mark (_frame_ref_pending(None)). Both marks
// load as None; copy.copy() of such a frame hands them to _tasklet_frame as they are,
// which refuses it.
//
// Loading: if the tasklet's state is still to come (the frame was reached from inside
// it), a stand-in frame object is kept with the tasklet until its __setstate__ rebuilds
// the frames and adopts it; if its frames were rebuilt already, it is that frame's frame
// object.
#include "frame_references.hpp"

#include <unordered_map>
#include <vector>

#include "frames/frames.hpp"
#include "runtime.hpp"

namespace slpy {

namespace {

// The tasklet the pickler is saving as a running frame's (borrowed: compared only).
thread_local const TaskletObject* g_pending = nullptr;

// Stand-ins made while a tasklet's state was loading: a list of (position, frame object)
// per tasklet, until its __setstate__ (strong; guarded by the GIL).
std::unordered_map<const TaskletObject*, PyObject*> g_loaded;

constexpr const char* kRefused =
    "cannot pickle a running frame of a suspended tasklet without that tasklet: it pickles "
    "as the tasklet's frame, reached from the tasklet's own state or after the tasklet in "
    "the same pickle";

// _tasklet_frame_ref(frame) -> (tasklet, position, module, qualname, digest) if `frame`
// is one of the frames a pickle of a suspended tasklet of this thread holds, else None.
PyObject* tasklet_frame_ref(PyObject*, PyObject* frame) {
    if (!PyFrame_Check(frame)) {
        PyErr_Format(PyExc_TypeError, "_tasklet_frame_ref: not a frame: %s",
                     Py_TYPE(frame)->tp_name);
        return nullptr;
    }
    thread_runtime* rt = thread_runtime::current_if_any();
    if (rt == nullptr) Py_RETURN_NONE;
    // Held first: looking may allocate, and a collection may end tasklets.
    std::vector<ref> tasklets;
    try {
        for (TaskletObject* t = rt->alive_head(); t != nullptr; t = t->alive_next)
            tasklets.push_back(ref::borrow(reinterpret_cast<PyObject*>(t)));
    } catch (...) {
        return PyErr_NoMemory();
    }
    for (const ref& t : tasklets) {
        ref where =
            ref::steal(locate_tasklet_frame(reinterpret_cast<TaskletObject*>(t.get()), frame));
        if (!where) return nullptr;
        if (where.get() == Py_None) continue;
        ref head = ref::steal(PyTuple_Pack(1, t.get()));
        return head ? PySequence_Concat(head.get(), where.get()) : nullptr;
    }
    Py_RETURN_NONE;
}

// _frame_ref_pending(tasklet or None): the tasklet the pickler saves next is a running
// frame's (None: that is over).
PyObject* frame_ref_pending(PyObject*, PyObject* t) {
    if (t != Py_None && !is_tasklet(t)) {
        PyErr_SetString(PyExc_TypeError, "_frame_ref_pending: not a tasklet");
        return nullptr;
    }
    g_pending = t != Py_None ? reinterpret_cast<TaskletObject*>(t) : nullptr;
    Py_RETURN_NONE;
}

// A stand-in for frame `position` of `t`, whose state loads later: kept until then.
PyObject* keep_stand_in(TaskletObject* t, Py_ssize_t position, PyObject* module, PyObject* qualname,
                        PyObject* digest) {
    ref frame = ref::steal(frames::placeholder_frame(module, qualname, digest));
    if (!frame) return nullptr;
    ref entry = ref::steal(Py_BuildValue("(nO)", position, frame.get()));
    if (!entry) return nullptr;
    PyObject*& list = g_loaded[t];
    if (list == nullptr && (list = PyList_New(0)) == nullptr) {
        g_loaded.erase(t);
        return nullptr;
    }
    if (PyList_Append(list, entry.get()) < 0) return nullptr;
    return frame.release();
}

// _tasklet_frame(mark, tasklet, position, module, qualname, digest, mark) -> the frame
// object of that frame of the tasklet (loading a pickle: the marks are None).
PyObject* tasklet_frame(PyObject*, PyObject* args) {
    PyObject *begin, *t, *module, *qualname, *digest, *end;
    Py_ssize_t position = 0;
    if (!PyArg_ParseTuple(args, "OOnOOOO:_tasklet_frame", &begin, &t, &position, &module, &qualname,
                          &digest, &end))
        return nullptr;
    if (begin != Py_None || end != Py_None) {
        g_pending = nullptr;
        PyErr_SetString(PyExc_TypeError,
                        "cannot copy a running frame (a suspended tasklet's frame pickles with "
                        "its tasklet)");
        return nullptr;
    }
    if (!is_tasklet(t) || position < 0) {
        PyErr_SetString(frames::restore_error(),
                        "a pickled running frame needs its tasklet and its position among the "
                        "tasklet's frames");
        return nullptr;
    }
    auto* tasklet = reinterpret_cast<TaskletObject*>(t);
    if (tasklet->chain != nullptr && !tasklet->chain_started)
        return frames::chain_frame_object(tasklet->chain, position, module, qualname, digest);
    if ((tasklet->core && tasklet->core.alive()) || tasklet->chain != nullptr) {
        PyErr_SetString(frames::restore_error(),
                        "a pickled running frame's tasklet is alive, not restored from the "
                        "pickle");
        return nullptr;
    }
    return keep_stand_in(tasklet, position, module, qualname, digest);
}

PyMethodDef frame_reference_methods[] = {
    {"_tasklet_frame_ref", tasklet_frame_ref, METH_O,
     "_tasklet_frame_ref(frame) -> (tasklet, position, module, qualname, digest) or None."},
    {"_frame_ref_pending", frame_ref_pending, METH_O,
     "_frame_ref_pending(tasklet or None): the tasklet a pickled running frame names."},
    {"_tasklet_frame", tasklet_frame, METH_VARARGS,
     "_tasklet_frame(None, tasklet, position, module, qualname, digest, None) -> a pickled "
     "running frame of a tasklet."},
    {nullptr, nullptr, 0, nullptr}};

}  // namespace

bool add_frame_references(PyObject* m) noexcept {
    return PyModule_AddFunctions(m, frame_reference_methods) == 0;
}

bool refused_as_frame_ref(const TaskletObject* t) {
    if (g_pending != t) return false;
    g_pending = nullptr;
    PyErr_SetString(PyExc_TypeError, kRefused);
    return true;
}

PyObject* take_loaded_frames(const TaskletObject* t) noexcept {
    if (g_loaded.empty()) return nullptr;
    auto it = g_loaded.find(t);
    if (it == g_loaded.end()) return nullptr;
    PyObject* list = it->second;
    g_loaded.erase(it);
    return list;
}

int adopt_loaded_frames(TaskletObject* t, PyObject* loaded) {
    for (Py_ssize_t i = 0; i < PyList_GET_SIZE(loaded); ++i) {
        PyObject* entry = PyList_GET_ITEM(loaded, i);
        const Py_ssize_t position = PyLong_AsSsize_t(PyTuple_GET_ITEM(entry, 0));
        if (frames::adopt_frame_object(t->chain, position, PyTuple_GET_ITEM(entry, 1)) < 0)
            return -1;
    }
    return 0;
}

int visit_loaded_frames(const TaskletObject* t, visitproc visit, void* arg) {
    if (g_loaded.empty()) return 0;
    auto it = g_loaded.find(t);
    if (it != g_loaded.end()) Py_VISIT(it->second);
    return 0;
}

}  // namespace slpy

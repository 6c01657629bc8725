// frame_objects.cpp — frame objects of a chain's frames across a pickle (frames.hpp, (g)):
// where one is among a chain's frames, a stand-in made when loading, and making that
// stand-in the frame object of the rebuilt frame.
#include "chain.hpp"
#include "frames.hpp"
#include "internal.hpp"
#include "resolve.hpp"

namespace slpy::frames {

namespace {

// The interpreter frame a frame object shows (the one it runs, or its own data).
_PyInterpreterFrame* shown(PyObject* frame) noexcept {
    return reinterpret_cast<PyFrameObject*>(frame)->f_frame;
}

_PyInterpreterFrame* own_data(PyObject* frame) noexcept {
    return reinterpret_cast<_PyInterpreterFrame*>(
        reinterpret_cast<PyFrameObject*>(frame)->_f_frame_data);
}

// (position, module, qualname, digest) of frame `f` at `position` of its snapshot: what
// capture_frame() records of it.
PyObject* identity(_PyInterpreterFrame* f, Py_ssize_t position) {
    PyObject* head = Py_BuildValue("(n)", position);
    PyObject* id = head != nullptr ? with_function_of(head, f) : nullptr;
    Py_XDECREF(head);
    return id;
}

bool is_frame(PyObject* frame) {
    if (PyFrame_Check(frame)) return true;
    PyErr_Format(PyExc_TypeError, "not a frame: %s", Py_TYPE(frame)->tp_name);
    return false;
}

// Does the chain's frame `f` run the function (module, qualname, digest) names?
int same_function(_PyInterpreterFrame* f, PyObject* module, PyObject* qualname, PyObject* digest) {
    PyObject* id = identity(f, 0);
    if (id == nullptr) return -1;
    int same = 1;
    PyObject* want[] = {module, qualname, digest};
    for (Py_ssize_t k = 0; same == 1 && k < 3; ++k) {
        same = PyObject_RichCompareBool(PyTuple_GET_ITEM(id, k + 1), want[k], Py_EQ);
        if (same == 1 && !Py_IS_TYPE(PyTuple_GET_ITEM(id, k + 1), Py_TYPE(want[k]))) same = 0;
    }
    Py_DECREF(id);
    return same;
}

// The chain's frame at `position` if it has not run yet; null with FrameRestoreError set.
_PyInterpreterFrame* pending_frame(const Chain* chain, Py_ssize_t position) {
    // (A frame of the thread: a running generator's belongs to the generator.)
    if (chain->started || position < 0 ||
        position >= static_cast<Py_ssize_t>(chain->frames.size()) ||
        chain->state[static_cast<size_t>(position)] != FrameState::kPending ||
        chain->frames[static_cast<size_t>(position)] == nullptr ||
        !frame::owned_by_thread(chain->frames[static_cast<size_t>(position)])) {
        raise_restore("a pickled frame object names frame " + std::to_string(position) +
                      " of a tasklet, which has no such frame waiting to run");
        return nullptr;
    }
    return chain->frames[static_cast<size_t>(position)];
}

}  // namespace

PyObject* locate_frame(PyThreadState* ts, _PyInterpreterFrame* innermost, _PyInterpreterFrame* stop,
                       Innermost how, PyObject* frame) {
    if (!is_frame(frame)) return nullptr;
    _PyInterpreterFrame* target = shown(frame);
    // Among the frames at all? (The links are valid while the frames are suspended: the
    // GC and f_back follow them too.) Only then is the chain analysed.
    bool linked = false;
    for (_PyInterpreterFrame* f = innermost; f != nullptr && f != stop && !linked; f = f->previous)
        linked = f == target;
    if (!linked || !frame::owned_by_thread(target)) Py_RETURN_NONE;
    std::vector<FrameAt> chain;
    std::string why;
    const int r = walk(ts, innermost, stop, how, chain, &why);
    if (r < 0) return nullptr;
    const auto n = static_cast<Py_ssize_t>(chain.size());
    for (Py_ssize_t k = 0; r > 0 && k < n; ++k)
        if (chain[static_cast<size_t>(k)].frame == target) return identity(target, n - 1 - k);
    Py_RETURN_NONE;
}

PyObject* locate_frame(const Chain* chain, PyObject* frame) {
    if (!is_frame(frame)) return nullptr;
    _PyInterpreterFrame* target = shown(frame);
    for (size_t i = 0; !chain->started && i < chain->frames.size(); ++i)
        if (chain->frames[i] == target && chain->state[i] == FrameState::kPending &&
            frame::owned_by_thread(target))
            return identity(target, static_cast<Py_ssize_t>(i));
    Py_RETURN_NONE;
}

PyObject* placeholder_frame(PyObject* module, PyObject* qualname, PyObject* digest) {
    if (!PyUnicode_CheckExact(module) || !PyUnicode_CheckExact(qualname) ||
        !PyBytes_CheckExact(digest) || PyBytes_GET_SIZE(digest) != 16)
        return raise_restore("a pickled frame object's function has parts of the wrong type");
    Resolved fn;
    if (resolve(module, qualname, digest, fn) < 0) return nullptr;
    if (const char* bad = unsupported_code(reinterpret_cast<PyCodeObject*>(fn.code)))
        return raise_restore("a pickled frame object's function " + std::string(bad));
    return reinterpret_cast<PyObject*>(PyFrame_New(
        PyThreadState_Get(), reinterpret_cast<PyCodeObject*>(fn.code), fn.globals, nullptr));
}

int adopt_frame_object(Chain* chain, Py_ssize_t position, PyObject* frame) {
    _PyInterpreterFrame* f = pending_frame(chain, position);
    if (f == nullptr) return -1;
    if (!PyFrame_Check(frame) || shown(frame) != own_data(frame) ||
        own_data(frame)->owner != FRAME_OWNED_BY_FRAME_OBJECT ||
        reinterpret_cast<PyFrameObject*>(frame)->f_back != nullptr)
        return raise_restore("a pickled frame object is not a stand-in for a tasklet's frame"), -1;
    if (f->frame_obj != nullptr)
        return raise_restore("frame " + std::to_string(position) +
                             " of a tasklet has two frame objects in the pickle"),
               -1;
    if (frame_code(own_data(frame)) != frame_code(f))
        return raise_restore("a pickled frame object runs other code than frame " +
                             std::to_string(position) + " of its tasklet"),
               -1;
    // Its own data (a function of the code, the code; no locals) is dropped: from now on
    // it shows the rebuilt frame, as a frame object of a running frame does, and takes
    // the frame's data over when the frame is cleared (clear_frame()).
    frame::drop_references(own_data(frame));
    reinterpret_cast<PyFrameObject*>(frame)->f_frame = f;
    f->frame_obj = reinterpret_cast<PyFrameObject*>(Py_NewRef(frame));
    return 0;
}

PyObject* chain_frame_object(Chain* chain, Py_ssize_t position, PyObject* module,
                             PyObject* qualname, PyObject* digest) {
    _PyInterpreterFrame* f = pending_frame(chain, position);
    if (f == nullptr) return nullptr;
    if (f->frame_obj != nullptr) {
        const int same = same_function(f, module, qualname, digest);
        if (same < 0) return nullptr;
        if (same == 0)
            return raise_restore("a pickled frame object names another function than frame " +
                                 std::to_string(position) + " of its tasklet runs");
        return Py_NewRef(reinterpret_cast<PyObject*>(f->frame_obj));
    }
    PyObject* frame = placeholder_frame(module, qualname, digest);
    if (frame == nullptr) return nullptr;
    if (adopt_frame_object(chain, position, frame) < 0) Py_CLEAR(frame);
    return frame;
}

}  // namespace slpy::frames

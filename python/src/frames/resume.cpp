// resume.cpp — run rebuilt frames, innermost first, each by _PyEval_EvalFrameDefault as
// an entry frame (the scheme of docs/cpython311.md), and clear them as CPython's
// _PyFrame_Clear would (not exported, so reimplemented with its take_ownership).
#include <algorithm>
#include <cstring>
#include <vector>

#include "chain.hpp"
#include "frames.hpp"
#include "internal.hpp"

namespace slpy::frames {

namespace {

// Frames resume() is evaluating now, on this thread, other than a chain's base: entry
// frames whose caller is the next frame of their chain (no C code between them).
thread_local std::vector<_PyInterpreterFrame*> g_driven;

// CPython's take_ownership (Python/frame.c): a frame object outlives the frame, so it
// receives a copy of the frame's data and its f_back link.
void take_ownership(PyFrameObject* fo, _PyInterpreterFrame* f) {
    if (fo->f_back == nullptr && f->previous != nullptr) {
        PyFrameObject* back = PyFrame_GetBack(fo);  // new reference, made while linked
        if (back == nullptr) PyErr_Clear();
        fo->f_back = back;
    }
    const size_t size = static_cast<size_t>(reinterpret_cast<char*>(&f->localsplus[f->stacktop]) -
                                            reinterpret_cast<char*>(f));
    std::memcpy(fo->_f_frame_data, f, size);
    auto* owned = reinterpret_cast<_PyInterpreterFrame*>(fo->_f_frame_data);
    fo->f_frame = owned;
    owned->owner = FRAME_OWNED_BY_FRAME_OBJECT;
    owned->previous = nullptr;
    if (!PyObject_GC_IsTracked(reinterpret_cast<PyObject*>(fo)))
        PyObject_GC_Track(reinterpret_cast<PyObject*>(fo));
}

}  // namespace

bool driven_inner_frame(_PyInterpreterFrame* f) noexcept {
    return std::find(g_driven.begin(), g_driven.end(), f) != g_driven.end();
}

_PyInterpreterFrame* allocate_frame(PyCodeObject* code) {
    const size_t slots = FRAME_SPECIALS_SIZE + static_cast<size_t>(code->co_nlocalsplus) +
                         static_cast<size_t>(code->co_stacksize);
    auto* f = static_cast<_PyInterpreterFrame*>(PyMem_Calloc(slots, sizeof(PyObject*)));
    if (f == nullptr) PyErr_NoMemory();
    return f;
}

void clear_frame(_PyInterpreterFrame* f) {
    // Finalizers may run below: keep a pending exception out of their way.
    PyObject *t = nullptr, *v = nullptr, *tb = nullptr;
    PyErr_Fetch(&t, &v, &tb);
    if (PyFrameObject* fo = f->frame_obj) {
        f->frame_obj = nullptr;
        if (Py_REFCNT(fo) > 1) {
            take_ownership(fo, f);  // the frame object now owns the references
            Py_DECREF(fo);
            PyMem_Free(f);
            PyErr_Restore(t, v, tb);
            return;
        }
        Py_DECREF(fo);
    }
    for (int i = 0; i < f->stacktop; ++i) Py_XDECREF(f->localsplus[i]);
    Py_XDECREF(f->f_locals);
    Py_XDECREF(f->f_func);
    Py_XDECREF(f->f_code);
    PyMem_Free(f);
    PyErr_Restore(t, v, tb);
}

PyObject* resume(Chain* chain, PyObject* value) {
    if (chain->started) {
        PyErr_SetString(PyExc_RuntimeError, "these frames were already resumed");
        return nullptr;
    }
    if (value == nullptr && !PyErr_Occurred()) {
        PyErr_SetString(PyExc_SystemError, "slp frames: resume() to raise, but no exception set");
        return nullptr;
    }
    chain->started = true;
    PyThreadState* ts = PyThreadState_Get();
    _PyInterpreterFrame* below = ts->cframe->current_frame;
    chain->frames.front()->previous = below;  // the base's caller, for f_back and walks

    // The snapshot's handled exception is the thread's while the frames run.
    PyObject* saved_exc = ts->exc_info->exc_value;
    ts->exc_info->exc_value = Py_NewRef(chain->handled);

    PyObject* result = Py_XNewRef(value);
    const auto n = static_cast<int>(chain->frames.size());
    for (int i = n - 1; i >= 0; --i) {
        _PyInterpreterFrame* f = chain->frames[static_cast<size_t>(i)];
        // The frame's caller: the next frame of the chain, or whoever called resume().
        // _PyEval_EvalFrameDefault links f->previous to the current frame.
        _PyCFrame* cf = PyThreadState_Get()->cframe;
        cf->current_frame = i > 0 ? chain->frames[static_cast<size_t>(i - 1)] : below;
        f->previous = cf->current_frame;
        const bool raising = result == nullptr;
        if (!raising) f->localsplus[f->stacktop++] = result;  // the call's result, stolen
        result = nullptr;
        if (i > 0) g_driven.push_back(f);
        chain->state[static_cast<size_t>(i)] = FrameState::kRunning;
        result = _PyEval_EvalFrameDefault(PyThreadState_Get(), f, raising ? 1 : 0);
        if (i > 0) g_driven.erase(std::find(g_driven.begin(), g_driven.end(), f));
        PyThreadState_Get()->cframe->current_frame = below;
        chain->state[static_cast<size_t>(i)] = FrameState::kDone;
        chain->frames[static_cast<size_t>(i)] = nullptr;
        clear_frame(f);
    }

    ts = PyThreadState_Get();
    PyObject* ours = ts->exc_info->exc_value;
    ts->exc_info->exc_value = saved_exc;
    Py_XDECREF(ours);
    return result;
}

int traverse(const Chain* chain, visitproc visit, void* arg) {
    Py_VISIT(chain->handled);
    for (size_t i = 0; i < chain->frames.size(); ++i) {
        _PyInterpreterFrame* f = chain->frames[i];
        if (f == nullptr || chain->state[i] != FrameState::kPending) continue;
        Py_VISIT(f->frame_obj);
        Py_VISIT(f->f_locals);
        Py_VISIT(f->f_func);
        Py_VISIT(f->f_code);
        for (int k = 0; k < f->stacktop; ++k) Py_VISIT(f->localsplus[k]);
    }
    return 0;
}

void destroy(Chain* chain) noexcept {
    if (chain == nullptr) return;
    for (size_t i = 0; i < chain->frames.size(); ++i) {
        _PyInterpreterFrame* f = chain->frames[i];
        // A running frame is in use on some C stack: leak it rather than free it.
        if (f != nullptr && chain->state[i] == FrameState::kPending) clear_frame(f);
    }
    Py_XDECREF(chain->handled);
    delete chain;
}

}  // namespace slpy::frames

// resume.cpp — run rebuilt frames, innermost first, each by _PyEval_EvalFrameDefault as
// if C code had called it (the scheme of docs/cpython311.md; frame::evaluate() is how the
// running version does it), and clear frames that never ran as CPython's _PyFrame_Clear
// would (not exported, so reimplemented with its take_ownership).
#include <algorithm>
#include <cstring>
#include <utility>
#include <vector>

#include "chain.hpp"
#include "frames.hpp"
#include "internal.hpp"

namespace slpy::frames {

namespace {

// Frames resume() is evaluating now, on this thread, other than a chain's base: entry
// frames whose caller is the next frame of their chain (no C code between them).
thread_local std::vector<std::pair<_PyInterpreterFrame*, DrivenCall>> g_driven;

auto find_driven(_PyInterpreterFrame* f) noexcept {
    return std::find_if(g_driven.begin(), g_driven.end(),
                        [f](const auto& d) { return d.first == f; });
}

// CPython's take_ownership (Python/frame.c): a frame object outlives the frame, so it
// receives a copy of the frame's data and its f_back link.
void take_ownership(PyFrameObject* fo, _PyInterpreterFrame* f) {
    if (fo->f_back == nullptr && f->previous != nullptr) {
        PyFrameObject* back = PyFrame_GetBack(fo);  // new reference, made while linked
        if (back == nullptr) PyErr_Clear();
        fo->f_back = back;
    }
    std::memcpy(static_cast<void*>(fo->_f_frame_data), f, frame::used_bytes(f));
    auto* owned = reinterpret_cast<_PyInterpreterFrame*>(fo->_f_frame_data);
    cpy::frame_moved(owned, reinterpret_cast<char*>(owned) - reinterpret_cast<char*>(f));
    fo->f_frame = owned;
    owned->owner = FRAME_OWNED_BY_FRAME_OBJECT;
    owned->previous = nullptr;
    if (!PyObject_GC_IsTracked(reinterpret_cast<PyObject*>(fo)))
        PyObject_GC_Track(reinterpret_cast<PyObject*>(fo));
}

// What a class call returns once its __init__ returned `r` (stolen; null: it raised):
// type_call's rule, slot_tp_init's check. `obj` (borrowed) is null for a plain call.
PyObject* complete_init(PyObject* r, PyObject* obj) {
    if (obj == nullptr || r == nullptr) return r;
    if (r != Py_None) {
        PyErr_Format(PyExc_TypeError, "__init__() should return None, not '%.200s'",
                     Py_TYPE(r)->tp_name);
        Py_DECREF(r);
        return nullptr;
    }
    Py_DECREF(r);
    return Py_NewRef(obj);
}

// Run the running generator `gen` of a restored chain's frame as the FOR_ITER or SEND
// running it does, its suspended call returning `value` (stolen; null: raising the
// exception set), its frame's caller `caller`. Returns what it yields (new reference), or
// null: with `returned` set and its return value in `returned_value` (new reference) when
// it returned, else with its exception set.
PyObject* run_generator(PyObject* gen, _PyInterpreterFrame* caller, PyObject* value, bool& returned,
                        PyObject*& returned_value) {
    returned = false;
    returned_value = nullptr;
    // It awaited this moment running; now it can be resumed (it runs again at once).
    reinterpret_cast<PyGenObject*>(gen)->gi_frame_state = FRAME_SUSPENDED;
    PyThreadState* ts = PyThreadState_Get();
    _PyInterpreterFrame* saved = frame::current(ts);
    frame::set_current(ts, caller);
    PyObject* out = nullptr;
    if (value != nullptr) {
        // The value goes onto the generator's stack as its call's result.
        if (PyIter_Send(gen, value, &out) == PYGEN_RETURN) {
            returned_value = out;
            out = nullptr;
            returned = true;
        }
        Py_DECREF(value);
    } else {
        PyObject *t = nullptr, *v = nullptr, *tb = nullptr;
        PyErr_Fetch(&t, &v, &tb);
        PyErr_NormalizeException(&t, &v, &tb);
        if (tb != nullptr && v != nullptr) PyException_SetTraceback(v, tb);
        out = v != nullptr ? PyObject_CallMethod(gen, "throw", "O", v) : nullptr;
        Py_XDECREF(t);
        Py_XDECREF(v);
        Py_XDECREF(tb);
        if (out == nullptr && PyErr_ExceptionMatches(PyExc_StopIteration)) {
            PyObject *st = nullptr, *sv = nullptr, *stb = nullptr;
            PyErr_Fetch(&st, &sv, &stb);
            PyErr_NormalizeException(&st, &sv, &stb);
            returned_value =
                sv != nullptr &&
                        PyObject_TypeCheck(sv, reinterpret_cast<PyTypeObject*>(PyExc_StopIteration))
                    ? reinterpret_cast<PyStopIterationObject*>(sv)->value
                    : nullptr;
            returned_value = Py_NewRef(returned_value != nullptr ? returned_value : Py_None);
            Py_XDECREF(st);
            Py_XDECREF(sv);
            Py_XDECREF(stb);
            returned = true;
        }
    }
    frame::set_current(PyThreadState_Get(), saved);
    return out;
}

// A new generator that returns `value` (borrowed) when first sent None.
PyObject* returning(PyObject* value) {
    static PyObject* maker = [] {
        PyObject* globals = PyDict_New();
        PyObject* done = globals == nullptr
                             ? nullptr
                             : PyRun_String("def returns(value):\n    return value\n    yield\n",
                                            Py_file_input, globals, globals);
        PyObject* f = done != nullptr ? PyDict_GetItemString(globals, "returns") : nullptr;
        Py_XINCREF(f);  // (kept for good)
        Py_XDECREF(done);
        Py_XDECREF(globals);
        return f;
    }();
    if (maker == nullptr) {
        if (!PyErr_Occurred()) PyErr_SetString(PyExc_SystemError, "slp frames: no returns()");
        return nullptr;
    }
    return PyObject_CallOneArg(maker, value);
}

// The generator that `gen`'s frame runs at `unit` (a FOR_ITER whose loop exits at
// `exit`, or a SEND: `delegate`) returned `value` (stolen): run gen's frame on as CPython's
// would then. A SEND runs again and gets `value` from a delegate made to return it at once,
// in place of the one that returned (the value it sends: the None that sending pushes). A
// FOR_ITER runs again and finds its iterator exhausted (the iterator taken off the stack and
// sent back in), or where the version cannot (kLoopEndsAtExit) the loop's exit runs.
// Returns as run_generator().
PyObject* rerun_generator(PyObject* gen, _PyInterpreterFrame* caller, int unit, int exit,
                          bool delegate, PyObject* value, bool& returned,
                          PyObject*& returned_value) {
    _PyInterpreterFrame* gf = frame::generator_frame(gen);
    PyObject* sent = nullptr;
    if (delegate) {
        PyObject* d = returning(value);
        Py_DECREF(value);
        if (d == nullptr)  // (no memory) raised in gen's frame where it waits
            return run_generator(gen, caller, nullptr, returned, returned_value);
        frame::replace_under_top(gf, frame::kIterationIndex ? 2 : 1, d);
        sent = Py_NewRef(Py_None);
    } else if (frame::kLoopEndsAtExit) {
        Py_DECREF(value);
        sent = Py_NewRef(Py_None);  // (END_FOR pops it)
        unit = exit;
    } else {
        Py_DECREF(value);
        sent = frame::take_top(gf);
    }
    frame::rerun_at(gf, unit);
    return run_generator(gen, caller, sent, returned, returned_value);
}

// Move the chain's frames of the thread where the running version evaluates them
// (frame::place()); a generator's stays in its object. Links every frame to the one
// below. Returns 0, or -1 with an exception set.
int place_frames(PyThreadState* ts, Chain* chain, _PyInterpreterFrame* below) {
    std::vector<_PyInterpreterFrame*> own;
    std::vector<size_t> at;
    for (size_t i = 0; i < chain->frames.size(); ++i)
        if (chain->generators[i] == nullptr) {
            own.push_back(chain->frames[i]);
            at.push_back(i);
        }
    const int r =
        frame::place(ts, own.data(), own.size(), [](_PyInterpreterFrame* old) { PyMem_Free(old); });
    for (size_t k = 0; k < own.size(); ++k) chain->frames[at[k]] = own[k];
    if (r < 0) return r;
    for (size_t i = 0; i < chain->frames.size(); ++i) {
        chain->frames[i]->previous = i == 0 ? below : chain->frames[i - 1];
        // No longer awaiting: running in the tasklet's frames, as when it was pickled.
        if (PyObject* gen = chain->generators[i]) {
            forget_given(gen);
            reinterpret_cast<PyGenObject*>(gen)->gi_frame_state = FRAME_EXECUTING;
        }
    }
    return 0;
}

}  // namespace

const DrivenCall* driven_call(_PyInterpreterFrame* f) noexcept {
    auto it = find_driven(f);
    return it != g_driven.end() ? &it->second : nullptr;
}

_PyInterpreterFrame* allocate_frame(PyCodeObject* code) {
    auto* f = static_cast<_PyInterpreterFrame*>(
        PyMem_Calloc(frame::frame_slots(code), sizeof(PyObject*)));
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
    frame::drop_references(f);
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
    for (size_t i = 0; i < chain->frames.size(); ++i)
        if (PyObject* gen = chain->generators[i]; gen != nullptr && !still_awaiting(gen)) {
            PyErr_Format(PyExc_RuntimeError,
                         "the generator %R was run before its tasklet resumed it", gen);
            return nullptr;
        }
    PyThreadState* ts = PyThreadState_Get();
    _PyInterpreterFrame* below = frame::current(ts);
    // Above the caller (tracebacks, sys._getframe() and f_back see the whole chain); on
    // versions whose eval loop pops what it ran, in the thread's data stack.
    {
        PyObject *t = nullptr, *v = nullptr, *tb = nullptr;
        PyErr_Fetch(&t, &v, &tb);
        if (place_frames(ts, chain, below) < 0) {
            chain->started = true;  // some frames may have moved: destroy() must not free them
            Py_XDECREF(t);
            Py_XDECREF(v);
            Py_XDECREF(tb);
            return nullptr;
        }
        PyErr_Restore(t, v, tb);
    }
    chain->started = true;

    // The snapshot's handled exception is the thread's while the frames run.
    PyObject* saved_exc = ts->exc_info->exc_value;
    ts->exc_info->exc_value = Py_NewRef(chain->handled);

    PyObject* result = Py_XNewRef(value);
    // The generator of the frame above returned (`returned_value`): its FOR_ITER or SEND
    // runs again and sees that.
    bool returned = false;
    PyObject* returned_value = nullptr;
    const auto n = static_cast<int>(chain->frames.size());
    for (int i = n - 1; i >= 0; --i) {
        _PyInterpreterFrame* f = chain->frames[static_cast<size_t>(i)];
        // The frame's caller: the next frame of the chain, or whoever called resume().
        _PyInterpreterFrame* caller = i > 0 ? chain->frames[static_cast<size_t>(i - 1)] : below;
        if (PyObject* gen = chain->generators[static_cast<size_t>(i)]) {
            chain->state[static_cast<size_t>(i)] = FrameState::kRunning;
            if (returned)
                result = rerun_generator(gen, caller, chain->iterates_at[static_cast<size_t>(i)],
                                         chain->loop_exits[static_cast<size_t>(i)],
                                         chain->delegates[static_cast<size_t>(i)],
                                         std::exchange(returned_value, nullptr), returned,
                                         returned_value);
            else
                result = run_generator(gen, caller, result, returned, returned_value);
            chain->state[static_cast<size_t>(i)] = FrameState::kDone;
            chain->frames[static_cast<size_t>(i)] = nullptr;
            continue;
        }
        const bool raising = result == nullptr && !returned;
        if (returned) {
            // (A frame of the thread's is no generator's: its instruction is a FOR_ITER.)
            frame::rerun_at(f, chain->iterates_at[static_cast<size_t>(i)]);
            Py_CLEAR(returned_value);
            returned = false;
        } else if (i == n - 1 && chain->preempted_at >= 0) {
            // Between two instructions: nothing to push; an exception comes from where the
            // tick ran.
            if (raising) frame::raise_at(f, chain->preempted_at);
            Py_CLEAR(result);
        } else if (!raising) {
            frame::push_result(f, result);  // the call's result, stolen
        }
        result = nullptr;
        if (i > 0)
            g_driven.emplace_back(f, DrivenCall{chain->sites[static_cast<size_t>(i - 1)],
                                                chain->init_objects[static_cast<size_t>(i - 1)]});
        chain->state[static_cast<size_t>(i)] = FrameState::kRunning;
        result = frame::evaluate(PyThreadState_Get(), f, caller, raising);
        if (i > 0) g_driven.erase(find_driven(f));
        if (i > 0) result = complete_init(result, chain->init_objects[static_cast<size_t>(i - 1)]);
        chain->state[static_cast<size_t>(i)] = FrameState::kDone;
        chain->frames[static_cast<size_t>(i)] = nullptr;
        if (!frame::kEvalClears) clear_frame(f);
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
        Py_VISIT(chain->init_objects[i]);
        if (chain->generators[i] != nullptr) {  // (its object visits its frame)
            Py_VISIT(chain->generators[i]);
            continue;
        }
        if (int r = frame::traverse(f, visit, arg)) return r;
    }
    return 0;
}

void destroy(Chain* chain) noexcept {
    if (chain == nullptr) return;
    // The innermost first: a frame object that takes its frame's data over links to the
    // frame object of the caller (made then if need be), which must still be there.
    for (size_t i = chain->frames.size(); i-- > 0;) {
        _PyInterpreterFrame* f = chain->frames[i];
        // A started chain's frames are in use on some C stack (or the data stack): leak
        // them rather than free them. A generator's frame is its object's (which clears
        // it when it goes).
        if (PyObject* gen = chain->generators[i]) {
            forget_given(gen);
            if (!chain->started) close_awaiting(gen);
            Py_DECREF(gen);
        } else if (f != nullptr && !chain->started && chain->state[i] == FrameState::kPending)
            clear_frame(f);
    }
    for (PyObject* o : chain->init_objects) Py_XDECREF(o);
    Py_XDECREF(chain->handled);
    delete chain;
}

}  // namespace slpy::frames

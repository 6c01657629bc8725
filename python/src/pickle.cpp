// pickle.cpp — pickling of tasklets (running ones included) and channels,
// on the frame library (frames/frames.hpp).
//
// tasklet.__reduce__() -> (type, (), state), state =
//   ("slp.tasklet", 2, stamp, mode, func, args, kwargs, snapshot, tempval,
//    (atomic, ignore_nesting, block_trap, runnable), (channel, dir, value, resume_value)
//    [, sequence[, tracing]])
//   stamp: the CPython it was made under (version_stamp.hpp), checked first on loading
//   mode 0: not alive (func may be bound); 1: alive, not started (func, args, kwargs);
//   2: started: `snapshot` holds its frames (frames::capture), and either it is blocked
//   on `channel` (dir -1 receive, +1 send `value`; a bomb for send_exception), or its
//   suspended call returns `resume_value` when it resumes. `sequence`, only for a tasklet
//   suspended in channel.send_sequence(): (channel, iterator, sent), what that call goes on
//   with (the item being sent, if blocked, is the channel action's value; `sent` counts
//   the items sent before it) and whose count it returns; None if only `tracing` follows.
//   `tracing`, only with PICKLEFLAGS_PRESERVE_TRACING_STATE and for an alive tasklet that
//   has them: (trace function, profile function), either None.
// Unpickled, a mode-2 tasklet blocked on a channel is blocked on it again at once (it
// runs until it blocks: its entry repeats the channel action); any other is alive and
// paused (insert() it, as in Stackless; so is a not started one: the `runnable` flag is
// for the reader, restore_checkpoint() inserts in the scheduler's order). Its entry then calls
// frames::resume() with what the suspended call returns.
//
// channel.__reduce__() -> (type, (), (preference, schedule_all, closing, (blocked
// tasklets...))): the tasklets carry their direction and values themselves.
#include <string>
#include <utility>

#include "errors.hpp"
#include "frame_references.hpp"
#include "frames/frames.hpp"
#include "module_api.hpp"
#include "objects.hpp"
#include "runtime.hpp"
#include "version_stamp.hpp"

namespace slpy {

// channel_object.cpp
PyObject* channel_restore_action(PyObject* ch, int dir, PyObject* value);
PyObject* channel_send_rest(PyObject* self, PyObject* const* sp, PyObject* it, Py_ssize_t sent,
                            PyObject* first);

namespace {

constexpr const char* kTag = "slp.tasklet";
constexpr int kVersion = 2;

TaskletObject* as_tasklet(PyObject* o) {
    return reinterpret_cast<TaskletObject*>(o);
}

PyObject* unpicklable(const std::string& msg) {
    PyErr_SetString(frames::unpicklable_error(), msg.c_str());
    return nullptr;
}

std::string qualname_of(_PyInterpreterFrame* f) {
    if (f == nullptr) return "?";
    const char* q = PyUnicode_AsUTF8(cpy::frame_code(f)->co_qualname);
    if (q == nullptr) {
        PyErr_Clear();
        return "?";
    }
    std::string s = q;
    const char* file = PyUnicode_AsUTF8(cpy::frame_code(f)->co_filename);
    if (file == nullptr)
        PyErr_Clear();
    else
        s += std::string(" (") + file + ")";
    return s;
}

// The frame below the base of a started tasklet's frames.
_PyInterpreterFrame* stop_of(TaskletObject* t) {
    if (t->chain != nullptr) {
        _PyInterpreterFrame* base = frames::base_frame(t->chain);
        return base != nullptr ? base->previous : nullptr;
    }
    return t->base_below;
}

// operator.call (a new reference), or null with no exception set.
PyObject* operator_call() {
    PyObject* op = PyImport_ImportModule("operator");
    PyObject* call = op != nullptr ? PyObject_GetAttrString(op, "call") : nullptr;
    Py_XDECREF(op);
    if (call == nullptr) PyErr_Clear();
    return call;
}

// The Python function a callable called with `args` runs directly (its base frame's
// f_func), or null: a function, a bound method of one, or operator.call(f, ...), which
// returns what f returns (Stackless's suite calls a tasklet's function through it).
PyObject* direct_function(PyObject* func, PyObject* args) {
    if (func == nullptr) return nullptr;
    if (PyFunction_Check(func)) return func;
    if (PyMethod_Check(func) && PyFunction_Check(PyMethod_GET_FUNCTION(func)))
        return PyMethod_GET_FUNCTION(func);
    static PyObject* const call = operator_call();  // kept for good
    if (func == call && call != nullptr && args != nullptr && PyTuple_Check(args) &&
        PyTuple_GET_SIZE(args) > 0)
        return direct_function(PyTuple_GET_ITEM(args, 0), nullptr);
    return nullptr;
}

// How a suspended tasklet's innermost frame waits: in the call that switched away, or
// between two instructions (run(timeout)'s tick, a C signal handler, interrupted it; the
// tick of other threads, a trace function, is not such a point).
frames::Innermost innermost_of(const TaskletObject* t) {
    return t->preempted_in_handler ? frames::Innermost::kPreempted : frames::Innermost::kInCall;
}

// Binding-level conditions for a started, suspended tasklet (the frames are checked by
// the frame library). Returns 1 if fine, 0 with `why` set, -1 with an exception.
int binding_restorable(TaskletObject* t, std::string* why) {
    _PyInterpreterFrame* top = t->state.top_frame();
    if (t->chain != nullptr && !t->chain_started) return 1;  // its snapshot is kept
    if (top == nullptr) {
        *why = "the tasklet has no Python frames to restore";
        return 0;
    }
    if (t->chain == nullptr) {
        // The callable must be the Python function of the base frame: C code between the
        // tasklet's start and its frames (a builtin, map(), a type's __init__...) cannot
        // be restored.
        _PyInterpreterFrame* base = top;
        // (Entry frames of the eval loop, 3.13's, run no code object.)
        for (_PyInterpreterFrame* up = base->previous; up != nullptr && up != t->base_below;
             up = up->previous)
            if (PyCode_Check(reinterpret_cast<PyObject*>(cpy::frame_code(up)))) base = up;
        PyObject* fn = direct_function(t->func, t->args);
        if (fn == nullptr || reinterpret_cast<PyObject*>(cpy::frame_func(base)) != fn) {
            PyObject* r = t->func != nullptr ? PyObject_Repr(t->func) : nullptr;
            const char* rs = r != nullptr ? PyUnicode_AsUTF8(r) : nullptr;
            *why = std::string("the tasklet's callable ") + (rs != nullptr ? rs : "?") +
                   " is not a Python function: C code lies between the tasklet's start and "
                   "its frame " +
                   qualname_of(base);
            Py_XDECREF(r);
            PyErr_Clear();
            return 0;
        }
    }
    if (innermost_of(t) == frames::Innermost::kPreempted) return 1;
    switch (t->suspended_in) {
        case suspend_kind::schedule:
        case suspend_kind::send:
        case suspend_kind::send_exception:
        case suspend_kind::send_sequence:
            return 1;
        case suspend_kind::receive:
            if (t->core.blocked()) return 1;
            *why = "frame " + qualname_of(top) +
                   ": its channel receive() has a value in transit (received, not yet "
                   "returned); pickle it before or after";
            return 0;
        default:
            *why = "frame " + qualname_of(top) +
                   " is suspended in a C call that cannot be resumed (only schedule(), "
                   "schedule_remove() and channel send/receive can be)";
            return 0;
    }
}

// 1 restorable, 0 not (why set), -1 error.
// A pending kill/throw lives in core, where a pickle cannot reach it: refuse rather than
// lose it.
constexpr const char* kPendingThrow =
    "the tasklet has a pending exception (kill or throw with pending=True) that a pickle "
    "cannot carry; let it run first";

constexpr const char* kGivenUp =
    "the tasklet was given up at its thread's end: its frames are stuck on that thread's "
    "C stack";

int restorable(TaskletObject* t, std::string* why) {
    if (t->given_up) {
        *why = kGivenUp;
        return 0;
    }
    if (!t->core.alive()) return 1;
    if (t->is_main_object) {
        *why = "the main tasklet cannot be pickled (its frames run on C code of the thread)";
        return 0;
    }
    if (t->core.is_current()) {
        *why = "the current tasklet cannot be pickled (its frames run on)";
        return 0;
    }
    if (t->pending_throw) {
        *why = kPendingThrow;
        return 0;
    }
    if (t->state.fresh() && t->chain == nullptr) return 1;  // not started
    if (t->chain != nullptr && !t->chain_started) return 1;
    const int r = frames::check_restorable(PyThreadState_Get(), t->state.top_frame(), stop_of(t),
                                           why, innermost_of(t));
    if (r <= 0) return r;
    return binding_restorable(t, why);
}

PyObject* flags_of(TaskletObject* t) {
    const bool runnable = t->core.scheduled() && !t->core.blocked();
    return Py_BuildValue("(OOOO)", t->core.atomic() ? Py_True : Py_False,
                         t->ignore_nesting ? Py_True : Py_False,
                         t->core.block_trap() ? Py_True : Py_False, runnable ? Py_True : Py_False);
}

PyObject* opt(PyObject* o) {
    return o != nullptr ? o : Py_None;
}

// A tasklet suspended in channel.send_sequence(): blocked, its channel action sends the
// item in transit; either way `sequence` is what the call goes on with (state format
// above). Null on error.
PyObject* sequence_state(TaskletObject* t, PyObject** channel, int* dir, ref* value) {
    const bool blocked = t->core.blocked();
    if (blocked) {
        *channel = t->suspend_channel;
        *dir = 1;
        *value = ref::borrow(opt(t->suspend_value));
    }
    return Py_BuildValue("(OOn)", t->suspend_channel, t->suspend_sequence,
                         t->suspend_sent + (blocked ? 0 : 1));
}

}  // namespace

// ---- tasklet ----------------------------------------------------------------------------

PyObject* locate_tasklet_frame(TaskletObject* t, PyObject* frame) {
    if (!t->core || !t->core.alive() || t->is_main_object || t->core.is_current() || t->given_up)
        Py_RETURN_NONE;
    if (t->chain != nullptr && !t->chain_started) return frames::locate_frame(t->chain, frame);
    // (Frames kept packed have no frame objects.)
    if (t->state.fresh() || t->state.away_packed()) Py_RETURN_NONE;
    _PyInterpreterFrame* top = t->state.top_frame();
    if (top == nullptr) Py_RETURN_NONE;
    return frames::locate_frame(PyThreadState_Get(), top, stop_of(t), innermost_of(t), frame);
}

PyObject* tasklet_get_restorable(PyObject* self, void*) {
    std::string why;
    const int r = restorable(as_tasklet(self), &why);
    if (r < 0) return nullptr;
    return PyBool_FromLong(r);
}

namespace {

PyObject* reduce_without_tracing(PyObject* self) {
    TaskletObject* t = as_tasklet(self);
    PyObject* type = reinterpret_cast<PyObject*>(Py_TYPE(self));
    if (t->core.is_current())
        return unpicklable("the current tasklet cannot be pickled (its frames run on)");
    if (t->core.alive() && t->pending_throw) return unpicklable(kPendingThrow);
    if (t->given_up) return unpicklable(kGivenUp);
    ref flags = ref::steal(flags_of(t));
    if (!flags) return nullptr;
    if (!t->core.alive() || (t->state.fresh() && t->chain == nullptr && !t->is_main_object)) {
        const int mode = t->core.alive() ? 1 : 0;
        return Py_BuildValue("(O()(siNiOOOOOO(OiOO)))", type, kTag, kVersion, version_stamp(), mode,
                             opt(t->func), opt(t->args), opt(t->kwargs), Py_None, t->tempval,
                             flags.get(), Py_None, 0, Py_None, Py_None);
    }
    if (t->is_main_object)
        return unpicklable(
            "the main tasklet cannot be pickled (its frames run on C code of the "
            "thread)");
    ref snapshot;
    PyObject* channel = Py_None;
    int dir = 0;
    ref value = ref::borrow(Py_None);
    ref resume_value = ref::borrow(Py_None);
    ref sequence = ref::borrow(Py_None);
    if (t->chain != nullptr && !t->chain_started &&
        t->suspended_in == suspend_kind::send_sequence) {
        // Restored, going on with its send_sequence() before its frames resume.
        snapshot = ref::borrow(t->snapshot);
        sequence = ref::steal(sequence_state(t, &channel, &dir, &value));
        if (!sequence) return nullptr;
    } else if (t->chain != nullptr && !t->chain_started) {
        // Restored, not resumed yet: its snapshot and first action are as unpickled.
        snapshot = ref::borrow(t->snapshot);
        sequence = ref::borrow(opt(t->restore_sequence));
        if (t->restore_channel != nullptr && t->core.blocked()) {
            channel = t->restore_channel;
            dir = t->restore_dir;
            value = ref::borrow(opt(t->restore_value));
        } else if (t->restore_channel != nullptr) {
            if (t->restore_dir < 0)
                return unpicklable("the restored tasklet's receive() has a value in transit");
        } else {
            resume_value = ref::borrow(opt(t->restore_value));
        }
    } else {
        std::string why;
        const int r = frames::check_restorable(PyThreadState_Get(), t->state.top_frame(),
                                               stop_of(t), &why, innermost_of(t));
        if (r < 0) return nullptr;
        if (r > 0) {
            const int b = binding_restorable(t, &why);
            if (b < 0) return nullptr;
            if (b == 0) return unpicklable(why);
        }
        // (r == 0: capture() raises the frame library's error, naming frame and C function)
        _PyInterpreterFrame* top = t->state.top_frame();
        int depth = -1;
        if (top != nullptr && t->suspended_sp() != nullptr) {
            const auto d = t->state.locate(t->suspended_sp()) -
                           (cpy::slots(top) + cpy::frame_code(top)->co_nlocalsplus);
            if (d >= 0 && d <= cpy::frame_code(top)->co_stacksize) depth = static_cast<int>(d);
        }
        snapshot = ref::steal(frames::capture(PyThreadState_Get(), top, stop_of(t),
                                              t->exc_state.exc_value, depth, innermost_of(t)));
        if (!snapshot) return nullptr;
        const bool blocked = t->core.blocked();
        // (A preempted tasklet resumes with nothing: resume_value stays None.)
        switch (innermost_of(t) == frames::Innermost::kPreempted ? suspend_kind::other
                                                                 : t->suspended_in) {
            case suspend_kind::schedule:
                resume_value = ref::borrow(t->suspend_value != nullptr ? t->suspend_value : self);
                break;
            case suspend_kind::send:
            case suspend_kind::send_exception:
                if (blocked) {
                    channel = t->suspend_channel;
                    dir = 1;
                    if (t->suspended_in == suspend_kind::send_exception) {
                        PyObject* v = t->suspend_value;
                        if (v != nullptr && is_bomb(v)) {
                            value = ref::borrow(v);
                        } else {
                            value = ref::steal(make_bomb(
                                v != nullptr ? reinterpret_cast<PyObject*>(Py_TYPE(v)) : Py_None,
                                opt(v), Py_None));
                            if (!value) return nullptr;
                        }
                    } else {
                        value = ref::borrow(opt(t->suspend_value));
                    }
                }
                break;
            case suspend_kind::receive:
                channel = t->suspend_channel;
                dir = -1;
                break;
            case suspend_kind::send_sequence:
                sequence = ref::steal(sequence_state(t, &channel, &dir, &value));
                if (!sequence) return nullptr;
                break;
            default:
                break;
        }
    }
    if (sequence.get() != Py_None)
        return Py_BuildValue("(O()(siNiOOOOOO(OiOO)O))", type, kTag, kVersion, version_stamp(), 2,
                             Py_None, Py_None, Py_None, snapshot.get(), t->tempval, flags.get(),
                             channel, dir, value.get(), resume_value.get(), sequence.get());
    return Py_BuildValue("(O()(siNiOOOOOO(OiOO)))", type, kTag, kVersion, version_stamp(), 2,
                         Py_None, Py_None, Py_None, snapshot.get(), t->tempval, flags.get(),
                         channel, dir, value.get(), resume_value.get());
}

// What an alive tasklet's tracing state pickles as: (trace function, profile function),
// or None when it has neither (or is not alive).
PyObject* tracing_of(TaskletObject* t) {
    if (!t->core.alive()) return Py_NewRef(Py_None);
    PyObject* trace = t->state.trace_object();
    PyObject* profile = t->state.profile_object();
    if (trace == nullptr && profile == nullptr) return Py_NewRef(Py_None);
    return Py_BuildValue("(OO)", opt(trace), opt(profile));
}

}  // namespace

PyObject* tasklet_reduce(PyObject* self, PyObject*) {
    if (refused_as_frame_ref(as_tasklet(self))) return nullptr;
    ref reduced = ref::steal(reduce_without_tracing(self));
    if (!reduced || !(pickle_flags() & kPickleFlagPreserveTracingState)) return reduced.release();
    ref tracing = ref::steal(tracing_of(as_tasklet(self)));
    if (!tracing) return nullptr;
    if (tracing.get() == Py_None) return reduced.release();
    // The state's 13th item (after `sequence`, None if it has none).
    PyObject* state = PyTuple_GET_ITEM(reduced.get(), 2);
    ref extra =
        ref::steal(PyTuple_GET_SIZE(state) == 11 ? Py_BuildValue("(OO)", Py_None, tracing.get())
                                                 : Py_BuildValue("(O)", tracing.get()));
    ref longer = ref::steal(extra ? PySequence_Concat(state, extra.get()) : nullptr);
    if (!longer) return nullptr;
    return Py_BuildValue("(OOO)", PyTuple_GET_ITEM(reduced.get(), 0),
                         PyTuple_GET_ITEM(reduced.get(), 1), longer.get());
}

// The body of a restored tasklet (on its own stack): repeat the channel action it was
// blocked in, or take the value its suspended call returns, and resume its frames.
void run_restored_body(TaskletObject* self) {
    cpy::body_base base;
    begin_body(self, &base);
    PyObject* value;
    ref sequence = ref::steal(std::exchange(self->restore_sequence, nullptr));
    if (self->restore_raise && self->restore_value != nullptr) {
        value = explode_bomb(self->restore_value);  // killed (thrown into) before it ran
    } else if (sequence) {
        // send_sequence() goes on: the item in transit first (if it was blocked), then what
        // the iterator has left (validated in tasklet_setstate).
        ref first = ref::borrow(self->restore_channel != nullptr ? self->restore_value : nullptr);
        Py_CLEAR(self->restore_channel);
        Py_CLEAR(self->restore_value);
        PyObject* ch = PyTuple_GET_ITEM(sequence.get(), 0);
        const Py_ssize_t sent = PyLong_AsSsize_t(PyTuple_GET_ITEM(sequence.get(), 2));
        value =
            channel_send_rest(ch, nullptr, PyTuple_GET_ITEM(sequence.get(), 1), sent, first.get());
    } else if (self->restore_channel != nullptr) {
        value =
            channel_restore_action(self->restore_channel, self->restore_dir, self->restore_value);
    } else {
        value = Py_NewRef(opt(self->restore_value));
    }
    self->restore_raise = false;
    Py_CLEAR(self->restore_channel);
    Py_CLEAR(self->restore_value);
    self->chain_started = true;
    Py_CLEAR(self->snapshot);
    PyObject* result = frames::resume(self->chain, value);
    Py_XDECREF(value);
    frames::destroy(self->chain);
    self->chain = nullptr;
    self->chain_started = false;
    end_body(self, result);
}

// Implemented in tasklet_object.cpp.
int tasklet_bind_for_restore(TaskletObject* t, PyObject* func, PyObject* args, PyObject* kwargs,
                             bool restored_frames);

namespace {

// A tasklet state's `sequence` (None, or for a started tasklet (channel, iterator, sent),
// sent >= 0; its channel action, if any, a send on that channel): 0, or -1 with
// FrameRestoreError set.
int check_sequence(PyObject* sequence, int mode, PyObject* channel, int dir) {
    if (sequence == Py_None) return 0;
    const char* why = nullptr;
    if (mode != 2 || !PyTuple_Check(sequence) || PyTuple_GET_SIZE(sequence) != 3)
        why = "tasklet state: malformed send_sequence() continuation";
    else if (!PyObject_TypeCheck(PyTuple_GET_ITEM(sequence, 0), &ChannelType) ||
             !PyIter_Check(PyTuple_GET_ITEM(sequence, 1)))
        why = "tasklet state: a send_sequence() continuation needs a channel and an iterator";
    else if (channel != Py_None && (channel != PyTuple_GET_ITEM(sequence, 0) || dir != 1))
        why = "tasklet state: a send_sequence() blocks sending on its own channel";
    if (why == nullptr) {
        PyObject* sent = PyTuple_GET_ITEM(sequence, 2);
        const Py_ssize_t n = PyLong_Check(sent) ? PyLong_AsSsize_t(sent) : -1;
        if (n < 0) {
            PyErr_Clear();
            why = "tasklet state: a send_sequence() count must be an int >= 0";
        }
    }
    if (why == nullptr) return 0;
    PyErr_SetString(frames::restore_error(), why);
    return -1;
}

}  // namespace

PyObject* tasklet_setstate(PyObject* self, PyObject* state) {
    TaskletObject* t = as_tasklet(self);
    // Frame objects of its frames that its state held, made while it loaded.
    ref loaded = ref::steal(take_loaded_frames(t));
    const char* tag = nullptr;
    int version = 0, mode = 0, dir = 0;
    PyObject *stamp, *func, *args, *kwargs, *snapshot, *tempval, *flags, *channel, *value,
        *resume_value, *sequence = Py_None, *tracing = Py_None;
    // One made under another CPython is refused before its layout is read.
    if (PyTuple_Check(state) && PyTuple_GET_SIZE(state) > 2 &&
        PyTuple_Check(PyTuple_GET_ITEM(state, 2)) &&
        check_version_stamp(PyTuple_GET_ITEM(state, 2), "tasklet") < 0)
        return nullptr;
    if (!PyTuple_Check(state) ||
        !PyArg_ParseTuple(state, "siO!iOOOOOO!(OiOO)|OO:tasklet state", &tag, &version,
                          &PyTuple_Type, &stamp, &mode, &func, &args, &kwargs, &snapshot, &tempval,
                          &PyTuple_Type, &flags, &channel, &dir, &value, &resume_value, &sequence,
                          &tracing)) {
        if (!PyErr_Occurred() || PyErr_ExceptionMatches(PyExc_TypeError)) {
            PyErr_Clear();
            PyErr_SetString(frames::restore_error(), "not a tasklet state");
        }
        return nullptr;
    }
    if (std::string(tag) != kTag || version != kVersion || mode < 0 || mode > 2 || dir < -1 ||
        dir > 1) {
        PyErr_SetString(frames::restore_error(), "unknown tasklet state format");
        return nullptr;
    }
    int atomic = 0, ignore_nesting = 0, block_trap = 0, runnable = 0;  // runnable: see above
    if (!PyArg_ParseTuple(flags, "pppp", &atomic, &ignore_nesting, &block_trap, &runnable))
        return nullptr;
    if (channel != Py_None && !PyObject_TypeCheck(channel, &ChannelType)) {
        PyErr_SetString(frames::restore_error(), "tasklet state: not a channel");
        return nullptr;
    }
    if ((channel == Py_None) != (dir == 0)) {
        PyErr_SetString(frames::restore_error(), "tasklet state: channel without direction");
        return nullptr;
    }
    if (check_sequence(sequence, mode, channel, dir) < 0) return nullptr;
    PyObject *trace = Py_None, *profile = Py_None;
    if (tracing != Py_None && (mode == 0 || !PyTuple_Check(tracing) ||
                               !PyArg_ParseTuple(tracing, "OO", &trace, &profile) ||
                               (trace != Py_None && !PyCallable_Check(trace)) ||
                               (profile != Py_None && !PyCallable_Check(profile)))) {
        PyErr_Clear();
        PyErr_SetString(frames::restore_error(),
                        "tasklet state: malformed tracing state (trace and profile functions of "
                        "an alive tasklet)");
        return nullptr;
    }
    if (t->core.alive() || t->chain != nullptr) {
        PyErr_SetString(PyExc_RuntimeError, "tasklet is alive: cannot set its state");
        return nullptr;
    }
    if (loaded && mode != 2) {
        PyErr_SetString(frames::restore_error(),
                        "tasklet state: frame objects of a tasklet that has no frames");
        return nullptr;
    }
    if (mode != 2) {
        if (tasklet_bind_for_restore(t, func, mode == 1 ? args : Py_None,
                                     mode == 1 ? kwargs : Py_None, false) < 0)
            return nullptr;
    } else {
        frames::Chain* chain = frames::rebuild(snapshot);
        if (chain == nullptr) return nullptr;
        t->chain = chain;
        t->chain_started = false;
        Py_XSETREF(t->snapshot, Py_NewRef(snapshot));
        if ((loaded && adopt_loaded_frames(t, loaded.get()) < 0) ||
            tasklet_bind_for_restore(t, nullptr, nullptr, nullptr, true) < 0) {
            frames::destroy(t->chain);
            t->chain = nullptr;
            Py_CLEAR(t->snapshot);
            return nullptr;
        }
        Py_XSETREF(t->restore_sequence, sequence != Py_None ? Py_NewRef(sequence) : nullptr);
        if (channel != Py_None) {
            Py_XSETREF(t->restore_channel, Py_NewRef(channel));
            t->restore_dir = dir;
            Py_XSETREF(t->restore_value, dir > 0 ? Py_NewRef(value) : nullptr);
        } else {
            Py_XSETREF(t->restore_value, Py_NewRef(resume_value));
        }
        t->restore_raise = false;
    }
    Py_XSETREF(t->tempval, Py_NewRef(tempval));
    t->ignore_nesting = ignore_nesting != 0;
    // Its tracing state before it runs (a blocked one runs into its channel action now).
    if ((trace != Py_None && set_tasklet_tracer(t, nullptr, false, trace) < 0) ||
        (profile != Py_None && set_tasklet_tracer(t, nullptr, true, profile) < 0))
        return nullptr;
    PyObject* r = guarded([&] {
        if (mode == 2 && channel != Py_None) {
            // Block it on its channel now: it runs until its channel action blocks (a
            // closing channel is opened for that moment).
            auto* ch = reinterpret_cast<ChannelObject*>(channel);
            const bool closing = ch->ch.closing();
            if (closing) ch->ch.open();
            try {
                t->core.run();
            } catch (...) {
                if (closing) ch->ch.close();
                throw;
            }
            if (closing) ch->ch.close();
        }
        t->core.set_block_trap(block_trap != 0);  // after it blocked (if it does)
        t->core.set_atomic(atomic != 0);
        Py_RETURN_NONE;
    });
    if (thread_runtime* rt = thread_runtime::current_if_any()) rt->flush();
    return r;
}

int tasklet_traverse_pickling(TaskletObject* t, visitproc visit, void* arg) {
    Py_VISIT(t->snapshot);
    Py_VISIT(t->restore_value);
    Py_VISIT(t->restore_channel);
    Py_VISIT(t->restore_sequence);
    if (int r = visit_loaded_frames(t, visit, arg)) return r;
    if (t->chain != nullptr) {
        if (!t->chain_started) return frames::traverse(t->chain, visit, arg);
        // Started: its frames are linked into the tasklet's (python_state visits them).
        Py_VISIT(frames::handled_exception(t->chain));
    }
    return 0;
}

void tasklet_clear_pickling(TaskletObject* t) {
    Py_CLEAR(t->snapshot);
    Py_CLEAR(t->restore_value);
    Py_CLEAR(t->restore_channel);
    Py_CLEAR(t->restore_sequence);
    Py_XDECREF(take_loaded_frames(t));
    if (t->chain != nullptr && !t->core.alive()) {
        frames::Chain* c = t->chain;
        t->chain = nullptr;
        frames::destroy(c);
    }
}

// A restored tasklet that has not run since it was unpickled (paused or runnable) is
// killed or thrown into: it runs its frames with the exception (their finally blocks
// run) instead of just ending. Returns 1 if handled (result in *out), 0 if not ours.
int tasklet_throw_restored(TaskletObject* t, PyObject* type, PyObject* value, PyObject* tb,
                           bool pending, PyObject** out) {
    if (t->chain == nullptr || t->chain_started || !t->state.fresh() || t->core.is_current())
        return 0;
    PyObject* b = make_bomb(type, opt(value), opt(tb));
    if (b == nullptr) {
        *out = nullptr;
        return 1;
    }
    Py_XSETREF(t->restore_value, b);
    t->restore_raise = true;
    ref keep = ref::borrow(reinterpret_cast<PyObject*>(t));
    *out = guarded([&] {
        if (pending)
            t->core.insert();
        else
            t->core.run();
        Py_RETURN_NONE;
    });
    if (thread_runtime* rt = thread_runtime::current_if_any()) rt->flush();
    return 1;
}

// ---- channel ----------------------------------------------------------------------------

PyObject* channel_reduce(PyObject* self, PyObject*) {
    slp::channel_base& ch = reinterpret_cast<ChannelObject*>(self)->ch;
    ref blocked = ref::steal(PyList_New(0));
    if (!blocked) return nullptr;
    std::vector<PyObject*> objs;
    const bool biased = ch.lock();
    try {
        for (slp::tasklet t = slp::tasklet::borrow(ch.q().head); t; t = t.next())
            if (auto* o = static_cast<TaskletObject*>(t.user_data()))
                objs.push_back(reinterpret_cast<PyObject*>(o));
    } catch (...) {
        ch.unlock(biased);
        return PyErr_NoMemory();
    }
    ch.unlock(biased);
    for (PyObject* o : objs)
        if (PyList_Append(blocked.get(), o) < 0) return nullptr;
    ref tup = ref::steal(PyList_AsTuple(blocked.get()));
    if (!tup) return nullptr;
    return Py_BuildValue("(O()(iOOO))", reinterpret_cast<PyObject*>(Py_TYPE(self)), ch.preference(),
                         ch.schedule_all() ? Py_True : Py_False, ch.closing() ? Py_True : Py_False,
                         tup.get());
}

PyObject* channel_setstate(PyObject* self, PyObject* state) {
    int preference = 0, schedule_all = 0, closing = 0;
    PyObject* blocked = nullptr;
    if (!PyTuple_Check(state) ||
        !PyArg_ParseTuple(state, "ippO!:channel state", &preference, &schedule_all, &closing,
                          &PyTuple_Type, &blocked)) {
        if (!PyErr_Occurred() || PyErr_ExceptionMatches(PyExc_TypeError)) {
            PyErr_Clear();
            PyErr_SetString(frames::restore_error(), "not a channel state");
        }
        return nullptr;
    }
    for (Py_ssize_t i = 0; i < PyTuple_GET_SIZE(blocked); ++i)
        if (!PyObject_TypeCheck(PyTuple_GET_ITEM(blocked, i), &TaskletType)) {
            PyErr_SetString(frames::restore_error(), "channel state: not a tasklet");
            return nullptr;
        }
    // The blocked tasklets block on it themselves (their state names it): nothing to do
    // with them here.
    slp::channel_base& ch = reinterpret_cast<ChannelObject*>(self)->ch;
    ch.set_preference(preference);
    ch.set_schedule_all(schedule_all != 0);
    if (closing)
        ch.close();
    else
        ch.open();
    Py_RETURN_NONE;
}

// ---- checkpoints -------------------------------------------------------------------------

// _alive_tasklets() -> list of this thread's alive tasklets but the main one, oldest
// first.
PyObject* mod_alive_tasklets(PyObject*, PyObject*) {
    thread_runtime* rt = thread_runtime::get();
    if (rt == nullptr) return nullptr;
    ref out = ref::steal(PyList_New(0));
    if (!out) return nullptr;
    for (TaskletObject* t = rt->alive_head(); t != nullptr; t = t->alive_next)
        if (!t->is_main_object && PyList_Append(out.get(), reinterpret_cast<PyObject*>(t)) < 0)
            return nullptr;
    if (PyList_Reverse(out.get()) < 0) return nullptr;
    return out.release();
}

}  // namespace slpy

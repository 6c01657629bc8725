// objects.hpp — the Python objects of the module (layouts shared by its files).
#pragma once

#include <cstddef>
#include <cstdint>

#include "common.hpp"
#include "python_state.hpp"
#include "slp/channel.hpp"
#include "slp/tasklet.hpp"

namespace slpy {

namespace frames {
class Chain;
}

// What C call a suspended tasklet is in (pickling must know what it returns on resume).
enum class suspend_kind : uint8_t {
    none,
    schedule,
    send,
    send_exception,
    receive,
    send_sequence,  // channel.send_sequence(): suspend_value is the item being sent
    other
};

// stackless.tasklet. One object per core tasklet: the core tasklet's user_data points
// back here. While the tasklet is alive (and not a main tasklet) it is on its thread's
// list of alive tasklets (`alive_ref`), and while it is runnable, blocked or running it
// holds a reference to itself (`holds_self`), so a tasklet made runnable needs no other
// owner; the GC attributes that reference to the channel the tasklet is blocked on. A
// paused tasklet of its thread holds none, as in Stackless: dropping the last reference
// to it kills it (its finally blocks run), and so does the GC when it is unreachable.
struct TaskletObject {
    PyObject_HEAD slp::tasklet core;  // owning handle
    PyObject* func;                   // bound callable (None-able: nullptr)
    PyObject* args;                   // tuple, until the tasklet starts
    PyObject* kwargs;                 // dict, until the tasklet starts
    PyObject* tempval;                // Stackless's tempval attribute
    PyObject* weakreflist;
    python_state state;          // its interpreter state while it is not running
    _PyErr_StackItem exc_state;  // its base exception stack entry
    unsigned long thread_id;     // the thread it belongs to (0: that thread ended)
    PyObject** blocked_sp;       // value-stack top of its innermost frame in a call (suspended_sp)
    TaskletObject* alive_next;   // the thread's list of alive tasklet objects
    TaskletObject* alive_prev;
    // Pickling (pickle.cpp).
    _PyInterpreterFrame* base_below;  // current frame when its entry started the callable
    PyObject* suspend_value;          // borrowed: schedule()'s retval / the value being sent
    PyObject* suspend_channel;        // borrowed: the channel of its channel action
    PyObject* suspend_sequence;       // borrowed: send_sequence()'s iterator
    Py_ssize_t suspend_sent;          // send_sequence(): items sent before suspend_value
    frames::Chain* chain;             // a restored tasklet's frames, until they finish
    PyObject* snapshot;               // what `chain` was rebuilt from, until resume starts
    PyObject* restore_value;          // what its suspended call returns when restored
    PyObject* restore_channel;        // the channel it blocks on first when restored
    PyObject* restore_sequence;       // (channel, iterator, sent): a send_sequence() to go on
    int in_run;                       // nesting of stackless.run() it is the watchdog of
    int restore_dir;  // +1 send restore_value, -1 receive (beside in_run: no padding)
    // What it is suspended in; none while it runs. blocked_sp, suspend_value and
    // suspend_channel are written with it and hold only while it is not none (a tasklet
    // that runs again resets this field alone).
    suspend_kind suspended_in;
    bool chain_started;
    bool pending_throw;    // kill/throw(pending=True) waits in core: a pickle cannot carry it
    bool restore_raise;    // restore_value is a bomb: the suspended call raises it
    bool alive_ref;        // on its thread's list of alive tasklets (alive, not main)
    bool holds_self;       // holds a reference to itself (alive, not main, not paused)
    bool kept_forever;     // would not die when its last reference went: holds itself
    bool stands_for_main;  // the main of a thread that has not used stackless (no core yet)
    bool ignore_nesting;
    bool is_main_object;
    bool preempted_in_handler;  // suspended by run(timeout)'s tick in a signal handler
    bool dropped_blocked;       // given up at its thread's end while blocked on a channel
    bool given_up;  // given up at its thread's end: its frames stay, stuck on a C stack gone

    // The value-stack top of its innermost frame when that frame called the channel
    // action it is suspended in; null when it is in none (schedule() notes no stack top).
    PyObject** suspended_sp() const noexcept {
        return suspended_in != suspend_kind::none && suspended_in != suspend_kind::schedule
                   ? blocked_sp
                   : nullptr;
    }
};

// stackless.channel: the core channel, in place.
struct ChannelObject {
    PyObject_HEAD slp::channel_base ch;
    PyObject* weakreflist;
};

inline ChannelObject* channel_object_of(slp::channel_base& ch) noexcept {
    return reinterpret_cast<ChannelObject*>(reinterpret_cast<char*>(&ch) -
                                            offsetof(ChannelObject, ch));
}

// stackless.bomb: an exception carried as a value.
struct BombObject {
    PyObject_HEAD PyObject* type;
    PyObject* value;
    PyObject* traceback;
};

extern PyTypeObject TaskletType;
extern PyTypeObject ChannelType;
extern PyTypeObject BombType;
extern PyTypeObject AtomicType;

inline bool is_tasklet(PyObject* o) noexcept {
    return PyObject_TypeCheck(o, &TaskletType);
}
inline bool is_bomb(PyObject* o) noexcept {
    return Py_IS_TYPE(o, &BombType);
}

// What a tasklet's tempval holds for "the tasklet itself" (schedule()'s default
// value): the tempval getter shows the tasklet; no tasklet refers to itself. It is the
// class stackless._tasklet_itself (reducers.cpp), so that a pickle keeps its meaning.
extern PyObject* g_tasklet_itself;
inline PyObject* current_marker() noexcept {
    return g_tasklet_itself;
}

// bomb.cpp
PyObject* make_bomb(PyObject* type, PyObject* value, PyObject* tb);  // new ref
// Raise the bomb's exception; returns nullptr.
PyObject* explode_bomb(PyObject* bomb);
// Normalize (exc, val, tb) with `raise` semantics into a bomb-like triple, as
// generator.throw does. Returns false with a TypeError set on bad input.
bool exception_triple(PyObject* exc, PyObject* val, PyObject* tb, PyObject** t, PyObject** v,
                      PyObject** b);

// tracer.cpp: set t's trace (profile: false) or profile function to `value` (None:
// none), as sys.settrace / sys.setprofile do in the tasklet. `running`: the thread state
// t runs in if it is current (null if not). Returns -1 with an exception set on error
// (t not alive, t current in another thread, attribute deleted).
int set_tasklet_tracer(TaskletObject* t, PyThreadState* running, bool profile, PyObject* value);

}  // namespace slpy

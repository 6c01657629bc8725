// tasklet_object.cpp — stackless.tasklet, bound to slp::tasklet.
#include <new>

#include "errors.hpp"
#include "frames/frames.hpp"
#include "module_api.hpp"
#include "objects.hpp"
#include "runtime.hpp"
#include "slp/errors.hpp"
#include "stack_kind.hpp"

namespace slpy {

// pickle.cpp
PyObject* tasklet_get_restorable(PyObject* self, void*);
PyObject* tasklet_reduce(PyObject* self, PyObject*);
PyObject* tasklet_setstate(PyObject* self, PyObject* state);
int tasklet_traverse_pickling(TaskletObject* t, visitproc visit, void* arg);
void tasklet_clear_pickling(TaskletObject* t);
void run_restored_body(TaskletObject* self);
int tasklet_throw_restored(TaskletObject* t, PyObject* type, PyObject* value, PyObject* tb,
                           bool pending, PyObject** out);

namespace {

TaskletObject* as_tasklet(PyObject* o) {
    return reinterpret_cast<TaskletObject*>(o);
}
PyObject* as_object(TaskletObject* t) {
    return reinterpret_cast<PyObject*>(t);
}

PyObject* runtime_error(const char* msg) {
    PyErr_SetString(PyExc_RuntimeError, msg);
    return nullptr;
}
PyObject* type_error(const char* msg) {
    PyErr_SetString(PyExc_TypeError, msg);
    return nullptr;
}

// The context of the running tasklet, created if it has none (Stackless shares the
// creator's context object with a newly bound tasklet). New reference.
PyObject* current_context() {
    PyThreadState* ts = PyThreadState_Get();
    if (ts->context == nullptr) {
        PyObject* ctx = PyContext_New();
        if (ctx == nullptr) return nullptr;
        ts->context = ctx;
        ts->context_ver++;
    }
    Py_INCREF(ts->context);
    return ts->context;
}

bool started(TaskletObject* t) {
    return t->core.alive() && !t->state.fresh() && !t->is_main_object;
}

// Make the tasklet alive (not yet started), holding a reference to itself. A tasklet
// bound to another thread is handed to that thread (core's setup() posts it there) and
// joins that thread's list of alive tasklets (the GIL guards the lists).
bool make_alive(TaskletObject* t, PyObject* args, PyObject* kwargs, bool insert) {
    thread_runtime* rt = thread_runtime::get();
    if (rt == nullptr) return false;
    thread_runtime* owner =
        t->thread_id == rt->thread_id() ? rt : thread_runtime::of_thread(t->thread_id);
    if (owner == nullptr) {
        runtime_error(slp::msg::no_thread);
        return false;
    }
    if (!t->state.init_fresh(&t->exc_state, t->state.exchange_context(nullptr))) return false;
    Py_XINCREF(args);
    Py_XSETREF(t->args, args);
    Py_XINCREF(kwargs);
    Py_XSETREF(t->kwargs, kwargs);
    try {
        if (insert)
            t->core.setup();
        else
            t->core.setup_paused();
    } catch (...) {
        set_python_error();
        return false;
    }
    if (!t->alive_ref) {
        Py_INCREF(t);
        t->alive_ref = true;
        t->holds_self = true;
        owner->link_alive(t);
    }
    rt->settle_self_ref(t);
    return true;
}

PyObject* after_switch_return(PyObject* result) {
    if (thread_runtime* rt = thread_runtime::current_if_any()) rt->flush();
    return result;
}

// ---- construction -----------------------------------------------------------------

PyObject* tasklet_new(PyTypeObject* type, PyObject*, PyObject*) {
    thread_runtime* rt = thread_runtime::get();
    if (rt == nullptr) return nullptr;
    PyObject* o = type->tp_alloc(type, 0);
    if (o == nullptr) return nullptr;
    TaskletObject* t = as_tasklet(o);
    new (&t->state) python_state();
    try {
        slp::tasklet_options opt;
        opt.kind = default_stack_kind();
        opt.stack_size = own_stack_size();
        new (&t->core) slp::tasklet(std::function<void()>{}, opt);
    } catch (...) {
        new (&t->core) slp::tasklet();
        set_python_error();
        Py_DECREF(o);
        return nullptr;
    }
    t->core.set_user_data(t);
    t->thread_id = rt->thread_id();
    t->tempval = Py_NewRef(Py_None);
    return o;
}

PyObject* tasklet_kill(PyObject* self, PyObject* args, PyObject* kwds);

// bind(None) of a started, paused tasklet whose frames could be pickled (Stackless drops
// such a tasklet's frames, which have no C state): its frames end as a kill ends them (on
// its C stack, their finally blocks run), and then it is unbound. 0 (also when this is
// not such a call), or -1 with an exception set.
int unbind_restorable(TaskletObject* t, PyObject* func, PyObject* args, PyObject* kwargs) {
    if (func != nullptr || args != nullptr || kwargs != nullptr || !started(t) ||
        t->core.scheduled() || t->core.blocked())
        return 0;
    ref restorable = ref::steal(tasklet_get_restorable(as_object(t), nullptr));
    if (!restorable) return -1;
    if (restorable.get() != Py_True) return 0;
    ref no_args = ref::steal(PyTuple_New(0));
    ref done = ref::steal(no_args ? tasklet_kill(as_object(t), no_args.get(), nullptr) : nullptr);
    return done ? 0 : -1;
}

int bind_impl(TaskletObject* t, PyObject* func, PyObject* args, PyObject* kwargs) {
    if (func == Py_None) func = nullptr;
    if (args == Py_None) args = nullptr;
    if (kwargs == Py_None) kwargs = nullptr;
    if (func != nullptr && !PyCallable_Check(func)) {
        type_error("tasklet function must be a callable or None");
        return -1;
    }
    if (args != nullptr && !PyTuple_Check(args)) {
        type_error("tasklet args must be a tuple or None");
        return -1;
    }
    if (kwargs != nullptr && !PyDict_Check(kwargs)) {
        type_error("tasklet kwargs must be a dictionary or None");
        return -1;
    }
    if (t->core.is_current()) {
        runtime_error("can't (re)bind the current tasklet");
        return -1;
    }
    if (t->given_up) {  // its frames would be lost silently
        runtime_error(slp::msg::bind_c_state);
        return -1;
    }
    if (t->core.scheduled()) {
        runtime_error("tasklet is scheduled");
        return -1;
    }
    if (t->is_main_object) {
        runtime_error(args == nullptr && kwargs == nullptr ? "can't unbind the main tasklet"
                                                           : "tasklet is alive");
        return -1;
    }
    if (unbind_restorable(t, func, args, kwargs) < 0) return -1;
    if (started(t)) {
        runtime_error("tasklet has C state on its stack");
        return -1;
    }
    if (t->core.alive()) {  // alive, not started, paused
        runtime_error(slp::msg::alive);
        return -1;
    }
    if (func != nullptr) {
        PyObject* ctx = current_context();
        if (ctx == nullptr) return -1;
        Py_XDECREF(t->state.exchange_context(ctx));
        Py_INCREF(func);
        Py_XSETREF(t->func, func);
    }
    if (args == nullptr && kwargs == nullptr) {
        if (func == nullptr) Py_CLEAR(t->func);
    }
    try {
        if (t->func != nullptr) {
            TaskletObject* self = t;
            t->core.bind([self] { run_tasklet_body(self); });
        } else {
            t->core.bind(std::function<void()>{});
        }
    } catch (...) {
        set_python_error();
        return -1;
    }
    if (args == nullptr && kwargs == nullptr) return 0;
    if (t->func == nullptr) {
        runtime_error(slp::msg::not_bound);
        return -1;
    }
    ref a = args ? ref::borrow(args) : ref::steal(PyTuple_New(0));
    ref k = kwargs ? ref::borrow(kwargs) : ref::steal(PyDict_New());
    if (!a || !k) return -1;
    return make_alive(t, a.get(), k.get(), false) ? 0 : -1;
}

int tasklet_init(PyObject* self, PyObject* args, PyObject* kwds) {
    static const char* kwlist[] = {"func", "args", "kwargs", nullptr};
    PyObject *func = Py_None, *fargs = Py_None, *fkwargs = Py_None;
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "|OOO:tasklet", const_cast<char**>(kwlist), &func,
                                     &fargs, &fkwargs))
        return -1;
    return bind_impl(as_tasklet(self), func, fargs, fkwargs);
}

PyObject* tasklet_bind(PyObject* self, PyObject* args, PyObject* kwds) {
    static const char* kwlist[] = {"func", "args", "kwargs", nullptr};
    PyObject *func = Py_None, *fargs = Py_None, *fkwargs = Py_None;
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "|OOO:bind", const_cast<char**>(kwlist), &func,
                                     &fargs, &fkwargs))
        return nullptr;
    if (bind_impl(as_tasklet(self), func, fargs, fkwargs) < 0) return nullptr;
    return Py_NewRef(self);
}

PyObject* tasklet_setup(PyObject* self, PyObject* args, PyObject* kwds) {
    TaskletObject* t = as_tasklet(self);
    if (t->core.alive()) return runtime_error(slp::msg::alive);
    if (t->func == nullptr) return runtime_error(slp::msg::not_bound);
    if (kwds != nullptr && PyDict_GET_SIZE(kwds) == 0) kwds = nullptr;  // none: no dict kept
    if (!make_alive(t, args, kwds, true)) return nullptr;
    return Py_NewRef(self);
}

// ---- scheduling ---------------------------------------------------------------------

PyObject* tasklet_insert(PyObject* self, PyObject*) {
    return guarded([&] {
        as_tasklet(self)->core.insert();
        return Py_NewRef(self);
    });
}

PyObject* tasklet_remove(PyObject* self, PyObject*) {
    TaskletObject* t = as_tasklet(self);
    thread_runtime* me = thread_runtime::current_if_any();
    if (t->thread_id != 0 && (me == nullptr || t->thread_id != me->thread_id()) &&
        thread_runtime::of_thread(t->thread_id) != nullptr) {
        // Another thread's tasklet leaves that thread's runnables, the thread held quiet.
        quiet_threads quiet(t->thread_id, 0);
        if (!quiet.ok()) return nullptr;
        return guarded([&] {
            slp::remove_from_its_thread(t->core);
            return Py_NewRef(self);
        });
    }
    return guarded([&] {
        t->core.remove();
        return Py_NewRef(self);
    });
}

PyObject* tasklet_run(PyObject* self, PyObject*) {
    ref keep = ref::borrow(self);
    return after_switch_return(guarded([&] {
        as_tasklet(self)->core.run();
        Py_RETURN_NONE;
    }));
}

PyObject* tasklet_switch(PyObject* self, PyObject*) {
    ref keep = ref::borrow(self);
    thread_runtime* rt = thread_runtime::current_if_any();
    TaskletObject* me = rt != nullptr ? rt->current_object() : nullptr;
    if (me != nullptr && me != as_tasklet(self)) rt->pausing(me);  // the caller pauses
    PyObject* r = guarded([&] {
        as_tasklet(self)->core.switch_to();
        Py_RETURN_NONE;
    });
    if (me != nullptr) thread_runtime::current_if_any()->settle_self_ref(me);
    return after_switch_return(r);
}

// Kill a tasklet of this thread that has not started, at once: it ends without being
// switched to (a stack to start it on may not be had). False if it has started, belongs
// to another thread, or the kill is pending.
bool end_unstarted(TaskletObject* t, bool pending) {
    thread_runtime* rt = thread_runtime::current_if_any();
    if (pending || rt == nullptr || t->thread_id != rt->thread_id() || !t->core.alive() ||
        !t->state.fresh() || t->is_main_object || t->core.is_current())
        return false;
    t->core.drop();
    rt->end_unstarted(t);
    return true;
}

// An exception thrown into a tasklet of this thread that has not started: it starts
// and raises it at once, inside the tasklet, so that the error handler sees it there
// (as its getcurrent()), as in Stackless. The exception waits as a bomb in its tempval,
// where run_tasklet_body finds it. False where the general path delivers it.
bool start_with_bomb(TaskletObject* t, PyObject* type, PyObject* value, PyObject* tb,
                     bool pending) {
    thread_runtime* rt = thread_runtime::current_if_any();
    if (rt == nullptr || t->thread_id != rt->thread_id() || !t->state.fresh() ||
        t->is_main_object || t->chain != nullptr)
        return false;
    PyObject* bomb = make_bomb(type, value, tb);
    if (bomb == nullptr) throw py_exception::fetch();
    Py_SETREF(t->tempval, bomb);
    if (pending)
        t->core.insert();
    else
        t->core.run();
    return true;
}

// The main tasklet of a thread that has not used stackless runs there outside any
// scheduler: an exception for it is raised there at its next bytecode, as
// PyThreadState_SetAsyncExc raises it (pending or not: it is another thread's). Only a
// class can be raised that way; a value or traceback is refused rather than lost.
PyObject* throw_into_thread_without_runtime(TaskletObject* t, PyObject* type, PyObject* value,
                                            PyObject* tb) {
    const bool has_value =
        value != nullptr && value != Py_None &&
        !(PyExceptionInstance_Check(value) &&
          PyTuple_GET_SIZE(reinterpret_cast<PyBaseExceptionObject*>(value)->args) == 0);
    if (has_value || (tb != nullptr && tb != Py_None))
        return runtime_error(
            "a thread that has not used stackless takes an exception class only, without a "
            "value or traceback");
    if (PyThreadState_SetAsyncExc(t->thread_id, type) == 0)
        return runtime_error(slp::msg::no_thread);
    Py_RETURN_NONE;
}

// Deliver (type, value, tb) to the tasklet as Stackless's throw does.
PyObject* throw_triple(TaskletObject* t, PyObject* type, PyObject* value, PyObject* tb,
                       bool pending) {
    if (t->stands_for_main) return throw_into_thread_without_runtime(t, type, value, tb);
    py_exception ex = py_exception::of(type, value, tb);
    if (t->core.is_current()) {
        ex.restore();
        return nullptr;
    }
    if (!t->core.alive()) {
        if (t->thread_id == 0) return runtime_error(slp::msg::no_thread);
        if (ex.is_tasklet_exit()) Py_RETURN_NONE;
        return runtime_error(slp::msg::throw_dead);
    }
    PyObject* out = nullptr;
    if (tasklet_throw_restored(t, type, value, tb, pending, &out)) return out;
    ref keep = ref::borrow(as_object(t));
    return after_switch_return(guarded([&] {
        if (t->state.fresh() && ex.is_tasklet_exit()) {
            if (!end_unstarted(t, pending)) t->core.kill(pending);  // it never ran: it just ends
            Py_RETURN_NONE;
        }
        if (start_with_bomb(t, type, value, tb, pending)) Py_RETURN_NONE;
        t->core.throw_exception(std::make_exception_ptr(std::move(ex)), pending);
        if (pending) t->pending_throw = true;
        Py_RETURN_NONE;
    }));
}

PyObject* tasklet_throw(PyObject* self, PyObject* args, PyObject* kwds) {
    static const char* kwlist[] = {"exc", "val", "tb", "pending", nullptr};
    PyObject *exc, *val = Py_None, *tb = Py_None;
    int pending = 0;
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "O|OOp:throw", const_cast<char**>(kwlist), &exc,
                                     &val, &tb, &pending))
        return nullptr;
    PyObject *t, *v, *b;
    if (!exception_triple(exc, val, tb, &t, &v, &b)) return nullptr;
    ref rt = ref::steal(t), rv = ref::steal(v), rb = ref::steal(b);
    return throw_triple(as_tasklet(self), t, v, b, pending != 0);
}

PyObject* tasklet_raise_exception(PyObject* self, PyObject* args) {
    if (PyTuple_GET_SIZE(args) < 1)
        return type_error("raise_exception() takes at least 1 argument");
    PyObject* klass = PyTuple_GET_ITEM(args, 0);
    if (!(PyType_Check(klass) && PyObject_IsSubclass(klass, PyExc_BaseException) == 1))
        return type_error(
            "tasklet.raise_exception needs Exception or string subclass as first parameter");
    ref rest = ref::steal(PyTuple_GetSlice(args, 1, PyTuple_GET_SIZE(args)));
    if (!rest) return nullptr;
    ref inst = ref::steal(PyObject_Call(klass, rest.get(), nullptr));
    if (!inst) return nullptr;
    return throw_triple(as_tasklet(self), klass, inst.get(), nullptr, false);
}

PyObject* tasklet_kill(PyObject* self, PyObject* args, PyObject* kwds) {
    static const char* kwlist[] = {"pending", nullptr};
    int pending = 0;
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "|p:kill", const_cast<char**>(kwlist), &pending))
        return nullptr;
    TaskletObject* t = as_tasklet(self);
    if (t->stands_for_main)
        return throw_into_thread_without_runtime(t, TaskletExit, nullptr, nullptr);
    if (!t->core.alive()) {
        t->dropped_blocked = false;
        Py_RETURN_NONE;
    }
    if (t->thread_id == 0) return runtime_error(slp::msg::no_thread);
    PyObject* out = nullptr;
    if (tasklet_throw_restored(t, TaskletExit, nullptr, nullptr, pending != 0, &out)) return out;
    ref keep = ref::borrow(self);
    return after_switch_return(guarded([&] {
        if (end_unstarted(t, pending != 0)) Py_RETURN_NONE;
        t->core.kill(pending != 0);  // core's tasklet_exit becomes TaskletExit in the tasklet
        if (pending != 0 && t->core.alive()) t->pending_throw = true;
        Py_RETURN_NONE;
    }));
}

PyObject* flag_setter(PyObject* flag, const char* msg, bool& out) {
    if (flag == nullptr || !PyLong_Check(flag)) return type_error(msg);
    long v = PyLong_AsLong(flag);
    if (v == -1 && PyErr_Occurred()) return nullptr;
    out = v != 0;
    return Py_None;
}

PyObject* tasklet_set_atomic(PyObject* self, PyObject* flag) {
    bool v;
    if (flag_setter(flag, "set_atomic needs exactly one bool or integer", v) == nullptr)
        return nullptr;
    return guarded([&] { return PyBool_FromLong(as_tasklet(self)->core.set_atomic(v)); });
}

PyObject* tasklet_set_ignore_nesting(PyObject* self, PyObject* flag) {
    bool v;
    if (flag_setter(flag, "set_ignore_nesting needs exactly one bool or integer", v) == nullptr)
        return nullptr;
    TaskletObject* t = as_tasklet(self);
    bool old = t->ignore_nesting;
    t->ignore_nesting = v;
    return PyBool_FromLong(old);
}

// bind_thread(thread_id=None): Stackless's PyTasklet_BindThread. A tasklet without
// execution state (not alive, or alive but paused and not started, e.g. just unpickled)
// moves to the thread `thread_id` (default, or -1: the calling one) and runs there from
// then on; core's bind_thread() does the move, with both threads quiet (held off by the
// GIL, see thread_runtime::quiet()).
PyObject* tasklet_bind_thread(PyObject* self, PyObject* args) {
    PyObject* tid_obj = nullptr;
    if (!PyArg_ParseTuple(args, "|O!:bind_thread", &PyLong_Type, &tid_obj)) return nullptr;
    TaskletObject* t = as_tasklet(self);
    thread_runtime* me = thread_runtime::get();
    if (me == nullptr) return nullptr;
    unsigned long target = me->thread_id();
    if (tid_obj != nullptr) {
        int overflow = 0;
        long v = PyLong_AsLongAndOverflow(tid_obj, &overflow);
        if (v == -1 && PyErr_Occurred()) return nullptr;
        if (overflow < 0 || (overflow == 0 && v < -1)) {  // (Stackless: as for an unsigned long)
            PyErr_SetString(PyExc_OverflowError, "a thread id is -1 or not negative");
            return nullptr;
        }
        if (v != -1) {
            target = PyLong_AsUnsignedLong(tid_obj);
            if (PyErr_Occurred()) return nullptr;
        } else if (t->thread_id == target) {
            Py_RETURN_NONE;  // already bound to the calling thread
        }
    } else if (t->thread_id == target) {
        Py_RETURN_NONE;
    }
    // Both schedulers must be left alone by their threads while core moves the tasklet.
    const unsigned long here = me->thread_id();
    quiet_threads quiet(t->thread_id != here ? t->thread_id : 0, target != here ? target : 0);
    if (!quiet.ok()) return nullptr;
    thread_runtime* from = t->thread_id != 0 ? thread_runtime::of_thread(t->thread_id) : nullptr;
    thread_runtime* dest = nullptr;
    try {
        // Stackless's order: runnable, C state, then the thread.
        if (t->core.scheduled() && !t->core.blocked())
            throw slp::runtime_error(slp::msg::bind_runnable);
        if (t->is_main_object || started(t) || t->core.blocked() || t->given_up)
            throw slp::runtime_error(slp::msg::bind_c_state);
        dest = thread_runtime::of_thread(target);
        if (dest == nullptr) {  // no such thread, or it has not used stackless
            PyErr_SetString(PyExc_ValueError, "bad thread");
            return nullptr;
        }
        slp::bind_thread(t->core, dest->sched());
    } catch (...) {
        set_python_error();
        return nullptr;
    }
    if (t->alive_ref && from != dest) {  // alive: its thread kills it if it is left at the end
        if (from != nullptr) from->unlink_alive(t);
        dest->link_alive(t);
    }
    t->thread_id = target;
    Py_RETURN_NONE;
}

// ---- attributes ---------------------------------------------------------------------

template <bool (slp::tasklet::*M)() const>
PyObject* bool_getter(PyObject* self, void*) {
    TaskletObject* t = as_tasklet(self);
    if (t->stands_for_main) {  // that thread's running main
        const bool no = M == &slp::tasklet::paused || M == &slp::tasklet::blocked ||
                        M == &slp::tasklet::atomic || M == &slp::tasklet::block_trap;
        return PyBool_FromLong(!no);
    }
    return guarded([&] { return PyBool_FromLong((t->core.*M)()); });
}

PyObject* get_blocked(PyObject* self, void*) {
    TaskletObject* t = as_tasklet(self);
    return guarded([&] { return PyBool_FromLong(t->core.blocked() || t->dropped_blocked); });
}

PyObject* get_ignore_nesting(PyObject* self, void*) {
    return PyBool_FromLong(as_tasklet(self)->ignore_nesting);
}

int set_block_trap(PyObject* self, PyObject* value, void*) {
    if (value == nullptr || !PyLong_Check(value)) {
        type_error("block_trap must be set to a bool or integer");
        return -1;
    }
    long v = PyLong_AsLong(value);
    if (v == -1 && PyErr_Occurred()) return -1;
    as_tasklet(self)->core.set_block_trap(v != 0);
    return 0;
}

// -1 once its thread has ended (alive tasklets are told at thread end; an ended one's
// thread is looked up).
PyObject* get_thread_id(PyObject* self, void*) {
    TaskletObject* t = as_tasklet(self);
    if (t->thread_id == 0 || (thread_runtime::of_thread(t->thread_id) == nullptr &&
                              !(t->stands_for_main && is_python_thread(t->thread_id))))
        return PyLong_FromLong(-1);
    return PyLong_FromUnsignedLong(t->thread_id);
}

PyObject* get_next(PyObject* self, void*) {
    return guarded([&] { return tasklet_or_none(as_tasklet(self)->core.next()); });
}
PyObject* get_prev(PyObject* self, void*) {
    return guarded([&] { return tasklet_or_none(as_tasklet(self)->core.prev()); });
}

PyObject* get_tempval(PyObject* self, void*) {
    PyObject* v = as_tasklet(self)->tempval;
    return Py_NewRef(v == current_marker() ? self : v != nullptr ? v : Py_None);
}
int set_tempval(PyObject* self, PyObject* value, void*) {
    if (value == nullptr) value = Py_None;
    Py_INCREF(value);
    Py_XSETREF(as_tasklet(self)->tempval, value);
    return 0;
}

// The thread state of the thread a running tasklet runs on (nullptr if unknown).
PyThreadState* running_tstate(TaskletObject* t) {
    thread_runtime* rt = thread_runtime::of_thread(t->thread_id);
    return rt != nullptr ? rt->tstate() : nullptr;
}

PyObject* get_frame(PyObject* self, void*) {
    TaskletObject* t = as_tasklet(self);
    if (PySys_Audit("sys._getframe", nullptr) < 0) return nullptr;
    if (t->core.is_current()) {
        PyThreadState* ts = running_tstate(t);
        PyFrameObject* f = ts != nullptr ? PyThreadState_GetFrame(ts) : nullptr;
        if (f == nullptr) Py_RETURN_NONE;
        return reinterpret_cast<PyObject*>(f);
    }
    if (!t->core.alive() || t->state.top_frame() == nullptr) Py_RETURN_NONE;
    // A suspended tasklet: let CPython make the frame object of its innermost frame by
    // showing it that frame as the current one for a moment.
    PyThreadState* ts = PyThreadState_Get();
    _PyInterpreterFrame* saved = cpy::current_frame(ts);
    cpy::set_current_frame(ts, t->state.top_frame());
    PyFrameObject* f = PyThreadState_GetFrame(ts);
    cpy::set_current_frame(ts, saved);
    if (f == nullptr) Py_RETURN_NONE;
    return reinterpret_cast<PyObject*>(f);
}

PyObject* get_recursion_depth(PyObject* self, void*) {
    TaskletObject* t = as_tasklet(self);
    if (t->core.is_current()) {
        PyThreadState* ts = running_tstate(t);
        if (ts != nullptr) return PyLong_FromLong(cpy::recursion_depth(ts));
    }
    if (!t->core.alive()) return PyLong_FromLong(0);
    // Restored and not run yet: its frames are in the chain, one level each.
    if (t->chain != nullptr && !t->chain_started) return PyLong_FromLong(frames::depth(t->chain));
    // Interrupted by run(timeout) in the main thread, it is suspended in the tick's
    // signal handler, a C call that CPython may count as levels: not the tasklet's own.
    return PyLong_FromLong(t->state.recursion_depth() -
                           (t->preempted_in_handler ? cpy::c_call_recursion_levels : 0));
}

PyObject* get_nesting_level(PyObject* self, void*) {
    TaskletObject* t = as_tasklet(self);
    if (t->core.is_current()) {
        PyThreadState* ts = running_tstate(t);
        return PyLong_FromLong(ts != nullptr ? nesting_level(cpy::current_frame(ts)) : 0);
    }
    return PyLong_FromLong(t->core.alive() ? t->state.nesting_level() : 0);
}

PyObject* get_trace_function(PyObject* self, void*) {
    TaskletObject* t = as_tasklet(self);
    PyObject* o;
    if (t->core.is_current()) {
        PyThreadState* ts = running_tstate(t);
        o = ts != nullptr ? ts->c_traceobj : nullptr;
    } else {
        o = t->state.trace_object();
    }
    return Py_NewRef(o != nullptr ? o : Py_None);
}

int set_trace_function(PyObject* self, PyObject* value, void*) {
    TaskletObject* t = as_tasklet(self);
    return set_tasklet_tracer(t, t->core.is_current() ? running_tstate(t) : nullptr, false, value);
}

int set_profile_function(PyObject* self, PyObject* value, void*) {
    TaskletObject* t = as_tasklet(self);
    return set_tasklet_tracer(t, t->core.is_current() ? running_tstate(t) : nullptr, true, value);
}

PyObject* get_profile_function(PyObject* self, void*) {
    TaskletObject* t = as_tasklet(self);
    PyObject* o;
    if (t->core.is_current()) {
        PyThreadState* ts = running_tstate(t);
        o = ts != nullptr ? ts->c_profileobj : nullptr;
    } else {
        o = t->state.profile_object();
    }
    return Py_NewRef(o != nullptr ? o : Py_None);
}

PyObject* get_stack_kind(PyObject* self, void*) {
    return PyUnicode_FromString(stack_kind_name(as_tasklet(self)->core.kind()));
}

PyObject* tasklet_call(PyObject* self, PyObject* args, PyObject* kwds) {
    return tasklet_setup(self, args, kwds);
}

PyObject* tasklet_repr(PyObject* self) {
    TaskletObject* t = as_tasklet(self);
    const char* what = t->is_main_object ? "main" : (t->core.alive() ? "alive" : "dead");
    return PyUnicode_FromFormat("<%s object at %p (%s)>", Py_TYPE(self)->tp_name, self, what);
}

// ---- GC, finalization ---------------------------------------------------------------

int tasklet_traverse(PyObject* self, visitproc visit, void* arg) {
    TaskletObject* t = as_tasklet(self);
    Py_VISIT(Py_TYPE(self));
    Py_VISIT(t->func);
    Py_VISIT(t->args);
    Py_VISIT(t->kwargs);
    Py_VISIT(t->tempval);
    Py_VISIT(t->exc_state.exc_value);
    if (int r = tasklet_traverse_pickling(t, visit, arg)) return r;
    if (!t->core || t->core.is_current()) return 0;
    if (!t->core.alive() || t->is_main_object || t->state.fresh()) {
        Py_VISIT(t->state.context());
    } else if (int r = t->state.traverse(visit, arg, t->suspended_sp())) {
        return r;
    }
    // A paused tasklet that holds itself (another thread's, kept_forever) owns that
    // reference (a blocked one: its channel owns it, see channel_traverse; a runnable
    // one: the scheduler).
    if (t->holds_self && t->in_run == 0 && t->core.paused()) Py_VISIT(self);
    return 0;
}

int tasklet_clear(PyObject* self) {
    TaskletObject* t = as_tasklet(self);
    Py_CLEAR(t->tempval);
    if (!t->core || !t->core.alive()) {  // an alive tasklet's are in use
        Py_CLEAR(t->func);
        Py_CLEAR(t->args);
        Py_CLEAR(t->kwargs);
        Py_XDECREF(t->state.exchange_context(nullptr));
        Py_CLEAR(t->exc_state.exc_value);
        tasklet_clear_pickling(t);
    }
    return 0;
}

// PEP 442 finalizer: an unreachable alive tasklet is killed, so its finally blocks
// run (Stackless: up to 10 tries; if it still lives, it stays alive, referenced by
// itself, and is leaked rather than freed under its running frames).
void tasklet_finalize(PyObject* self) {
    TaskletObject* t = as_tasklet(self);
    if (!t->core || t->is_main_object) return;
    PyObject *et, *ev, *etb;
    PyErr_Fetch(&et, &ev, &etb);
    for (int i = 0; i < 10; i++) {
        try {
            if (!t->core.alive() || t->core.is_current()) break;
            if (t->thread_id != PyThread_get_thread_ident()) {
                t->core.kill(true);  // its own thread runs it
                break;
            }
            try {
                t->core.kill(false);
            } catch (const slp::runtime_error&) {
                t->core.kill(true);  // cannot switch here (switch trap, callback)
                break;
            }
        } catch (...) {
            set_python_error();
            PyErr_WriteUnraisable(self);
            break;
        }
        if (thread_runtime* rt = thread_runtime::current_if_any()) rt->flush();
    }
    // Still alive (it would not die, or its own thread will kill it): it lives on,
    // holding itself; one of this thread that refused to die, for good.
    if (t->core.alive() && t->alive_ref && !t->holds_self) {
        Py_INCREF(self);
        t->holds_self = true;
        t->kept_forever = t->thread_id == PyThread_get_thread_ident() && t->core.paused();
    }
    PyErr_Restore(et, ev, etb);
}

void tasklet_dealloc(PyObject* self) {
    TaskletObject* t = as_tasklet(self);
    if (PyObject_CallFinalizerFromDealloc(self) < 0) return;  // resurrected
    PyObject_GC_UnTrack(self);
    if (t->weakreflist != nullptr) PyObject_ClearWeakRefs(self);
    tasklet_clear(self);
    tasklet_clear_pickling(t);
    Py_CLEAR(t->func);
    Py_CLEAR(t->args);
    Py_CLEAR(t->kwargs);
    Py_XDECREF(t->state.exchange_context(nullptr));
    Py_CLEAR(t->exc_state.exc_value);
    if (t->core && t->core.user_data() == t) t->core.set_user_data(nullptr);
    // The state first: a copied-stack tasklet's frames leaving its data region read its
    // C slice through the core tasklet (datastack.cpp).
    t->state.~python_state();
    t->core.~tasklet();
    // A subclass instance's type reference is dropped by CPython's subtype_dealloc,
    // which calls this one: never here.
    Py_TYPE(self)->tp_free(self);
}

// A method that may make a tasklet paused, or no longer paused, ends in the rule of its
// reference to itself (thread_runtime::settle_self_ref).
template <auto F, class... A>
PyObject* settling(PyObject* self, A... a) {
    ref keep = ref::borrow(self);
    PyObject* r = F(self, a...);
    TaskletObject* t = as_tasklet(self);
    if (thread_runtime* rt = thread_runtime::current_if_any()) {
        rt->settle_self_ref(t);
    } else if (t->alive_ref && !t->holds_self) {  // (no thread to tell: never wrong)
        Py_INCREF(self);
        t->holds_self = true;
    }
    return r;
}

PyMethodDef tasklet_methods[] = {
    {"bind", reinterpret_cast<PyCFunction>(reinterpret_cast<void (*)()>(tasklet_bind)),
     METH_VARARGS | METH_KEYWORDS,
     "bind(func=None, args=None, kwargs=None): bind to a callable (and arguments)."},
    {"setup", reinterpret_cast<PyCFunction>(reinterpret_cast<void (*)()>(tasklet_setup)),
     METH_VARARGS | METH_KEYWORDS, "setup(*args, **kwargs): supply the arguments and insert."},
    {"insert", settling<tasklet_insert, PyObject*>, METH_NOARGS,
     "Insert at the end of the runnables."},
    {"remove", settling<tasklet_remove, PyObject*>, METH_NOARGS, "Remove from the runnables."},
    {"run", settling<tasklet_run, PyObject*>, METH_NOARGS,
     "Run it now; the caller stays runnable."},
    {"switch", settling<tasklet_switch, PyObject*>, METH_NOARGS,
     "Run it now; the caller is paused."},
    {"kill",
     reinterpret_cast<PyCFunction>(
         reinterpret_cast<void (*)()>(settling<tasklet_kill, PyObject*, PyObject*>)),
     METH_VARARGS | METH_KEYWORDS, "kill(pending=False): raise TaskletExit in it."},
    {"throw",
     reinterpret_cast<PyCFunction>(
         reinterpret_cast<void (*)()>(settling<tasklet_throw, PyObject*, PyObject*>)),
     METH_VARARGS | METH_KEYWORDS, "throw(exc, val=None, tb=None, pending=False)."},
    {"raise_exception", settling<tasklet_raise_exception, PyObject*>, METH_VARARGS,
     "raise_exception(exc_class, *args): raise exc_class(*args) in it, now."},
    {"set_atomic", tasklet_set_atomic, METH_O, "set_atomic(flag) -> old flag."},
    {"set_ignore_nesting", tasklet_set_ignore_nesting, METH_O,
     "set_ignore_nesting(flag) -> old flag."},
    {"__reduce__", tasklet_reduce, METH_NOARGS,
     "Pickle support: a started tasklet pickles its frames (see restorable)."},
    {"__setstate__", settling<tasklet_setstate, PyObject*>, METH_O, "Pickle support."},
    {"bind_thread", settling<tasklet_bind_thread, PyObject*>, METH_VARARGS,
     "bind_thread(thread_id=None): rebind a tasklet without C state (not alive, or paused and\n"
     "not started) to the thread thread_id (default: this one), where it runs from then on."},
    {nullptr, nullptr, 0, nullptr}};

PyGetSetDef tasklet_getset[] = {
    {"alive", bool_getter<&slp::tasklet::alive>, nullptr, "set up and not ended", nullptr},
    {"blocked", get_blocked, nullptr, "blocked on a channel", nullptr},
    {"scheduled", bool_getter<&slp::tasklet::scheduled>, nullptr, "runnable or blocked", nullptr},
    {"paused", bool_getter<&slp::tasklet::paused>, nullptr, "alive, neither runnable nor blocked",
     nullptr},
    {"atomic", bool_getter<&slp::tasklet::atomic>, nullptr, "not auto-scheduled", nullptr},
    {"block_trap", bool_getter<&slp::tasklet::block_trap>, set_block_trap,
     "a channel action that would block raises RuntimeError", nullptr},
    {"is_main", bool_getter<&slp::tasklet::is_main>, nullptr, "the main tasklet of its thread",
     nullptr},
    {"is_current", bool_getter<&slp::tasklet::is_current>, nullptr,
     "the running tasklet of its thread", nullptr},
    {"restorable", tasklet_get_restorable, nullptr, "can be pickled and resumed", nullptr},
    {"ignore_nesting", get_ignore_nesting, nullptr, "preemptible despite nesting", nullptr},
    {"thread_id", get_thread_id, nullptr, "the thread it belongs to (-1: ended)", nullptr},
    {"next", get_next, nullptr, "next in the chain it is in", nullptr},
    {"prev", get_prev, nullptr, "previous in the chain it is in", nullptr},
    {"tempval", get_tempval, set_tempval, "temporary value", nullptr},
    {"frame", get_frame, nullptr, "its innermost frame, or None", nullptr},
    {"recursion_depth", get_recursion_depth, nullptr, "its Python recursion depth", nullptr},
    {"nesting_level", get_nesting_level, nullptr, "C-level interpreter nesting", nullptr},
    {"trace_function", get_trace_function, set_trace_function, "its sys.settrace function",
     nullptr},
    {"profile_function", get_profile_function, set_profile_function, "its sys.setprofile function",
     nullptr},
    {"stack_kind", get_stack_kind, nullptr, "'own' or 'copied' (how it switches)", nullptr},
    {nullptr, nullptr, nullptr, nullptr, nullptr}};

}  // namespace

int tasklet_bind_for_restore(TaskletObject* t, PyObject* func, PyObject* args, PyObject* kwargs,
                             bool restored_frames) {
    if (!restored_frames) return bind_impl(t, func, args, kwargs);
    try {
        TaskletObject* self = t;
        t->core.bind([self] { run_restored_body(self); });
    } catch (...) {
        set_python_error();
        return -1;
    }
    ref a = ref::steal(PyTuple_New(0));
    if (!a) return -1;
    return make_alive(t, a.get(), nullptr, false) ? 0 : -1;
}

PyTypeObject TaskletType{};

bool init_tasklet_type() {
    Py_SET_REFCNT(reinterpret_cast<PyObject*>(&TaskletType), 1);
    TaskletType.tp_name = "stackless.tasklet";
    TaskletType.tp_basicsize = sizeof(TaskletObject);
    TaskletType.tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_BASETYPE | Py_TPFLAGS_HAVE_GC;
    TaskletType.tp_doc = "tasklet(func=None, args=None, kwargs=None): a microthread.";
    TaskletType.tp_new = tasklet_new;
    TaskletType.tp_init = tasklet_init;
    TaskletType.tp_call = tasklet_call;
    TaskletType.tp_repr = tasklet_repr;
    TaskletType.tp_traverse = tasklet_traverse;
    TaskletType.tp_clear = tasklet_clear;
    TaskletType.tp_finalize = tasklet_finalize;
    TaskletType.tp_dealloc = tasklet_dealloc;
    TaskletType.tp_weaklistoffset = offsetof(TaskletObject, weakreflist);
    TaskletType.tp_methods = tasklet_methods;
    TaskletType.tp_getset = tasklet_getset;
    return PyType_Ready(&TaskletType) == 0;
}

TaskletObject* new_tasklet_object_for(const slp::tasklet& t) noexcept {
    PyObject* o = TaskletType.tp_alloc(&TaskletType, 0);
    if (o == nullptr) return nullptr;
    TaskletObject* to = as_tasklet(o);
    new (&to->state) python_state();
    new (&to->core) slp::tasklet(t);
    to->tempval = Py_NewRef(Py_None);
    to->thread_id = PyThread_get_thread_ident();
    to->is_main_object = t.is_main();
    t.impl() != nullptr ? to->core.set_user_data(to) : void();
    return to;
}

namespace {

// The exception set ends the running tasklet: set_error_handler()'s handler, if any,
// gets it here, in the tasklet (exc, val, tb). True if it took it; false with an
// exception set (the same, or the one the handler raised) for the watchdog.
bool handle_error() {
    PyObject* handler = error_handler();
    if (handler == nullptr) return false;
    PyObject *t, *v, *b;
    PyErr_Fetch(&t, &v, &b);
    PyErr_NormalizeException(&t, &v, &b);
    ref type = ref::steal(t), val = ref::steal(v), tb = ref::steal(b);
    ref keep = ref::borrow(handler);
    PyObject* args[3] = {type.get(), val ? val.get() : Py_None, tb ? tb.get() : Py_None};
    ref r = ref::steal(PyObject_Vectorcall(handler, args, 3, nullptr));
    return bool(r);
}

}  // namespace

// Out of line: a blocked copied-stack tasklet saves its C stack from the switch up to
// its start, so the frame that stays on it while the tasklet's Python code runs is kept
// small (its locals live here, not there).
[[gnu::noinline]] void begin_body(TaskletObject* self, cpy::body_base* base) noexcept {
    thread_runtime* rt = thread_runtime::current_if_any();
    PyThreadState* ts = rt->tstate();
    // The C stack left below this frame, where its own stack says (a shared stack is as
    // big as a thread's: 0, CPython's own budget).
    std::size_t c_stack_left = 0;
    const slp::detail::tasklet_impl* c = self->core.impl();
    if (c != nullptr && c->kind == slp::stack_kind::own && c->x != nullptr && c->x->own.lo())
        c_stack_left =
            static_cast<std::size_t>(reinterpret_cast<std::byte*>(base) - c->x->own.lo());
    cpy::enter_body(ts, base, c_stack_left);
    rt->flush();
    self->base_below = cpy::current_frame(ts);  // its frames end above this one
}

namespace {

// The tasklet's own trace and profile functions (sys.settrace's, sys.setprofile's: with
// their objects; the preemption tick has none) end with it, as sys.settrace(None) and
// sys.setprofile(None) would end them: since 3.12 the interpreter counts the threads that
// trace, and keeps the instrumentation on while the count is not 0.
void end_tracing(PyThreadState* ts) {
    if (ts->c_traceobj != nullptr) PyEval_SetTrace(nullptr, nullptr);
    if (ts->c_profileobj != nullptr) PyEval_SetProfile(nullptr, nullptr);
}

}  // namespace

[[gnu::noinline]] void end_body(TaskletObject* self, PyObject* result) {
    thread_runtime* rt = thread_runtime::current_if_any();
    PyThreadState* ts = rt->tstate();
    std::exception_ptr escaped;
    if (result == nullptr) {
        if (PyErr_ExceptionMatches(TaskletExit)) {
            PyErr_Clear();  // TaskletExit ends a tasklet silently
        } else if (!handle_error()) {
            escaped = std::make_exception_ptr(py_exception::fetch());  // for the watchdog
        }
    }
    Py_XDECREF(result);
    Py_CLEAR(self->args);
    Py_CLEAR(self->kwargs);
    end_tracing(ts);
    cpy::leave_body(ts);
    // Core may wait for another thread before it switches away from an ended tasklet.
    rt->release_gil_if_shared();
    if (escaped) std::rethrow_exception(escaped);
}

// Thrown into before it ran (start_with_bomb): it raises before its callable runs.
// (Out of line, as begin_body: the bomb's reference is no local of the body's frame.)
[[gnu::noinline]] PyObject* raise_before_start(TaskletObject* self) noexcept {
    ref bomb = ref::steal(std::exchange(self->tempval, Py_NewRef(Py_None)));
    return explode_bomb(bomb.get());
}

void run_tasklet_body(TaskletObject* self) {
    cpy::body_base base;
    begin_body(self, &base);
    // The tasklet object keeps func, args and kwargs while they run (tasklet_clear leaves
    // an alive tasklet's alone), so the GC sees them through it.
    if (self->args == nullptr) self->args = PyTuple_New(0);
    PyObject* result = nullptr;
    if (self->tempval != nullptr && is_bomb(self->tempval)) [[unlikely]] {
        result = raise_before_start(self);
    } else if (self->args != nullptr) {
        result = PyObject_Call(self->func, self->args, self->kwargs);
    }
    end_body(self, result);
}

}  // namespace slpy

// module.cpp — the `stackless` module: its functions, attributes and initialization.
#include <utility>

#include "errors.hpp"
#include "frames/frames.hpp"
#include "module_api.hpp"
#include "module_type.hpp"
#include "objects.hpp"
#include "preemption.hpp"
#include "runtime.hpp"
#include "slp/detail/fast_schedule.hpp"
#include "slp/errors.hpp"
#include "slp/scheduler.hpp"
#include "slp/stack.hpp"
#include "stack_kind.hpp"
#include "watchdogs.hpp"

namespace slpy {

PyObject* mod_alive_tasklets(PyObject*, PyObject*);  // pickle.cpp
PyObject* mod_memory_of(PyObject*, PyObject*);       // memory_probe.cpp

namespace {

// Checkpoints: every tasklet of the thread, in one pickle. Python, run into the
// module's namespace at import.
const char* const kCheckpointSource = R"PY(
def checkpoint(path, data=None, protocol=None):
    """checkpoint(path, data=None): pickle every alive tasklet of this thread but the
    current and main ones (runnable, blocked with their channels, paused), and `data`,
    into the file `path` (written to path + '.tmp', then renamed: atomic)."""
    import os, pickle
    cur = stackless.getcurrent()
    tasks = [t for t in _alive_tasklets() if t is not cur]
    runnable = []
    t = cur.next
    while t is not None and t is not cur:
        if not t.is_main:
            runnable.append(t)
        t = t.next
    tmp = str(path) + '.tmp'
    with open(tmp, 'wb') as f:
        pickle.dump(('slp.checkpoint', 1, tasks, runnable, data), f,
                    protocol if protocol is not None else pickle.HIGHEST_PROTOCOL)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)
    return len(tasks)

def restore_checkpoint(path):
    """restore_checkpoint(path) -> data: unpickle a checkpoint() file; its blocked tasklets
    are blocked on their channels again, its runnable ones inserted in their order, its
    paused ones left paused. Returns the `data` given to checkpoint()."""
    import pickle
    with open(path, 'rb') as f:
        state = pickle.load(f)
    if (not isinstance(state, tuple) or len(state) != 5 or state[0] != 'slp.checkpoint'
            or state[1] != 1):
        raise pickle.UnpicklingError('not a stackless checkpoint')
    for t in state[3]:
        t.insert()
    return state[4]
)PY";

}  // namespace

bool init_tasklet_type();
bool init_channel_type();
bool init_bomb_type();
bool init_atomic_type();
void install_chunk_cache() noexcept;
void watch_code_changes() noexcept;                      // datastack.cpp
bool install_reducers(PyObject* module) noexcept;        // reducers.cpp
bool add_generator_pickling(PyObject* module) noexcept;  // generators.cpp
bool add_traceback_pickling(PyObject* module) noexcept;  // tracebacks.cpp
bool add_frame_references(PyObject* module) noexcept;    // frame_references.cpp
bool add_function_pickling(PyObject* module) noexcept;   // functions.cpp

namespace {

// The default: copied stacks won the benchmarks (bench/python): as fast as own stacks for
// a channel ping-pong (the pair runs on two of the thread's shared stacks and copies
// nothing), faster among 10,000 tasklets, a third of the memory per blocked tasklet, and
// no mapping per tasklet (own stacks hit vm.max_map_count near 30,000).
slp::stack_kind g_default_kind = slp::stack_kind::copied;
PyObject* g_schedule_cb = nullptr;  // owned
PyObject* g_channel_cb = nullptr;   // owned
bool g_softswitch = false;

thread_runtime* runtime() {
    return thread_runtime::get();
}

PyObject* flush_and_return(PyObject* r) {
    if (thread_runtime* rt = thread_runtime::current_if_any()) rt->flush();
    return r;
}

// ---- scheduling -----------------------------------------------------------------------

PyObject* mod_run(PyObject*, PyObject* args, PyObject* kwds) {
    static const char* kwlist[] = {"timeout",        "threadblock",  "soft",
                                   "ignore_nesting", "totaltimeout", nullptr};
    long timeout = 0;
    int threadblock = 0, soft = 0, ignore_nesting = 0, totaltimeout = 0;
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "|lpppp:run", const_cast<char**>(kwlist), &timeout,
                                     &threadblock, &soft, &ignore_nesting, &totaltimeout))
        return nullptr;
    thread_runtime* rt = runtime();
    if (rt == nullptr) return nullptr;
    TaskletObject* me = rt->current_object();
    run_options opt{timeout, soft != 0, ignore_nesting != 0, totaltimeout != 0};
    if (!watchdog_push(rt, me)) return nullptr;
    Py_INCREF(me);
    me->in_run++;
    PyObject* r = run_with_timeout(rt, opt);
    me->in_run--;
    watchdog_pop(rt, me);
    Py_DECREF(me);
    return flush_and_return(r);
}

// schedule() and schedule_remove(): give up the processor through `op(rt, me)` (core's
// schedule or schedule_remove; me: the running tasklet's object), recording for pickling
// what the suspended call returns. A template, so that op is inlined here: the switch
// then happens in the function the interpreter called (slp/detail/fast_schedule.hpp).
template <class Op>
[[gnu::always_inline]] inline PyObject* schedule_through(const char* name, Op op,
                                                         PyObject* const* args, Py_ssize_t nargs) {
    if (nargs > 1) {
        PyErr_Format(PyExc_TypeError, "%s() takes at most 1 argument", name);
        return nullptr;
    }
    thread_runtime* rt = runtime();
    if (rt == nullptr) return nullptr;
    PyObject* retval = nargs == 1 ? args[0] : nullptr;
    ref keep = ref::borrow(retval);
    TaskletObject* me = rt->current_object();
    me->suspended_in = suspend_kind::schedule;
    me->suspend_value = retval;
    // Stackless: the value to return waits in the tasklet's tempval, where whoever runs
    // meanwhile may replace it (by a bomb, too); the call claims it when it returns.
    // (No argument: the tasklet itself, which its tempval names by a marker, not by a
    // reference to itself.)
    Py_XSETREF(me->tempval, Py_NewRef(retval != nullptr ? retval : current_marker()));
    const bool ok = guarded([&] {
                        op(rt, me);
                        return Py_None;
                    }) != nullptr;
    // The object that runs now, if any: `me`, and even this thread's runtime, may have
    // gone while it was suspended (killed at the thread's end, after the runtime).
    rt = thread_runtime::current_if_any();
    me = rt != nullptr ? rt->current_object() : nullptr;
    if (me == nullptr) [[unlikely]]
        return flush_and_return(ok ? Py_NewRef(Py_None) : nullptr);
    me->suspended_in = suspend_kind::none;
    // (Null if the collector cleared the object meanwhile.)
    PyObject* r = std::exchange(me->tempval, Py_NewRef(Py_None));
    if (r == current_marker()) Py_SETREF(r, Py_NewRef(reinterpret_cast<PyObject*>(me)));
    if (!ok || r == nullptr) [[unlikely]] {
        Py_XDECREF(r);
        return flush_and_return(ok ? Py_NewRef(Py_None) : nullptr);
    }
    if (is_bomb(r)) [[unlikely]] {
        PyObject* e = explode_bomb(r);
        Py_DECREF(r);
        return flush_and_return(e);
    }
    rt->flush();
    return r;
}

// retval given by keyword (schedule(retval=x)): the positional form, else TypeError.
[[gnu::noinline]] PyObject* const* retval_keyword(const char* name, PyObject* const* args,
                                                  Py_ssize_t* nargs, PyObject* kwnames,
                                                  PyObject** slot) {
    if (PyTuple_GET_SIZE(kwnames) == 1 && *nargs == 0 &&
        PyUnicode_CompareWithASCIIString(PyTuple_GET_ITEM(kwnames, 0), "retval") == 0) {
        *slot = args[0];
        *nargs = 1;
        return slot;
    }
    PyErr_Format(PyExc_TypeError, "%s() takes one argument, retval", name);
    return nullptr;
}

// Core's inline path first (the observer's work done inline by switch_hooks), its general
// schedule if that declines.
PyObject* mod_schedule(PyObject*, PyObject* const* args, Py_ssize_t nargs, PyObject* kwnames) {
    PyObject* kw;
    if (kwnames != nullptr && PyTuple_GET_SIZE(kwnames) != 0) [[unlikely]]
        if ((args = retval_keyword("schedule", args, &nargs, kwnames, &kw)) == nullptr)
            return nullptr;
    return schedule_through(
        "schedule",
        [](thread_runtime* rt, TaskletObject* me) {
            if (!slp::detail::fast_schedule(switch_hooks{{}, rt, me})) slp::schedule();
        },
        args, nargs);
}

PyObject* mod_schedule_remove(PyObject*, PyObject* const* args, Py_ssize_t nargs,
                              PyObject* kwnames) {
    PyObject* kw;
    if (kwnames != nullptr && PyTuple_GET_SIZE(kwnames) != 0) [[unlikely]]
        if ((args = retval_keyword("schedule_remove", args, &nargs, kwnames, &kw)) == nullptr)
            return nullptr;
    return schedule_through(
        "schedule_remove",
        [](thread_runtime* rt, TaskletObject* me) {
            rt->pausing(me);
            try {
                slp::schedule_remove();
            } catch (...) {
                rt->settle_self_ref(me);
                throw;
            }
            rt->settle_self_ref(me);
        },
        args, nargs);
}

PyObject* mod_getcurrent(PyObject*, PyObject*) {
    thread_runtime* rt = runtime();
    if (rt == nullptr) return nullptr;
    return Py_NewRef(reinterpret_cast<PyObject*>(rt->current_object()));
}

PyObject* mod_getmain(PyObject*, PyObject*) {
    thread_runtime* rt = runtime();
    if (rt == nullptr) return nullptr;
    return Py_NewRef(reinterpret_cast<PyObject*>(rt->main_object()));
}

PyObject* mod_getruncount(PyObject*, PyObject*) {
    if (runtime() == nullptr) return nullptr;
    return guarded([] { return PyLong_FromLong(slp::getruncount()); });
}

// (main, current, runcount) of thread `tid` (get_thread_info(), below); `me`: the
// caller's runtime.
PyObject* thread_info_of(thread_runtime* me, unsigned long tid) {
    if (tid != me->thread_id()) {
        if (thread_runtime::of_thread(tid) == nullptr) {
            if (is_python_thread(tid)) {
                TaskletObject* m = thread_runtime::main_of_thread_without_runtime(tid);
                if (m == nullptr) return nullptr;
                return Py_BuildValue("(OOi)", m, m, 1);
            }
            PyErr_SetString(PyExc_RuntimeError, "Thread id not found");
            return nullptr;
        }
    }
    // Its scheduler is that thread's to change: hold it out of core while we look.
    quiet_threads quiet(tid != me->thread_id() ? tid : 0, 0);
    if (!quiet.ok()) return nullptr;
    thread_runtime* rt = thread_runtime::of_thread(tid);
    if (rt == nullptr) return Py_BuildValue("(OOi)", Py_None, Py_None, 0);  // it just ended
    int runcount = 0;
    try {
        runcount = slp::get_thread_info(rt->sched()).runcount;
    } catch (...) {
        set_python_error();
        return nullptr;
    }
    PyObject* current = runcount > 0 ? reinterpret_cast<PyObject*>(rt->current_object()) : Py_None;
    return Py_BuildValue("(OOi)", reinterpret_cast<PyObject*>(rt->main_object()), current,
                         runcount);
}

// get_thread_info(thread_id=current, flags=0): (main, current, runcount) of that thread's
// scheduler, as Stackless reports them: current is None when runcount is 0 (the thread
// waits for another one, its current tasklet blocked); a thread that has not used
// stackless yet runs its main tasklet: (main, main, 1); an id that is no thread's:
// RuntimeError. Stackless's undocumented flags append what its test suite reads: bit 30
// (serial, serial_last_jump, initial_stub) (runtime.hpp's serial, twice; the module has
// no C-stack objects: None), then bit 31 the watchdog list (watchdogs.hpp), None before
// the thread's first run(). The other bits are reserved, as in Stackless: ignored.
PyObject* mod_get_thread_info(PyObject*, PyObject* args) {
    PyObject* tid_obj = nullptr;
    PyObject* flags_obj = nullptr;
    if (!PyArg_ParseTuple(args, "|O!O!:get_thread_info", &PyLong_Type, &tid_obj, &PyLong_Type,
                          &flags_obj))
        return nullptr;
    unsigned long flags = 0;
    if (flags_obj != nullptr) {
        flags = PyLong_AsUnsignedLong(flags_obj);
        if (flags == static_cast<unsigned long>(-1) && PyErr_Occurred()) return nullptr;
    }
    thread_runtime* me = runtime();
    if (me == nullptr) return nullptr;
    unsigned long tid = me->thread_id();
    if (tid_obj != nullptr) {
        // A thread id, or -1 (and 0) for the calling thread, as in Stackless.
        int overflow = 0;
        long v = PyLong_AsLongAndOverflow(tid_obj, &overflow);
        if (v == -1 && PyErr_Occurred()) return nullptr;
        if (overflow != 0 || (v != -1 && v != 0)) {
            tid = PyLong_AsUnsignedLong(tid_obj);
            if (PyErr_Occurred()) return nullptr;
        }
    }
    ref info = ref::steal(thread_info_of(me, tid));
    if (!info) return nullptr;
    thread_runtime* rt = thread_runtime::of_thread(tid);
    if (flags & (1ul << 30)) {
        ref serial = ref::steal(PyLong_FromLongLong(rt != nullptr ? rt->serial : 0));
        if (!serial) return nullptr;
        ref more = ref::steal(PyTuple_Pack(3, serial.get(), serial.get(), Py_None));
        if (!more) return nullptr;
        info = ref::steal(PySequence_Concat(info.get(), more.get()));
        if (!info) return nullptr;
    }
    if (flags & (1ul << 31)) {
        PyObject* list =
            rt != nullptr && rt->watchdog_list != nullptr ? rt->watchdog_list : Py_None;
        ref more = ref::steal(PyTuple_Pack(1, list));
        if (!more) return nullptr;
        info = ref::steal(PySequence_Concat(info.get(), more.get()));
    }
    return info.release();
}

PyObject* mod_switch_trap(PyObject*, PyObject* arg) {
    long delta = PyLong_AsLong(arg);
    if (delta == -1 && PyErr_Occurred()) return nullptr;
    if (runtime() == nullptr) return nullptr;
    return PyLong_FromLong(slp::switch_trap(static_cast<int>(delta)));
}

PyObject* mod_enable_softswitch(PyObject*, PyObject* flag) {
    bool old = g_softswitch;
    if (flag != Py_None) {
        int v = PyObject_IsTrue(flag);
        if (v < 0) return nullptr;
        // Hard switching only in this build: the flag is kept for API compatibility.
        g_softswitch = v != 0;
    }
    return PyBool_FromLong(old);
}

// ---- callbacks ------------------------------------------------------------------------

void call_unraisable_safe(PyObject* cb, PyObject* a, PyObject* b, PyObject* c, PyObject* d) {
    PyObject *et, *ev, *etb;
    PyErr_Fetch(&et, &ev, &etb);
    PyObject* argv[4] = {a, b, c, d};
    size_t n = c == nullptr ? 2 : 4;
    PyObject* r = PyObject_Vectorcall(cb, argv, n, nullptr);
    if (r == nullptr) PyErr_WriteUnraisable(cb);
    Py_XDECREF(r);
    PyErr_Restore(et, ev, etb);
}

void schedule_cb_trampoline(const slp::tasklet& prev, const slp::tasklet& next) {
    if (thread_runtime* rt = thread_runtime::current_if_any()) rt->hold_gil();
    PyObject* cb = g_schedule_cb;
    if (cb == nullptr) return;
    ref keep = ref::borrow(cb);
    ref p = ref::steal(tasklet_or_none(prev));
    ref n = ref::steal(tasklet_or_none(next));
    if (!p || !n) {
        PyErr_Clear();
        return;
    }
    call_unraisable_safe(cb, p.get(), n.get(), nullptr, nullptr);
}

void channel_cb_trampoline(slp::channel_base& ch, const slp::tasklet& t, bool sending,
                           bool will_block) {
    if (thread_runtime* rt = thread_runtime::current_if_any()) rt->hold_gil();
    PyObject* cb = g_channel_cb;
    if (cb == nullptr) return;
    ref keep = ref::borrow(cb);
    ref c = ref::borrow(reinterpret_cast<PyObject*>(channel_object_of(ch)));
    ref tk = ref::steal(tasklet_or_none(t));
    if (!tk) {
        PyErr_Clear();
        return;
    }
    call_unraisable_safe(cb, c.get(), tk.get(), sending ? Py_True : Py_False,
                         will_block ? Py_True : Py_False);
}

PyObject* mod_set_schedule_callback(PyObject*, PyObject* cb) {
    PyObject* old = replace_callable(g_schedule_cb, cb, "schedule callback must be callable");
    if (old == nullptr) return nullptr;
    slp::set_schedule_callback(g_schedule_cb ? slp::schedule_callback(schedule_cb_trampoline)
                                             : slp::schedule_callback{});
    return old;
}

PyObject* mod_get_schedule_callback(PyObject*, PyObject*) {
    return Py_NewRef(g_schedule_cb != nullptr ? g_schedule_cb : Py_None);
}

PyObject* mod_set_channel_callback(PyObject*, PyObject* cb) {
    PyObject* old = replace_callable(g_channel_cb, cb, "channel callback must be callable");
    if (old == nullptr) return nullptr;
    slp::set_channel_callback(g_channel_cb ? slp::channel_callback(channel_cb_trampoline)
                                           : slp::channel_callback{});
    return old;
}

PyObject* mod_get_channel_callback(PyObject*, PyObject*) {
    return Py_NewRef(g_channel_cb != nullptr ? g_channel_cb : Py_None);
}

// ---- stack kind -----------------------------------------------------------------------

PyObject* mod_set_default_stack_kind(PyObject*, PyObject* arg) {
    const char* old = stack_kind_name(g_default_kind);
    if (arg != Py_None) {
        const char* s = PyUnicode_AsUTF8(arg);
        if (s == nullptr) return nullptr;
        slp::stack_kind k;
        if (!stack_kind_from_name(s, k)) {
            PyErr_Format(PyExc_ValueError, "stack kind must be 'own' or 'copied', not %R", arg);
            return nullptr;
        }
        g_default_kind = k;
    }
    return PyUnicode_FromString(old);
}

// ---- shutdown ------------------------------------------------------------------------------

// atexit: kill the main thread's tasklets while the interpreter still works, so their
// finally blocks run (Stackless does the same).
PyObject* mod_atexit(PyObject*, PyObject*) {
    if (thread_runtime* rt = thread_runtime::current_if_any()) {
        PyObject* cb = g_schedule_cb;
        (void)cb;
        rt->kill_all(10);
        rt->flush();
    }
    Py_RETURN_NONE;
}

PyMethodDef module_methods[] = {
    {"run", reinterpret_cast<PyCFunction>(reinterpret_cast<void (*)()>(mod_run)),
     METH_VARARGS | METH_KEYWORDS,
     "run(timeout=0, threadblock=False, soft=False, ignore_nesting=False, totaltimeout=False)\n"
     "Run the runnable tasklets until none is left but the caller. With a timeout, a tasklet "
     "running longer than about `timeout` instructions is interrupted and returned."},
    {"_memory_of", mod_memory_of, METH_O,
     "_memory_of(t) -> where a suspended tasklet's bytes are."},
    {"_alive_tasklets", mod_alive_tasklets, METH_NOARGS,
     "_alive_tasklets() -> this thread's alive tasklets but main, oldest first."},
    {"schedule", reinterpret_cast<PyCFunction>(reinterpret_cast<void (*)()>(mod_schedule)),
     METH_FASTCALL | METH_KEYWORDS, "schedule(retval=current): let the next runnable tasklet run."},
    {"schedule_remove",
     reinterpret_cast<PyCFunction>(reinterpret_cast<void (*)()>(mod_schedule_remove)),
     METH_FASTCALL | METH_KEYWORDS,
     "schedule_remove(retval=current): like schedule(), and pause the caller."},
    {"getcurrent", mod_getcurrent, METH_NOARGS, "The running tasklet."},
    {"getmain", mod_getmain, METH_NOARGS, "This thread's main tasklet."},
    {"getruncount", mod_getruncount, METH_NOARGS, "Runnable tasklets, the current one included."},
    {"get_thread_info", mod_get_thread_info, METH_VARARGS,
     "get_thread_info(thread_id=-1, flags=0) -> (main, current, runcount) (flags: Stackless's "
     "undocumented 1 << 30 and 1 << 31 append its stub serials and the watchdog list)."},
    {"switch_trap", mod_switch_trap, METH_O,
     "switch_trap(delta) -> old value; while positive, switching raises RuntimeError."},
    {"enable_softswitch", mod_enable_softswitch, METH_O,
     "enable_softswitch(flag) -> old flag (this build switches hard only)."},
    {"set_schedule_callback", mod_set_schedule_callback, METH_O,
     "set_schedule_callback(callable(prev, next)) -> old callback."},
    {"get_schedule_callback", mod_get_schedule_callback, METH_NOARGS, "The schedule callback."},
    {"set_channel_callback", mod_set_channel_callback, METH_O,
     "set_channel_callback(callable(channel, tasklet, sending, willblock)) -> old callback."},
    {"get_channel_callback", mod_get_channel_callback, METH_NOARGS, "The channel callback."},
    {"set_default_stack_kind", mod_set_default_stack_kind, METH_O,
     "set_default_stack_kind('own' | 'copied' | None) -> old kind: how new tasklets switch."},
    {"_atexit", mod_atexit, METH_NOARGS, "Kill the remaining tasklets (registered with atexit)."},
    {nullptr, nullptr, 0, nullptr}};

PyModuleDef module_def = {PyModuleDef_HEAD_INIT,
                          "stackless",
                          "Stackless Python's tasklets, channels and scheduler on slp.",
                          -1,
                          module_methods,
                          nullptr,
                          nullptr,
                          nullptr,
                          nullptr};

bool add_type(PyObject* m, const char* name, PyTypeObject* tp) {
    Py_INCREF(tp);
    if (PyModule_AddObject(m, name, reinterpret_cast<PyObject*>(tp)) < 0) {
        Py_DECREF(tp);
        return false;
    }
    return true;
}

}  // namespace

slp::stack_kind default_stack_kind() noexcept {
    return g_default_kind;
}
void set_default_stack_kind(slp::stack_kind k) noexcept {
    g_default_kind = k;
}

}  // namespace slpy

PyMODINIT_FUNC PyInit_stackless() {
    using namespace slpy;
    if (!init_tasklet_type() || !init_channel_type() || !init_bomb_type() || !init_atomic_type())
        return nullptr;
    PyObject* m = stackless_module(&module_def);
    if (m == nullptr) return nullptr;
    install_chunk_cache();
    watch_code_changes();
    if (TaskletExit == nullptr) {
        TaskletExit = PyErr_NewExceptionWithDoc("stackless.TaskletExit",
                                                "Raised in a tasklet to kill it (a SystemExit).",
                                                PyExc_SystemExit, nullptr);
        if (TaskletExit == nullptr) goto fail;
    }
    if (!add_type(m, "tasklet", &TaskletType) || !add_type(m, "channel", &ChannelType) ||
        !add_type(m, "bomb", &BombType) || !add_type(m, "atomic", &AtomicType))
        goto fail;
    Py_INCREF(TaskletExit);
    if (PyModule_AddObject(m, "TaskletExit", TaskletExit) < 0) {
        Py_DECREF(TaskletExit);
        goto fail;
    }
    // Core's shared-stack counts, for tests that make crowds just past them.
    if (PyModule_AddIntConstant(m, "_shared_stacks_per_thread", slp::shared_stacks_per_thread) <
            0 ||
        PyModule_AddIntConstant(m, "_max_shared_stacks_per_thread",
                                slp::max_shared_stacks_per_thread) < 0)
        goto fail;
    {
        // TaskletExit is a builtin, as in Stackless.
        PyObject* builtins = PyEval_GetBuiltins();
        if (builtins == nullptr || PyDict_SetItemString(builtins, "TaskletExit", TaskletExit) < 0)
            goto fail;
        // The main thread's runtime and main tasklet exist from import on.
        if (thread_runtime::get() == nullptr || !install_process_hooks()) goto fail;
        PyObject* atexit = PyImport_ImportModule("atexit");
        if (atexit == nullptr) goto fail;
        PyObject* fn = PyObject_GetAttrString(m, "_atexit");
        PyObject* r = fn ? PyObject_CallMethod(atexit, "register", "O", fn) : nullptr;
        Py_XDECREF(fn);
        Py_DECREF(atexit);
        if (r == nullptr) goto fail;
        Py_DECREF(r);
    }
    if (frames::init(m) < 0 || !add_module_api(m) || !serve_from_type(m)) goto fail;
    {
        PyObject* d = PyModule_GetDict(m);
        if (PyDict_GetItemString(d, "__builtins__") == nullptr &&
            PyDict_SetItemString(d, "__builtins__", PyEval_GetBuiltins()) < 0)
            goto fail;
        PyObject* r = PyRun_String(kCheckpointSource, Py_file_input, d, d);
        if (r == nullptr) goto fail;
        Py_DECREF(r);
    }
    if (!add_generator_pickling(m) || !add_traceback_pickling(m) || !add_frame_references(m) ||
        !install_reducers(m) || !add_function_pickling(m) || !add_module_all(m))
        goto fail;
    return m;
fail:
    Py_DECREF(m);
    return nullptr;
}

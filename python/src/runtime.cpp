// runtime.cpp — per-thread binding state and the switch observer.
#include "runtime.hpp"

#include <time.h>

#include <algorithm>
#include <csignal>
#include <cstdio>
#include <mutex>
#include <new>
#include <utility>

#include "errors.hpp"
#include "preemption.hpp"
#include "slp/scheduler.hpp"

namespace slpy {

namespace {

std::vector<thread_runtime*> g_runtimes;  // guarded by the GIL

// Stored in the thread state's dict: its destruction (PyThreadState_Clear, when the
// thread ends) shuts the thread's runtime down while Python still works there.
void capsule_destructor(PyObject* capsule) {
    auto* rt = static_cast<thread_runtime*>(PyCapsule_GetPointer(capsule, "stackless.runtime"));
    if (rt != nullptr) rt->shutdown();
}

bool g_gc_running = false;  // the collector holds the other threads quiet (GIL held)

std::mutex g_orphans_mu;
std::vector<PyObject*> g_orphans;

}  // namespace

void ref::orphan(PyObject* o) noexcept {
    std::lock_guard<std::mutex> lk(g_orphans_mu);
    try {
        g_orphans.push_back(o);
    } catch (...) {  // out of memory: leak it
    }
}

void ref::drop_orphans() noexcept {
    std::vector<PyObject*> batch;
    {
        std::lock_guard<std::mutex> lk(g_orphans_mu);
        batch.swap(g_orphans);
    }
    for (PyObject* o : batch) Py_DECREF(o);
}

constinit thread_local thread_runtime* thread_runtime::tls_ = nullptr;

namespace {
// Main tasklet objects handed out for threads without a runtime (owned; the GIL guards).
std::vector<TaskletObject*> g_mains_without_runtime;

// The one of this thread, if get_thread_info() made one: taken out of the list.
TaskletObject* take_main_made_for(unsigned long tid) noexcept {
    for (auto it = g_mains_without_runtime.begin(); it != g_mains_without_runtime.end(); ++it)
        if ((*it)->thread_id == tid) {
            TaskletObject* o = *it;
            g_mains_without_runtime.erase(it);
            return o;
        }
    return nullptr;
}
}  // namespace

thread_runtime* thread_runtime::create() noexcept {
    auto* rt = new (std::nothrow) thread_runtime();
    if (rt == nullptr) {
        PyErr_NoMemory();
        return nullptr;
    }
    rt->ts_ = PyThreadState_Get();
    rt->thread_id_ = PyThread_get_thread_ident();
    rt->main_thread_ = cpy::is_main_thread();
    static long long entries = 0;  // (the GIL held)
    rt->serial = ++entries;
    try {
        slp::tasklet m = slp::getmain();
        TaskletObject* mo = take_main_made_for(rt->thread_id_);
        if (mo != nullptr) {  // another thread asked for our main before we used stackless
            mo->core = m;
            mo->core.set_user_data(mo);
            mo->stands_for_main = false;
        } else if ((mo = new_tasklet_object_for(m)) == nullptr) {
            delete rt;
            return nullptr;
        }
        rt->main_ = mo;
        rt->current_ = mo;
        rt->sched_ = slp::this_thread();
        rt->hot_ = slp::detail::tls_sched;
        slp::set_switch_observer(rt);
    } catch (...) {
        set_python_error();
        delete rt;
        return nullptr;
    }
    tls_ = rt;
    if (g_gc_running) {  // a thread that starts during a collection: quiet as the others
        rt->quiet_wanted++;
        rt->held_for_gc_ = true;
    }
    g_runtimes.push_back(rt);
    shared_ = g_runtimes.size() > 1;
    PyObject* dict = PyThreadState_GetDict();
    if (dict != nullptr) {
        PyObject* cap = PyCapsule_New(rt, "stackless.runtime", capsule_destructor);
        if (cap == nullptr || PyDict_SetItemString(dict, "__stackless_runtime__", cap) < 0)
            PyErr_Clear();
        Py_XDECREF(cap);
    }
    return rt;
}

bool is_python_thread(unsigned long tid) noexcept {
    PyInterpreterState* interp = PyThreadState_Get()->interp;
    for (PyThreadState* ts = PyInterpreterState_ThreadHead(interp); ts != nullptr;
         ts = PyThreadState_Next(ts))
        if (ts->thread_id == tid) return true;
    return false;
}

TaskletObject* thread_runtime::main_of_thread_without_runtime(unsigned long tid) noexcept {
    for (auto it = g_mains_without_runtime.begin(); it != g_mains_without_runtime.end();) {
        if (!is_python_thread((*it)->thread_id)) {  // ended without using stackless
            (*it)->thread_id = 0;
            Py_DECREF(*it);
            it = g_mains_without_runtime.erase(it);
        } else {
            ++it;
        }
    }
    for (TaskletObject* o : g_mains_without_runtime)
        if (o->thread_id == tid) return o;
    TaskletObject* o = nullptr;
    try {  // an unbound core tasklet until that thread gives it its main
        o = new_tasklet_object_for(slp::tasklet(std::function<void()>{}, {}));
    } catch (...) {
        set_python_error();
        return nullptr;
    }
    if (o == nullptr) return nullptr;
    o->thread_id = tid;
    o->is_main_object = true;
    o->stands_for_main = true;
    try {
        g_mains_without_runtime.push_back(o);
    } catch (...) {
        Py_DECREF(o);
        PyErr_NoMemory();
        return nullptr;
    }
    return o;
}

thread_runtime* thread_runtime::of_thread(unsigned long tid) noexcept {
    for (thread_runtime* rt : g_runtimes)
        if (rt->thread_id_ == tid) return rt;
    return nullptr;
}

PyObject* thread_runtime::thread_ids() noexcept {
    PyObject* l = PyList_New(0);
    if (l == nullptr) return nullptr;
    for (thread_runtime* rt : g_runtimes) {
        PyObject* i = PyLong_FromUnsignedLong(rt->thread_id_);
        if (i == nullptr || PyList_Append(l, i) < 0) {
            Py_XDECREF(i);
            Py_DECREF(l);
            return nullptr;
        }
        Py_DECREF(i);
    }
    return l;
}

quiet_threads::quiet_threads(unsigned long a, unsigned long b) noexcept {
    thread_runtime* me = thread_runtime::current_if_any();
    const unsigned long ids[2] = {a, b};
    for (int i = 0; i < 2; i++) {
        thread_runtime* rt = ids[i] != 0 ? thread_runtime::of_thread(ids[i]) : nullptr;
        if (rt == nullptr || rt == me || (i == 1 && rt == rt_[0])) continue;
        rt->quiet_wanted++;
        rt_[i] = rt;
    }
    // A thread that is not quiet runs core up to its next switch, return or park, then
    // takes the GIL back and, asked to, keeps it in core from then on. A runtime that
    // shuts down meanwhile is kept (never freed) and quiet.
    for (int i = 0; i < 100000; i++) {
        if ((rt_[0] == nullptr || rt_[0]->quiet()) && (rt_[1] == nullptr || rt_[1]->quiet())) {
            ok_ = true;
            return;
        }
        Py_BEGIN_ALLOW_THREADS;
        timespec pause{0, 100000};  // 100 us
        nanosleep(&pause, nullptr);
        Py_END_ALLOW_THREADS;
    }
    PyErr_SetString(PyExc_RuntimeError, "stackless: another thread stays busy in its scheduler");
}

quiet_threads::~quiet_threads() {
    for (thread_runtime* rt : rt_)
        if (rt != nullptr) rt->quiet_wanted--;
}

void thread_runtime::quiet_others_for_gc() noexcept {
    if (g_gc_running || g_runtimes.size() < 2) return;
    g_gc_running = true;
    thread_runtime* me = tls_;
    for (thread_runtime* rt : g_runtimes) {
        if (rt == me) continue;
        rt->quiet_wanted++;
        rt->held_for_gc_ = true;
    }
    // As quiet_threads: each other thread leaves core or takes the GIL back in it soon.
    // If one does not within seconds, collect anyway (as before: rare, and reported).
    for (int i = 0; i < 100000; i++) {
        bool all = true;
        for (thread_runtime* rt : g_runtimes) all = all && (rt == me || rt->quiet());
        if (all) return;
        Py_BEGIN_ALLOW_THREADS;
        timespec pause{0, 100000};  // 100 us
        nanosleep(&pause, nullptr);
        Py_END_ALLOW_THREADS;
    }
    std::fputs("stackless: another thread stays busy in its scheduler during gc\n", stderr);
}

void thread_runtime::release_others_after_gc() noexcept {
    if (!g_gc_running) return;
    g_gc_running = false;
    for (thread_runtime* rt : g_runtimes) {
        if (!rt->held_for_gc_) continue;
        rt->held_for_gc_ = false;
        rt->quiet_wanted--;
    }
}

namespace {

// gc.callbacks entry: callback(phase, info).
PyObject* gc_guard(PyObject*, PyObject* const* args, Py_ssize_t nargs) {
    if (nargs >= 1 && PyUnicode_Check(args[0])) {
        if (PyUnicode_CompareWithASCIIString(args[0], "start") == 0)
            thread_runtime::quiet_others_for_gc();
        else
            thread_runtime::release_others_after_gc();
    }
    Py_RETURN_NONE;
}

PyMethodDef gc_guard_def = {"_gc_guard",
                            reinterpret_cast<PyCFunction>(reinterpret_cast<void (*)()>(gc_guard)),
                            METH_FASTCALL, "stackless: holds other threads quiet while gc runs"};

// os.register_at_fork(after_in_child=...): the child has only the forking thread.
PyObject* after_fork_in_child(PyObject*, PyObject*) {
    thread_runtime::after_fork_in_child();
    Py_RETURN_NONE;
}

PyMethodDef after_fork_def = {"_after_fork_in_child", after_fork_in_child, METH_NOARGS,
                              "stackless: forget the threads a forked child does not have"};

}  // namespace

void thread_runtime::after_fork_in_child() noexcept {
    new (&g_orphans_mu) std::mutex;
    thread_runtime* me = tls_;
    for (thread_runtime* rt : g_runtimes) {
        if (rt == me) continue;
        // Its tasklets are of no thread (core forgot them: slp's own at-fork handler).
        for (TaskletObject* t = rt->alive_head_; t != nullptr; t = t->alive_next) t->thread_id = 0;
        if (rt->main_ != nullptr) rt->main_->thread_id = 0;
    }
    g_runtimes.clear();
    if (me != nullptr) {
        g_runtimes.push_back(me);
        me->quiet_wanted = 0;
        me->held_for_gc_ = false;
        me->main_thread_ = _PyOS_IsMainThread() != 0;  // forked from another thread: now main
    }
    shared_ = false;
    g_gc_running = false;
}

bool install_process_hooks() noexcept {
    ref gc = ref::steal(PyImport_ImportModule("gc"));
    if (!gc) return false;
    ref callbacks = ref::steal(PyObject_GetAttrString(gc.get(), "callbacks"));
    ref fn = ref::steal(PyCFunction_New(&gc_guard_def, nullptr));
    if (!callbacks || !fn || PyList_Append(callbacks.get(), fn.get()) < 0) return false;
    ref os = ref::steal(PyImport_ImportModule("os"));
    ref reg = os ? ref::steal(PyObject_GetAttrString(os.get(), "register_at_fork")) : ref{};
    ref child = ref::steal(PyCFunction_New(&after_fork_def, nullptr));
    ref kw = ref::steal(PyDict_New());
    if (!reg || !child || !kw || PyDict_SetItemString(kw.get(), "after_in_child", child.get()) < 0)
        return false;
    ref empty = ref::steal(PyTuple_New(0));
    if (!empty) return false;
    ref r = ref::steal(PyObject_Call(reg.get(), empty.get(), kw.get()));
    return bool(r);
}

void thread_runtime::release_gil_slow() noexcept {
    in_core_.store(true, std::memory_order_release);
    PyEval_SaveThread();
    gil_released_ = true;
    gil_shared_ = flush_due_ = true;
}

void thread_runtime::before_wait() noexcept {
    parked_.store(true, std::memory_order_release);
    if (!gil_released_) {
        in_core_.store(true, std::memory_order_release);
        PyEval_SaveThread();
        gil_released_ = true;
        gil_shared_ = flush_due_ = true;
    }
}

namespace {

// Python's own SIGINT handler is installed: Ctrl-C means KeyboardInterrupt and nothing else.
bool sigint_raises_keyboard_interrupt() {
    PyObject* sig = PyImport_ImportModule("_signal");  // built in, already imported
    if (sig == nullptr) return PyErr_Clear(), false;
    PyObject* handler = PyObject_CallMethod(sig, "getsignal", "i", SIGINT);
    PyObject* deflt = PyObject_GetAttrString(sig, "default_int_handler");
    const bool is_default = handler != nullptr && handler == deflt;
    Py_XDECREF(handler);
    Py_XDECREF(deflt);
    Py_DECREF(sig);
    PyErr_Clear();
    return is_default;
}

}  // namespace

std::exception_ptr thread_runtime::poll_wait() noexcept {
    if (!main_thread_) return nullptr;
    hold_gil();  // parked: quiet all the same (no change to core here)
    std::exception_ptr stop;
    // No Python signal handler runs here: this tasklet is half blocked (queued on its
    // channel, out of the ring), and a handler that used stackless would find the
    // scheduler in that state. Only Ctrl-C under Python's default handler, which would
    // do nothing but raise KeyboardInterrupt, ends the wait; every other handler runs
    // when the channel action is over, as before any wait.
    if (sigint_raises_keyboard_interrupt() && PyOS_InterruptOccurred()) {
        PyErr_SetNone(PyExc_KeyboardInterrupt);
        try {
            stop = std::make_exception_ptr(py_exception::fetch());
        } catch (...) {
            stop = std::current_exception();
        }
    }
    in_core_.store(true, std::memory_order_release);
    PyEval_SaveThread();
    gil_released_ = true;
    return stop;
}

void thread_runtime::action_completed_anyway(std::exception_ptr why) noexcept {
    hold_gil();
    try {
        std::rethrow_exception(why);
    } catch (const py_exception& e) {
        if (main_thread_ && PyErr_GivenExceptionMatches(e.type.get(), PyExc_KeyboardInterrupt))
            PyErr_SetInterruptEx(SIGINT);
    } catch (...) {  // a failed switch: nothing was lost by not raising it
    }
}

void thread_runtime::hold_gil_slow() noexcept {
    gil_released_ = false;
    PyEval_RestoreThread(ts_);
    in_core_.store(false, std::memory_order_release);
}

// The running tasklet ended: its frames are gone. Drop what it still holds at the next
// safe point.
void thread_runtime::drop_ended(TaskletObject* f) noexcept {
    PyObject* refs[3];
    int n = 0;
    f->state.discard(refs, &n);
    for (int i = 0; i < n; i++) defer(refs[i]);
    if (f->alive_ref) {
        f->alive_ref = false;
        unlink_alive(f);
    }
    if (f->holds_self) {
        f->holds_self = false;
        defer(reinterpret_cast<PyObject*>(f));
    }
}

void thread_runtime::flush_slow() noexcept {
    ref::drop_orphans();
    while (!deferred_.empty()) {
        std::vector<PyObject*> batch;
        batch.swap(deferred_);
        for (PyObject* o : batch) Py_DECREF(o);
    }
    flush_due_ = gil_shared_;
}

namespace {
void give_up_self_ref(thread_runtime* rt, TaskletObject* t) noexcept {
    t->holds_self = false;
    if (Py_REFCNT(t) > 1)
        Py_DECREF(t);
    else
        rt->defer(reinterpret_cast<PyObject*>(t));
}
}  // namespace

void thread_runtime::settle_self_ref(TaskletObject* t) noexcept {
    if (!t->alive_ref) return;  // not alive, or a main tasklet: never holds itself
    const bool paused_here = t->thread_id == thread_id_ && !t->kept_forever && t->in_run == 0 &&
                             t->core.alive() && t->core.paused();
    if (paused_here && t->holds_self) {
        give_up_self_ref(this, t);
    } else if (!paused_here && !t->holds_self) {
        Py_INCREF(t);
        t->holds_self = true;
    }
}

void thread_runtime::pausing(TaskletObject* me) noexcept {
    if (me->alive_ref && me->holds_self && !me->kept_forever && me->in_run == 0) {
        me->holds_self = false;
        defer(reinterpret_cast<PyObject*>(me));  // it still runs: never freed before it is off
    }
}

void thread_runtime::link_alive(TaskletObject* t) noexcept {
    t->alive_prev = nullptr;
    t->alive_next = alive_head_;
    if (alive_head_ != nullptr) alive_head_->alive_prev = t;
    alive_head_ = t;
}

void thread_runtime::unlink_alive(TaskletObject* t) noexcept {
    if (t->alive_prev != nullptr)
        t->alive_prev->alive_next = t->alive_next;
    else if (alive_head_ == t)
        alive_head_ = t->alive_next;
    if (t->alive_next != nullptr) t->alive_next->alive_prev = t->alive_prev;
    t->alive_next = t->alive_prev = nullptr;
}

void thread_runtime::kill_all(int rounds) noexcept {
    for (int r = 0; r < rounds && alive_head_ != nullptr; r++) {
        // Snapshot: killing runs Python code, which may create or end tasklets.
        std::vector<PyObject*> victims;
        for (TaskletObject* t = alive_head_; t != nullptr; t = t->alive_next) {
            Py_INCREF(t);
            victims.push_back(reinterpret_cast<PyObject*>(t));
        }
        for (PyObject* o : victims) {
            auto* t = reinterpret_cast<TaskletObject*>(o);
            try {
                if (t->core.alive() && !t->core.is_current()) t->core.kill(false);
            } catch (...) {
                set_python_error();
                PyErr_WriteUnraisable(o);
            }
            flush();
        }
        for (PyObject* o : victims) Py_DECREF(o);
        flush();
    }
}

void thread_runtime::shutdown() noexcept {
    if (tls_ != this) return;  // another thread's capsule: never ours to run
    if (!cpy::is_finalizing()) {
        PyObject *et, *ev, *etb;
        PyErr_Fetch(&et, &ev, &etb);
        if (alive_head_ != nullptr) enter_temporary_main();
        kill_all(10);
        PyErr_Restore(et, ev, etb);
    }
    Py_CLEAR(watchdog_list);  // (its tasklets left run() when they were killed)
    flush();
    drop_survivors();
    slp::set_switch_observer(nullptr);
    g_runtimes.erase(std::remove(g_runtimes.begin(), g_runtimes.end(), this), g_runtimes.end());
    shared_ = g_runtimes.size() > 1;
    tls_ = nullptr;
    if (main_ != nullptr) {
        main_->thread_id = 0;
        Py_CLEAR(main_);
    }
    Py_CLEAR(preempt.interrupted);
    if (held_for_gc_) {
        held_for_gc_ = false;
        quiet_wanted--;
    }
    // Another thread waiting for this one to be quiet holds a pointer to it: leaked then
    // (quiet_threads treats it as quiet), freed otherwise.
    if (quiet_wanted == 0) delete this;
}

// As in Stackless, the leftovers of an ending thread are killed under a main tasklet
// object of its own: the thread's main tasklet has ended, and whoever kept its object
// (stackless.main in the thread's code) keeps that one.
void thread_runtime::enter_temporary_main() noexcept {
    if (current_ != main_ || main_ == nullptr) return;
    TaskletObject* tmp = new_tasklet_object_for(main_->core);  // (core's main now names it)
    if (tmp == nullptr) {
        PyErr_Clear();
        return;
    }
    Py_DECREF(std::exchange(main_, tmp));
    current_ = tmp;
}

// Tasklets that would not die (they caught every kill and blocked again) are given up,
// as Stackless does: core drops them unwound, they are dead and of no thread. Their
// objects keep the reference they hold on themselves, so their frames, which may still
// be referenced from elsewhere, are never freed.
void thread_runtime::drop_survivors() noexcept {
    while (TaskletObject* t = alive_head_) {
        unlink_alive(t);
        t->thread_id = 0;
        try {
            // Stackless still shows it blocked, until it is killed.
            t->dropped_blocked = t->core.blocked();
            t->given_up = t->core.alive();
            if (!t->holds_self) {  // a paused one: kept, with its frames, as the others
                Py_INCREF(t);
                t->holds_self = true;
            }
            t->kept_forever = true;
            if (t->core.alive() && !t->core.is_current()) t->core.drop();
        } catch (...) {
            set_python_error();
            PyErr_WriteUnraisable(reinterpret_cast<PyObject*>(t));
        }
    }
}

PyObject* tasklet_object_of(const slp::tasklet& t) noexcept {
    auto* o = static_cast<TaskletObject*>(t.user_data());
    if (o != nullptr) {
        Py_INCREF(o);
        return reinterpret_cast<PyObject*>(o);
    }
    return reinterpret_cast<PyObject*>(new_tasklet_object_for(t));
}

PyObject* tasklet_or_none(const slp::tasklet& t) noexcept {
    if (!t) Py_RETURN_NONE;
    return tasklet_object_of(t);
}

}  // namespace slpy

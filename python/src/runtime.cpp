// runtime.cpp — per-thread binding state and the switch observer.
#include "runtime.hpp"

#include <time.h>

#include <algorithm>
#include <mutex>

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

thread_runtime* thread_runtime::create() noexcept {
    auto* rt = new (std::nothrow) thread_runtime();
    if (rt == nullptr) {
        PyErr_NoMemory();
        return nullptr;
    }
    rt->ts_ = PyThreadState_Get();
    rt->thread_id_ = PyThread_get_thread_ident();
    try {
        slp::tasklet m = slp::getmain();
        TaskletObject* mo = new_tasklet_object_for(m);
        if (mo == nullptr) {
            delete rt;
            return nullptr;
        }
        rt->main_ = mo;
        rt->current_ = mo;
        rt->sched_ = slp::this_thread();
        slp::set_switch_observer(rt);
    } catch (...) {
        set_python_error();
        delete rt;
        return nullptr;
    }
    tls_ = rt;
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
    if (!_Py_IsFinalizing()) {
        PyObject *et, *ev, *etb;
        PyErr_Fetch(&et, &ev, &etb);
        kill_all(10);
        PyErr_Restore(et, ev, etb);
    }
    flush();
    // Tasklets that would not die keep their objects (and frames): leaked, not freed.
    for (TaskletObject* t = alive_head_; t != nullptr; t = t->alive_next) t->thread_id = 0;
    slp::set_switch_observer(nullptr);
    g_runtimes.erase(std::remove(g_runtimes.begin(), g_runtimes.end(), this), g_runtimes.end());
    shared_ = g_runtimes.size() > 1;
    tls_ = nullptr;
    if (main_ != nullptr) {
        main_->thread_id = 0;
        Py_CLEAR(main_);
    }
    // The object is kept (not deleted): core may still call it for surviving tasklets.
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

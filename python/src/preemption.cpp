// preemption.cpp — run(timeout): interrupt a tasklet that runs too long.
//
// CPython 3.11 gives an extension one hook at the interpreter's safe points (the "eval
// breaker" checks at backward jumps and function entries): a Python-level signal
// handler, run when a signal is marked as arrived. While run(timeout) runs, the module
// installs a handler (a C function) for a spare real-time signal and marks the signal
// arrived again every time the handler runs (PyErr_SetInterruptEx: no OS signal is
// sent), so it runs at every safe point of the main thread — one tick each, counted as
// about ten bytecode instructions. When the budget is spent and the running tasklet may
// be interrupted (not atomic; no C frames between its Python frames unless nesting is
// ignored), the handler pauses it and resumes run()'s caller, which returns it; with
// soft=True it is only moved to the end of the runnables and run() goes on.
// Signal handlers run in the main thread only: elsewhere run(timeout) is cooperative.
#include "preemption.hpp"

#include <algorithm>
#include <csignal>

#include "errors.hpp"
#include "slp/scheduler.hpp"

namespace slpy {

namespace {

constexpr long instructions_per_tick = 10;

int preempt_signal() {
#ifdef SIGRTMAX
    return SIGRTMAX - 2;
#else
    return SIGUSR2;
#endif
}

int current_nesting(PyThreadState* ts) {
    int n = 0;
    for (_PyInterpreterFrame* f = ts->cframe->current_frame; f != nullptr; f = f->previous)
        if (f->is_entry) ++n;
    return n > 0 ? n - 1 : 0;
}

// The signal handler: handler(signum, frame).
PyObject* preempt_tick(PyObject*, PyObject* const*, Py_ssize_t) {
    thread_runtime* rt = thread_runtime::current_if_any();
    if (rt == nullptr || !rt->preempt.active) Py_RETURN_NONE;
    auto& p = rt->preempt;
    PyErr_SetInterruptEx(preempt_signal());  // tick again at the next safe point
    TaskletObject* cur = rt->current_object();
    if (cur == nullptr || cur == p.watchdog || cur->is_main_object) Py_RETURN_NONE;
    if (--p.budget > 0) Py_RETURN_NONE;
    if (cur->core.atomic()) Py_RETURN_NONE;  // retried at every tick until it is not
    if (!p.ignore_nesting && !cur->ignore_nesting && current_nesting(rt->tstate()) > 0)
        Py_RETURN_NONE;
    p.budget = p.timeout;
    PyObject* r = guarded([&] {
        if (p.soft) {
            slp::schedule();
        } else {
            Py_INCREF(cur);
            Py_XSETREF(p.interrupted, cur);
            p.watchdog->core.switch_to();  // cur is paused; run() returns it
        }
        Py_RETURN_NONE;
    });
    rt->flush();
    return r;
}

PyMethodDef tick_def = {"_preempt_tick",
                        reinterpret_cast<PyCFunction>(reinterpret_cast<void (*)()>(preempt_tick)),
                        METH_FASTCALL, "stackless preemption tick (a signal handler)"};

PyObject* cooperative_run() {
    return guarded([] {
        slp::run();
        Py_RETURN_NONE;
    });
}

}  // namespace

PyObject* run_with_timeout(thread_runtime* rt, const run_options& opt) {
    auto& p = rt->preempt;
    if (opt.timeout <= 0 || p.active || !_PyOS_IsMainThread()) return cooperative_run();

    ref signal_mod = ref::steal(PyImport_ImportModule("signal"));
    if (!signal_mod) return nullptr;
    ref handler = ref::steal(PyCFunction_New(&tick_def, nullptr));
    if (!handler) return nullptr;
    ref signum = ref::steal(PyLong_FromLong(preempt_signal()));
    ref old = ref::steal(
        PyObject_CallMethod(signal_mod.get(), "signal", "OO", signum.get(), handler.get()));
    if (!old) return nullptr;

    p.active = true;
    p.soft = opt.soft;
    p.ignore_nesting = opt.ignore_nesting;
    p.totaltimeout = opt.totaltimeout;
    p.timeout = std::max(1L, opt.timeout / instructions_per_tick);
    p.budget = p.timeout;
    p.watchdog = rt->current_object();
    Py_CLEAR(p.interrupted);
    PyErr_SetInterruptEx(preempt_signal());

    PyObject* result = cooperative_run();

    p.active = false;
    p.watchdog = nullptr;
    PyObject *et, *ev, *etb;
    PyErr_Fetch(&et, &ev, &etb);
    ref restored =
        ref::steal(PyObject_CallMethod(signal_mod.get(), "signal", "OO", signum.get(), old.get()));
    if (!restored) PyErr_WriteUnraisable(handler.get());
    PyErr_Restore(et, ev, etb);
    if (result == nullptr) {
        Py_CLEAR(p.interrupted);
        return nullptr;
    }
    if (p.interrupted != nullptr) {
        Py_DECREF(result);
        PyObject* t = reinterpret_cast<PyObject*>(p.interrupted);
        p.interrupted = nullptr;
        return t;
    }
    return result;
}

void preempt_after_switch(thread_runtime* rt) noexcept {
    auto& p = rt->preempt;
    if (p.active && !p.totaltimeout) p.budget = p.timeout;
}

}  // namespace slpy

// preemption.cpp — run(timeout): interrupt a tasklet that runs too long.
//
// Each thread counts its own ticks (thread_runtime::preempt), from one of two hooks
// CPython offers an extension at the interpreter's safe points (cpython/v*/tracing.hpp):
//   main thread: the "eval breaker" checks at backward jumps and function entries run
//     Python-level signal handlers. While run(timeout) runs, the module installs a
//     handler (a C function) for a spare real-time signal and marks the signal arrived
//     again every time the handler runs (PyErr_SetInterruptEx: no OS signal is sent), so
//     it runs at every safe point — one tick each.
//   other threads: signal handlers (and pending calls) run in the main thread only, so
//     there the tick is a C trace function (the one sys.settrace installs, at C level,
//     invisible to sys.gettrace()): one tick per function call and per line event (a new
//     line or a backward jump). The trace function is a tasklet's share of the thread
//     state (python_state), so the observer gives it to every tasklet that runs under
//     run(timeout) and takes it back before a switch; a tasklet with a trace function of
//     its own (sys.settrace) keeps that one and is not preempted. Tracing costs: Python
//     code runs several times slower while the tracer is on.
// A tick counts as about ten bytecode instructions. When the budget is spent and the
// running tasklet may be interrupted (not atomic; no C frames between its Python frames
// unless nesting is ignored), the tick pauses it and resumes run()'s caller, which
// returns it. With soft=True nothing is interrupted then: at the tasklet's next switch
// (a convenient scheduling moment: schedule(), a channel action) run() is due to return,
// and the next tick, in whichever tasklet runs then, resumes run()'s caller and leaves
// that tasklet runnable; run() returns None.
#include "preemption.hpp"

#include <algorithm>
#include <csignal>

#include "errors.hpp"
#include "slp/scheduler.hpp"
#include "watchdogs.hpp"

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

// One tick in the running tasklet; at an `interruptible` point it may be interrupted
// (switched away from). Returns false with a Python error set (an exception thrown into
// the interrupted tasklet while it was paused, for one).
bool tick(thread_runtime* rt, bool interruptible) {
    auto& p = rt->preempt;
    TaskletObject* cur = rt->current_object();
    if (cur == nullptr || cur == p.watchdog || cur->is_main_object) return true;
    using soft_state = thread_runtime::preempt_state::soft_state;
    const bool stop_now = p.soft_stop == soft_state::now;
    if ((--p.budget > 0 && !stop_now) || !interruptible) return true;
    if (cur->core.atomic()) return true;  // retried at every tick until it is not
    if (!p.ignore_nesting && !cur->ignore_nesting &&
        nesting_level(cpy::current_frame(rt->tstate())) > 0)
        return true;
    p.budget = p.timeout;
    if (p.soft && !stop_now) {
        p.soft_stop = soft_state::due;
        return true;
    }
    cur->preempted_in_handler = !p.traced;
    PyObject* r = guarded([&] {
        if (stop_now) {
            p.soft_stop = soft_state::none;
            p.watchdog->core.run();  // cur stays runnable
        } else {
            Py_INCREF(cur);
            Py_XSETREF(p.interrupted, cur);
            rt->pausing(cur);
            p.watchdog->core.switch_to();  // cur is paused; run() returns it
        }
        Py_RETURN_NONE;
    });
    cur->preempted_in_handler = false;
    if (thread_runtime* now = thread_runtime::current_if_any()) now->settle_self_ref(cur);
    rt->flush();
    Py_XDECREF(r);
    return r != nullptr;
}

// The signal handler (main thread): handler(signum, frame).
PyObject* preempt_tick(PyObject*, PyObject* const*, Py_ssize_t) {
    thread_runtime* rt = thread_runtime::current_if_any();
    if (rt == nullptr || !rt->preempt.active || rt->preempt.traced) Py_RETURN_NONE;
    PyErr_SetInterruptEx(preempt_signal());  // tick again at the next safe point
    if (!tick(rt, true)) return nullptr;
    Py_RETURN_NONE;
}

// The trace function (other threads). It runs inside CPython's call_trace(), with
// tstate->tracing raised: a tasklet interrupted here keeps that in its saved state and
// lowers it when it resumes and returns from here.
int preempt_trace(PyObject*, PyFrameObject*, int what, PyObject*) {
    if (what != PyTrace_LINE && what != PyTrace_CALL) return 0;
    thread_runtime* rt = thread_runtime::current_if_any();
    if (rt == nullptr || !rt->preempt.active || !rt->preempt.traced) return 0;
    return tick(rt, what == PyTrace_LINE) ? 0 : -1;
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

void start(thread_runtime* rt, const run_options& opt, bool traced) {
    auto& p = rt->preempt;
    p.active = true;
    p.traced = traced;
    p.soft = opt.soft;
    p.ignore_nesting = opt.ignore_nesting;
    p.totaltimeout = opt.totaltimeout;
    p.timeout = std::max(1L, opt.timeout / instructions_per_tick);
    p.budget = p.timeout;
    p.soft_stop = thread_runtime::preempt_state::soft_state::none;
    p.watchdog = rt->current_object();
    watchdog_set_interrupt(rt, p.watchdog);
    Py_CLEAR(p.interrupted);
}

void stop(thread_runtime* rt) {
    rt->preempt.active = false;
    rt->preempt.watchdog = nullptr;
    watchdog_set_interrupt(rt, nullptr);
}

// run()'s result: None, or the tasklet interrupted last.
PyObject* finish(thread_runtime* rt, PyObject* result) {
    auto& p = rt->preempt;
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

// run(timeout) in a thread other than the main one: ticks from the trace function. The
// watchdog (the caller) never gets it; the tasklets get it as they are switched to.
PyObject* traced_run(thread_runtime* rt, const run_options& opt) {
    auto& p = rt->preempt;
    start(rt, opt, true);
    PyObject* result = cooperative_run();
    stop(rt);
    cpy::remove_tracer(rt->tstate(), preempt_trace);
    cpy::end_tracer(rt->tstate(), preempt_trace);
    p.traced = false;
    return finish(rt, result);
}

}  // namespace

PyObject* run_with_timeout(thread_runtime* rt, const run_options& opt) {
    auto& p = rt->preempt;
    if (opt.timeout <= 0 || p.active) return cooperative_run();
    if (!cpy::is_main_thread()) return traced_run(rt, opt);

    ref signal_mod = ref::steal(PyImport_ImportModule("signal"));
    if (!signal_mod) return nullptr;
    ref handler = ref::steal(PyCFunction_New(&tick_def, nullptr));
    if (!handler) return nullptr;
    ref signum = ref::steal(PyLong_FromLong(preempt_signal()));
    ref old = ref::steal(
        PyObject_CallMethod(signal_mod.get(), "signal", "OO", signum.get(), handler.get()));
    if (!old) return nullptr;

    start(rt, opt, false);
    PyErr_SetInterruptEx(preempt_signal());

    PyObject* result = cooperative_run();

    stop(rt);
    PyObject *et, *ev, *etb;
    PyErr_Fetch(&et, &ev, &etb);
    ref restored =
        ref::steal(PyObject_CallMethod(signal_mod.get(), "signal", "OO", signum.get(), old.get()));
    if (!restored) PyErr_WriteUnraisable(handler.get());
    PyErr_Restore(et, ev, etb);
    return finish(rt, result);
}

void preempt_after_switch(thread_runtime* rt) noexcept {
    auto& p = rt->preempt;
    if (!p.active) return;
    if (!p.totaltimeout) p.budget = p.timeout;
    using soft_state = thread_runtime::preempt_state::soft_state;
    if (p.soft_stop == soft_state::due)
        p.soft_stop = rt->current_object() == p.watchdog ? soft_state::none : soft_state::now;
    if (p.traced && rt->current_object() != p.watchdog)
        cpy::install_tracer(rt->tstate(), preempt_trace);
}

void preempt_before_switch(thread_runtime* rt) noexcept {
    cpy::remove_tracer(rt->tstate(), preempt_trace);
}

}  // namespace slpy

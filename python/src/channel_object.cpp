// channel_object.cpp — stackless.channel, bound to slp::channel_base (Python objects
// travel as payloads holding a reference).
#include <new>
#include <vector>

#include "errors.hpp"
#include "objects.hpp"
#include "runtime.hpp"
#include "slp/errors.hpp"

namespace slpy {

// pickle.cpp
PyObject* channel_reduce(PyObject* self, PyObject*);
PyObject* channel_setstate(PyObject* self, PyObject* state);

// send_sequence()'s loop (below; a restored tasklet goes on in it too: pickle.cpp).
PyObject* channel_send_rest(PyObject* self, PyObject* const* sp, PyObject* it, Py_ssize_t sent,
                            PyObject* first);

namespace {

ChannelObject* as_channel(PyObject* o) {
    return reinterpret_cast<ChannelObject*>(o);
}

// What a tasklet blocked in a channel action is suspended in, for pickling (pickle.cpp)
// and the GC: `sp`, the top of the caller's value stack when Python called us through
// vectorcall (args + nargs), so the GC can see the whole innermost frame; `kind`, `ch`,
// `value`: the action. Noted in the running tasklet's object `cur` (if any) before core
// may suspend it, forgotten when it runs again: only its kind is reset then, which
// says that the rest no longer holds (objects.hpp).
struct suspension {
    PyObject* const* sp;
    suspend_kind kind;
    PyObject* ch;
    PyObject* value;
};

[[gnu::always_inline]] inline void note_suspension(TaskletObject* cur,
                                                   const suspension& what) noexcept {
    if (cur == nullptr) return;
    cur->blocked_sp = const_cast<PyObject**>(what.sp);
    cur->suspended_in = what.kind;
    cur->suspend_channel = what.ch;
    // (A receive's value is never read: pickle.cpp reads it for the sending kinds.)
    if (what.kind != suspend_kind::receive) cur->suspend_value = what.value;
}

[[gnu::always_inline]] inline void forget_suspension(TaskletObject* cur) noexcept {
    if (cur == nullptr) return;
    cur->suspended_in = suspend_kind::none;
}

// The blocking part of every channel action, in two halves around core's call.
// The frame of the function that calls core stays on a blocked tasklet's C stack (a
// copied-stack tasklet saves it with the tasklet): what runs after core's general action
// returns is out of line (finish_receive, none_after_blocking, fail_blocking), so that
// frame holds little but the call; after core's inline path, only end_action. Returns
// the runtime, or nullptr with a Python error set (begin_blocking: false); begin_action
// (a channel's own action) returns the hooks for the inline path, rt null on error.
[[gnu::always_inline]] inline thread_runtime* enter_blocking(PyObject* const* sp, suspend_kind kind,
                                                             PyObject* ch,
                                                             PyObject* value) noexcept {
    thread_runtime* rt = thread_runtime::get();
    if (rt == nullptr) return nullptr;
    note_suspension(rt->current_object(), {sp, kind, ch, value});
    rt->release_gil_if_shared();  // no Python in core's call (see thread_runtime)
    return rt;
}

[[gnu::noinline]] bool begin_blocking(PyObject* const* sp, suspend_kind kind, PyObject* ch,
                                      PyObject* value) noexcept {
    return enter_blocking(sp, kind, ch, value) != nullptr;
}

// A channel's own action: the hooks for core's inline path (runtime.hpp), or rt null. The
// inline path notes the suspension only when it switches (an action that completes at
// once, as one of every two in a ping-pong does, writes nothing): core's lock is held
// then, or the GIL, so nobody reads the object meanwhile (quiet_threads and the GC wait
// for this thread to be quiet). If it declines, the general action needs the note first.
// The inline path is taken only for a running tasklet that has its object (inline_ok():
// every one has, today), so that none of the hooks tests for it on every switch.
struct action_hooks : switch_hooks {
    suspension what;
    [[gnu::always_inline]] bool inline_ok() const noexcept { return self != nullptr; }
    [[gnu::always_inline]] void suspending() noexcept { note_suspension(self, what); }
    [[gnu::always_inline]] void resumed() noexcept { forget_suspension(self); }
};

[[gnu::always_inline]] inline action_hooks begin_action(PyObject* const* sp, suspend_kind kind,
                                                        PyObject* self, PyObject* value) noexcept {
    thread_runtime* rt = thread_runtime::get();
    if (rt == nullptr) return action_hooks{{{}, nullptr, nullptr}, {sp, kind, self, value}};
    rt->release_gil_if_shared();  // no Python in core's call (see thread_runtime)
    return action_hooks{{{}, rt, rt->current_object()}, {sp, kind, self, value}};
}

// After core's call (the caller, `cur` of runtime `rt`, is the running tasklet again):
// the GIL back, the suspension forgotten, deferred references dropped.
[[gnu::always_inline]] inline void end_blocking(thread_runtime* rt, TaskletObject* cur) noexcept {
    rt->hold_gil();
    forget_suspension(cur);
    rt->flush();
}

// After core's inline path (its hooks forgot the suspension if it switched).
[[gnu::always_inline]] inline void end_action(thread_runtime* rt) noexcept {
    rt->back_from_core();
}

inline void end_blocking() noexcept {
    thread_runtime* rt = thread_runtime::current_if_any();
    end_blocking(rt, rt->current_object());
}

// Inside a catch (...) around core's call: end it and set the Python error. nullptr.
[[gnu::noinline]] PyObject* fail_blocking() noexcept {
    end_blocking();
    set_python_error();
    return nullptr;
}

[[gnu::noinline]] PyObject* none_after_blocking() noexcept {
    end_blocking();
    Py_RETURN_NONE;
}

template <class F>
bool blocking(PyObject* const* sp, F&& action, suspend_kind kind = suspend_kind::other,
              PyObject* ch = nullptr, PyObject* value = nullptr) {
    if (!begin_blocking(sp, kind, ch, value)) return false;
    try {
        action();
    } catch (...) {
        fail_blocking();
        return false;
    }
    end_blocking();
    return true;
}

// Send `value` (borrowed) on `self`. Core's inline path first (slp/detail/fast_channel.hpp:
// the switch then happens in this very function), its general action if that declines.
// The general send while callbacks are installed: as in Stackless, the sender's tempval
// holds the value in transit (a channel callback sees it there).
[[gnu::noinline]] PyObject* send_in_transit(slp::channel_base& ch, slp::message&& m,
                                            TaskletObject* me, PyObject* value) {
    if (me == nullptr) {
        ch.send_message(std::move(m));
        return none_after_blocking();
    }
    thread_runtime::current_if_any()->hold_gil();
    Py_XSETREF(me->tempval, Py_NewRef(value));
    PyObject* r;
    try {
        ch.send_message(std::move(m));
        r = none_after_blocking();
    } catch (...) {
        r = fail_blocking();
    }
    Py_XSETREF(me->tempval, Py_NewRef(Py_None));  // (the GIL: end_blocking took it)
    return r;
}

// A borrowed `o` that becomes a new reference where core's inline path stores it (only
// if the action takes it: no reference to take and drop when it declines).
struct new_ref_to {
    PyObject* o;  // (not null: a call's argument)
    operator ref() const noexcept {
        Py_INCREF(o);
        return ref::steal(o);
    }
};

[[gnu::always_inline]] inline PyObject* send_impl(PyObject* self, PyObject* const* sp,
                                                  PyObject* value, suspend_kind kind) {
    const action_hooks hooks = begin_action(sp, kind, self, value);
    if (hooks.rt == nullptr) return nullptr;
    slp::channel_base& ch = as_channel(self)->ch;
    try {
        if (hooks.inline_ok() && slp::detail::fast_send<ref>(ch, new_ref_to{value}, hooks)) {
            end_action(hooks.rt);
            Py_RETURN_NONE;
        }
        note_suspension(hooks.self, hooks.what);
        slp::message m;
        m.value.emplace<ref>(ref::borrow(value));  // fits inline: cannot throw
        if (slp::detail::any_callback_installed()) [[unlikely]]
            return send_in_transit(ch, std::move(m), hooks.self, value);
        ch.send_message(std::move(m));
    } catch (...) {
        return fail_blocking();
    }
    return none_after_blocking();
}

PyObject* channel_new(PyTypeObject* type, PyObject*, PyObject*) {
    PyObject* o = type->tp_alloc(type, 0);
    if (o == nullptr) return nullptr;
    new (&as_channel(o)->ch) slp::channel_base();
    return o;
}

int channel_init(PyObject*, PyObject* args, PyObject* kwds) {
    if (PyTuple_GET_SIZE(args) != 0 || (kwds != nullptr && PyDict_GET_SIZE(kwds) != 0)) {
        PyErr_SetString(PyExc_TypeError, "channel() takes no arguments");
        return -1;
    }
    return 0;
}

void channel_dealloc(PyObject* self) {
    ChannelObject* c = as_channel(self);
    PyObject_GC_UnTrack(self);
    if (c->weakreflist != nullptr) PyObject_ClearWeakRefs(self);
    c->ch.~channel_base();  // tasklets still blocked on it are killed (pending)
    // A subclass instance's type reference is dropped by CPython's subtype_dealloc,
    // which calls this one: never here.
    Py_TYPE(self)->tp_free(self);
}

// The channel owns the alive-references of the tasklets blocked on it. The queue is
// walked under the channel's lock: another thread may change it without the GIL.
int channel_traverse(PyObject* self, visitproc visit, void* arg) {
    Py_VISIT(Py_TYPE(self));
    slp::channel_base& ch = as_channel(self)->ch;
    PyObject* blocked[16];
    int n = 0;
    bool more = false;
    const bool biased = ch.lock();
    for (slp::tasklet t = slp::tasklet::borrow(ch.q().head); t; t = t.next()) {
        auto* o = static_cast<TaskletObject*>(t.user_data());
        if (o == nullptr || !o->holds_self) continue;
        if (n == 16) {
            more = true;
            break;
        }
        blocked[n++] = reinterpret_cast<PyObject*>(o);
    }
    if (more) {  // a long queue: collect it all (rare; allocation under the lock)
        std::vector<PyObject*> all;
        try {
            for (slp::tasklet t = slp::tasklet::borrow(ch.q().head); t; t = t.next()) {
                auto* o = static_cast<TaskletObject*>(t.user_data());
                if (o != nullptr && o->holds_self) all.push_back(reinterpret_cast<PyObject*>(o));
            }
        } catch (...) {  // out of memory: visit none (they look referenced: safe)
            all.clear();
        }
        ch.unlock(biased);
        for (PyObject* o : all) Py_VISIT(o);
        return 0;
    }
    ch.unlock(biased);
    for (int i = 0; i < n; i++) Py_VISIT(blocked[i]);
    return 0;
}

// A TypeError for a call with `nargs` arguments (`format` takes it). nullptr.
[[gnu::noinline, gnu::cold]] PyObject* arguments_error(const char* format,
                                                       Py_ssize_t nargs) noexcept {
    PyErr_Format(PyExc_TypeError, format, nargs);
    return nullptr;
}

// send() when send_inline declines: entered by a jump (a tail call), as
// receive_may_switch.
[[gnu::noinline]] PyObject* send_may_switch(PyObject* self, PyObject* const* sp, PyObject* value) {
    return send_impl(self, sp, value, suspend_kind::send);
}

// What send_inline keeps across its switch.
struct kept_across_switch {
    thread_runtime* rt;
    TaskletObject* me;
    slp::detail::scheduler_hot* s;
    slp::detail::tasklet_impl* src;
};

// The tasklet that send_inline's switch resumes, with its part of the action done (ch's
// lock taken, biased to this thread: `s`; left as it is), or null (declined, nothing
// changed, the lock released): the partner waiting on ch, given `value`, if the
// preference is on its side; the next runnable, with the running tasklet `src` blocked
// on ch, if nobody waits; either only if resumed by one jump (jump_resumable). When the
// partner takes the value and the sender goes on (preference), returns src. Core's
// fast_send without its switch: the same rules (receiver_takes_inline, may_block) and
// steps (hand_over, join_queue).
[[gnu::always_inline]] inline slp::detail::tasklet_impl* send_inline_part(
    slp::detail::scheduler_hot& s, slp::channel_base& ch, slp::detail::tasklet_impl& src,
    PyObject* value) noexcept {
    using namespace slp::detail;
    if (partner_waits(1, ch.balance())) {  // a receiver waits (fast_send's exchange)
        tasklet_impl* target = ch.q().head;
        const bool to_partner = partner_runs_now(1, ch.preference(), false);
        if (!receiver_takes_inline(&s, ch, target) || !jump_resumable(*target)) [[unlikely]] {
            ch.unlock(true);
            return nullptr;
        }
        queue_pop_partner(ch, target, -1);
        target->tempval.value.template fill<ref>(new_ref_to{value});  // (empty: tested)
        hand_over(s, ch, true, *target, to_partner);
        return to_partner ? target : &src;
    }
    // nobody waits: block (fast_send's block)
    if (!may_block(s, ch, src) || !jump_resumable(*src.next)) [[unlikely]] {
        ch.unlock(true);
        return nullptr;
    }
    src.tempval.value.template fill<ref>(new_ref_to{value});  // (empty: may_block)
    return join_queue(s, ch, true, src, 1);
}

// After send_inline's switch, when more than the plain case is due: the rest of the
// inline path's send after its switch (switch_hooks, jump_switch, block or
// after_exchange, fast_send, send_impl), in its order.
[[gnu::noinline]] PyObject* send_resumed_unusually(thread_runtime* rt, TaskletObject* me) noexcept {
    slp::detail::scheduler_hot& s = *rt->hot();
    slp::detail::tasklet_impl* src = s.running;
    switch_hooks{{}, rt, me}.observe_after(s);
    s.release_zombie_if_any();
    forget_suspension(me);
    try {
        s.claim(src);  // kill, throw: the value was not taken
    } catch (...) {
        return fail_blocking();
    }
    src->tempval.clear();
    end_action(rt);
    Py_RETURN_NONE;
}

// channel.send() done by core's inline path (fast_send) with at most one jump, and
// nothing unusual due (switches_plainly): in a ping-pong, every send. It does what that
// path does, in a function that holds nothing in a register across its switch: what it
// needs after the switch it reads from its frame (kept_across_switch), so that it need
// not save the caller's callee-saved registers for that (slp_jump saves them). So it calls nothing
// before the switch but save_rare (rarely: what it needs after that call it reads back
// too), and after it only the unusual rest. Any other send goes on by a jump (a tail
// call) into send_may_switch. (Not a leaf function: save_rare's call is not a tail call,
// so it keeps out of the red zone: see jump_unlinked.)
[[gnu::noinline]] PyObject* send_inline(PyObject* self, PyObject* const* sp, PyObject* value) {
    using namespace slp::detail;
    slp::channel_base& ch = as_channel(self)->ch;
    thread_runtime* rt = thread_runtime::current_if_any();
    if (rt == nullptr || !rt->switches_plainly()) [[unlikely]]
        return send_may_switch(self, sp, value);
    TaskletObject* me = rt->current_object();
    scheduler_hot* s = fast_scheduler(rt->hot());
    if (me == nullptr || s == nullptr || !ch.lock_if_biased(s)) [[unlikely]]
        return send_may_switch(self, sp, value);
    tasklet_impl* src = s->running;
    tasklet_impl* next = send_inline_part(*s, ch, *src, value);
    if (next == nullptr) [[unlikely]]
        return send_may_switch(self, sp, value);
    if (next == src) Py_RETURN_NONE;  // (nothing due: switches_plainly)
    note_suspension(me, {sp, suspend_kind::send, self, value});
    kept_across_switch kept;
    // (Plain stores: see make_running; the loads of each after the switch wait for one
    // vector store otherwise.)
    kept.rt = rt;
    std::atomic_signal_fence(std::memory_order_seq_cst);
    kept.me = me;
    std::atomic_signal_fence(std::memory_order_seq_cst);
    kept.s = s;
    std::atomic_signal_fence(std::memory_order_seq_cst);
    kept.src = src;
    if (rt->suspend_plainly(me)) [[unlikely]] {
        asm volatile("" : "+m"(kept));  // (in the frame across the call, read after it)
        kept.me->state.save_rare(kept.rt->tstate());
        asm volatile("" : "+m"(kept));
        me = kept.me;
        s = kept.s;
        src = kept.src;
        next = s->head;  // (whichever send_inline_part made next to run)
    }
    me->state.saved();
    record_jump(*s, *src, *next);
    src->how = suspended_by::jump;
    s->rec.record_from = true;
    const slp_transfer tr = jump_unlinked_keeping(next->ctx, kept);
    // src runs again: everything from what it kept.
    rt = kept.rt;
    me = kept.me;
    s = kept.s;
    src = kept.src;
    land_plain(*s, tr);
    if (s->observer != rt || !rt->switches_plainly() || !me->state.restores_plainly() ||
        s->zombie != nullptr || src->tempval.error || src->tempval.value.has_value()) [[unlikely]]
        return send_resumed_unusually(rt, me);
    rt->resume_plainly(me);
    forget_suspension(me);
    Py_RETURN_NONE;
}

PyObject* channel_send(PyObject* self, PyObject* const* args, Py_ssize_t nargs) {
    if (nargs != 1) [[unlikely]]
        return arguments_error("send() takes exactly one argument (%zd given)", nargs);
    return send_inline(self, args + nargs, args[0]);
}

// A received bomb (a new reference): raise its exception, drop it. nullptr.
[[gnu::noinline]] PyObject* explode_received(PyObject* bomb) noexcept {
    PyObject* r = explode_bomb(bomb);
    Py_DECREF(bomb);
    return r;
}

// What a receive returns for the value `o` it got (a new reference; may be null for
// None, or a bomb, whose exception it raises).
[[gnu::always_inline]] inline PyObject* received(PyObject* o) noexcept {
    if (o == nullptr) [[unlikely]]
        return Py_NewRef(Py_None);
    if (is_bomb(o)) [[unlikely]]
        return explode_received(o);
    return o;
}

// The general action, when the inline path declined (its suspension noted): what it
// received. Out of line, with the payload it receives into, so that the frame of
// receive_impl's caller, which the inline path leaves on a blocked tasklet's stack, does
// not hold the payload.
[[gnu::noinline]] PyObject* receive_general(slp::channel_base& ch) noexcept {
    slp::payload p;
    try {
        p = ch.receive_payload();
    } catch (...) {
        return fail_blocking();
    }
    end_blocking();
    ref value;
    try {
        value = p.take<ref>();
    } catch (...) {
        set_python_error();
        return nullptr;
    }
    return received(value.release());
}

// (Inline path first, as send_impl.)
[[gnu::always_inline]] inline PyObject* receive_impl(PyObject* self, PyObject* const* sp,
                                                     suspend_kind kind = suspend_kind::receive) {
    const action_hooks hooks = begin_action(sp, kind, self, nullptr);
    if (hooks.rt == nullptr) return nullptr;
    slp::channel_base& ch = as_channel(self)->ch;
    // What the inline path took (a reference; dropped if the switch after the exchange
    // throws). A plain pointer: a ref would be stored and tested once more on every call.
    PyObject* got = nullptr;
    try {
        if (hooks.inline_ok() && slp::detail::fast_receive<ref>(
                                     ch, [&got](ref&& r) { got = r.release(); }, hooks)) {
            end_action(hooks.rt);
            return received(got);
        }
    } catch (...) {
        PyObject* r = fail_blocking();  // (takes the GIL back)
        Py_XDECREF(got);
        return r;
    }
    note_suspension(hooks.self, hooks.what);
    return receive_general(ch);
}

// A receive that completes without a switch (core's fast_receive_at_once): true with
// what it took in `got` (a reference, or null for None: see received()), or false,
// nothing changed. It calls nothing, so that the function it is inlined into saves no
// registers on this path: it takes only a runtime that has nothing due at a module
// function's return (back_from_core would call). (Its hooks are asked for the scheduler
// after core's peek at the channel, which declines most actions that would switch.)
struct at_once_hooks : slp::detail::observer_hooks {
    [[gnu::always_inline]] slp::detail::scheduler_hot* scheduler() const noexcept {
        thread_runtime* rt = thread_runtime::current_if_any();
        if (rt == nullptr || !rt->nothing_due()) [[unlikely]]
            return nullptr;
        slp::detail::scheduler_hot* s = rt->hot();
        if (s == nullptr) __builtin_unreachable();
        return s;
    }
};
[[gnu::always_inline]] inline bool receive_at_once(PyObject* self, PyObject*& got) noexcept {
    return slp::detail::fast_receive_at_once<ref>(
        as_channel(self)->ch, [&got](ref&& r) { got = r.release(); }, at_once_hooks{});
}

// receive() when it may switch: entered from channel_receive by a jump (a tail call), so
// that the return address the switch leaves on top of the return-stack predictor is
// still the eval loop's (slp/detail/jump_unlinked.hpp).
[[gnu::noinline]] PyObject* receive_may_switch(PyObject* self, PyObject* const* sp) {
    return receive_impl(self, sp);
}

PyObject* channel_receive(PyObject* self, PyObject* const* args, Py_ssize_t nargs) {
    if (nargs != 0) [[unlikely]]
        return arguments_error("receive() takes no arguments (%zd given)", nargs);
    PyObject* got = nullptr;
    if (receive_at_once(self, got)) [[likely]]
        return received(got);  // (its bomb's call is a tail call too)
    return receive_may_switch(self, args + nargs);
}

PyObject* send_error(PyObject* self, PyObject* const* sp, PyObject* t, PyObject* v, PyObject* tb) {
    std::exception_ptr e = std::make_exception_ptr(py_exception::of(t, v, tb));
    bool ok = blocking(
        sp, [&] { as_channel(self)->ch.send_throw(std::move(e)); }, suspend_kind::send_exception,
        self, v);
    if (!ok) return nullptr;
    Py_RETURN_NONE;
}

PyObject* channel_send_exception(PyObject* self, PyObject* const* args, Py_ssize_t nargs) {
    if (nargs < 1) {
        PyErr_SetString(PyExc_TypeError, "send_exception() takes at least 1 argument");
        return nullptr;
    }
    PyObject* klass = args[0];
    if (!(PyType_Check(klass) && PyObject_IsSubclass(klass, PyExc_BaseException) == 1)) {
        PyErr_SetString(PyExc_TypeError,
                        "channel.send_exception needs Exception or string subclass as first "
                        "parameter");
        return nullptr;
    }
    ref inst =
        ref::steal(PyObject_Vectorcall(klass, args + 1, static_cast<size_t>(nargs - 1), nullptr));
    if (!inst) return nullptr;
    return send_error(self, args + nargs, klass, inst.get(), nullptr);
}

PyObject* channel_send_throw(PyObject* self, PyObject* const* args, Py_ssize_t nargs) {
    if (nargs < 1 || nargs > 3) {
        PyErr_SetString(PyExc_TypeError, "send_throw(exc, val=None, tb=None)");
        return nullptr;
    }
    PyObject *t, *v, *b;
    if (!exception_triple(args[0], nargs > 1 ? args[1] : Py_None, nargs > 2 ? args[2] : Py_None, &t,
                          &v, &b))
        return nullptr;
    ref rt = ref::steal(t), rv = ref::steal(v), rb = ref::steal(b);
    return send_error(self, args + nargs, t, v, b);
}

PyObject* channel_send_sequence(PyObject* self, PyObject* const* args, Py_ssize_t nargs) {
    if (nargs != 1) {
        PyErr_Format(PyExc_TypeError, "send_sequence() takes exactly one argument (%zd given)",
                     nargs);
        return nullptr;
    }
    ref it = ref::steal(PyObject_GetIter(args[0]));
    if (!it) return nullptr;
    return channel_send_rest(self, args + nargs, it.get(), 0, nullptr);
}

PyObject* channel_close(PyObject* self, PyObject*) {
    as_channel(self)->ch.close();
    Py_RETURN_NONE;
}

PyObject* channel_open(PyObject* self, PyObject*) {
    as_channel(self)->ch.open();
    Py_RETURN_NONE;
}

PyObject* channel_iter(PyObject* self) {
    return Py_NewRef(self);
}

PyObject* channel_iternext(PyObject* self) {
    if (as_channel(self)->ch.iteration_done()) return nullptr;  // StopIteration
    return receive_impl(self, nullptr, suspend_kind::other);
}

PyObject* get_balance(PyObject* self, void*) {
    return PyLong_FromLong(as_channel(self)->ch.balance());
}
PyObject* get_closing(PyObject* self, void*) {
    return PyBool_FromLong(as_channel(self)->ch.closing());
}
PyObject* get_closed(PyObject* self, void*) {
    return PyBool_FromLong(as_channel(self)->ch.closed());
}
PyObject* get_queue(PyObject* self, void*) {
    return guarded([&] { return tasklet_or_none(as_channel(self)->ch.queue()); });
}
PyObject* get_preference(PyObject* self, void*) {
    return PyLong_FromLong(as_channel(self)->ch.preference());
}
int set_preference(PyObject* self, PyObject* value, void*) {
    if (value == nullptr || !PyLong_Check(value)) {
        PyErr_SetString(PyExc_TypeError, "preference must be set to an integer");
        return -1;
    }
    long v = PyLong_AsLong(value);
    if (v == -1 && PyErr_Occurred()) return -1;
    as_channel(self)->ch.set_preference(v > 0 ? 1 : (v < 0 ? -1 : 0));
    return 0;
}
PyObject* get_schedule_all(PyObject* self, void*) {
    return PyBool_FromLong(as_channel(self)->ch.schedule_all());
}
int set_schedule_all(PyObject* self, PyObject* value, void*) {
    if (value == nullptr || !PyLong_Check(value)) {
        PyErr_SetString(PyExc_TypeError, "schedule_all must be set to a bool or integer");
        return -1;
    }
    long v = PyLong_AsLong(value);
    if (v == -1 && PyErr_Occurred()) return -1;
    as_channel(self)->ch.set_schedule_all(v != 0);
    return 0;
}

PyMethodDef channel_methods[] = {
    {"send", reinterpret_cast<PyCFunction>(reinterpret_cast<void (*)()>(channel_send)),
     METH_FASTCALL, "send(value): hand value to a receiver, blocking until one takes it."},
    {"receive", reinterpret_cast<PyCFunction>(reinterpret_cast<void (*)()>(channel_receive)),
     METH_FASTCALL, "receive() -> value, blocking until a sender comes."},
    {"send_exception",
     reinterpret_cast<PyCFunction>(reinterpret_cast<void (*)()>(channel_send_exception)),
     METH_FASTCALL, "send_exception(exc_class, *args): the receiver raises exc_class(*args)."},
    {"send_throw", reinterpret_cast<PyCFunction>(reinterpret_cast<void (*)()>(channel_send_throw)),
     METH_FASTCALL, "send_throw(exc, val=None, tb=None): the receiver raises it."},
    {"send_sequence",
     reinterpret_cast<PyCFunction>(reinterpret_cast<void (*)()>(channel_send_sequence)),
     METH_FASTCALL, "send_sequence(iterable) -> count: send every item."},
    {"close", channel_close, METH_NOARGS, "No tasklet may block on it any more."},
    {"open", channel_open, METH_NOARGS, "Undo close()."},
    {"__reduce__", channel_reduce, METH_NOARGS,
     "Pickle support: settings and the tasklets blocked on it."},
    {"__setstate__", channel_setstate, METH_O, "Pickle support."},
    {nullptr, nullptr, 0, nullptr}};

PyGetSetDef channel_getset[] = {
    {"balance", get_balance, nullptr, "waiting senders (>0) or receivers (<0)", nullptr},
    {"closing", get_closing, nullptr, "close() was called", nullptr},
    {"closed", get_closed, nullptr, "closing and empty", nullptr},
    {"queue", get_queue, nullptr, "the first waiting tasklet, or None", nullptr},
    {"preference", get_preference, set_preference, "-1 prefer receiver, 1 prefer sender, 0 neither",
     nullptr},
    {"schedule_all", get_schedule_all, set_schedule_all, "always schedule on an action", nullptr},
    {nullptr, nullptr, nullptr, nullptr, nullptr}};

}  // namespace

// send_sequence()'s loop: send `first` (if not null), then every item `it` yields; `sent`
// items were sent before. Returns the count of all. Each item goes as send() sends it
// (send_impl: core's inline path first). While a send is suspended, the tasklet notes the
// iterator and the count, so that it pickles (pickle.cpp) and its restored copy goes on
// here with what is left: noted before each send, since the inline path notes the rest of
// the suspension only as it switches.
PyObject* channel_send_rest(PyObject* self, PyObject* const* sp, PyObject* it, Py_ssize_t sent,
                            PyObject* first) {
    ref item = ref::borrow(first);
    if (!item) item = ref::steal(PyIter_Next(it));
    while (item) {
        thread_runtime* rt = thread_runtime::get();
        if (rt == nullptr) return nullptr;
        TaskletObject* cur = rt->current_object();
        if (cur != nullptr) {
            cur->suspend_sequence = it;
            cur->suspend_sent = sent;
        }
        PyObject* r = send_impl(self, sp, item.get(), suspend_kind::send_sequence);
        if (cur != nullptr) cur->suspend_sequence = nullptr;
        if (r == nullptr) return nullptr;
        Py_DECREF(r);  // (None)
        ++sent;
        item = ref::steal(PyIter_Next(it));
    }
    if (PyErr_Occurred()) return nullptr;
    return PyLong_FromSsize_t(sent);
}

PyObject* channel_restore_action(PyObject* ch, int dir, PyObject* value) {
    if (dir < 0) return receive_impl(ch, nullptr);
    slp::message m;
    m.value.emplace<ref>(ref::borrow(value != nullptr ? value : Py_None));
    bool ok = blocking(
        nullptr, [&] { as_channel(ch)->ch.send_message(std::move(m)); },
        value != nullptr && is_bomb(value) ? suspend_kind::send_exception : suspend_kind::send, ch,
        value);
    if (!ok) return nullptr;
    Py_RETURN_NONE;
}

PyTypeObject ChannelType{};

bool init_channel_type() {
    Py_SET_REFCNT(reinterpret_cast<PyObject*>(&ChannelType), 1);
    ChannelType.tp_name = "stackless.channel";
    ChannelType.tp_basicsize = sizeof(ChannelObject);
    ChannelType.tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_BASETYPE | Py_TPFLAGS_HAVE_GC;
    ChannelType.tp_doc = "channel(): tasklets send values to each other through it.";
    ChannelType.tp_new = channel_new;
    ChannelType.tp_init = channel_init;
    ChannelType.tp_dealloc = channel_dealloc;
    ChannelType.tp_traverse = channel_traverse;
    ChannelType.tp_iter = channel_iter;
    ChannelType.tp_iternext = channel_iternext;
    ChannelType.tp_weaklistoffset = offsetof(ChannelObject, weakreflist);
    ChannelType.tp_methods = channel_methods;
    ChannelType.tp_getset = channel_getset;
    return PyType_Ready(&ChannelType) == 0;
}

}  // namespace slpy

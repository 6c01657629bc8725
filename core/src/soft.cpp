// soft.cpp — soft tasklets: coroutine bodies run on the per-thread runner, switched
// between without touching a stack, promoted to hard when foreign code blocks
// (the soft rows of switch.cpp's table; the public side is slp/soft.hpp).
//
// How a soft switch goes: the awaiter (async_receive, async_schedule...) runs the same
// scheduler/channel code as the hard call, with scheduler_impl::defer set. That code ends
// in transfer(), which, for a soft prev, only notes that a switch is due. The awaiter
// then finishes it (complete_deferred) and returns true: the coroutine is suspended, its
// frame returns to the runner's loop, and the loop resumes whatever tasklet is running
// now — another soft tasklet directly, or (having jumped away from the runner and come
// back) whichever soft tasklet a hard one switched to.
#include <cstdio>
#include <cstdlib>
#include <new>

#include "internal.hpp"
#include "sanitizer.hpp"
#include "switch_inline.hpp"

namespace slp::detail {
namespace {

// A soft tasklet's innermost coroutine: in ctx while it is soft, in its extra part once
// promoted (ctx is then its hard context).
std::coroutine_handle<> top_of(const tasklet_impl& t) noexcept {
    if (t.kind == stack_kind::soft) return std::coroutine_handle<>::from_address(t.ctx);
    return t.x != nullptr ? t.x->top : std::coroutine_handle<>{};
}
void set_top(tasklet_impl& t, std::coroutine_handle<> h) noexcept {
    if (t.kind == stack_kind::soft)
        t.ctx = h.address();
    else
        t.x->top = h;
}

// While it lives, a switch asked for by the running tasklet, if soft, is left to the
// awaiter: finish() completes it, and says whether the tasklet was switched away.
class defer_scope {
 public:
    explicit defer_scope(scheduler_impl& s) noexcept : s_(s) {
        s.defer = s.running->kind == stack_kind::soft;
        s.deferred = false;
    }
    ~defer_scope() { s_.defer = false; }
    defer_scope(const defer_scope&) = delete;
    defer_scope& operator=(const defer_scope&) = delete;

    bool finish() {
        s_.defer = false;
        if (!s_.deferred) {  // no switch, or a promoted tasklet already resumed
            if (s_.running->tempval.error) soft_raise = true;
            return false;
        }
        s_.deferred = false;
        complete_deferred(s_);
        return true;
    }

 private:
    scheduler_impl& s_;
};

// A soft tasklet's first run: its body makes its root coroutine (soft_tasklet's body
// calls soft_start), which the loop then resumes. A plain function body just runs, here
// on the runner's stack, and is promoted if it switches; when it returns, or when
// something was thrown at the tasklet before it ever ran, the tasklet ends.
void start_soft(scheduler_impl& s, tasklet_impl& t) {
    std::exception_ptr escaped;
    try {
        s.claim(&t);
        t.body();
        if (top_of(t)) return;  // a coroutine, now started
    } catch (const tasklet_exit&) {
    } catch (...) {
        escaped = std::current_exception();
    }
    soft_end(std::move(escaped));
}

[[noreturn]] void drive(scheduler_impl& s) {
    for (;;) {
        tasklet_impl& t = *s.running;
        std::coroutine_handle<> top = top_of(t);
        if (top) {
            if (t.tempval.error) [[unlikely]]
                soft_raise = true;  // its awaiter's await_resume raises it
            top.resume();
        } else {
            start_soft(s, t);
        }
    }
}

}  // namespace

tasklet_impl& soft_runner(scheduler_impl& s) {
    if (s.runner == nullptr) {
        tasklet_impl* r = new_tasklet(stack_kind::own);
        r->sched = &s;
        r->state = life::ready;
        r->x->set_name("soft runner");
        s.runner = r;
    }
    return *s.runner;
}

void promote(scheduler_impl& s, tasklet_impl& t) noexcept {
    tasklet_impl& r = *s.runner;
    if (t.x == nullptr) {
        t.x = new (std::nothrow) tasklet_extra;
        if (t.x == nullptr) {
            std::fputs("slp: fatal: out of memory promoting a soft tasklet\n", stderr);
            std::abort();
        }
    }
    tasklet_extra& x = *t.x;
    x.top = std::coroutine_handle<>::from_address(t.ctx);
    t.ctx = nullptr;
    x.own = std::move(r.x->own);
    t.kind = stack_kind::own;
    x.fiber = std::exchange(r.x->fiber, fiber_state{});
    r.state = life::ready;  // the next soft tasklet starts a fresh runner
    r.how = suspended_by::none;
    ++s.counts.promotions;
}

void complete_deferred(scheduler_impl& s) {
    tasklet_impl& next = *s.running;
    if (next.kind == stack_kind::soft) {
        if (next.state == life::ready) next.state = life::started;
        ++s.counts.soft;
    } else {
        jump_from_runner(s);
    }
    s.after_switch();
}

void runner_entry(slp_transfer tr) {
    scheduler_impl& s = *this_scheduler_if_any();
    land(s, tr);
    san::finish_switch(nullptr);
    s.after_switch();
    drive(s);
}

// A soft tasklet that ended has only its root coroutine left (at its final suspend); its
// frame owns, through the tasks it awaits, any inner ones. (One that refused to die at
// thread exit loses the frames around its innermost.)
void soft_release(tasklet_impl& t) noexcept {
    if (std::coroutine_handle<> top = top_of(t)) {
        top.destroy();
        set_top(t, {});
    }
}

// ---- the public side (slp/soft.hpp, slp/channel.hpp) ---------------------------------

void soft_set_top(std::coroutine_handle<> h) noexcept {
    set_top(*tls_sched->running, h);
}

void soft_start(std::coroutine_handle<> root) noexcept {
    set_top(*tls_sched->running, root);
}

void soft_end(std::exception_ptr escaped) noexcept {
    scheduler_impl& s = *this_scheduler_if_any();
    if (escaped && is_tasklet_exit(escaped)) escaped = nullptr;
    if (s.running->kind != stack_kind::soft) s.end_running(std::move(escaped));  // promoted
    s.retire_running(std::move(escaped));
    try {
        complete_deferred(s);  // frees this tasklet's frames (the zombie)
    } catch (...) {
        std::fputs("slp: fatal: could not end a soft tasklet\n", stderr);
        std::abort();
    }
}

bool soft_schedule(bool remove) {
    scheduler_impl& s = this_scheduler();
    defer_scope d(s);
    s.schedule_running(remove);
    return d.finish();
}

bool soft_action(channel_base& ch, int dir, message&& m) {
    scheduler_impl& s = this_scheduler();
    defer_scope d(s);
    ch.begin_action(dir, std::move(m));
    return d.finish();
}

[[gnu::tls_model("initial-exec")]] constinit thread_local bool soft_raise = false;

void soft_claim() {
    soft_raise = false;
    tasklet_impl* t = tls_sched->running;
    if (t->tempval.error) raise_pending(t);
}

message soft_take_message() {
    soft_claim();
    tasklet_impl* t = tls_sched->running;
    message m = std::move(t->tempval);
    t->tempval.clear();
    return m;
}

}  // namespace slp::detail

namespace slp {

switch_counts get_switch_counts() {
    return detail::this_scheduler().counts;
}

}  // namespace slp

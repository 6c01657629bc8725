// tasklet.cpp — the tasklet handle's operations (Stackless/module/taskletobject.c).
#include <algorithm>
#include <atomic>
#include <cstdlib>
#include <cstring>
#include <thread>

#include "internal.hpp"
#include "sanitizer.hpp"

namespace slp::detail {

bool scheduler_exists(scheduler_impl* s) noexcept;

namespace {
std::atomic<std::uint64_t> g_next_id{1};
}  // namespace

std::uint64_t next_tasklet_id() noexcept {
    return g_next_id.fetch_add(1, std::memory_order_relaxed);
}

void retain(tasklet_impl* t) noexcept {
    if (t != nullptr) t->refs.fetch_add(1, std::memory_order_relaxed);
}

void release(tasklet_impl* t) noexcept {
    if (t != nullptr && t->refs.fetch_sub(1, std::memory_order_acq_rel) == 1) destroy_tasklet(t);
}

tasklet_impl* new_tasklet(stack_kind kind) {
    if (kind == stack_kind::soft) return new tasklet_impl;
    return new hard_tasklet;
}

void destroy_tasklet(tasklet_impl* t) noexcept {
    soft_release(*t);
    if (tasklet_extra* x = t->x) {
        if (!t->is_main) san::fiber_destroy(x->fiber);
        x->end(t->kind);
    }
    if (t->extra_inline) {
        delete static_cast<hard_tasklet*>(t);
    } else {
        delete t->x;
        delete t;
    }
}

namespace {

// The scheduler a tasklet belongs to, if that is the calling thread's; else nullptr.
// What other threads handed to it is taken in first: a tasklet set up from another
// thread must be tracked before anything here kills, runs or moves it.
scheduler_impl* own_thread(tasklet_impl& t) {
    scheduler_impl* s = this_scheduler_if_any();
    if (s == nullptr || t.sched != s) return nullptr;
    s->drain_if_needed();
    return s;
}

// Hand a request to the tasklet's own thread.
void post_remote(tasklet_impl& t, std::exception_ptr e, bool run_next = false) {
    scheduler_impl* owner = sched_of(t);
    inbox_item item{&t, std::move(e)};
    item.run_next = run_next;
    if (owner == nullptr || !post_if_exists(owner, std::move(item)))
        throw runtime_error(msg::no_thread);
}

// setup() / setup_paused(). A tasklet of another thread is alive at once and handed to
// its scheduler, which tracks it (and runs it, unless paused).
void setup_tasklet(tasklet_impl& t, bool paused) {
    if (t.alive()) throw runtime_error(msg::alive);
    if (!t.body) throw runtime_error(msg::not_bound);
    scheduler_impl* s = own_thread(t);
    scheduler_impl* owner = s != nullptr ? s : sched_of(t);
    if (owner == nullptr) throw runtime_error(msg::no_thread);
    t.state = life::ready;
    t.how = suspended_by::none;  // (an ended tasklet set up again: never resumed by a jump)
    retain(&t);                  // an alive tasklet is owned by its scheduler until it ends
    if (s != nullptr) {
        s->track(&t);
        if (!paused) s->insert(&t);
        return;
    }
    inbox_item item{&t, nullptr};
    item.adopt = true;
    item.paused = paused;
    if (!post_if_exists(owner, std::move(item))) {
        t.state = life::bound;
        release(&t);
        throw runtime_error(msg::no_thread);
    }
}

}  // namespace

bool is_tasklet_exit(const std::exception_ptr& e) {
    try {
        std::rethrow_exception(e);
    } catch (const tasklet_exit&) {
        return true;
    } catch (...) {
        return false;
    }
}

}  // namespace slp::detail

namespace slp {

using detail::life;
using detail::scheduler_impl;
using detail::tasklet_impl;

detail::tasklet_impl& tasklet::checked() const {
    if (p_ == nullptr) throw runtime_error(msg::null_tasklet);
    return *p_;
}

tasklet::tasklet(std::function<void()> fn, tasklet_options options) {
    scheduler_impl& s = detail::this_scheduler();
    tasklet_impl* t = detail::new_tasklet(options.kind);
    t->sched = &s;
    t->kind = options.kind;
    if (options.kind == stack_kind::copied) t->x->use_copied();
    try {
        if (options.kind != stack_kind::soft) t->x->stack_size = options.stack_size;
        if (!options.name.empty()) t->extra().set_name(options.name.c_str());
    } catch (...) {
        detail::destroy_tasklet(t);
        throw;
    }
    t->id = detail::next_tasklet_id();
    t->atomic = s.running->atomic;
    t->body = std::move(fn);
    t->state = t->body ? life::bound : life::unbound;
    p_ = t;
}

tasklet& tasklet::bind(std::function<void()> fn) {
    tasklet_impl& t = checked();
    if (t.alive()) throw runtime_error(msg::alive);
    t.body = std::move(fn);
    t.state = t.body ? life::bound : life::unbound;
    return *this;
}

tasklet& tasklet::setup() {
    detail::setup_tasklet(checked(), false);
    return *this;
}

tasklet& tasklet::setup_paused() {
    detail::setup_tasklet(checked(), true);
    return *this;
}

tasklet& tasklet::insert() {
    tasklet_impl& t = checked();
    if (t.blocked()) throw runtime_error(msg::run_blocked);
    if (!t.alive()) throw runtime_error(msg::run_dead);
    scheduler_impl* s = detail::own_thread(t);
    if (s == nullptr) {
        detail::post_remote(t, nullptr);
        return *this;
    }
    if (!t.in_ring) s->insert(&t);
    return *this;
}

tasklet& tasklet::remove() {
    tasklet_impl& t = checked();
    if (!t.alive()) return *this;  // never runnable: nothing to remove, whatever its thread
    scheduler_impl* s = detail::own_thread(t);
    if (s == nullptr) throw runtime_error(msg::other_thread);
    if (t.blocked()) throw runtime_error(msg::remove_blocked);
    if (&t == s->running) throw runtime_error(msg::remove_current);
    if (t.in_ring) s->remove(&t);
    return *this;
}

void tasklet::run() {
    tasklet_impl& t = checked();
    scheduler_impl* s = detail::own_thread(t);
    if (t.blocked()) throw runtime_error(msg::run_blocked);
    if (!t.alive()) throw runtime_error(msg::run_dead);
    if (s == nullptr) {  // as Stackless: its thread runs it next
        detail::post_remote(t, nullptr, true);
        return;
    }
    tasklet_impl* p = s->running;
    s->check_switch(p, &t);
    s->schedule_task(p, &t);
    s->claim(p);
}

void tasklet::switch_to() {
    tasklet_impl& t = checked();
    scheduler_impl* s = detail::own_thread(t);
    if (s == nullptr) throw runtime_error(msg::other_thread);
    if (t.blocked()) throw runtime_error(msg::run_blocked);
    if (!t.alive()) throw runtime_error(msg::run_dead);
    tasklet_impl* p = s->running;
    s->check_switch(p, &t);
    if (!t.in_ring) s->insert(&t);
    s->remove(p);
    try {
        s->schedule_task(p, &t);
    } catch (...) {  // could not switch (no memory for t's stack): p stays runnable
        s->unremove(p);
        throw;
    }
    s->claim(p);
}

void tasklet::kill(bool pending) {
    tasklet_impl& t = checked();
    if (!t.alive()) return;
    throw_exception(std::make_exception_ptr(tasklet_exit{}), pending);
}

void tasklet::throw_exception(std::exception_ptr e, bool pending) {
    if (!e) throw std::invalid_argument("slp::tasklet::throw_exception: null exception");
    tasklet_impl& t = checked();
    scheduler_impl* s = detail::own_thread(t);
    if (s != nullptr && &t == s->running) std::rethrow_exception(e);
    if (!t.alive()) {
        if (detail::is_tasklet_exit(e)) return;
        throw runtime_error(msg::throw_dead);
    }
    if (s == nullptr) {
        detail::post_remote(t, std::move(e));
        return;
    }
    tasklet_impl* p = s->running;
    if (!pending) s->check_switch(p, &t);
    if (t.blocked()) {
        s->unblock(&t);
        if (!t.in_ring) s->insert(&t);
    }
    t.tempval.clear();
    t.tempval.error = std::move(e);
    if (pending) {
        if (!t.in_ring) s->insert(&t);
        return;
    }
    s->schedule_task(p, &t);
    s->claim(p);
}

void tasklet::drop() {
    tasklet_impl& t = checked();
    if (!t.alive() && !t.is_main) return;
    scheduler_impl* s = detail::own_thread(t);
    if (s == nullptr) throw runtime_error(msg::other_thread);
    if (t.is_main || &t == s->running) throw runtime_error(msg::remove_current);
    if (t.blocked()) s->unblock(&t);
    // A partner of another thread took t off its channel and is posting it to us (it
    // marks t handed over before it unlinks t, and posts under the channel's lock): let
    // the post arrive, so that nothing refers to t once it is dropped.
    while (t.handed_over.load(std::memory_order_acquire)) {
        s->drain_inbox();
        if (t.handed_over.load(std::memory_order_acquire)) std::this_thread::yield();
    }
    if (t.in_ring) s->remove(&t);
    const bool started = t.state == life::started;
    t.state = life::dead;
    t.how = detail::suspended_by::none;
    t.tempval.clear();
    s->untrack(&t);
    if (started) detail::release_execution(*s, t);
    detail::release(&t);  // the scheduler's reference on an alive tasklet
}

bool tasklet::alive() const {
    return checked().alive();
}
bool tasklet::blocked() const {
    return checked().blocked();
}
bool tasklet::scheduled() const {
    const tasklet_impl& t = checked();
    return t.in_ring || t.blocked() || t.handed_over.load(std::memory_order_relaxed);
}
bool tasklet::paused() const {
    const tasklet_impl& t = checked();
    return t.alive() && !scheduled();
}
bool tasklet::is_main() const {
    return checked().is_main;
}
namespace detail {
namespace {
// Whether t is its thread's running tasklet. An ended tasklet can still be (while it
// ends), on the calling thread; another thread's ended tasklet is not looked into: its
// scheduler may have gone with its thread.
bool running_now(const tasklet_impl& t) noexcept {
    if (t.sched == nullptr) return false;
    if (!t.alive() && t.sched != tls_sched) return false;
    return t.sched->running == &t;
}
}  // namespace
}  // namespace detail

bool tasklet::is_current() const {
    return detail::running_now(checked());
}
bool tasklet::restorable() const {
    (void)checked();
    return false;
}
bool tasklet::set_atomic(bool flag) {
    return std::exchange(checked().atomic, flag);
}
bool tasklet::atomic() const {
    return checked().atomic;
}
bool tasklet::set_block_trap(bool flag) {
    return std::exchange(checked().block_trap, flag);
}
bool tasklet::block_trap() const {
    return checked().block_trap;
}
tasklet tasklet::next() const {
    const tasklet_impl& t = checked();
    return (t.in_ring || t.blocked()) && t.next != nullptr ? borrow(t.next) : tasklet{};
}
tasklet tasklet::prev() const {
    const tasklet_impl& t = checked();
    return (t.in_ring || t.blocked()) && t.prev != nullptr ? borrow(t.prev) : tasklet{};
}
std::uint64_t tasklet::id() const {
    return checked().id;
}
void detail::tasklet_extra::set_name(const char* n) {
    const std::size_t len = std::min<std::size_t>(std::strlen(n), 31);
    name.reset(new char[len + 1]);
    std::memcpy(name.get(), n, len);
    name[len] = '\0';
}

const char* tasklet::name() const {
    const tasklet_impl& t = checked();
    return t.x != nullptr ? t.x->name_or_empty() : "";
}
stack_kind tasklet::kind() const {
    return checked().kind;
}
void* tasklet::user_data() const {
    const tasklet_impl& t = checked();
    return t.x != nullptr ? t.x->user_data : nullptr;
}
void tasklet::set_user_data(void* p) {
    tasklet_impl& t = checked();
    if (p == nullptr && t.x == nullptr) return;
    t.extra().user_data = p;
}

void* tasklet_view::user_data() const noexcept {
    return p_->x != nullptr ? p_->x->user_data : nullptr;
}
bool tasklet_view::alive() const noexcept {
    return p_->alive();
}
bool tasklet_view::is_main() const noexcept {
    return p_->is_main;
}
bool tasklet_view::is_current() const noexcept {
    return detail::running_now(*p_);
}
std::uint64_t tasklet_view::id() const noexcept {
    return p_->id;
}

atomic_guard::atomic_guard() : old_(getcurrent().set_atomic(true)) {}
atomic_guard::~atomic_guard() {
    getcurrent().set_atomic(old_);
}

}  // namespace slp

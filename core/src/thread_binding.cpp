// thread_binding.cpp — another thread's scheduler, seen from this one: get_thread_info()
// and bind_thread() (Stackless: stackless.get_thread_info(thread_id) and
// tasklet.bind_thread(thread_id), Stackless/module/{stacklessmodule,taskletobject}.c).
//
// A scheduler's ring and its list of alive tasklets belong to its thread, which changes
// them without a lock; so the caller guarantees that the threads involved are quiet
// (slp/scheduler.hpp). Only a scheduler's inbox, which other threads post to at any
// time, is read here under its lock.
#include <algorithm>
#include <mutex>
#include <vector>

#include "internal.hpp"

namespace slp::detail {

namespace {

// Would drain_inbox() make this item's tasklet runnable?
bool makes_runnable(const inbox_item& it) noexcept {
    tasklet_impl* t = it.t;
    return !it.paused && t->alive() && !t->in_ring && (it.error || !t->blocked());
}

// Tasklets handed to s by other threads and not yet taken in (each counted once).
int pending_runnable(scheduler_impl& s) {
    std::vector<tasklet_impl*> seen;
    std::lock_guard<std::mutex> lk(s.inbox_mu);
    for (const inbox_item& it : s.inbox)
        if (makes_runnable(it) && std::find(seen.begin(), seen.end(), it.t) == seen.end())
            seen.push_back(it.t);
    return static_cast<int>(seen.size());
}

bool in_inbox(scheduler_impl& s, tasklet_impl* t) {
    std::lock_guard<std::mutex> lk(s.inbox_mu);
    return std::any_of(s.inbox.begin(), s.inbox.end(),
                       [t](const inbox_item& it) { return it.t == t && makes_runnable(it); });
}

// Take back an adoption of t that s has not drained yet (another thread set t up paused:
// setup_paused()); true if there was one. Its reference then goes with t.
bool take_back_adoption(scheduler_impl& s, tasklet_impl* t) {
    std::lock_guard<std::mutex> lk(s.inbox_mu);
    auto it = std::find_if(s.inbox.begin(), s.inbox.end(),
                           [t](const inbox_item& i) { return i.t == t && i.adopt; });
    if (it == s.inbox.end()) return false;
    s.inbox.erase(it);
    return true;
}

// Take back what other threads handed s to make t runnable (a kill or throw stays);
// an adoption stays, paused.
void take_back_runs(scheduler_impl& s, tasklet_impl* t) {
    std::lock_guard<std::mutex> lk(s.inbox_mu);
    std::erase_if(s.inbox,
                  [t](const inbox_item& it) { return it.t == t && !it.adopt && !it.error; });
    bool handed = false;
    for (inbox_item& it : s.inbox) {
        if (it.t != t) continue;
        if (it.adopt) it.paused = true;
        handed = handed || !it.paused;
    }
    t->handed_over.store(handed, std::memory_order_relaxed);
    s.set_inbox_nonempty(!s.inbox.empty(), std::memory_order_relaxed);
}

}  // namespace
}  // namespace slp::detail

namespace slp {

using detail::life;
using detail::scheduler_impl;
using detail::tasklet_impl;

thread_ref this_thread() {
    return thread_ref(&detail::this_scheduler());
}

thread_info get_thread_info(thread_ref th) {
    scheduler_impl* s = th.impl();
    if (s == nullptr) throw runtime_error(msg::no_thread);
    if (s == detail::this_scheduler_if_any()) s->drain_if_needed();
    thread_info info;
    info.runcount = s->runcount + detail::pending_runnable(*s);
    info.main = tasklet::borrow(s->main);
    info.current = tasklet::borrow(s->running);
    return info;
}

void remove_from_its_thread(const tasklet& handle) {
    tasklet_impl* t = handle.impl();
    if (t == nullptr) throw runtime_error(msg::null_tasklet);
    scheduler_impl* s = sched_of(*t);
    if (s == nullptr || (s != detail::this_scheduler_if_any() && !detail::scheduler_exists(s)))
        throw runtime_error(msg::no_thread);
    if (s == detail::this_scheduler_if_any()) {
        tasklet(handle).remove();
        return;
    }
    if (t->blocked()) throw runtime_error(msg::remove_blocked);
    if (t == s->running || t->is_main) throw runtime_error(msg::remove_current);
    detail::take_back_runs(*s, t);
    if (t->in_ring) s->remove(t);
}

void bind_thread(const tasklet& handle, thread_ref to) {
    tasklet_impl* t = handle.impl();
    if (t == nullptr) throw runtime_error(msg::null_tasklet);
    scheduler_impl* dest = to.impl();
    if (dest == nullptr) throw runtime_error(msg::no_thread);
    // Its scheduler. A tasklet that was not alive when its thread ended still points to
    // the scheduler that has gone: it has no thread.
    scheduler_impl* from = sched_of(*t);
    if (from != nullptr && from != dest && from != detail::this_scheduler_if_any() &&
        !detail::scheduler_exists(from))
        from = nullptr;

    const bool blocked = t->blocked();
    if ((t->in_ring && !blocked) ||
        (from != nullptr && t->alive() && !blocked && detail::in_inbox(*from, t)))
        throw runtime_error(msg::bind_runnable);
    // Execution state: a started tasklet (its stack), and an ended one that is still
    // running its end or whose stack its scheduler has not released yet.
    if (t->is_main || blocked || (t->alive() && t->state != life::ready) ||
        (from != nullptr && (from->running == t || from->zombie == t)))
        throw runtime_error(msg::bind_c_state);
    if (t->alive() && from == nullptr) throw runtime_error(msg::no_thread);
    if (from == dest) return;

    if (t->alive()) {
        // Set up, paused, never run: owned by its scheduler (one reference), tracked for
        // the kill at thread end. Both move.
        if (!detail::take_back_adoption(*from, t)) from->untrack(t);
        t->sched = dest;
        dest->track(t);
    } else {
        t->sched = dest;
    }
}

}  // namespace slp

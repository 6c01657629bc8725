// scheduler.cpp — the ring of runnables and Stackless's scheduling rules
// (Stackless/module/scheduling.c: slp_schedule_task, schedule_task_block, tasklet_end).
#include <pthread.h>

#include <algorithm>
#include <cstdio>
#include <memory>

#include "internal.hpp"
#include "sanitizer.hpp"
#include "slp/detail/fast_schedule.hpp"

namespace slp::detail {

[[gnu::tls_model("initial-exec")]] constinit thread_local scheduler_hot* tls_sched = nullptr;

namespace {

struct scheduler_holder {
    ~scheduler_holder() {
        delete this_scheduler_if_any();
        tls_sched = nullptr;
    }
};
thread_local scheduler_holder tls_holder;

// Callbacks: process-wide, read on every switch without a lock. Installed callables
// are kept until exit, so a reader never sees one freed.
std::mutex g_cb_mu;
std::vector<std::unique_ptr<schedule_callback>> g_sched_cbs;
std::vector<std::unique_ptr<channel_callback>> g_chan_cbs;

}  // namespace

std::atomic<const schedule_callback*> g_sched_cb{nullptr};
std::atomic<const channel_callback*> g_chan_cb{nullptr};
std::atomic<bool> g_any_cb{false};

void note_callbacks() noexcept {
    const bool any = g_sched_cb.load(std::memory_order_relaxed) != nullptr ||
                     g_chan_cb.load(std::memory_order_relaxed) != nullptr;
    g_any_cb.store(any, std::memory_order_release);
    hold_every_scheduler(scheduler_hot::hold_callbacks, any);
}

void registry_add(scheduler_impl* s);
void registry_remove(scheduler_impl* s);
std::uint64_t next_tasklet_id() noexcept;

scheduler_impl& create_this_scheduler() {
    if (tls_sched == nullptr) {
        (void)&tls_holder;  // construct the holder: it deletes the scheduler at thread exit
        tls_sched = new scheduler_impl();
    }
    return *this_scheduler_if_any();
}

scheduler_impl::scheduler_impl() {
#if defined(SLP_ASAN) || defined(SLP_TSAN)
    plain_switch = false;  // every switch is announced to the sanitizer (switch.cpp)
    refresh();
#endif
    install_overflow_handler();
    install_thread_altstack();
    pthread_attr_t attr;
    if (pthread_getattr_np(pthread_self(), &attr) == 0) {
        void* addr = nullptr;
        std::size_t size = 0;
        pthread_attr_getstack(&attr, &addr, &size);
        thread_stack_lo = static_cast<std::byte*>(addr);
        thread_stack_size = size;
        pthread_attr_destroy(&attr);
    }
    main = new_tasklet(stack_kind::own);
    main->sched = this;
    main->is_main = true;
    main->state = life::started;
    main->id = next_tasklet_id();
    main->x->set_name("main");
    san::fiber_adopt_current(main->x->fiber);
    running = main;
    insert(main);
    registry_add(this);
}

scheduler_impl::~scheduler_impl() {
    // Stackless kills the tasklets of an ending thread; do the same, from main (with
    // those that other threads handed over and it has not taken in yet).
    if (running == main) {
        drain_if_needed();
        for (int guard = 0; all_head != nullptr && guard < 100000; ++guard) {
            tasklet t = tasklet::borrow(all_head);
            try {
                t.kill();
            } catch (...) {
            }
            if (all_head == t.impl()) {  // would not die (it can never start): forget it
                if (t.impl()->in_ring) remove(t.impl());  // (kill() put it there)
                untrack(t.impl());
                t.impl()->sched = nullptr;
                release(t.impl());
            }
        }
    }
    registry_remove(this);
    drain_if_needed();             // (nothing can be posted to us from here on)
    while (all_head != nullptr) {  // (handed to us at the last moment: forgotten too)
        tasklet_impl* t = all_head;
        if (t->in_ring) remove(t);
        untrack(t);
        t->sched = nullptr;
        release(t);
    }
    if (zombie != nullptr) {
        release_execution(*this, *zombie);
        release(zombie);
        zombie = nullptr;
    }
    if (runner != nullptr) {  // waits in an awaiter of a dead tasklet, or never ran
        release_execution(*this, *runner);
        release(runner);
        runner = nullptr;
    }
    main->sched = nullptr;
    main->in_ring = false;
    main->next = main->prev = nullptr;
    release(main);
}

// ---- the ring ------------------------------------------------------------------------

void scheduler_impl::unremove(tasklet_impl* t) noexcept {
    insert(t);
    head = t;
}

void scheduler_impl::track(tasklet_impl* t) noexcept {
    t->all_prev = nullptr;
    t->all_next = all_head;
    if (all_head != nullptr) all_head->all_prev = t;
    all_head = t;
}

void scheduler_impl::untrack(tasklet_impl* t) noexcept {
    if (t->all_prev != nullptr)
        t->all_prev->all_next = t->all_next;
    else if (all_head == t)
        all_head = t->all_next;
    if (t->all_next != nullptr) t->all_next->all_prev = t->all_prev;
    t->all_next = t->all_prev = nullptr;
}

// ---- switching -----------------------------------------------------------------------

void scheduler_impl::check_switch(tasklet_impl* prev, tasklet_impl* next) const {
    if (prev == next) return;
    if (in_callback) throw runtime_error(msg::recursive_schedule);
    if (trap > 0) throw runtime_error(msg::switch_trap);
}

// Take t off the channel it is blocked on; if another thread took it first, it is on
// its way to our inbox: drain it (which makes it runnable).
void scheduler_impl::unblock(tasklet_impl* t) {
    channel_base* ch = t->blocked_on.load(std::memory_order_acquire);
    if (ch != nullptr && channel_remove(*ch, t)) return;
    drain_inbox();
}

// Make next runnable if it is not (Stackless: "unblock from channel" / "reactivate
// floating task").
void scheduler_impl::prepare(tasklet_impl* next) {
    if (next->blocked()) {
        unblock(next);
        if (!next->in_ring) insert(next);
    } else if (!next->in_ring) {
        insert(next);
    }
}

void scheduler_impl::notify_schedule(tasklet_impl* prev, tasklet_impl* next) noexcept {
    if (const schedule_callback* cb = g_sched_cb.load(std::memory_order_acquire)) {
        in_callback = true;
        refresh();
        try {
            (*cb)(tasklet::borrow(prev), tasklet::borrow(next));
        } catch (...) {
            std::fputs("slp: Error in scheduling callback (exception dropped)\n", stderr);
        }
        in_callback = false;
        refresh();
    }
    rec.from = prev;
    if (observer != nullptr) observer->before_switch(tasklet_view(prev), tasklet_view(next));
}

void release_zombie(scheduler_hot& hot) noexcept {
    auto& s = static_cast<scheduler_impl&>(hot);
    tasklet_impl* z = s.zombie;
    s.zombie = nullptr;
    release_execution(s, *z);
    release(z);  // the scheduler's reference to an alive tasklet
}

// Switch from prev (running) to next; returns when prev runs again. Throws (before
// changing anything) only what check_switch throws. The caller then claim()s.
void scheduler_impl::schedule_task(tasklet_impl* prev, tasklet_impl* next) {
    check_switch(prev, next);
    prepare(next);
    if (prev == next) {
        head = prev;
        return;
    }
    begin_switch(prev, next);
    transfer(*this, *prev, *next);
}

void raise_pending(tasklet_impl* t) {
    std::exception_ptr e = std::move(t->tempval.error);
    t->tempval.clear();
    std::rethrow_exception(e);
}

// The watchdog if it is paused (waiting in run() for the ring to empty) and is not
// prev, else prev.
tasklet_impl* scheduler_impl::paused_watchdog(tasklet_impl* prev) const noexcept {
    tasklet_impl* w = watchdog();
    return w != prev && !w->in_ring && !w->blocked() ? w : prev;
}

// prev (running) has left the ring for a channel queue: run something else.
void scheduler_impl::block(tasklet_impl* prev) {
    drain_if_needed();
    if (head != nullptr) {
        schedule_task(prev, head);
        return;
    }
    if (tasklet_impl* w = paused_watchdog(prev); w != prev) {  // revive it
        schedule_task(prev, w);
        return;
    }
    for (;;) {
        if (!wait_for_other_threads(true)) throw deadlock_error(msg::deadlock);
        drain_inbox();
        if (head != nullptr) {
            schedule_task(prev, head);
            return;
        }
    }
}

void scheduler_impl::end_running(std::exception_ptr escaped) noexcept {
    tasklet_impl* t = running;
    tasklet_impl* next = retire_running(std::move(escaped));
    transfer_final(*this, *t, *next);
}

tasklet_impl* scheduler_impl::retire_running(std::exception_ptr escaped) noexcept {
    tasklet_impl* t = running;
    remove(t);
    t->state = life::dead;
    t->body = nullptr;
    untrack(t);
    drain_if_needed();
    tasklet_impl* next = head;
    if (next == nullptr) {
        tasklet_impl* w = watchdog();
        if (w->blocked() && !escaped) {
            // Stackless raises at once; with other threads alive, wait for them first.
            while (head == nullptr && wait_for_other_threads()) drain_inbox();
            if (head == nullptr && w->blocked())
                escaped = std::make_exception_ptr(
                    deadlock_error(w->blocked_dir < 0 ? msg::main_receiving : msg::main_sending));
        }
        next = head != nullptr ? head : w;
    }
    if (!escaped) {
        // The switch away from an ended tasklet cannot fail: a next one that would need
        // memory gets it here, or stays runnable and the watchdog gets the bad_alloc.
        try {
            ready_final_switch(*this, *t, *next);
        } catch (...) {
            escaped = std::current_exception();
        }
    }
    if (escaped) {
        next = watchdog();
        try {
            ready_final_switch(*this, *t, *next);
        } catch (...) {  // (a copied watchdog whose slice cannot come back: main then)
            next = main;
        }
        next->tempval.clear();
        next->tempval.error = std::move(escaped);
    }
    try {
        prepare(next);
    } catch (...) {
        std::fputs("slp: fatal: could not end a tasklet\n", stderr);
        std::abort();
    }
    begin_switch(t, next);
    zombie = t;
    return next;
}

void scheduler_impl::schedule_running(bool remove_it) {
    drain_if_needed();
    tasklet_impl* p = running;
    if (!remove_it) {
        schedule_task(p, p->next);
        return;
    }
    tasklet_impl* next = p->next;
    if (next == p) next = paused_watchdog(p);  // Stackless: run() returns
    check_switch(p, next);
    remove(p);
    try {
        // Nothing else can run here and the watchdog is blocked: as a blocking channel
        // action, wait for another thread to make something runnable, or fail with the
        // deadlock (Stackless raises it).
        if (next == p && p != watchdog())
            block(p);
        else
            schedule_task(p, next);
    } catch (...) {  // could not switch (deadlock, no memory for next's stack): p stays runnable
        unremove(p);
        throw;
    }
}

}  // namespace slp::detail

// ---- the public functions ------------------------------------------------------------

namespace slp {

using detail::scheduler_impl;
using detail::tasklet_impl;

void run() {
    scheduler_impl& s = detail::this_scheduler();
    s.drain_if_needed();
    tasklet_impl* p = s.running;
    if (s.runcount <= 1) return;
    s.check_switch(p, p->next);
    s.watchdogs.push_back(p);
    s.remove_head();
    // Resumed before the watchdogs nested in its run() (someone ran it explicitly): they
    // are woken with it, as in Stackless, or they would wait in their run() for good.
    auto pop = [&] {
        auto it = std::find(s.watchdogs.rbegin(), s.watchdogs.rend(), p);
        if (it == s.watchdogs.rend()) return;
        auto at = std::next(it).base();
        for (auto w = std::next(at); w != s.watchdogs.end(); ++w)
            if ((*w)->alive() && !(*w)->in_ring && !(*w)->blocked()) s.insert(*w);
        s.watchdogs.erase(at, s.watchdogs.end());
    };
    try {
        s.schedule_task(p, s.head);
    } catch (...) {
        pop();
        s.unremove(p);
        throw;
    }
    pop();
    s.claim(p);
}

// flatten: a switch resumes with the return-stack predictor out of step, so every return
// between the switch and the caller mispredicts; inlining the path leaves one.
[[gnu::flatten]] void schedule() {
    if (detail::fast_schedule()) return;
    scheduler_impl& s = detail::this_scheduler();
    tasklet_impl* p = s.running;
    s.schedule_running(false);
    s.claim(p);
}

void schedule_remove() {
    scheduler_impl& s = detail::this_scheduler();
    tasklet_impl* p = s.running;
    s.schedule_running(true);
    s.claim(p);
}

tasklet getcurrent() {
    return tasklet::borrow(detail::this_scheduler().running);
}
tasklet getmain() {
    return tasklet::borrow(detail::this_scheduler().main);
}
int getruncount() {
    scheduler_impl& s = detail::this_scheduler();
    s.drain_if_needed();
    return s.runcount;
}

int switch_trap(int delta) {
    scheduler_impl& s = detail::this_scheduler();
    int old = s.trap;
    s.trap += delta;
    s.refresh();
    return old;
}

schedule_callback set_schedule_callback(schedule_callback cb) {
    std::lock_guard<std::mutex> lk(detail::g_cb_mu);
    const schedule_callback* old = detail::g_sched_cb.load();
    schedule_callback prev = old != nullptr ? *old : schedule_callback{};
    if (cb) {
        detail::g_sched_cbs.push_back(std::make_unique<schedule_callback>(std::move(cb)));
        detail::g_sched_cb.store(detail::g_sched_cbs.back().get(), std::memory_order_release);
    } else {
        detail::g_sched_cb.store(nullptr, std::memory_order_release);
    }
    detail::note_callbacks();
    return prev;
}

channel_callback set_channel_callback(channel_callback cb) {
    std::lock_guard<std::mutex> lk(detail::g_cb_mu);
    const channel_callback* old = detail::g_chan_cb.load();
    channel_callback prev = old != nullptr ? *old : channel_callback{};
    if (cb) {
        detail::g_chan_cbs.push_back(std::make_unique<channel_callback>(std::move(cb)));
        detail::g_chan_cb.store(detail::g_chan_cbs.back().get(), std::memory_order_release);
    } else {
        detail::g_chan_cb.store(nullptr, std::memory_order_release);
    }
    detail::note_callbacks();
    return prev;
}

switch_observer* set_switch_observer(switch_observer* obs) {
    scheduler_impl& s = detail::this_scheduler();
    return std::exchange(s.observer, obs);
}

}  // namespace slp

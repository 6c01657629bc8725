// threads.cpp — schedulers of different threads: the registry, the inbox through which
// one thread makes another's tasklet runnable, and waiting for other threads.
//
// A tasklet only ever runs on its own thread. Another thread never touches a tasklet's
// place in its scheduler's ring; it posts the tasklet (and maybe an exception to raise
// in it) to that scheduler's inbox, which the owner drains at its next scheduling point,
// waking it if it waits. Lock order: channel lock, then g_registry_mu, then inbox_mu.
#include <pthread.h>

#include <algorithm>
#include <chrono>
#include <mutex>
#include <new>
#include <vector>

#include "internal.hpp"

namespace slp::detail {
namespace {
// Never destroyed: a thread may end, and leave the registry, while the process exits
// and runs the destructors of static objects.
struct registry {
    std::mutex mu;
    std::vector<scheduler_impl*> list;
};
registry& the_registry() {
    static registry* r = new registry;
    return *r;
}
std::mutex& g_registry_mu = the_registry().mu;
std::vector<scheduler_impl*>& g_registry = the_registry().list;

// fork(): the child has only the forking thread. The registry is locked across the fork
// (so it is consistent in the child) and the child keeps only its own scheduler: the
// others' threads do not exist there. Their alive tasklets are forgotten: taken off the
// channels they are blocked on (a send or receive there no longer hands a value to a
// thread that will never run it; it blocks, or finds the deadlock) and of no thread
// (acting on them raises msg::no_thread). Their memory is left as it is.
void before_fork() noexcept {
    g_registry_mu.lock();
}
void after_fork_in_parent() noexcept {
    g_registry_mu.unlock();
}
// A tasklet of ours that a partner of another thread took off a channel, and that
// the fork caught before the partner could post it to us (the registry was held): the
// exchange is done, so it is runnable. (Our inbox is consistent: posts happen under the
// registry's lock, and only we drain it.)
void adopt_caught_deliveries(scheduler_impl& me) noexcept {
    auto caught = [&me](tasklet_impl* t) {
        if (!t->alive() || !t->handed_over.load(std::memory_order_relaxed)) return;
        for (const inbox_item& it : me.inbox)
            if (it.t == t && !it.paused) return;
        try {
            me.inbox.push_back({t, nullptr});
            me.set_inbox_nonempty(true, std::memory_order_relaxed);
        } catch (...) {  // out of memory in a fresh child: it stays paused
        }
    };
    caught(me.main);
    for (tasklet_impl* t = me.all_head; t != nullptr; t = t->all_next) caught(t);
}

void after_fork_in_child() noexcept {
    new (&g_registry_mu) std::mutex;  // no other thread can hold it: there is none
    g_fork_epoch.fetch_add(1, std::memory_order_relaxed);
    scheduler_impl* me = static_cast<scheduler_impl*>(tls_sched);
    // Unregistered first: a channel lock that one of them held is then taken over.
    std::vector<scheduler_impl*> gone;
    gone.swap(g_registry);
    if (me != nullptr) g_registry.push_back(me);
    auto forget = [](tasklet_impl* t) {
        if (channel_base* ch = t->blocked_on.load(std::memory_order_relaxed))
            channel_remove(*ch, t);
        t->sched = nullptr;
    };
    for (scheduler_impl* s : gone) {
        if (s == me) continue;
        for (tasklet_impl* t = s->all_head; t != nullptr; t = t->all_next) forget(t);
        forget(s->main);
    }
    if (me != nullptr) adopt_caught_deliveries(*me);
}
}  // namespace

std::atomic<int> g_fork_epoch{0};

void registry_add(scheduler_impl* s) {
    static std::once_flag at_fork;
    std::call_once(at_fork,
                   [] { pthread_atfork(before_fork, after_fork_in_parent, after_fork_in_child); });
    std::lock_guard<std::mutex> lk(g_registry_mu);
    g_registry.push_back(s);
    s->set_hold(scheduler_hot::hold_callbacks, any_callback_installed());
}

void hold_every_scheduler(std::uint32_t bits, bool on) noexcept {
    std::lock_guard<std::mutex> lk(g_registry_mu);
    for (scheduler_impl* s : g_registry) s->set_hold(bits, on);
}

void registry_remove(scheduler_impl* s) {
    std::vector<scheduler_impl*> idle;
    {
        std::lock_guard<std::mutex> lk(g_registry_mu);
        g_registry.erase(std::remove(g_registry.begin(), g_registry.end(), s), g_registry.end());
        for (scheduler_impl* x : g_registry)
            if (x->idle.load(std::memory_order_relaxed)) idle.push_back(x);
        // Wake the idle ones to check again whether anybody can still wake them.
        for (scheduler_impl* x : idle) {
            std::lock_guard<std::mutex> ilk(x->inbox_mu);
            x->recheck = true;
            x->inbox_cv.notify_one();
        }
    }
}

namespace {
// Whether s is registered (the caller holds g_registry_mu).
bool registered(scheduler_impl* s) noexcept {
    return std::find(g_registry.begin(), g_registry.end(), s) != g_registry.end();
}
}  // namespace

bool scheduler_exists(scheduler_impl* s) noexcept {
    std::lock_guard<std::mutex> lk(g_registry_mu);
    return registered(s);
}

namespace {
// Append to s's inbox and wake s (the caller holds g_registry_mu). The registry lock
// orders a post against the owner's decision to go idle (either the owner sees the
// item, or the post sees and clears its idle flag) and against the owner's exit
// (registry_remove waits for a post in flight; the condition variable is notified
// before the locks are released, so it is never used after the owner ends).
void push_to_inbox(scheduler_impl& s, inbox_item&& item) {
    std::lock_guard<std::mutex> lk(s.inbox_mu);
    if (!item.paused) item.t->handed_over.store(true, std::memory_order_relaxed);
    s.inbox.push_back(std::move(item));
    s.set_inbox_nonempty(true, std::memory_order_release);
    s.idle.store(false, std::memory_order_relaxed);
    s.inbox_cv.notify_one();
}
}  // namespace

void scheduler_impl::post(inbox_item item) {
    std::lock_guard<std::mutex> rlk(g_registry_mu);
    push_to_inbox(*this, std::move(item));
}

bool post_if_exists(scheduler_impl* s, inbox_item item) {
    std::lock_guard<std::mutex> rlk(g_registry_mu);
    if (!registered(s)) return false;
    push_to_inbox(*s, std::move(item));
    return true;
}

void scheduler_impl::drain_inbox() {
    std::vector<inbox_item> items;
    {
        std::lock_guard<std::mutex> lk(inbox_mu);
        items.swap(inbox);
        set_inbox_nonempty(false, std::memory_order_relaxed);
        for (inbox_item& it : items) it.t->handed_over.store(false, std::memory_order_relaxed);
    }
    for (inbox_item& it : items) {
        tasklet_impl* t = it.t;
        if (it.adopt) {
            track(t);
            if (it.paused) continue;
        }
        if (!t->alive()) continue;
        if (it.error) {
            if (t == running) continue;  // cannot happen: posts come from other threads
            if (t->blocked()) {
                channel_base* ch = t->blocked_on.load(std::memory_order_acquire);
                if (ch != nullptr) channel_remove(*ch, t);
            }
            t->tempval.clear();
            t->tempval.error = std::move(it.error);
        }
        if (t->blocked()) continue;
        if (it.run_next && t->in_ring && t != running) remove(t);
        if (t->in_ring) continue;
        if (!it.run_next || head == nullptr) {
            insert(t);
        } else if (head == running) {
            insert_after_head(t);
        } else {
            insert(t);
            head = t;
        }
    }
}

// Nothing of this thread can run. If another thread that is not idle exists, wait until
// something is posted to us (or the set of threads changes) and return true; otherwise
// return false: nobody could ever wake us.
bool scheduler_impl::wait_for_other_threads(bool interruptible) {
    {
        std::lock_guard<std::mutex> lk(g_registry_mu);
        if (inbox_nonempty.load(std::memory_order_acquire)) return true;
        bool other_active = false;
        for (scheduler_impl* x : g_registry)
            if (x != this && !x->idle.load(std::memory_order_relaxed)) other_active = true;
        if (!other_active) return false;
        idle.store(true, std::memory_order_relaxed);
    }
    // The observer may give up a lock of its own (the GIL) while we sleep; it is told
    // outside our locks, so that a thread holding that lock can still post to us.
    if (observer != nullptr) observer->before_wait();
    std::exception_ptr stop;
    {
        std::unique_lock<std::mutex> lk(inbox_mu);
        const auto woken = [&] { return !inbox.empty() || recheck; };
        if (!interruptible || observer == nullptr) {
            inbox_cv.wait(lk, woken);
        } else {
            while (!inbox_cv.wait_for(lk, std::chrono::milliseconds(50), woken)) {
                lk.unlock();
                stop = observer->poll_wait();
                lk.lock();
                if (stop) break;
            }
        }
        if (!stop) recheck = false;
    }
    {
        std::lock_guard<std::mutex> lk(g_registry_mu);
        idle.store(false, std::memory_order_relaxed);
    }
    if (observer != nullptr) observer->after_wait();
    if (stop) std::rethrow_exception(stop);
    return true;
}

}  // namespace slp::detail

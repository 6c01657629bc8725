// internal.hpp — the objects behind the public handles, shared by core/src only.
//
#pragma once

#include <atomic>
#include <condition_variable>
#include <coroutine>
#include <cstdint>
#include <exception>
#include <functional>
#include <mutex>
#include <vector>

#include "slp/channel.hpp"
#include "slp/detail/runtime.hpp"
#include "slp/scheduler.hpp"
#include "slp/soft.hpp"
#include "slp/stack.hpp"
#include "slp/tasklet.hpp"
#include "slp_arch.h"

namespace slp::detail {

struct scheduler_impl;

// A tasklet that carries its extra part inline (hard kinds, main, the runner).
struct hard_tasklet : tasklet_impl {
    hard_tasklet() noexcept {
        x = &ext;
        extra_inline = true;
    }
    tasklet_extra ext;
};
// Every tasklet object is made by one of these and freed by destroy_tasklet().
tasklet_impl* new_tasklet(stack_kind kind);
void destroy_tasklet(tasklet_impl* t) noexcept;

// A request handed to a scheduler from another thread.
struct inbox_item {
    tasklet_impl* t;           // alive: kept by the reference its scheduler holds on it
    std::exception_ptr error;  // raise this in t (remote kill/throw); null: just run it
    // Set up by another thread (setup(), setup_paused()): the scheduler takes over the
    // reference the other thread took for it as an alive tasklet, and tracks it.
    bool adopt = false;
    bool paused = false;    // adopt only, do not run it
    bool run_next = false;  // run() from another thread: it runs before the other runnables
};
// threads.cpp: whether s is a registered scheduler (a thread of this process that
// lives; in a forked child, only the forking thread's).
bool scheduler_exists(scheduler_impl* s) noexcept;
// threads.cpp: how many fork()s this process descends from; a channel's spin lock
// records it (lock_tag), so that a forked child recognises a lock that a thread which
// did not survive the fork held, and takes it over.
extern std::atomic<int> g_fork_epoch;
inline int lock_tag() noexcept {
    return (g_fork_epoch.load(std::memory_order_relaxed) << 1) | 1;
}
// Set or clear `bits` of every registered scheduler's hold word (threads.cpp); a
// scheduler registered later takes its callback bit from g_any_cb.
void hold_every_scheduler(std::uint32_t bits, bool on) noexcept;
// Post `item` to s if s still exists (checked and posted under the registry's lock, so
// that s cannot end in between); false if it does not (threads.cpp).
bool post_if_exists(scheduler_impl* s, inbox_item item);

// One of a thread's shared stacks (shared_stacks_per_thread of them, more for a crowd, up to
// max_shared_stacks_per_thread) that copied-stack tasklets run on: each copied tasklet on
// the one its `slot` names.
struct shared_stack {
    stack mem;
    std::byte* base = nullptr;         // slices are [slice_lo, base)
    tasklet_impl* occupant = nullptr;  // whose slice is on the stack now
    std::byte* lowest = nullptr;       // deepest address seen in use (ASan scrubbing)
};

// A thread's scheduler: the hot part (slp/detail/runtime.hpp: running, head, the ring,
// trap, observer, counts...) and the rest.
struct scheduler_impl : scheduler_hot {
    scheduler_impl();
    ~scheduler_impl();

    tasklet_impl* main = nullptr;
    std::vector<tasklet_impl*> watchdogs;
    stack_pool pool;
    // The first shared_count are mapped (copystack.cpp: pick_shared_stack says when more are).
    shared_stack shared[max_shared_stacks_per_thread];
    int shared_count = 0;
    stack copy_helper;           // small stack where copy-switch restore runs before it jumps
    std::uint8_t slot_turn = 0;  // the shared stack a starting copied tasklet takes next
    unsigned colour_turn = 0;    // stack_colour() of the next own stack a tasklet starts on
    std::byte* thread_stack_lo = nullptr;  // bounds of the thread's own stack (main)
    std::size_t thread_stack_size = 0;
    tasklet_impl* all_head = nullptr;

    // Soft tasklets (core/src/soft.cpp). The runner is the hard context they run on: a
    // tasklet object outside the ring, started on a pooled stack when first needed.
    tasklet_impl* runner = nullptr;
    bool defer = false;     // an awaiter of a soft running tasklet finishes the switch
    bool deferred = false;  // transfer() left the switch to that awaiter

    // Cross-thread requests (core/src/threads.cpp).
    std::mutex inbox_mu;
    std::condition_variable inbox_cv;
    std::vector<inbox_item> inbox;
    std::atomic<bool> idle{false};  // waiting for another thread (counts as blocked)
    bool recheck = false;           // guarded by inbox_mu

    // ring (scheduler.cpp)
    void unremove(tasklet_impl* t) noexcept;  // put back as head
    void track(tasklet_impl* t) noexcept;
    void untrack(tasklet_impl* t) noexcept;

    // scheduling (scheduler.cpp)
    tasklet_impl* watchdog() const noexcept { return watchdogs.empty() ? main : watchdogs.back(); }
    void check_switch(tasklet_impl* prev, tasklet_impl* next) const;
    void prepare(tasklet_impl* next);
    void schedule_task(tasklet_impl* prev, tasklet_impl* next);
    void block(tasklet_impl* prev);
    tasklet_impl* paused_watchdog(tasklet_impl* prev) const noexcept;
    [[gnu::noinline]] [[noreturn]] void end_running(std::exception_ptr escaped) noexcept;
    // end_running up to the switch: the running tasklet is dead (the zombie) and the
    // next one is `running`; returns it.
    tasklet_impl* retire_running(std::exception_ptr escaped) noexcept;
    void schedule_running(bool remove);  // schedule() / schedule_remove() of `running`
    [[gnu::noinline]] void notify_schedule(tasklet_impl* prev, tasklet_impl* next) noexcept;
    // The bookkeeping every switch from prev to next starts with: tell the schedule
    // callback and the observer, and make next the head and the running tasklet.
    void begin_switch(tasklet_impl* prev, tasklet_impl* next) noexcept {
        notify_schedule(prev, next);
        make_running(next);
    }
    [[gnu::noinline]] void unblock(tasklet_impl* t);

    // threads (threads.cpp)
    [[gnu::noinline]] void drain_inbox();
    void drain_if_needed() {
        if (inbox_nonempty.load(std::memory_order_acquire)) drain_inbox();
    }
    [[gnu::noinline]] void post(inbox_item item);
    // false: nobody can wake us (deadlock). interruptible: the observer's poll_wait() may
    // end the wait by an exception, thrown from here.
    [[gnu::noinline]] bool wait_for_other_threads(bool interruptible = false);
};

// The mapped stack t runs on: its own, the shared one (copied kind), the runner's (soft
// kind, while not promoted); null for a main tasklet (the thread's stack) and for one
// that has none yet. For the sanitizers' fiber switches and the guard-page report.
inline const stack* stack_of(const scheduler_impl& s, const tasklet_impl& t) noexcept {
    if (t.is_main) return nullptr;
    if (t.kind == stack_kind::copied) return &s.shared[t.slot].mem;
    if (t.kind == stack_kind::soft) return s.runner != nullptr ? &s.runner->x->own : nullptr;
    return t.x != nullptr ? &t.x->own : nullptr;
}

[[gnu::noinline]] scheduler_impl& create_this_scheduler();
// (tls_sched: slp/detail/runtime.hpp; every scheduler_hot is a scheduler_impl.)
// The scheduler t belongs to (null once its thread ended).
inline scheduler_impl* sched_of(const tasklet_impl& t) noexcept {
    return static_cast<scheduler_impl*>(t.sched);
}
inline scheduler_impl* this_scheduler_if_any() noexcept {
    return static_cast<scheduler_impl*>(tls_sched);
}
// The calling thread's scheduler, created on first use.
inline scheduler_impl& this_scheduler() {
    scheduler_impl* s = this_scheduler_if_any();
    return s != nullptr ? *s : create_this_scheduler();
}

// switch.cpp: the only place that knows how a tasklet is entered and suspended.
// transfer: suspend prev (the running tasklet) and resume or start next; returns when
// prev is resumed. transfer_final: the same for an ended prev, which never resumes.
void transfer(scheduler_impl& s, tasklet_impl& prev, tasklet_impl& next);
[[noreturn]] void transfer_final(scheduler_impl& s, tasklet_impl& prev, tasklet_impl& next);
[[gnu::noinline]] void release_execution(scheduler_impl& s, tasklet_impl& t) noexcept;
// An own-stack tasklet that has not started gets its stack now (as the switch to it
// would); throws std::bad_alloc, changing nothing. Other tasklets: nothing to do.
void give_stack_if_fresh(scheduler_impl& s, tasklet_impl& t);
// The switch from the ended running tasklet `prev` to `next` must not fail: get now
// whatever memory it will need (next's stack, the soft runner and its stack, a shared
// stack, room for the slice that next's shared stack holds). Throws std::bad_alloc,
// having changed nothing the switch relies on.
void ready_final_switch(scheduler_impl& s, const tasklet_impl& prev, tasklet_impl& next);

// soft.cpp: the soft rows of transfer().
// Where a soft tasklet runs: the runner (created on first use).
tasklet_impl& soft_runner(scheduler_impl& s);
// The soft running tasklet `t` is in code that is not a coroutine and must switch: it
// keeps the runner's stack as its own (its kind becomes own).
void promote(scheduler_impl& s, tasklet_impl& t) noexcept;
// switch.cpp: from the runner to `running`, a hard tasklet (see complete_deferred).
void jump_from_runner(scheduler_impl& s);
// After a deferred transfer to `running`: switch there (soft: nothing to do; hard: jump
// from the runner, which waits in this call until a soft tasklet runs again).
void complete_deferred(scheduler_impl& s);
// The runner's entry and loop: resume the running soft tasklet's innermost coroutine (or
// start it), over and over. Also the bottom of every promoted tasklet's stack.
void runner_entry(slp_transfer tr);
// Drop a soft tasklet's coroutine frames.
void soft_release(tasklet_impl& t) noexcept;

// The shared stack copied tasklet t runs on.
inline shared_stack& shared_of(scheduler_impl& s, const tasklet_impl& t) noexcept {
    return s.shared[t.slot];
}

// copystack.cpp
// Copied `next` is about to start (running: `prev`): give it a shared stack, mapped if
// need be (throws std::bad_alloc). A free one of the first shared_stacks_per_thread, or a
// new one while there are fewer; else, in turn, one whose occupant waits (blocked or
// paused) and that prev is not on, whose slice goes to the heap (a waiting tasklet keeps
// only what it uses); else, when every occupant is runnable (a crowd taking turns), one
// that a crowd left free or a new one while there are fewer than
// max_shared_stacks_per_thread and it can be mapped, so that the crowd switches without
// copying; past that, prev's own: one slp_switch then moves both slices, where a jump
// between shared stacks would copy as much and cost more (measured: 44 vs 65 ns per
// switch round-robin among 10,000).
[[gnu::noinline]] void choose_shared_stack(scheduler_impl& s, tasklet_impl& next,
                                           const tasklet_impl& prev);
// The heap buffer for t's slice (suspended on sh) is big enough for slice_save, which
// then needs no memory (throws std::bad_alloc). Sets the slice's start (slice.lo) of a
// tasklet a jump suspended, from its context.
void reserve_slice(tasklet_impl& t, const shared_stack& sh);
[[gnu::noinline]] void slice_save(scheduler_impl& s, tasklet_impl& t, const shared_stack& sh);
[[gnu::noinline]] void slice_restore(scheduler_impl& s, tasklet_impl& t, const shared_stack& sh);

// tasklet.cpp: whether e holds a tasklet_exit.
bool is_tasklet_exit(const std::exception_ptr& e);

// channel.cpp: remove t from the channel it is blocked on (lock taken inside).
// Returns false if t was no longer there (another thread took it first).
bool channel_remove(channel_base& ch, tasklet_impl* t);

}  // namespace slp::detail

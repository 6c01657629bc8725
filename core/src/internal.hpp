// internal.hpp — the objects behind the public handles, shared by core/src only.
//
// Ownership: a tasklet object is reference counted (handles, the ring, a channel queue,
// a scheduler inbox each hold one reference). Moving a tasklet between ring, channel
// and inbox moves that reference; nothing is counted on the hot path.
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
#include "slp/scheduler.hpp"
#include "slp/soft.hpp"
#include "slp/stack.hpp"
#include "slp/tasklet.hpp"
#include "slp_arch.h"

namespace slp::detail {

struct scheduler_impl;

enum class life : std::uint8_t { unbound, bound, ready, started, dead };
// How a started, non-running hard tasklet was suspended (decides how to resume it).
enum class suspended_by : std::uint8_t { none, jump, copy_switch };

// What only some tasklets need, kept out of the object every tasklet has (issue 4: a
// blocked soft tasklet costs at most 256 bytes, its coroutine frame included): the
// execution state of the hard kinds, and fields rarely set. Hard tasklets, main and the
// soft runner carry one inline (one allocation, see hard_tasklet); a soft tasklet gets
// one on the heap only when named, given user data, or promoted.
struct tasklet_extra {
    stack own;                      // own-stack kind (and promoted soft), once started
    std::byte* slice_lo = nullptr;  // copied: lowest address of its live slice
    std::byte* saved = nullptr;     // copied: heap copy of the slice
    std::uint32_t saved_size = 0;
    std::uint32_t saved_cap = 0;
    std::size_t stack_size = 0;
    void* asan_fake_stack = nullptr;
    void* tsan_fiber = nullptr;
    void* user_data = nullptr;
    std::coroutine_handle<> top;  // a promoted soft tasklet's innermost coroutine
    char name[32] = {};
};

struct tasklet_impl {
    std::atomic<int> refs{1};
    std::int8_t blocked_dir = 0;  // guarded by the lock of the channel it is on
    life state = life::unbound;
    stack_kind kind = stack_kind::own;
    suspended_by how = suspended_by::none;  // how a started, non-running one was suspended
    bool in_ring = false;
    bool is_main = false;
    bool atomic = false;
    bool block_trap = false;
    bool slice_in_heap = false;       // copied: the heap copy of its slice is the live one
    bool extra_inline = false;        // x points into this object (a hard_tasklet)
    scheduler_impl* sched = nullptr;  // its thread's scheduler; nullptr once that ended
    // Chain links: the ring of runnables, or a channel queue (never both).
    tasklet_impl* next = nullptr;
    tasklet_impl* prev = nullptr;
    std::atomic<channel_base*> blocked_on{nullptr};  // written under that channel's lock

    std::function<void()> body;
    message tempval;  // the value or exception the tasklet gets when it resumes
    std::uint64_t id = 0;
    // A hard context: where it resumes, when suspended_by::jump. A soft tasklet (not
    // promoted): the address of its innermost coroutine, once started (soft.cpp).
    slp_ctx ctx = nullptr;
    tasklet_extra* x = nullptr;

    // All tasklets of a scheduler that are alive (for the kill at thread exit).
    tasklet_impl* all_next = nullptr;
    tasklet_impl* all_prev = nullptr;

    bool alive() const noexcept {
        return is_main || state == life::ready || state == life::started;
    }
    bool blocked() const noexcept { return blocked_on.load(std::memory_order_acquire) != nullptr; }
    // The extra part, made if missing (throws std::bad_alloc).
    tasklet_extra& extra() {
        if (x == nullptr) x = new tasklet_extra;
        return *x;
    }
};

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
    tasklet_impl* t;           // reference moved in
    std::exception_ptr error;  // raise this in t (remote kill/throw); null: just run it
};

// What the switch routines need to know across a switch (one per thread).
struct switch_record {
    tasklet_impl* prev = nullptr;  // the context that jumped (the runner, for a soft tasklet)
    tasklet_impl* next = nullptr;
    tasklet_impl* from = nullptr;  // the tasklet switched from (for the observer)
    bool record_from = false;      // the landing context stores transfer.from into prev
};

// The per-thread shared stack of copied-stack tasklets.
struct shared_stack {
    stack mem;
    std::byte* base = nullptr;         // slices are [slice_lo, base)
    tasklet_impl* occupant = nullptr;  // whose slice is on the stack now
    std::byte* lowest = nullptr;       // deepest address seen in use (ASan scrubbing)
    stack helper;                      // small stack where copy-switch restore runs before it jumps
};

struct scheduler_impl {
    scheduler_impl();
    ~scheduler_impl();

    tasklet_impl* main = nullptr;
    tasklet_impl* running = nullptr;  // the tasklet executing now
    tasklet_impl* head = nullptr;     // ring cursor; == running outside transitions
    int runcount = 0;
    std::vector<tasklet_impl*> watchdogs;
    int trap = 0;
    bool in_callback = false;
    switch_observer* observer = nullptr;
    switch_record rec;
    tasklet_impl* zombie = nullptr;  // ended tasklet, cleaned up after switching away
    stack_pool pool;
    shared_stack shared;
    std::byte* thread_stack_lo = nullptr;  // bounds of the thread's own stack (main)
    std::size_t thread_stack_size = 0;
    tasklet_impl* all_head = nullptr;

    // Soft tasklets (core/src/soft.cpp). The runner is the hard context they run on: a
    // tasklet object outside the ring, started on a pooled stack when first needed.
    tasklet_impl* runner = nullptr;
    bool defer = false;     // an awaiter of a soft running tasklet finishes the switch
    bool deferred = false;  // transfer() left the switch to that awaiter
    switch_counts counts;

    // Cross-thread requests (core/src/threads.cpp).
    std::mutex inbox_mu;
    std::condition_variable inbox_cv;
    std::vector<inbox_item> inbox;
    std::atomic<bool> inbox_nonempty{false};
    std::atomic<bool> idle{false};  // waiting for another thread (counts as blocked)
    bool recheck = false;           // guarded by inbox_mu

    // ring (scheduler.cpp)
    void insert(tasklet_impl* t) noexcept;             // at the end (before head)
    void insert_after_head(tasklet_impl* t) noexcept;  // right behind the head
    tasklet_impl* remove_head() noexcept;
    void remove(tasklet_impl* t) noexcept;
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
    // Throw t's pending error, if any (inline: every switch ends here).
    void claim(tasklet_impl* t) {
        if (t->tempval.error) [[unlikely]]
            raise_pending(t);
    }
    [[noreturn, gnu::noinline, gnu::cold]] static void raise_pending(tasklet_impl* t);
    [[gnu::noinline]] [[noreturn]] void end_running(std::exception_ptr escaped) noexcept;
    // end_running up to the switch: the running tasklet is dead (the zombie) and the
    // next one is `running`; returns it.
    tasklet_impl* retire_running(std::exception_ptr escaped) noexcept;
    void schedule_running(bool remove);  // schedule() / schedule_remove() of `running`
    [[gnu::noinline]] void notify_schedule(tasklet_impl* prev, tasklet_impl* next) noexcept;
    void after_switch() noexcept;
    [[gnu::noinline]] void unblock(tasklet_impl* t);

    // threads (threads.cpp)
    [[gnu::noinline]] void drain_inbox();
    void drain_if_needed() {
        if (inbox_nonempty.load(std::memory_order_acquire)) drain_inbox();
    }
    [[gnu::noinline]] void post(inbox_item item);
    [[gnu::noinline]] bool wait_for_other_threads();  // false: nobody can wake us (deadlock)
};

// The mapped stack t runs on: its own, the shared one (copied kind), the runner's (soft
// kind, while not promoted); null for a main tasklet (the thread's stack) and for one
// that has none yet. For the sanitizers' fiber switches and the guard-page report.
inline const stack* stack_of(const scheduler_impl& s, const tasklet_impl& t) noexcept {
    if (t.is_main) return nullptr;
    if (t.kind == stack_kind::copied) return &s.shared.mem;
    if (t.kind == stack_kind::soft) return s.runner != nullptr ? &s.runner->x->own : nullptr;
    return t.x != nullptr ? &t.x->own : nullptr;
}

[[gnu::noinline]] scheduler_impl& create_this_scheduler();
// (A plain pointer: constant-initialised, so reading it from any file costs no call;
// initial-exec, so that in a shared object — the Python module — it is one load, not a
// __tls_get_addr call: it takes 8 bytes of glibc's static TLS reserve.)
[[gnu::tls_model("initial-exec")]] extern thread_local constinit scheduler_impl* tls_sched;
inline scheduler_impl* this_scheduler_if_any() noexcept {
    return tls_sched;
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

// copystack.cpp
[[gnu::noinline]] void shared_stack_init(scheduler_impl& s);
[[gnu::noinline]] void slice_save(tasklet_impl& t, std::byte* base);
[[gnu::noinline]] void slice_restore(tasklet_impl& t, std::byte* base);

// tasklet.cpp: whether e holds a tasklet_exit.
bool is_tasklet_exit(const std::exception_ptr& e);

// channel.cpp: remove t from the channel it is blocked on (lock taken inside).
// Returns false if t was no longer there (another thread took it first).
bool channel_remove(channel_base& ch, tasklet_impl* t);

// Callbacks (scheduler.cpp): read on every switch without a lock; inline, so that the
// hot path tests them without a call.
extern std::atomic<const schedule_callback*> g_sched_cb;
extern std::atomic<const channel_callback*> g_chan_cb;
inline const channel_callback* current_channel_callback() noexcept {
    return g_chan_cb.load(std::memory_order_acquire);
}
inline bool schedule_callback_installed() noexcept {
    return g_sched_cb.load(std::memory_order_relaxed) != nullptr;
}

}  // namespace slp::detail

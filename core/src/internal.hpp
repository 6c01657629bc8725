// internal.hpp — the objects behind the public handles, shared by core/src only.
//
// Ownership: a tasklet object is reference counted (handles, the ring, a channel queue,
// a scheduler inbox each hold one reference). Moving a tasklet between ring, channel
// and inbox moves that reference; nothing is counted on the hot path.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <exception>
#include <functional>
#include <mutex>
#include <vector>

#include "slp/channel.hpp"
#include "slp/scheduler.hpp"
#include "slp/stack.hpp"
#include "slp/tasklet.hpp"
#include "slp_arch.h"

namespace slp::detail {

struct scheduler_impl;

enum class life : std::uint8_t { unbound, bound, ready, started, dead };
// How a started, non-running hard tasklet was suspended (decides how to resume it).
enum class suspended_by : std::uint8_t { none, jump, copy_switch };

struct tasklet_impl {
    // (Field order keeps the object small: a blocked copied-stack tasklet should cost
    // well under 1 KiB, this object and its saved slice included.)
    std::atomic<int> refs{1};
    int blocked_dir = 0;              // guarded by the lock of the channel it is on
    scheduler_impl* sched = nullptr;  // its thread's scheduler; nullptr once that ended
    // Chain links: the ring of runnables, or a channel queue (never both).
    tasklet_impl* next = nullptr;
    tasklet_impl* prev = nullptr;
    std::atomic<channel_base*> blocked_on{nullptr};  // written under that channel's lock

    life state = life::unbound;
    stack_kind kind = stack_kind::own;
    suspended_by how = suspended_by::none;  // how a started, non-running one was suspended
    bool in_ring = false;
    bool is_main = false;
    bool atomic = false;
    bool block_trap = false;
    bool slice_in_heap = false;  // copied: the heap copy of its slice is the live one

    std::function<void()> body;
    message tempval;  // the value or exception the tasklet gets when it resumes
    void* user_data = nullptr;
    std::uint64_t id = 0;
    char name[32] = {};
    std::size_t stack_size = 0;

    // Execution state (core/src/switch.cpp, copystack.cpp).
    stack own;                      // own-stack kind, once started
    slp_ctx ctx = nullptr;          // when suspended_by::jump
    std::byte* slice_lo = nullptr;  // copied: lowest address of its live slice
    std::byte* saved = nullptr;     // copied: heap copy of the slice
    std::uint32_t saved_size = 0;
    std::uint32_t saved_cap = 0;
    void* asan_fake_stack = nullptr;
    void* tsan_fiber = nullptr;

    // All tasklets of a scheduler that are alive (for the kill at thread exit).
    tasklet_impl* all_next = nullptr;
    tasklet_impl* all_prev = nullptr;

    bool alive() const noexcept {
        return is_main || state == life::ready || state == life::started;
    }
    bool blocked() const noexcept { return blocked_on.load(std::memory_order_acquire) != nullptr; }
    ~tasklet_impl();
};

// A request handed to a scheduler from another thread.
struct inbox_item {
    tasklet_impl* t;           // reference moved in
    std::exception_ptr error;  // raise this in t (remote kill/throw); null: just run it
};

// What the switch routines need to know across a switch (one per thread).
struct switch_record {
    tasklet_impl* prev = nullptr;
    tasklet_impl* next = nullptr;
    bool record_from = false;  // the landing context stores transfer.from into prev
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
    void claim(tasklet_impl* t);  // throws t's pending error, if any
    [[gnu::noinline]] [[noreturn]] void end_running(std::exception_ptr escaped) noexcept;
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

[[gnu::noinline]] scheduler_impl& create_this_scheduler();
scheduler_impl* this_scheduler_if_any() noexcept;
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

// copystack.cpp
[[gnu::noinline]] void shared_stack_init(scheduler_impl& s);
[[gnu::noinline]] void slice_save(tasklet_impl& t, std::byte* base);
[[gnu::noinline]] void slice_restore(tasklet_impl& t, std::byte* base);

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

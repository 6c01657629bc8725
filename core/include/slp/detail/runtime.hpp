// slp/detail/runtime.hpp — the objects behind the public handles (tasklet_impl) and
// the part of a thread's scheduler that the channel's inline fast path uses
// (scheduler_hot). Not API: they are in a public header only so that a channel action
// can switch tasklets inside the user's own function (slp/detail/fast_channel.hpp says
// why that matters). core/src/internal.hpp builds the rest of the scheduler on them.
//
// Ownership: a tasklet object is reference counted (handles, the ring, a channel queue,
// a scheduler inbox each hold one reference). Moving a tasklet between ring, channel
// and inbox moves that reference; nothing is counted on the hot path.
#pragma once

#include <atomic>
#include <coroutine>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <functional>
#include <memory>
#include <new>

#include "slp/payload.hpp"
#include "slp/scheduler.hpp"
#include "slp/stack.hpp"
#include "slp/tasklet.hpp"
#include "slp_arch.h"

namespace slp {
class channel_base;
}

namespace slp::detail {

struct scheduler_hot;

enum class life : std::uint8_t { unbound, bound, ready, started, dead };
// How a started, non-running hard tasklet was suspended (decides how to resume it).
enum class suspended_by : std::uint8_t { none, jump, copy_switch };

// A copied-stack tasklet's C slice: where it lies on its shared stack, and its heap copy.
struct copied_slice {
    // Lowest address of its live slice while a copy_switch suspends it or the slice is in
    // the heap. One a jump suspended has it in its context (reserve_slice copies it here
    // before the slice moves); while it runs, this is stale.
    std::byte* lo = nullptr;
    std::byte* saved = nullptr;  // heap copy of the slice
    std::uint32_t saved_size = 0;
    std::uint32_t saved_cap = 0;
};

// What the sanitizers keep per context (nothing in a plain build).
struct fiber_state {
#if defined(SLP_ASAN) || defined(SLP_TSAN)
    void* asan_fake_stack = nullptr;
    void* tsan_fiber = nullptr;
#endif
};

// What only some tasklets need, kept out of the object every tasklet has (so that a
// blocked soft tasklet costs at most 256 bytes, its coroutine frame included): the
// execution state of the hard kinds, and fields rarely set. Hard tasklets, main and the
// soft runner carry one inline (one allocation, see hard_tasklet); a soft tasklet gets
// one on the heap only when named, given user data, or promoted.
struct tasklet_extra {
    // A tasklet's kind is fixed when it is made, except that a soft one may become own
    // (promotion): so an own stack and a copied slice never both live in one tasklet and
    // share their bytes. `own` lives from construction; use_copied() ends it for a copied
    // tasklet, and end(kind) ends whichever lives (destroy_tasklet).
    union {
        stack own;           // own-stack kind (and promoted soft), once started
        copied_slice slice;  // copied kind
    };
    std::size_t stack_size = 0;
    [[no_unique_address]] fiber_state fiber;
    void* user_data = nullptr;
    std::coroutine_handle<> top;  // a promoted soft tasklet's innermost coroutine
    // The name, if any (heap, rarely set: every blocked copied-stack tasklet carries
    // this part, and a pointer costs 8 bytes of it, not 32).
    std::unique_ptr<char[]> name;

    tasklet_extra() noexcept : own() {}
    ~tasklet_extra() {}  // the union's member is ended by end()
    tasklet_extra(const tasklet_extra&) = delete;
    tasklet_extra& operator=(const tasklet_extra&) = delete;
    void use_copied() noexcept {
        own.~stack();
        new (&slice) copied_slice;
    }
    void end(stack_kind kind) noexcept {
        if (kind == stack_kind::copied)
            std::free(slice.saved);
        else
            own.~stack();
    }
    const char* name_or_empty() const noexcept { return name ? name.get() : ""; }
    void set_name(const char* n);  // (tasklet.cpp) at most 31 characters kept
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
    bool slice_in_heap = false;  // copied: the heap copy of its slice is the live one
    std::uint8_t slot = 0;       // copied: which of its thread's shared stacks (once started)
    // Handed to its thread to run (insert(), setup(), a channel action or a kill from
    // another thread) and not taken in yet: it counts as scheduled meanwhile.
    std::atomic<bool> handed_over{false};
    bool extra_inline = false;  // x points into this object (a hard_tasklet)
    // Its thread's scheduler (a scheduler_impl); nullptr once that thread ended.
    scheduler_hot* sched = nullptr;
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

// What the switch routines need to know across a switch (one per thread).
struct switch_record {
    tasklet_impl* prev = nullptr;        // the context that jumped (the runner, for a soft tasklet)
    tasklet_impl* next = nullptr;        // (set by the switches that move slices: switch.cpp)
    tasklet_impl* from = nullptr;        // the tasklet switched from (for the observer)
    bool record_from = false;            // the landing context stores transfer.from into prev
    channel_base* blocked_on = nullptr;  // switch_copied: the channel prev just blocked on
};

// Out of line (scheduler.cpp): throw t's pending error (its tempval holds one).
[[noreturn, gnu::cold]] void raise_pending(tasklet_impl* t);
// Out of line (scheduler.cpp): free the ended tasklet that was switched away from.
[[gnu::cold]] void release_zombie(scheduler_hot& s) noexcept;

// The fields of a thread's scheduler that a channel action reads or writes on its common
// path; scheduler_impl (core/src/internal.hpp) derives from it.
struct scheduler_hot {
    tasklet_impl* running = nullptr;  // the tasklet executing now
    tasklet_impl* head = nullptr;     // ring cursor; == running outside transitions
    int runcount = 0;
    int trap = 0;
    bool in_callback = false;
    // Whether the library switches without sanitizer annotations (the inline path may
    // switch only then).
    bool plain_switch = true;
    // Why the inline paths must decline now, one bit a reason; zero: they may act. The
    // one word every inline action tests. This thread sets the bits of its own state
    // (refresh() after changing plain_switch, trap or in_callback); other threads set
    // theirs (callbacks installed, a post to the inbox), so every change is atomic.
    static constexpr std::uint32_t hold_sanitized = 1u << 0;    // !plain_switch
    static constexpr std::uint32_t hold_trap = 1u << 1;         // trap > 0
    static constexpr std::uint32_t hold_in_callback = 1u << 2;  // in_callback
    static constexpr std::uint32_t hold_callbacks = 1u << 3;    // a schedule or channel callback
    static constexpr std::uint32_t hold_inbox = 1u << 4;        // inbox_nonempty (set with it)
    std::atomic<std::uint32_t> hold{0};
    [[gnu::always_inline]] bool fast_ok() const noexcept {
        return hold.load(std::memory_order_relaxed) == 0;
    }
    void set_hold(std::uint32_t bits, bool on) noexcept {
        if (on)
            hold.fetch_or(bits, std::memory_order_relaxed);
        else
            hold.fetch_and(~bits, std::memory_order_relaxed);
    }
    void refresh() noexcept {
        const std::uint32_t want = (plain_switch ? 0u : hold_sanitized) |
                                   (trap > 0 ? hold_trap : 0) |
                                   (in_callback ? hold_in_callback : 0);
        // (Only this thread writes these bits: what it reads of them is exact.)
        const std::uint32_t now =
            hold.load(std::memory_order_relaxed) & (hold_sanitized | hold_trap | hold_in_callback);
        if (want & ~now) set_hold(want & ~now, true);
        if (now & ~want) set_hold(now & ~want, false);
    }
    switch_observer* observer = nullptr;
    switch_record rec;
    tasklet_impl* zombie = nullptr;  // ended tasklet, cleaned up after switching away
    switch_counts counts;
    // Another thread handed us something (written under the scheduler's inbox lock, by
    // set_inbox_nonempty).
    std::atomic<bool> inbox_nonempty{false};
    void set_inbox_nonempty(bool v, std::memory_order order) noexcept {
        inbox_nonempty.store(v, order);
        set_hold(hold_inbox, v);
    }

    // Make t the running tasklet and the ring's head (a switch to t). A compiler-only
    // barrier (no instruction) keeps the two pointer stores apart: g++ merges them into
    // one vector store otherwise, and the next switch starts by loading `running` back
    // from it: a vector store followed by a plain load of half of it lengthens the chain
    // from one switch to the next far more than two plain stores do.
    [[gnu::always_inline]] void make_running(tasklet_impl* t) noexcept {
        running = t;
        std::atomic_signal_fence(std::memory_order_seq_cst);
        head = t;
    }

    // Right after every switch, in the tasklet that resumed: tell the observer, free
    // the tasklet that ended, if that is what was left.
    [[gnu::always_inline]] void after_switch() noexcept {
        notify_after();
        release_zombie_if_any();
    }
    [[gnu::always_inline]] void notify_after() noexcept {
        if (observer != nullptr)
            observer->after_switch(tasklet_view(rec.from), tasklet_view(running));
    }
    [[gnu::always_inline]] void release_zombie_if_any() noexcept {
        if (zombie != nullptr) [[unlikely]]
            release_zombie(*this);
    }
    // Throw t's pending error, if any (inline: every switch ends here).
    [[gnu::always_inline]] void claim(tasklet_impl* t) {
        if (t->tempval.error) [[unlikely]]
            raise_pending(t);
    }

    // The ring of runnables (a circular list through next/prev).
    // (The links are read into locals before any is written: the compiler cannot tell
    // that the tasklets differ, and would read them again after every store.)
    [[gnu::always_inline]] void insert(tasklet_impl* t) noexcept {  // at the end (before head)
        if (tasklet_impl* h = head; h == nullptr) {
            t->next = t->prev = t;
            head = t;
        } else {
            link_between(t, h->prev, h);
        }
        t->in_ring = true;
        ++runcount;
    }
    [[gnu::always_inline]] void insert_after_head(
        tasklet_impl* t) noexcept {  // right behind the head (the ring is not empty)
        tasklet_impl* h = head;
        link_between(t, h, h->next);
        t->in_ring = true;
        ++runcount;
    }
    [[gnu::always_inline]] tasklet_impl* remove_head() noexcept {
        tasklet_impl* t = head;
        tasklet_impl* n = t->next;
        if (n == t) {
            head = nullptr;
        } else {
            join(t->prev, n);
            head = n;
        }
        t->next = t->prev = nullptr;
        t->in_ring = false;
        --runcount;
        return t;
    }
    [[gnu::always_inline]] void remove(tasklet_impl* t) noexcept {
        if (t == head) {
            remove_head();
            return;
        }
        join(t->prev, t->next);
        t->next = t->prev = nullptr;
        t->in_ring = false;
        --runcount;
    }
    // The head t, with another tasklet in the ring (the running one blocking: it joins a
    // channel's queue next, which writes its links: they are left as they are here).
    [[gnu::always_inline]] void unlink_head_for_queue(tasklet_impl* t) noexcept {
        tasklet_impl* n = t->next;
        join(t->prev, n);
        head = n;
        t->in_ring = false;
        --runcount;
    }
    [[gnu::always_inline]] static void link_between(tasklet_impl* t, tasklet_impl* p,
                                                    tasklet_impl* n) noexcept {
        t->prev = p;
        // (Two plain stores: see make_running; one vector store costs two instructions
        // more to assemble.)
        std::atomic_signal_fence(std::memory_order_seq_cst);
        t->next = n;
        p->next = t;
        n->prev = t;
    }
    [[gnu::always_inline]] static void join(tasklet_impl* p, tasklet_impl* n) noexcept {
        p->next = n;
        n->prev = p;
    }
};

// The calling thread's scheduler, or null before it first used slp. (A plain pointer:
// constant-initialised, so reading it costs no call; initial-exec, so that in a shared
// object — the Python module — it is one load, not a __tls_get_addr call: it takes 8
// bytes of glibc's static TLS reserve.)
[[gnu::tls_model("initial-exec")]] extern thread_local constinit scheduler_hot* tls_sched;

// Callbacks (process-wide; scheduler.cpp): read on every action without a lock.
extern std::atomic<const schedule_callback*> g_sched_cb;
extern std::atomic<const channel_callback*> g_chan_cb;
// Either of them is installed. note_callbacks() sets it after either changed, under the
// lock that serialises their installation, and with it every scheduler's hold_callbacks
// bit (which the inline paths test).
extern std::atomic<bool> g_any_cb;
void note_callbacks() noexcept;
inline const channel_callback* current_channel_callback() noexcept {
    return g_chan_cb.load(std::memory_order_acquire);
}
inline bool schedule_callback_installed() noexcept {
    return g_sched_cb.load(std::memory_order_relaxed) != nullptr;
}
inline bool any_callback_installed() noexcept {
    return g_any_cb.load(std::memory_order_acquire);
}

}  // namespace slp::detail

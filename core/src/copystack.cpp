// copystack.cpp — the live slices of copied-stack tasklets (PyPy stacklet style).
//
// A thread's copied-stack tasklets run on its shared stacks (shared_stacks_per_thread, more
// for a crowd of runnable ones up to max_shared_stacks_per_thread), each on the one chosen
// when it started, with its frames in [slice_lo, base). Only one
// slice is on a shared stack at a time: its occupant's. A slice is copied out lazily —
// only when another copied tasklet needs that stack, not when its owner merely switches
// to a tasklet elsewhere — and only its live part; it is copied back in when its owner
// resumes, unless it never left. So tasklets that switch among fewer than the number of
// shared stacks copy nothing at all, and neither does a crowd of runnable ones that
// started together, up to the cap.
//
//   base  +----------------+   heap copy (saved, saved_size bytes)
//         | occupant's     |   <-- slice_save -->  [ slice of a suspended tasklet ]
//         | live slice     |   <-- slice_restore --
//   lo'   +----------------+  <- slice_lo
//         | free           |
//   lo    +----------------+  guard page below
#include <cstdlib>
#include <new>

#include "internal.hpp"
#include "sanitizer.hpp"

namespace slp::detail {

static_assert(shared_stacks_per_thread >= 1 &&
              shared_stacks_per_thread <= max_shared_stacks_per_thread &&
              max_shared_stacks_per_thread <= 255);  // (tasklet_impl::slot is a byte)

namespace {

// Map shared stack `slot` (throws std::bad_alloc).
void map_shared_stack(shared_stack& sh, int slot) {
    sh.mem = stack(default_shared_stack_size);
    // Leave the top 64 bytes unused, and the slot's colour; slices end at a 16-byte
    // aligned base.
    sh.base = sh.mem.top() - 64 - stack_colour(static_cast<unsigned>(slot));
    sh.lowest = sh.base;
}

// A new shared stack, mapped (throws std::bad_alloc, changing nothing).
int add_shared_stack(scheduler_impl& s) {
    map_shared_stack(s.shared[s.shared_count], s.shared_count);
    return s.shared_count++;
}

// A new shared stack for a crowd, or -1 when the cap is reached or the mapping fails (the
// crowd then shares the stacks it has).
int grow_for_crowd(scheduler_impl& s) noexcept {
    if (s.shared_count >= max_shared_stacks_per_thread) return -1;
    try {
        return add_shared_stack(s);
    } catch (const std::bad_alloc&) {
        return -1;
    }
}

// The first free shared stack among [from, to), or -1.
int free_among(const scheduler_impl& s, int from, int to) noexcept {
    for (int i = from; i < to; ++i)
        if (s.shared[i].occupant == nullptr) return i;
    return -1;
}

// Which shared stack a starting copied tasklet takes (choose_shared_stack, internal.hpp).
int pick_shared_stack(scheduler_impl& s, const tasklet_impl& prev) {
    const int count = s.shared_count;
    const int kept = count < shared_stacks_per_thread ? count : shared_stacks_per_thread;
    if (const int i = free_among(s, 0, kept); i >= 0) return i;
    if (count < shared_stacks_per_thread) return add_shared_stack(s);
    const bool prev_shares = prev.kind == stack_kind::copied && !prev.is_main;
    // One whose occupant waits (blocked or paused: not about to run), in turn: its slice
    // goes to the heap, so that tasklets that wait keep only what they use — also rather
    // than a stack that a crowd mapped and left free, which only a crowd takes.
    for (int k = 0; k < count; ++k) {
        const int i = (s.slot_turn + k) % count;
        if (prev_shares && prev.slot == i) continue;
        const tasklet_impl* o = s.shared[i].occupant;
        if (o != nullptr && !o->in_ring) {
            s.slot_turn = static_cast<std::uint8_t>((i + 1) % count);
            return i;
        }
    }
    // Every occupant is runnable (a crowd taking turns): a stack of its own, one a crowd
    // left free or a new one while the cap allows; past it, prev's, where one slp_switch
    // moves both slices, else the next in turn.
    if (const int i = free_among(s, kept, count); i >= 0) return i;
    if (const int grown = grow_for_crowd(s); grown >= 0) return grown;
    if (prev_shares) return prev.slot;
    const int turn = s.slot_turn % count;
    s.slot_turn = static_cast<std::uint8_t>((turn + 1) % count);
    return turn;
}

}  // namespace

void choose_shared_stack(scheduler_impl& s, tasklet_impl& next, const tasklet_impl& prev) {
    if (!s.copy_helper) s.copy_helper = stack(64 * 1024);
    next.slot = static_cast<std::uint8_t>(pick_shared_stack(s, prev));
}

void reserve_slice(tasklet_impl& t, const shared_stack& sh) {
    tasklet_extra& x = *t.x;
    // Where a jump suspended it, its slice begins at its context (the jump's frame),
    // which its landing partner stored; a copy_switch stored slice.lo itself.
    if (t.how == suspended_by::jump) x.slice.lo = static_cast<std::byte*>(t.ctx);
    const std::size_t n = static_cast<std::size_t>(sh.base - x.slice.lo);
    if (n > x.slice.saved_cap) {
        void* p = std::realloc(x.slice.saved, n);
        if (p == nullptr) throw std::bad_alloc();
        x.slice.saved = static_cast<std::byte*>(p);
        x.slice.saved_cap = static_cast<std::uint32_t>(n);  // slices are far below 4 GiB
    }
}

// Copy t's slice [slice_lo, base) to its heap buffer.
void slice_save(scheduler_impl& s, tasklet_impl& t, const shared_stack& sh) {
    reserve_slice(t, sh);
    tasklet_extra& x = *t.x;
    const std::size_t n = static_cast<std::size_t>(sh.base - x.slice.lo);
    san::copy_stack_bytes(x.slice.saved, x.slice.lo, n);
    x.slice.saved_size = static_cast<std::uint32_t>(n);
    t.slice_in_heap = true;
    ++s.counts.slice_copies;
}

// Copy t's saved slice back to [slice_lo, base); the memory it lands on held other
// frames, so forget their ASan poisoning first.
void slice_restore(scheduler_impl& s, tasklet_impl& t, const shared_stack& sh) {
    const tasklet_extra& x = *t.x;
    const auto n = static_cast<std::size_t>(sh.base - x.slice.lo);
    san::make_writable(x.slice.lo, n);
    san::unpoison(x.slice.lo, n);
    san::copy_stack_bytes(x.slice.lo, x.slice.saved, x.slice.saved_size);
    t.slice_in_heap = false;
    ++s.counts.slice_copies;
}

}  // namespace slp::detail

// switch.cpp — how a tasklet is entered and suspended: the only code that knows stack
// kinds. The scheduler calls transfer(prev, next) for any pair; this file picks the way.
//
//   next's kind   prev's kind   how
//   own/main      any           slp_jump to next's context (a fresh one is slp_make'd
//                               on a pooled stack). A copied prev stays the occupant
//                               of its shared stack: its slice is not copied (lazy).
//   copied        copied, on    slp_switch on that shared stack: save copies prev's
//                 the same      slice out, restore copies next's in (or, for a fresh or
//                 shared stack  jump-suspended next, restore runs on a small helper
//                               stack and jumps to next from there).
//   copied        any other     make room on next's shared stack (copy the occupant's
//                               slice out, next's in, each only if needed), then
//                               slp_jump to next — directly if it was suspended by a
//                               jump or is fresh; through a "resumer" context on the
//                               helper stack, which completes its pending slp_switch,
//                               if it was suspended by one. A copied prev elsewhere
//                               stays the occupant of its own shared stack.
// A fresh copied tasklet gets its shared stack first (choose_shared_stack, copystack.cpp).
// A context suspended by slp_jump is only ever resumed by slp_jump, one suspended by
// slp_switch only by slp_switch: the arch contract promises nothing more.
//
//   soft          soft          nothing here: the switch is deferred to the awaiter that
//                               asked for it, which returns to the runner's loop, and
//                               the loop resumes next's coroutine (soft.cpp).
//   soft          hard          jump to the runner (the hard context soft tasklets run
//                               on), which resumes next's coroutine.
//   hard          soft          (prev awaits) the awaiter jumps from the runner to next.
//                               (prev is in code that is not a coroutine) prev is
//                               promoted: it keeps the runner's stack, and becomes own.
//
// Every landing (a fresh entry, a returning slp_jump, the resumer) stores the transfer's
// `from` into the tasklet that jumped (switch_record::prev) when record_from is set.
#include <cstdint>
#include <cstdlib>

#include "internal.hpp"
#include "sanitizer.hpp"
#include "slp/context.hpp"
#include "switch_inline.hpp"

namespace slp::detail {
namespace {

std::byte* align16(std::byte* p) noexcept {
    return reinterpret_cast<std::byte*>(reinterpret_cast<std::uintptr_t>(p) &
                                        ~static_cast<std::uintptr_t>(15));
}

// Valgrind: code is about to push just below `p`, on a stack memcheck last saw shrink past
// there (a shared stack's last occupant, a pooled stack's last user), which it marks as
// not addressable; nothing runs on that stack now, so this is safe.
void writable_below(std::byte* p) noexcept {
    san::make_writable(p - 256, 256);
}

// ASan: frames abandoned on a shared stack (an ended tasklet's, helper frames) leave
// poison behind that the next occupant's frames would trip on. Remember how deep the
// stack has been used and forget all poison there whenever the occupant changes.
void scrub([[maybe_unused]] scheduler_impl& s, [[maybe_unused]] shared_stack& sh) noexcept {
#if defined(SLP_ASAN)
    std::byte* lo = sh.lowest - 8192;
    if (lo < sh.mem.lo()) lo = sh.mem.lo();
    san::unpoison(lo, static_cast<std::size_t>(sh.base - lo));
    san::unpoison(s.copy_helper.lo(), s.copy_helper.size());
#endif
}

// Both copied and on the same shared stack (prev's slice and next's take turns there).
bool same_shared_stack(const tasklet_impl& prev, const tasklet_impl& next) noexcept {
    return prev.kind == stack_kind::copied && next.kind == stack_kind::copied && !prev.is_main &&
           !next.is_main && prev.slot == next.slot;
}

[[noreturn]] void run_body(scheduler_impl& s, tasklet_impl& t) noexcept {
    std::exception_ptr escaped;
    try {
        s.claim(&t);  // an exception thrown at it before it ever ran
        t.body();
    } catch (const tasklet_exit&) {
    } catch (...) {
        escaped = std::current_exception();
    }
    s.end_running(std::move(escaped));
}

// Where every fresh hard tasklet starts, own stack or shared.
void tasklet_entry(slp_transfer tr) {
    scheduler_impl& s = *this_scheduler_if_any();
    land(s, tr);
    san::finish_switch(nullptr);
    tasklet_impl& t = *s.running;
    s.after_switch();
    run_body(s, t);
}

// A fresh copied tasklet's first context, at the base of its shared stack.
slp_ctx make_copied_start(shared_stack& sh) noexcept {
    std::byte* top = sh.base;
    writable_below(top);
    return slp_make(top, static_cast<std::size_t>(top - sh.mem.lo()), &tasklet_entry);
}

intptr_t resumer_save(void* sp, void* arg) {
    auto& s = *static_cast<scheduler_impl*>(arg);
    return s.rec.next->x->slice.lo - static_cast<std::byte*>(sp);
}
void resumer_restore(void*) {}

// Runs on the helper stack and completes the slp_switch of a copy_switch-suspended
// tasklet whose slice is back in place; its own state is dropped.
void resumer_entry(slp_transfer tr) {
    scheduler_impl& s = *this_scheduler_if_any();
    land(s, tr);
    slp_switch(&resumer_save, &resumer_restore, &s);
    std::abort();  // not reached
}

[[noreturn]] void jump_from_restore(scheduler_impl& s, slp_ctx to) {
    s.rec.record_from = false;  // the helper frame we leave is garbage
    slp_jump(to, nullptr);
    std::abort();
}

// copied -> copied, on the same shared stack.
intptr_t cs_save(void* sp, void* arg) {
    auto& s = *static_cast<scheduler_impl*>(arg);
    tasklet_impl& prev = *s.rec.prev;
    tasklet_impl& next = *s.rec.next;
    shared_stack& sh = shared_of(s, next);
    auto* p = static_cast<std::byte*>(sp);
    prev.x->slice.lo = p;  // (prev.how is copy_switch: reserve_slice keeps this)
    note_depth(s, p);
    if (prev.state != life::dead) slice_save(s, prev, sh);
    sh.occupant = &next;
    // A copy_switch-suspended next resumes right here, on the shared stack; otherwise
    // restore runs on the helper stack and jumps to next from there (a jump must not
    // leave its old frame below the new stack pointer on the same stack).
    std::byte* target = next.how == suspended_by::copy_switch && next.state != life::ready
                            ? next.x->slice.lo
                            : align16(s.copy_helper.top() - 64);
    return target - p;
}

void cs_restore(void* arg) {
    auto& s = *static_cast<scheduler_impl*>(arg);
    tasklet_impl& next = *s.rec.next;
    shared_stack& sh = shared_of(s, next);
    scrub(s, sh);
    if (next.state == life::ready) {
        next.state = life::started;
        next.ctx = make_copied_start(sh);
        jump_from_restore(s, next.ctx);
    }
    slice_restore(s, next, sh);
    if (next.how == suspended_by::jump) jump_from_restore(s, next.ctx);
    // copy_switch: returning lets slp_switch reload next's registers.
}

// A tasklet not on copied `next`'s shared stack is about to jump to next: put next's
// slice in place.
[[gnu::noinline]] void make_room(scheduler_impl& s, tasklet_impl& next) {
    shared_stack& sh = shared_of(s, next);
    tasklet_impl* o = sh.occupant;
    if (o == &next && !next.slice_in_heap) return;  // its slice never left
    if (o != nullptr && o != &next && !o->slice_in_heap && o->state != life::dead)
        slice_save(s, *o, sh);
    scrub(s, sh);
    if (next.state != life::ready) {
        slice_restore(s, next, sh);
        writable_below(next.x->slice.lo);  // the resumed code pushes below its slice
    }
    sh.occupant = &next;
}

[[gnu::noinline]] void start_own(scheduler_impl& s, tasklet_impl& t) {
    const std::size_t asked = t.x->stack_size != 0 ? t.x->stack_size : default_stack_size;
    t.x->own = s.pool.acquire(asked + stack_colour_range);
    const std::span<std::byte> usable = t.x->own.usable();
    const std::span<std::byte> below_colour =
        usable.first(usable.size() - stack_colour(s.colour_turn));
    ++s.colour_turn;
    writable_below(below_colour.data() + below_colour.size());
    t.ctx = make_context(below_colour, &t == s.runner ? &runner_entry : &tasklet_entry);
    t.state = life::started;
}

// Where a jump to copied `next` (its slice in place: make_room) lands: its context if
// it was suspended by a jump; a fresh one at its shared stack's base if it has not
// started; else a resumer on the helper stack, which completes its pending slp_switch.
slp_ctx copied_jump_target(scheduler_impl& s, tasklet_impl& next) noexcept {
    if (next.state == life::ready) {
        next.state = life::started;
        return next.ctx = make_copied_start(shared_of(s, next));
    }
    if (next.how == suspended_by::jump) return next.ctx;
    std::byte* top = align16(s.copy_helper.top() - 64);
    return slp_make(top, static_cast<std::size_t>(top - s.copy_helper.lo()), &resumer_entry);
}

// Make next ready to be entered from prev: a fresh own-stack tasklet gets its stack, a
// copied one its shared stack, and a copied one's slice is put in place. Returns where
// to jump, or null when next shares prev's shared stack (one slp_switch then moves both
// slices). Throws std::bad_alloc (no memory for a stack or a slice) having suspended
// nothing.
slp_ctx ready_next(scheduler_impl& s, tasklet_impl& prev, tasklet_impl& next) {
    if (next.kind != stack_kind::copied || next.is_main) {
        give_stack_if_fresh(s, next);
        return next.ctx;
    }
    if (next.state == life::ready) choose_shared_stack(s, next, prev);
    if (same_shared_stack(prev, next)) return nullptr;
    make_room(s, next);
    return copied_jump_target(s, next);
}

// Suspend prev (running) and enter next. dying: prev never resumes.
void enter(scheduler_impl& s, tasklet_impl& prev, tasklet_impl& next, bool dying) {
    ++s.counts.hard;
    s.rec.prev = &prev;
    s.rec.next = &next;
    const slp_ctx target = ready_next(s, prev, next);
    if (prev.kind == stack_kind::copied && !prev.is_main) note_depth(s, __builtin_frame_address(0));
    san::fiber_create_if_missing(next.x->fiber);
    const void* lo = nullptr;
    std::size_t n = 0;
    bounds_of(s, next, lo, n);
    if (dying && prev.kind == stack_kind::copied && !prev.is_main &&
        shared_of(s, prev).occupant == &prev && !same_shared_stack(prev, next))
        shared_of(s, prev).occupant = nullptr;  // its slice is garbage from now on
    san::start_switch(dying ? nullptr : &prev.x->fiber, lo, n, next.x->fiber);

    if (target == nullptr) {
        prev.how = suspended_by::copy_switch;
        s.rec.record_from = false;
        slp_switch(&cs_save, &cs_restore, &s);
    } else {
        prev.how = suspended_by::jump;
        s.rec.record_from = !dying;
        slp_transfer tr = slp_jump(target, nullptr);
        land(s, tr);
    }
    // prev is running again.
    san::finish_switch(&prev.x->fiber);
    prev.how = suspended_by::none;
}

// The context that runs `next`: its own, or for a soft tasklet the runner's.
tasklet_impl& context_of(scheduler_impl& s, tasklet_impl& next) {
    if (next.kind != stack_kind::soft) return next;
    if (next.state == life::ready) next.state = life::started;
    return soft_runner(s);
}

// A switch from prev to next threw before prev was suspended (no memory for next's stack
// or for prev's slice): prev runs on. Undo begin_switch (the head is next if prev had
// left the ring: its caller puts prev back), and let the observer restore what
// before_switch put away.
void switch_failed(scheduler_impl& s, tasklet_impl& prev, tasklet_impl& next) noexcept {
    s.head = prev.in_ring ? &prev : &next;
    s.running = &prev;
    s.after_switch();
}

}  // namespace

void transfer(scheduler_impl& s, tasklet_impl& prev, tasklet_impl& next) {
    if (prev.kind == stack_kind::soft) {  // prev runs on the runner's stack
        if (s.defer) {
            s.deferred = true;  // its awaiter finishes the switch (complete_deferred)
            return;
        }
        promote(s, prev);  // code that is not a coroutine is on that stack: keep it
    }
    try {
        enter(s, prev, context_of(s, next), false);
    } catch (...) {
        switch_failed(s, prev, next);
        throw;
    }
    s.after_switch();
}

namespace {

// The general switch for switch_other.
[[gnu::noinline]] void switch_any(scheduler_hot& hot, tasklet_impl& prev, tasklet_impl& next,
                                  channel_base* blocked_on) {
    auto& s = static_cast<scheduler_impl&>(hot);
    s.begin_switch(&prev, &next);
    if (blocked_on == nullptr) {
        transfer(s, prev, next);
        return;
    }
    try {
        transfer(s, prev, next);
    } catch (...) {  // prev runs on (see transfer): not blocked after all, or done
        if (blocked_on->undo_block(s, &prev, std::current_exception())) throw;
    }
}

// enter() for a copied prev, where no sanitizer is told of switches: to a copied next on
// the same shared stack by one slp_switch, to any other hard tasklet by one slp_jump
// (after make_room, for a copied one). Nothing of the switching frame lives across the
// switch (what it needs afterwards it reads from the scheduler), so the frame a blocked
// tasklet saves in its slice is little more than the return address.
// Returns whether to throw: false if another thread completed prev's channel action.
[[gnu::noinline, gnu::cold]] bool switch_copied_failed(std::exception_ptr why);
// What prepare_switch_copied returns when prev need not switch any more.
slp_ctx const action_done = reinterpret_cast<slp_ctx>(std::uintptr_t{1});

// The switch on one shared stack, from a frame that keeps nothing live across slp_switch.
[[gnu::noinline]] void switch_copied_jump(scheduler_impl& s) {
    try {
        slp_switch(&cs_save, &cs_restore, &s);
    } catch (...) {  // cs_save found no memory for prev's slice: prev never left
        if (switch_copied_failed(std::current_exception())) throw;
        return;
    }
    scheduler_hot& now = *tls_sched;  // (the same scheduler: reloaded, not kept)
    now.running->how = suspended_by::none;
    now.after_switch();
}

// The jump away from a copied prev, which stays the occupant of its shared stack.
[[gnu::noinline]] void switch_copied_leave(slp_ctx target) {
    slp_transfer tr = slp_jump(target, nullptr);
    scheduler_impl& now = *this_scheduler_if_any();  // (reloaded, not kept)
    land(now, tr);
    now.running->how = suspended_by::none;
    now.after_switch();
}

// ready_next() for switch_copied, out of its frame; on failure prev runs on, as it was
// (or action_done: its channel action was completed by another thread meanwhile).
[[gnu::noinline]] slp_ctx prepare_switch_copied(scheduler_impl& s, tasklet_impl& prev,
                                                tasklet_impl& next) {
    try {
        return ready_next(s, prev, next);
    } catch (...) {  // no memory for next's stack or for a slice
        if (switch_copied_failed(std::current_exception())) throw;
        return action_done;
    }
}

[[gnu::noinline]] void switch_copied(scheduler_hot& hot, tasklet_impl& prev, tasklet_impl& next,
                                     channel_base* blocked_on) {
    auto& s = static_cast<scheduler_impl&>(hot);
    s.begin_switch(&prev, &next);
    ++s.counts.hard;
    s.rec.prev = &prev;
    s.rec.next = &next;
    s.rec.blocked_on = blocked_on;
    const slp_ctx target = prepare_switch_copied(s, prev, next);
    if (target == action_done) return;
    // Tail calls: this frame is gone before the switch.
    if (target == nullptr) {
        prev.how = suspended_by::copy_switch;
        s.rec.record_from = false;
        return switch_copied_jump(s);
    }
    prev.how = suspended_by::jump;
    s.rec.record_from = true;
    return switch_copied_leave(target);
}

// Put back what switch_copied changed: prev runs on, and is off the channel it had
// blocked on (unless another thread completed that action meanwhile: false).
bool switch_copied_failed(std::exception_ptr why) {
    scheduler_impl& s = *this_scheduler_if_any();
    tasklet_impl& prev = *s.rec.prev;
    prev.how = suspended_by::none;
    switch_failed(s, prev, *s.rec.next);
    if (s.rec.blocked_on == nullptr) return true;
    return s.rec.blocked_on->undo_block(s, &prev, std::move(why));
}

}  // namespace

// (Tail calls: no frame of its own stays below a blocked tasklet's callers.)
void switch_other(scheduler_hot& s, tasklet_impl& prev, tasklet_impl& next,
                  channel_base* blocked_on) {
    if (prev.kind == stack_kind::copied && !prev.is_main && next.kind != stack_kind::soft &&
        s.plain_switch)
        return switch_copied(s, prev, next, blocked_on);
    return switch_any(s, prev, next, blocked_on);
}

void transfer_final(scheduler_impl& s, tasklet_impl& prev, tasklet_impl& next) {
    enter(s, prev, context_of(s, next), true);
    std::abort();  // an ended tasklet is never resumed
}

// From the runner (a soft tasklet awaits) to `running`, a hard tasklet: the runner waits
// here until some tasklet switches to a soft one.
void jump_from_runner(scheduler_impl& s) {
    tasklet_impl& next = *s.running;
    enter(s, *s.runner, context_of(s, next), false);
}

void give_stack_if_fresh(scheduler_impl& s, tasklet_impl& t) {
    if (t.state == life::ready && t.kind == stack_kind::own && !t.is_main) start_own(s, t);
}

// What enter() would allocate on the way from prev to next (context_of, ready_next,
// make_room), ahead of it.
void ready_final_switch(scheduler_impl& s, const tasklet_impl& prev, tasklet_impl& next) {
    // An ended soft tasklet leaves from the runner's stack.
    const tasklet_impl& from = prev.kind == stack_kind::soft ? *s.runner : prev;
    if (next.kind == stack_kind::soft) {
        if (&from == s.runner) return;  // the runner's loop resumes it
        give_stack_if_fresh(s, soft_runner(s));
        return;
    }
    if (next.kind != stack_kind::copied || next.is_main) {
        give_stack_if_fresh(s, next);
        return;
    }
    if (next.state == life::ready) choose_shared_stack(s, next, from);
    if (same_shared_stack(from, next)) return;  // one slp_switch; a dead prev is not saved
    shared_stack& sh = shared_of(s, next);
    tasklet_impl* o = sh.occupant;
    if (o != nullptr && o != &next && !o->slice_in_heap && o->state != life::dead)
        reserve_slice(*o, sh);
}

void release_execution(scheduler_impl& s, tasklet_impl& t) noexcept {
    if (tasklet_extra* x = t.x) {
        if (t.kind == stack_kind::copied) {
            std::free(x->slice.saved);
            x->slice.saved = nullptr;
            x->slice.saved_cap = x->slice.saved_size = 0;
        } else if (x->own) {
            s.pool.release(std::move(x->own));
        }
        if (!t.is_main) san::fiber_destroy(x->fiber);
    }
    if (shared_of(s, t).occupant == &t) shared_of(s, t).occupant = nullptr;
    soft_release(t);
}

}  // namespace slp::detail

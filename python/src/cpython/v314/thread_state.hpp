// thread_state.hpp (CPython 3.14) — the thread-state fields that differ between versions:
// the current frame (ts->current_frame itself: _PyCFrame is gone since 3.13), the Python
// recursion counter (py_recursion_*: Python and C recursion were split in 3.12), the C
// stack's limits (by address since 3.14: c_stack.hpp), the running JIT executor; and what
// a tasklet's body does with them on its own C stack.
#pragma once

#include <cstddef>

#include "../entry_frames.hpp"
#include "../trace_functions.hpp"
#include "c_stack.hpp"
// How the frame chain ends: the compiled version's (3.15 uses this file with its own).
#include SLP_CPY_HEADER(chain.hpp)

namespace slpy::cpy {

inline _PyInterpreterFrame* current_frame(PyThreadState* ts) noexcept {
    return ts->current_frame;
}
// (For a moment: to show CPython a suspended tasklet's frame as the current one.)
inline void set_current_frame(PyThreadState* ts, _PyInterpreterFrame* f) noexcept {
    ts->current_frame = f;
}
// Python frames the thread is nested in.
inline int recursion_depth(const PyThreadState* ts) noexcept {
    return ts->py_recursion_limit - ts->py_recursion_remaining;
}
// The levels of recursion_depth() a call from Python into a C function adds: none (the C
// stack is checked by address).
inline constexpr int c_call_recursion_levels = 0;

// A tasklet's share of the thread state in the fields that differ between versions (the
// others — context, exc_info, the data stack, trace functions — python_state keeps).
// 3.14: the current frame, the Python recursion depth, the C stack's limits, the JIT's
// current executor; its entry frames, which live on its C stack, shown through copies
// while that stack is copied away (../entry_frames.hpp). The trashcan's list of objects to
// delete later stays the thread's: its nesting is the C stack's depth now, not a counter
// a tasklet could carry.
class thread_share {
 public:
    // Eval-loop entry frames on the C stack (shown by copies while it is copied away).
    static constexpr bool has_entry_frames = true;

    // The innermost frame while suspended (null: none).
    _PyInterpreterFrame* frame() const noexcept { return frame_; }
    // The heap block that shows its entry frames while suspended (null: none).
    const void* entries_block() const noexcept { return entries_.block(); }
    void set_frame(_PyInterpreterFrame* f) noexcept { frame_ = f; }
    int recursion_depth() const noexcept { return recursion_depth_; }

    // A tasklet that has not run yet.
    void reset() noexcept {
        frame_ = nullptr;
        recursion_depth_ = 0;
        executor_ = nullptr;
        c_stack_ = {};
    }
    // Returns 0 if the thread state holds none of what moves only when set: no trace or
    // profile function (since 3.12 nothing cheaper than the functions themselves says so).
    [[gnu::always_inline]] uintptr_t save(PyThreadState* ts) noexcept {
        frame_ = ts->current_frame;
        recursion_depth_ = ts->py_recursion_limit - ts->py_recursion_remaining;
        executor_ = ts->current_executor;
        c_stack_ = c_stack_limits::of(ts);
        return trace_function_bits(ts);
    }
    // What moves only when set, beyond python_state's: nothing on this version.
    void save_rare(PyThreadState*) noexcept {}
    void restore_rare(PyThreadState*) noexcept {}
    bool holds_rare() const noexcept { return false; }
    // Its C stack was copied away while it is suspended, and is now `where`: its entry
    // frames are shown by copies until it resumes (unexpose()). Returns whether any are.
    bool c_stack_moved(const c_slice_place& where) noexcept {
        if (frame_ != nullptr) entries_.expose(frame_, where);
        return entries_.exposed();
    }
    // The same, where it is now, for a C stack that may be copied away unseen while it is
    // suspended (c_stack_moved() is not called).
    bool expose_entries() noexcept { return c_stack_moved({}); }
    // It resumes: its frames are back where they ran.
    void unexpose() noexcept {
        if (entries_.exposed()) entries_.unexpose();
    }
    // A suspended tasklet resumes.
    [[gnu::always_inline]] void restore(PyThreadState* ts) noexcept {
        ts->py_recursion_remaining = ts->py_recursion_limit - recursion_depth_;
        ts->current_frame = frame_;
        ts->current_executor = executor_;
        c_stack_.set(ts);
    }
    // A tasklet that has not run is about to start: no frames yet; its C stack's limits
    // are set by enter_body(), first thing on that stack.
    void start(PyThreadState* ts) noexcept {
        ts->py_recursion_remaining = ts->py_recursion_limit - recursion_depth_;
        ts->current_frame = chain_end(ts);
        ts->current_executor = nullptr;
    }
    // After restore(), for a tasklet whose trace or profile functions are back in the
    // thread state: nothing of this share says so (instrumented bytecode does).
    void restore_traced(PyThreadState*) noexcept {}
    // The tasklet ended.
    void forget() noexcept {
        frame_ = nullptr;
        entries_.clear();
    }

 private:
    _PyInterpreterFrame* frame_ = nullptr;
    entry_frames<enters_eval> entries_;  // shown by copies while suspended, if its C stack moves
    PyObject* executor_ = nullptr;
    c_stack_limits c_stack_;
    int recursion_depth_ = 0;
};

// What a tasklet's body keeps in its first C frame while its Python code runs: nothing
// since 3.13 (no base _PyCFrame).
struct body_base {};
// First thing a starting tasklet does, on its own stack: CPython's C-stack checks see
// that stack's bounds (own or shared: slp::running_stack(); the bytes left below the
// body's frame, which the caller passes, are not enough on 3.14, where the check needs
// the stack's top and end).
inline void enter_body(PyThreadState* ts, body_base*, std::size_t) noexcept {
    c_stack_limits::set_for_running_stack(ts);
}
// Its Python code returned; the rest of its life (core ending it, the schedule callback)
// needs no frame.
inline void leave_body(PyThreadState* ts) noexcept {
    ts->current_frame = chain_end(ts);
}

}  // namespace slpy::cpy

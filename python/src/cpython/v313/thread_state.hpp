// thread_state.hpp (CPython 3.13) — the thread-state fields that differ between versions,
// and what a tasklet's body does with them on its own C stack.
//   - The current frame is PyThreadState.current_frame (3.11's _PyCFrame chain is gone,
//     gh-108035): a tasklet saves and restores it, and starts with none.
//   - Recursion is counted twice (gh-91079, 3.12): Python frames (py_recursion_*) and
//     C-level recursion (c_recursion_remaining, which the trashcan also reads). A tasklet
//     has its own C stack, so it starts with the whole C budget.
//   - The trashcan's deferred objects (delete_later, replacing trash_delete_nesting)
//     belong to the C stack they were deferred on: they move with the tasklet.
//   - Each entry into the eval loop pushes an entry frame on the C stack, linked into the
//     frame chain (FRAME_OWNED_BY_CSTACK). A tasklet whose C stack is copied away while it
//     is suspended (stack_kind copied) would leave links into memory that another tasklet
//     then uses: ../entry_frames.hpp.
#pragma once

#include <cstddef>

#include "../entry_frames.hpp"
#include "../trace_functions.hpp"
#include "frame.hpp"
#include "headers.hpp"

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

// The levels of recursion_depth() a call from Python into a C function adds: the Python recursion
// depth counts Python frames only (C calls count in c_recursion_remaining).
inline constexpr int c_call_recursion_levels = 0;

// A tasklet's share of the thread state in the fields that differ between versions (the
// others — context, exc_info, the data stack, trace functions — python_state keeps).
// save()/restore() run on every switch.
class thread_share {
 public:
    // The innermost frame while suspended (null: none).
    _PyInterpreterFrame* frame() const noexcept { return frame_; }
    // The heap block that shows its entry frames while suspended (null: none).
    const void* entries_block() const noexcept { return entries_.block(); }
    void set_frame(_PyInterpreterFrame* f) noexcept { frame_ = f; }
    int recursion_depth() const noexcept { return py_depth_; }

    // A tasklet that has not run yet.
    void reset() noexcept {
        frame_ = nullptr;
        delete_later_ = nullptr;
        py_depth_ = 0;
        c_remaining_ = Py_C_RECURSION_LIMIT;
    }
    // `expose_entries`: its C stack may be copied away unseen while it is suspended
    // (c_stack_moved() is not called): show its entry frames now.
    // Returns 0 if the thread state holds none of what moves only when set: no trace or
    // profile function (since 3.12 nothing cheaper than the functions themselves says so).
    [[gnu::always_inline]] int save(PyThreadState* ts, bool expose_entries) noexcept {
        frame_ = ts->current_frame;
        py_depth_ = ts->py_recursion_limit - ts->py_recursion_remaining;
        c_remaining_ = ts->c_recursion_remaining;
        delete_later_ = ts->delete_later;
        if (expose_entries && frame_ != nullptr) entries_.expose(frame_);
        return any_trace_function(ts);
    }
    // What moves only when set, beyond python_state's: nothing on this version.
    void save_rare(PyThreadState*) noexcept {}
    void restore_rare(PyThreadState*) noexcept {}
    bool holds_rare() const noexcept { return false; }
    // Its C stack was copied away while it is suspended, and is now `where`: its entry
    // frames are shown by copies until it resumes.
    void c_stack_moved(const c_slice_place& where) noexcept {
        if (frame_ != nullptr) entries_.expose(frame_, where);
    }
    // A suspended tasklet resumes (its frames are back where they ran).
    [[gnu::always_inline]] void restore(PyThreadState* ts) noexcept {
        if (entries_.exposed()) [[unlikely]]
            entries_.unexpose();
        ts->current_frame = frame_;
        restore_counters(ts);
    }
    // A tasklet that has not run is about to start (on its own C stack): no frames yet.
    void start(PyThreadState* ts) noexcept {
        ts->current_frame = nullptr;
        restore_counters(ts);
    }
    // A suspended tasklet's trace or profile function was set or cleared: nothing of this
    // share says whether the eval loop calls them (since 3.12 instrumented bytecode does).
    void set_traced(bool /*on*/) noexcept {}
    // The tasklet ended.
    void forget() noexcept {
        frame_ = nullptr;
        entries_.clear();
    }

 private:
    [[gnu::always_inline]] void restore_counters(PyThreadState* ts) noexcept {
        ts->py_recursion_remaining = ts->py_recursion_limit - py_depth_;
        ts->c_recursion_remaining = c_remaining_;
        ts->delete_later = delete_later_;
    }
    _PyInterpreterFrame* frame_ = nullptr;
    entry_frames<enters_eval> entries_;  // shown by copies while suspended, if its C stack moves
    PyObject* delete_later_ = nullptr;
    int py_depth_ = 0;
    int c_remaining_ = Py_C_RECURSION_LIMIT;
};

// What a tasklet's body keeps in its first C frame while its Python code runs: nothing
// on 3.13 (its first eval loop entry makes its own entry frame).
struct body_base {};
// First thing a starting tasklet does, on its own stack (`c_stack_left`: the bytes of C
// stack below its first frame, 0 if as much as a thread has). Py_C_RECURSION_LIMIT is
// CPython's budget for a thread's stack (8 MiB); a smaller tasklet stack gets a budget of
// one level per c_stack_bytes_per_level, so deep recursion through C raises
// RecursionError before it reaches the stack's guard page.
inline constexpr std::size_t c_stack_bytes_per_level = 2048;
inline void enter_body(PyThreadState* ts, body_base*, std::size_t c_stack_left) noexcept {
    if (c_stack_left == 0) return;
    const std::size_t levels = c_stack_left / c_stack_bytes_per_level;
    if (levels < static_cast<std::size_t>(ts->c_recursion_remaining))
        ts->c_recursion_remaining = static_cast<int>(levels);
}
inline void leave_body(PyThreadState*) noexcept {}

}  // namespace slpy::cpy

// thread_state.hpp (CPython 3.13) — the thread-state fields that differ between versions,
// and what a tasklet's body does with them on its own C stack.
//   - The current frame is PyThreadState.current_frame (3.11's _PyCFrame chain is gone,
//     gh-108035): a tasklet saves and restores it, and starts with none.
//   - Recursion is counted twice (gh-91079, 3.12): Python frames (py_recursion_*) and
//     C-level recursion (c_recursion_remaining, which the trashcan also reads). A tasklet
//     has its own C stack, so it starts with the whole C budget.
//   - The trashcan's deferred objects (delete_later, replacing trash_delete_nesting)
//     belong to the C stack they were deferred on: they move with the tasklet (when there
//     are any: only while a deallocation that switched is under way).
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
    // Eval-loop entry frames on the C stack (shown by copies while it is copied away).
    static constexpr bool has_entry_frames = true;

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
    // Returns 0 if the thread state holds none of what moves only when set: no trace or
    // profile function (since 3.12 nothing cheaper than the functions themselves says so),
    // no objects the trashcan deferred.
    [[gnu::always_inline]] uintptr_t save(PyThreadState* ts) noexcept {
        frame_ = ts->current_frame;
        py_depth_ = ts->py_recursion_limit - ts->py_recursion_remaining;
        c_remaining_ = ts->c_recursion_remaining;
        return trace_function_bits(ts, reinterpret_cast<uintptr_t>(ts->delete_later));
    }
    // What moves only when set, beyond python_state's: the trashcan's deferred objects.
    // save_rare() takes them from the thread state, which it leaves clear, restore_rare()
    // gives them back; holds_rare(): whether there are any.
    void save_rare(PyThreadState* ts) noexcept {
        delete_later_ = ts->delete_later;
        ts->delete_later = nullptr;
    }
    void restore_rare(PyThreadState* ts) noexcept {
        ts->delete_later = delete_later_;
        delete_later_ = nullptr;
    }
    bool holds_rare() const noexcept { return delete_later_ != nullptr; }
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
        ts->current_frame = frame_;
        restore_counters(ts);
    }
    // After restore(), for a tasklet whose trace or profile functions are back in the
    // thread state: nothing of this share says so (instrumented bytecode does).
    void restore_traced(PyThreadState*) noexcept {}
    // A tasklet that has not run is about to start (on its own C stack): no frames yet.
    void start(PyThreadState* ts) noexcept {
        ts->current_frame = nullptr;
        restore_counters(ts);
    }
    // The tasklet ended.
    void forget() noexcept {
        frame_ = nullptr;
        entries_.clear();
    }

 private:
    [[gnu::always_inline]] void restore_counters(PyThreadState* ts) noexcept {
        ts->py_recursion_remaining = ts->py_recursion_limit - py_depth_;
        ts->c_recursion_remaining = c_remaining_;
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

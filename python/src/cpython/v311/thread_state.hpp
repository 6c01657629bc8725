// thread_state.hpp (CPython 3.11) — the thread-state fields that differ between versions:
// where the current frame is (the _PyCFrame chain), the recursion counter, the
// trashcan's nesting; and what a tasklet's body does with them on its own C stack.
#pragma once

#include <cstddef>
#include <cstdint>

#include "../c_slice_place.hpp"
#include "../trace_functions.hpp"
#include "headers.hpp"

namespace slpy::cpy {

inline _PyInterpreterFrame* current_frame(PyThreadState* ts) noexcept {
    return ts->cframe->current_frame;
}
// (For a moment: to show CPython a suspended tasklet's frame as the current one.)
inline void set_current_frame(PyThreadState* ts, _PyInterpreterFrame* f) noexcept {
    ts->cframe->current_frame = f;
}
// Python frames (and C recursion checks) the thread is nested in.
inline int recursion_depth(const PyThreadState* ts) noexcept {
    return ts->recursion_limit - ts->recursion_remaining;
}

// The levels of recursion_depth() a call from Python into a C function adds: a call into C
// (Py_EnterRecursiveCall) counts as a level of the recursion depth.
inline constexpr int c_call_recursion_levels = 1;

// What CPython keeps in the current cframe's use_tracing while the tracing nesting is 0
// (_PyThreadState_UpdateTracingState whenever a trace or profile function is set or a
// tracer returns; each eval loop hands its cframe's on to the one it returns to):
// whether the thread state holds a trace or profile function.
inline uint8_t use_tracing_for(const PyThreadState* ts) noexcept {
    return (ts->tracing == 0 && (ts->c_tracefunc != nullptr || ts->c_profilefunc != nullptr)) ? 255
                                                                                              : 0;
}
// The thread's root cframe becomes the current one (where no eval loop runs: a
// tasklet's start and end), keeping that rule.
inline void enter_root_cframe(PyThreadState* ts) noexcept {
    ts->root_cframe.use_tracing = use_tracing_for(ts);
    ts->cframe = &ts->root_cframe;
}

// A tasklet's share of the thread state in the fields that differ between versions (the
// others — context, exc_info, the data stack, trace functions — python_state keeps). 3.11:
// the cframe (on the tasklet's C stack) with its use_tracing, recursion depth, trashcan
// nesting. save()/restore() run on every switch.
class thread_share {
 public:
    // No eval-loop entry frames on the C stack on this version (nothing to expose).
    static constexpr bool has_entry_frames = false;

    // The innermost frame while suspended (null: none).
    _PyInterpreterFrame* frame() const noexcept { return frame_; }
    // (no entry frames on this version: see ../entry_frames.hpp)
    const void* entries_block() const noexcept { return nullptr; }
    void set_frame(_PyInterpreterFrame* f) noexcept { frame_ = f; }
    int recursion_depth() const noexcept { return recursion_depth_; }

    // A tasklet that has not run yet.
    void reset() noexcept {
        cframe_ = nullptr;
        frame_ = nullptr;
        recursion_depth_ = 0;
        trash_delete_nesting_ = 0;
        trash_delete_later_ = nullptr;
    }
    // Returns 0 if the thread state holds none of what moves only when set (save_rare()):
    // no trashcan nesting, and no trace or profile function as far as its tracing nesting
    // is 0 (then the current cframe's use_tracing says whether it holds any: see
    // use_tracing_for()). The cframe's use_tracing stays in the cframe, on the tasklet's C
    // stack: restore() leaves it (see there), restore_traced() sets it by that rule.
    [[gnu::always_inline]] unsigned save(PyThreadState* ts) noexcept {
        cframe_ = ts->cframe;
        frame_ = cframe_->current_frame;  // (for a suspended tasklet's introspection)
        recursion_depth_ = ts->recursion_limit - ts->recursion_remaining;
        return static_cast<unsigned>(cframe_->use_tracing | ts->trash_delete_nesting);
    }
    // What moves only when set: the trashcan's nesting and the objects it deferred (not
    // 0, and only while the nesting is not, while a deallocation that switched is under
    // way: they belong to the C stack they were deferred on). save_rare() takes them from
    // the thread state, which it leaves clear, restore_rare() gives them back;
    // holds_rare(): whether there are any.
    void save_rare(PyThreadState* ts) noexcept {
        trash_delete_nesting_ = ts->trash_delete_nesting;
        trash_delete_later_ = ts->trash_delete_later;
        ts->trash_delete_nesting = 0;
        ts->trash_delete_later = nullptr;
    }
    void restore_rare(PyThreadState* ts) noexcept {
        ts->trash_delete_nesting = trash_delete_nesting_;
        ts->trash_delete_later = trash_delete_later_;
        trash_delete_nesting_ = 0;
        trash_delete_later_ = nullptr;
    }
    bool holds_rare() const noexcept {
        return trash_delete_nesting_ != 0 || trash_delete_later_ != nullptr;
    }
    // Its C stack was copied away while it is suspended, or may be (expose_entries):
    // nothing of 3.11's chain is on it. (Returns whether entry frames are shown by copies.)
    bool c_stack_moved(const c_slice_place&) noexcept { return false; }
    bool expose_entries() noexcept { return false; }
    void unexpose() noexcept {}
    // A suspended tasklet resumes. Its cframe is as save() found it, since only the
    // running tasklet's cframes change: use_tracing 0, unless the tasklet holds a trace
    // function or had one taken away while suspended (restore_traced() follows then).
    // All but the thread's root cframe, which a tasklet starting on it may have changed
    // (the preemption tracer's removal, an eval loop's exit): that one is set to 0, the
    // thread state holding no trace function. The others are not touched: the eval loop
    // the tasklet returns to reads its cframe's use_tracing at every instruction it
    // dispatches, and a store there, or a load to test it, whose address comes from loads
    // made after the switch, slows those instructions.
    [[gnu::always_inline]] void restore(PyThreadState* ts) noexcept {
        restore_counters(ts);
        ts->cframe = cframe_;
        if (cframe_ == &ts->root_cframe) [[unlikely]]
            cframe_->use_tracing = 0;
    }
    // After restore(), for a tasklet whose trace or profile functions and tracing nesting
    // are back in the thread state (python_state::restore_rare): its cframe says so.
    void restore_traced(PyThreadState* ts) noexcept { cframe_->use_tracing = use_tracing_for(ts); }
    // A tasklet that has not run is about to start: its body's base (see body_base)
    // is planted by enter_body() in its first C frame; until then nothing runs Python,
    // and the thread's root cframe stands in.
    void start(PyThreadState* ts) noexcept {
        restore_counters(ts);
        enter_root_cframe(ts);
    }
    // The tasklet ended.
    void forget() noexcept {
        frame_ = nullptr;
        cframe_ = nullptr;
        trash_delete_nesting_ = 0;
        trash_delete_later_ = nullptr;
    }

 private:
    [[gnu::always_inline]] void restore_counters(PyThreadState* ts) noexcept {
        ts->recursion_remaining = ts->recursion_limit - recursion_depth_;
    }

    _PyCFrame* cframe_ = nullptr;
    _PyInterpreterFrame* frame_ = nullptr;
    PyObject* trash_delete_later_ = nullptr;
    int recursion_depth_ = 0;
    int trash_delete_nesting_ = 0;
};

// What a tasklet's body keeps in its first C frame while its Python code runs: on 3.11
// the base cframe of its frames.
struct body_base {
    _PyCFrame cframe;
};
// First thing a starting tasklet does, on its own stack (`base` is a local of that frame;
// `c_stack_left`: the bytes of C stack below it, 0 if as much as a thread has). (3.11
// counts C and Python recursion together, against the recursion limit, which the size of
// a tasklet's own stack follows: stack_kind.hpp.)
inline void enter_body(PyThreadState* ts, body_base* base, std::size_t /*c_stack_left*/) noexcept {
    _PyCFrame* cf = &base->cframe;
    cf->use_tracing = use_tracing_for(ts);
    cf->current_frame = nullptr;
    cf->previous = &ts->root_cframe;
    ts->cframe = cf;
}
// Its Python code returned: the base cframe dies with the body's frame, so the rest of
// the tasklet's life (core ending it, the schedule callback) runs on the thread's root
// cframe.
inline void leave_body(PyThreadState* ts) noexcept {
    enter_root_cframe(ts);
}

}  // namespace slpy::cpy

// data_stack_frames.hpp — placing rebuilt frames and running them, on the versions whose
// eval loop pops and clears every frame it evaluated from the thread's data stack
// (3.12+): the frames go onto the data stack first, as CPython's own calls put them there.
// Included at the end of such a version's frame_layout.hpp, after its frame_code(),
// used_bytes() and frame_slots(); needs internal/pycore_ceval.h
// (_PY_EVAL_EVENTS_MASK).
#pragma once

#include <cstring>

namespace slpy::cpy::frame {

// Room for a frame of `slots` words on the thread's data stack, as CPython's own
// _PyThreadState_PushFrame makes it (not exported): the next words of the current
// chunk, or a new chunk from the object arena allocator, which _PyThreadState_PopFrame
// frees when the frame in it is popped. Null with MemoryError set if none.
inline _PyInterpreterFrame* push_on_data_stack(PyThreadState* ts, size_t slots) {
    if (ts->datastack_top != nullptr &&
        static_cast<ptrdiff_t>(slots) < ts->datastack_limit - ts->datastack_top) {
        auto* f = reinterpret_cast<_PyInterpreterFrame*>(ts->datastack_top);
        ts->datastack_top += slots;
        return f;
    }
    constexpr size_t kChunk = datastack_chunk_bytes, kOverhead = 1000;  // as pystate.c
    size_t bytes = kChunk;
    while (bytes < sizeof(PyObject*) * (slots + kOverhead)) bytes *= 2;
    PyObjectArenaAllocator arena;
    PyObject_GetArenaAllocator(&arena);
    auto* chunk = static_cast<_PyStackChunk*>(arena.alloc(arena.ctx, bytes));
    if (chunk == nullptr) {
        PyErr_NoMemory();
        return nullptr;
    }
    chunk->previous = ts->datastack_chunk;
    chunk->size = bytes;
    chunk->top = 0;
    if (ts->datastack_chunk != nullptr)
        ts->datastack_chunk->top =
            static_cast<int>(ts->datastack_top - &ts->datastack_chunk->data[0]);
    ts->datastack_chunk = chunk;
    ts->datastack_limit = reinterpret_cast<PyObject**>(reinterpret_cast<char*>(chunk) + bytes);
    // A root chunk's first word stays unused, so that popping never frees it (pystate.c).
    PyObject** at = &chunk->data[chunk->previous == nullptr ? 1 : 0];
    ts->datastack_top = at + slots;
    return reinterpret_cast<_PyInterpreterFrame*>(at);
}

// Is `code` instrumented for the monitoring now in force (sys.setprofile, sys.settrace,
// sys.monitoring fire their events from instrumented bytecode)? The eval loop brings a
// code object up to date at its RESUME, which a resumed frame has run long ago.
inline bool instrumented(PyThreadState* ts, PyCodeObject* code) noexcept {
    return code->_co_instrumentation_version ==
           (ts->eval_breaker & ~static_cast<uintptr_t>(_PY_EVAL_EVENTS_MASK));
}

// Move rebuilt frames (in memory of the frame library, the base first) onto the thread's
// data stack above its frames, base first, as if they had been called one from the
// other: the eval loop pops a frame it finished from the data stack. Their code is
// instrumented for the monitoring in force. `frames` is updated
// to the new places; the old memory is freed. Returns 0, or -1 with an exception set
// (then the frames that did not move are still where they were).
template <class Free>
int place(PyThreadState* ts, _PyInterpreterFrame** frames, size_t n, Free free_old) {
    _PyInterpreterFrame* below = ts->current_frame;
    for (size_t i = 0; i < n; ++i) {
        _PyInterpreterFrame* old = frames[i];
        _PyInterpreterFrame* f = push_on_data_stack(ts, frame_slots(frame_code(old)));
        if (f == nullptr) return -1;
        std::memcpy(static_cast<void*>(f), old, used_bytes(old));
        frame_moved(f, reinterpret_cast<char*>(f) - reinterpret_cast<char*>(old));
        if (f->frame_obj != nullptr) f->frame_obj->f_frame = f;
        f->previous = i == 0 ? below : frames[i - 1];
        frames[i] = f;
        free_old(old);
    }
    for (size_t i = 0; i < n; ++i)
        if (!instrumented(ts, frame_code(frames[i]))) {
            instrument_running(ts, frames[n - 1]);
            break;
        }
    return 0;
}

// Evaluate frame `f` (on the data stack, the top frame there) as if called by `caller`:
// _PyEval_EvalFrameDefault links it above an entry frame of its own whose previous is the
// thread's current frame, starts at instr_ptr (for an exception, the handler of the unit
// before it: the call's last), and pops and clears the frame when it returns or raises.
inline PyObject* evaluate(PyThreadState* ts, _PyInterpreterFrame* f, _PyInterpreterFrame* caller,
                          bool raising) {
    f->instr_ptr += f->return_offset;
    f->return_offset = 0;
    _PyInterpreterFrame* saved = ts->current_frame;
    ts->current_frame = caller;
    PyObject* r = _PyEval_EvalFrameDefault(ts, f, raising ? 1 : 0);
    PyThreadState_Get()->current_frame = saved;
    return r;
}
inline constexpr bool kEvalClears = true;

// Make `f` the thread's current frame (the caller a generator's frame links to when it
// runs).
inline void set_current(PyThreadState* ts, _PyInterpreterFrame* f) noexcept {
    ts->current_frame = f;
}
// Make a rebuilt frame about to be evaluated run the instruction at `unit` again (a
// FOR_ITER whose generator returned meanwhile: it ends the loop).
inline void rerun_at(_PyInterpreterFrame* f, int unit) noexcept {
    f->instr_ptr = _PyCode_CODE(frame_code(f)) + unit;
    f->return_offset = 0;
}

}  // namespace slpy::cpy::frame

// v313/frame_layout.hpp — CPython 3.13's interpreter frames (internal/pycore_frame.h):
// f_executable and f_funcobj, instr_ptr (the instruction running or about to run),
// stacktop, entry frames (owner FRAME_OWNED_BY_CSTACK, pushed on the C stack by each
// entry into _PyEval_EvalFrameDefault) instead of is_entry, frames on the thread's data
// stack only (the eval loop pops what it evaluated), and ts->current_frame (no _PyCFrame).
#pragma once

#include <opcode.h>

#include <cstring>

#include "interface.hpp"  // (and ../monitoring.hpp, through tracing.hpp)

#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wpedantic"
#pragma GCC diagnostic ignored "-Wconversion"
#pragma GCC diagnostic ignored "-Wsign-conversion"
#pragma GCC diagnostic ignored "-Wshadow"
#pragma GCC diagnostic ignored "-Wmissing-field-initializers"
#include <internal/pycore_ceval.h>  // _PY_EVAL_EVENTS_MASK
#pragma GCC diagnostic pop

// Local-kind bits of co_localspluskinds (internal/pycore_code.h, which drags in more
// internal headers than it is worth).
#ifndef CO_FAST_LOCAL
#define CO_FAST_LOCAL 0x20
#define CO_FAST_CELL 0x40
#define CO_FAST_FREE 0x80
#endif

namespace slpy::cpy::frame {

inline PyObject** stack_base(_PyInterpreterFrame* f) noexcept {
    return f->localsplus + frame_code(f)->co_nlocalsplus;
}
// Value-stack slots in use, or -1 while the frame is inside a call into C (the eval loop
// keeps its stack pointer in a C local then).
inline int saved_depth(_PyInterpreterFrame* f) noexcept {
    return f->stacktop < 0 ? -1 : f->stacktop - frame_code(f)->co_nlocalsplus;
}
// Code unit of the instruction running (for line numbers in messages).
inline int last_unit(_PyInterpreterFrame* f) noexcept {
    return static_cast<int>(f->instr_ptr - _PyCode_CODE(frame_code(f)));
}

inline _PyInterpreterFrame* current(PyThreadState* ts) noexcept {
    return ts->current_frame;
}

// An entry frame of the eval loop on the C stack (only its owner and links are set).
inline bool c_stack_frame(_PyInterpreterFrame* f) noexcept {
    return f->owner == FRAME_OWNED_BY_CSTACK;
}
inline bool owned_by_thread(_PyInterpreterFrame* f) noexcept {
    return f->owner == FRAME_OWNED_BY_THREAD;
}
// A Python function's frame (not the interpreter's shim frames, which run a code object of
// its own with no function).
inline bool function_frame(_PyInterpreterFrame* f) noexcept {
    return PyCode_Check(f->f_executable) && f->f_funcobj != nullptr &&
           PyFunction_Check(f->f_funcobj);
}
inline bool incomplete(_PyInterpreterFrame* f) noexcept {
    return _PyFrame_IsIncomplete(f);
}
// Did C code call this frame? Then the eval loop put an entry frame of its own (on the
// C stack) between it and its caller.
inline bool entered_from_c(_PyInterpreterFrame* f) noexcept {
    return f->previous != nullptr && f->previous->owner == FRAME_OWNED_BY_CSTACK;
}
// The Python frame that called `f`, through the C code between them if any.
inline _PyInterpreterFrame* caller(_PyInterpreterFrame* f) noexcept {
    return entered_from_c(f) ? f->previous->previous : f->previous;
}

// The code unit of the call a suspended frame waits in, or -1: instr_ptr is the call
// instruction itself, whether it called into C or pushed a Python frame (the caller's
// return_offset then says where to continue).
template <class OpAt, class Caches>
int waiting_call(_PyInterpreterFrame* f, bool, OpAt, Caches) {
    return last_unit(f);
}

// Make `f` (zeroed memory for `code`) a frame of `func` (reference stolen) running
// `code`, its locals and value stack the `n` references `slots` (stolen), to continue
// after the call at `call_unit` (of `call_caches` cache units) once the call's result is
// pushed. Until evaluate() runs it, it looks like a frame waiting for a Python callee:
// instr_ptr on the call, return_offset to the instruction after it.
inline void init(_PyInterpreterFrame* f, PyFunctionObject* func, PyCodeObject* code,
                 PyObject* const* slots, int n, int call_unit, int call_caches) {
    _PyFrame_Initialize(f, func, nullptr, code, code->co_nlocalsplus);
    for (int i = 0; i < n; ++i) f->localsplus[i] = slots[i];
    f->stacktop = n;
    f->instr_ptr = _PyCode_CODE(code) + call_unit;
    f->return_offset = static_cast<uint16_t>(1 + call_caches);
}

inline int traverse(_PyInterpreterFrame* f, visitproc visit, void* arg) {
    Py_VISIT(f->frame_obj);
    Py_VISIT(f->f_locals);
    Py_VISIT(f->f_funcobj);
    Py_VISIT(f->f_executable);
    for (int k = 0; k < f->stacktop; ++k) Py_VISIT(f->localsplus[k]);
    return 0;
}
inline void drop_references(_PyInterpreterFrame* f) {
    for (int i = 0; i < f->stacktop; ++i) Py_XDECREF(f->localsplus[i]);
    Py_XDECREF(f->f_locals);
    Py_XDECREF(f->f_funcobj);
    Py_XDECREF(f->f_executable);
}
inline size_t used_bytes(_PyInterpreterFrame* f) noexcept {
    return static_cast<size_t>(reinterpret_cast<char*>(&f->localsplus[f->stacktop]) -
                               reinterpret_cast<char*>(f));
}
inline size_t frame_slots(PyCodeObject* code) noexcept {
    return static_cast<size_t>(code->co_framesize);
}

inline void push_result(_PyInterpreterFrame* f, PyObject* value) noexcept {
    f->localsplus[f->stacktop++] = value;
}

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

}  // namespace slpy::cpy::frame

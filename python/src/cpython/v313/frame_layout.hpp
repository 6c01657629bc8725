// v313/frame_layout.hpp — CPython 3.13's interpreter frames (internal/pycore_frame.h):
// f_executable and f_funcobj, instr_ptr (the instruction running or about to run),
// stacktop, entry frames (owner FRAME_OWNED_BY_CSTACK, pushed on the C stack by each
// entry into _PyEval_EvalFrameDefault) instead of is_entry, frames on the thread's data
// stack only (the eval loop pops what it evaluated), and ts->current_frame (no _PyCFrame).
#pragma once

#include <opcode.h>

#include <cstring>
#include <vector>

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

// The frame a generator, coroutine or async generator object holds.
inline _PyInterpreterFrame* generator_frame(PyObject* gen) noexcept {
    return reinterpret_cast<_PyInterpreterFrame*>(reinterpret_cast<PyGenObject*>(gen)->gi_iframe);
}
// Has a generator in frame state `state` finished (returned, raised, or been closed)?
inline bool generator_finished(int state) noexcept {
    return state >= FRAME_COMPLETED;
}
// The state of a generator unpickled to run again in its tasklet's frames, until they
// resume: finished to everyone else (iterating it ends at once, its finalizer closes
// nothing) while its frame stays for the tasklet (the object clears it when it goes).
inline constexpr int8_t kAwaitingFrameState = FRAME_COMPLETED;
// Make the frame of a generator just made from `func`'s code (FRAME_CREATED) wait at
// `unit` (of `caches` cache units), its locals and value stack the `n` references `slots`
// (stolen), its function `func` (stolen). What the frame held is released.
inline void set_generator_frame(_PyInterpreterFrame* f, PyFunctionObject* func,
                                PyObject* const* slots, int n, int unit, int caches) {
    // Released last: nothing they run may see the frame half made.
    std::vector<PyObject*> old(f->localsplus, f->localsplus + (f->stacktop > 0 ? f->stacktop : 0));
    for (int i = 0; i < n; ++i) f->localsplus[i] = slots[i];
    f->stacktop = n;
    f->instr_ptr = _PyCode_CODE(frame_code(f)) + unit + 1 + caches;
    f->return_offset = 0;
    PyObject* old_func = f->f_funcobj;
    f->f_funcobj = reinterpret_cast<PyObject*>(func);
    for (PyObject* o : old) Py_XDECREF(o);
    Py_XDECREF(old_func);
}
// Does the eval loop save the frame's stack pointer while the eval breaker runs? No: a
// call's check after its result is pushed looks the same as the call itself.
inline constexpr bool kBreakerSavesDepth = false;
// Make a rebuilt frame about to be resumed with an exception unwind from the instruction
// at `unit` (a preemption point: the exception comes from the tick that ran there); the
// eval loop looks for the handler of the unit before instr_ptr.
inline void raise_at(_PyInterpreterFrame* f, int unit) noexcept {
    f->instr_ptr = _PyCode_CODE(frame_code(f)) + unit + 1;
    f->return_offset = 0;
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

}  // namespace slpy::cpy::frame

// Where a generator's frame waits, and placing rebuilt frames on the data stack and
// running them: as on every version since 3.12.
#include "../data_stack_frames.hpp"
#include "../generator_sites_312.hpp"

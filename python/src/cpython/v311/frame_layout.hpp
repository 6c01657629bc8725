// v311/frame_layout.hpp — CPython 3.11's interpreter frames (internal/pycore_frame.h):
// f_code and f_func, prev_instr (the last instruction started), stacktop, is_entry (the
// frame entered _PyEval_EvalFrameDefault from C), and the thread's frames reached
// through ts->cframe.
#pragma once

#include <opcode.h>

#include <vector>

#include "interface.hpp"

// Local-kind bits of co_localspluskinds (internal/pycore_code.h, which drags in more
// internal headers than it is worth).
#ifndef CO_FAST_LOCAL
#define CO_FAST_LOCAL 0x20
#define CO_FAST_CELL 0x40
#define CO_FAST_FREE 0x80
#endif

namespace slpy::cpy::frame {

inline PyObject** stack_base(_PyInterpreterFrame* f) noexcept {
    return f->localsplus + f->f_code->co_nlocalsplus;
}
// Value-stack slots in use, or -1 while the frame is inside a call (the eval loop keeps
// its stack pointer in a C local then).
inline int saved_depth(_PyInterpreterFrame* f) noexcept {
    return f->stacktop < 0 ? -1 : f->stacktop - f->f_code->co_nlocalsplus;
}
// Code unit of the instruction that ran last (for line numbers in messages).
inline int last_unit(_PyInterpreterFrame* f) noexcept {
    return static_cast<int>(f->prev_instr - _PyCode_CODE(f->f_code));
}

inline _PyInterpreterFrame* current(PyThreadState* ts) noexcept {
    return ts->cframe->current_frame;
}

inline bool owned_by_thread(_PyInterpreterFrame* f) noexcept {
    return f->owner == FRAME_OWNED_BY_THREAD;
}
// An entry frame of the eval loop on the C stack (none on 3.11: is_entry marks the frame
// C called).
inline bool c_stack_frame(_PyInterpreterFrame*) noexcept {
    return false;
}
inline bool function_frame(_PyInterpreterFrame* f) noexcept {
    return PyFunction_Check(f->f_func);
}
inline bool incomplete(_PyInterpreterFrame* f) noexcept {
    return _PyFrame_IsIncomplete(f);
}
// Did C code call this frame (it entered the eval loop afresh)?
inline bool entered_from_c(_PyInterpreterFrame* f) noexcept {
    return f->is_entry;
}
// The Python frame that called `f`, through the C code between them if any.
inline _PyInterpreterFrame* caller(_PyInterpreterFrame* f) noexcept {
    return f->previous;
}

// The code unit of the call a suspended frame waits in, or -1. prev_instr of a frame
// inside a call into C is the CALL, or the PRECALL when a specialized PRECALL made the
// call itself; a frame that called a Python function directly has prev_instr on the
// call's last cache unit (CALL, or BINARY_SUBSCR calling __getitem__).
template <class OpAt, class Caches>
int waiting_call(_PyInterpreterFrame* f, bool innermost, OpAt op_at, Caches caches) {
    const int unit = last_unit(f);
    if (innermost) return op_at(unit) == PRECALL ? unit + 1 + caches(PRECALL) : unit;
    for (int op : {CALL, BINARY_SUBSCR})
        if (op_at(unit - caches(op)) == op) return unit - caches(op);
    return -1;
}

// Make `f` (zeroed memory for `code`) a frame of `func` (reference stolen) running
// `code`, its locals and value stack the `n` references `slots` (stolen), to continue
// after the call at `call_unit` (of `call_caches` cache units) once the call's result is
// pushed.
inline void init(_PyInterpreterFrame* f, PyFunctionObject* func, PyCodeObject* code,
                 PyObject* const* slots, int n, int call_unit, int call_caches) {
    _PyFrame_InitializeSpecials(f, func, nullptr, code->co_nlocalsplus);
    // The function's __code__ may have been replaced meanwhile: run the code given.
    Py_SETREF(f->f_code, reinterpret_cast<PyCodeObject*>(Py_NewRef(code)));
    for (int i = 0; i < n; ++i) f->localsplus[i] = slots[i];
    f->stacktop = n;
    f->prev_instr = _PyCode_CODE(code) + call_unit + call_caches;
}

// The frame a generator, coroutine or async generator object holds.
inline _PyInterpreterFrame* generator_frame(PyObject* gen) noexcept {
    return reinterpret_cast<_PyInterpreterFrame*>(reinterpret_cast<PyGenObject*>(gen)->gi_iframe);
}
// Code unit a suspended or not yet started generator's frame waits at: prev_instr stays
// on its YIELD_VALUE, or on the RETURN_GENERATOR that made it.
inline int generator_site(_PyInterpreterFrame* f) noexcept {
    return last_unit(f);
}
// The generator state of a frame waiting at `op` (bytecode.hpp's suspends()).
inline int8_t generator_state(int op, int) noexcept {
    return op == RETURN_GENERATOR ? FRAME_CREATED : FRAME_SUSPENDED;
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
    f->prev_instr = _PyCode_CODE(f->f_code) + unit + caches;
    PyObject* old_func = reinterpret_cast<PyObject*>(f->f_func);
    f->f_func = func;
    for (PyObject* o : old) Py_XDECREF(o);
    Py_XDECREF(old_func);
}
// Make a rebuilt frame about to be resumed with an exception unwind from the instruction
// at `unit` (a preemption point: the exception comes from the tick that ran there).
inline void raise_at(_PyInterpreterFrame* f, int unit) noexcept {
    f->prev_instr = _PyCode_CODE(f->f_code) + unit;
}

// Visit / drop the references a frame that is not running holds.
inline int traverse(_PyInterpreterFrame* f, visitproc visit, void* arg) {
    Py_VISIT(f->frame_obj);
    Py_VISIT(f->f_locals);
    Py_VISIT(f->f_func);
    Py_VISIT(f->f_code);
    for (int k = 0; k < f->stacktop; ++k) Py_VISIT(f->localsplus[k]);
    return 0;
}
inline void drop_references(_PyInterpreterFrame* f) {
    for (int i = 0; i < f->stacktop; ++i) Py_XDECREF(f->localsplus[i]);
    Py_XDECREF(f->f_locals);
    Py_XDECREF(f->f_func);
    Py_XDECREF(f->f_code);
}
// Bytes of `f` that hold data: specials, locals and the used value stack.
inline size_t used_bytes(_PyInterpreterFrame* f) noexcept {
    return static_cast<size_t>(reinterpret_cast<char*>(&f->localsplus[f->stacktop]) -
                               reinterpret_cast<char*>(f));
}
inline size_t frame_slots(PyCodeObject* code) noexcept {
    return FRAME_SPECIALS_SIZE + static_cast<size_t>(code->co_nlocalsplus) +
           static_cast<size_t>(code->co_stacksize);
}

// Push the call's result onto a rebuilt frame about to be resumed (stolen).
inline void push_result(_PyInterpreterFrame* f, PyObject* value) noexcept {
    f->localsplus[f->stacktop++] = value;
}

// Link rebuilt frames (the base first) above the thread's current frame, for resume():
// on 3.11 they run where the frame library allocated them. Returns 0.
template <class Free>
int place(PyThreadState* ts, _PyInterpreterFrame** frames, size_t, Free) {
    frames[0]->previous = current(ts);
    return 0;
}

// Evaluate rebuilt frame `f` (in memory of the frame library) as if called by `caller`:
// _PyEval_EvalFrameDefault runs it as an entry frame with a _PyCFrame of ours, linking
// f->previous to the current frame. The frame stays the caller's to clear.
inline PyObject* evaluate(PyThreadState* ts, _PyInterpreterFrame* f, _PyInterpreterFrame* caller,
                          bool raising) {
    _PyInterpreterFrame* saved = ts->cframe->current_frame;
    ts->cframe->current_frame = caller;
    f->previous = caller;
    PyObject* r = _PyEval_EvalFrameDefault(ts, f, raising ? 1 : 0);
    PyThreadState_Get()->cframe->current_frame = saved;
    return r;
}
// Make `f` the thread's current frame (the caller a generator's frame links to when it
// runs).
inline void set_current(PyThreadState* ts, _PyInterpreterFrame* f) noexcept {
    ts->cframe->current_frame = f;
}
// Make a rebuilt frame about to be evaluated run the instruction at `unit` again (a
// FOR_ITER whose generator returned meanwhile: it ends the loop).
inline void rerun_at(_PyInterpreterFrame* f, int unit) noexcept {
    f->prev_instr = _PyCode_CODE(f->f_code) + unit - 1;
}
// Does the eval loop free a frame it evaluated (it returned or raised)? Not on 3.11:
// an entry frame is its caller's to clear.
inline constexpr bool kEvalClears = false;

}  // namespace slpy::cpy::frame

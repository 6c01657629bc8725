// v314/frame_layout.hpp — CPython 3.14's interpreter frames (internal/pycore_interpframe.h)
// for the frame library: as 3.13's (instr_ptr, frames on the thread's data stack that the
// eval loop pops, ts->current_frame), except that
// - localsplus, f_executable and f_funcobj are stack references (_PyStackRef: a pointer
//   whose low bit marks a reference that is not counted; NULL is a word of its own, not
//   zero; an exception handler's lasti is a tagged int, not an object);
// - the stack pointer is a pointer, spilled around every call that can escape the eval
//   loop: a frame inside a call into C keeps its depth before the call (the call's
//   operands are still there), not "unknown";
// - each entry into the eval loop from C pushes an entry frame of its own (owner
//   FRAME_OWNED_BY_INTERPRETER; the version's enters_eval() names them).
#pragma once

#include <opcode.h>

#include <vector>

#include "../version.hpp"  // the compiled version's interface.hpp (3.15 includes this file)

#include SLP_CPY_HEADER(iteration.hpp)  // (3.15's own: the index above what it iterates)

// clang-format off
#include "../internal_headers_begin.hpp"
#include <internal/pycore_ceval.h>  // _PY_EVAL_EVENTS_MASK
#include "../internal_headers_end.hpp"
// clang-format on

namespace slpy::cpy::frame {

// The value stack's bottom, as object pointers (a slot's word is a stack reference: read
// an object from it with slot_object()).
inline PyObject** stack_base(_PyInterpreterFrame* f) noexcept {
    return slots(f) + frame_code(f)->co_nlocalsplus;
}
// Value-stack slots in use (the spilled stack pointer), or -1 if none is spilled.
inline int saved_depth(_PyInterpreterFrame* f) noexcept {
    const int top = stack_top(f);
    return top < 0 ? -1 : top - frame_code(f)->co_nlocalsplus;
}
// Is `f` (the innermost frame) inside a call into C made at a call instruction whose
// operands start at `depth_before`? The eval loop spilled its stack pointer there.
inline bool in_c_call(_PyInterpreterFrame* f, int depth_before) noexcept {
    return saved_depth(f) == depth_before;
}
// Code unit of the instruction running (for line numbers in messages).
inline int last_unit(_PyInterpreterFrame* f) noexcept {
    return static_cast<int>(f->instr_ptr - _PyCode_CODE(frame_code(f)));
}

inline _PyInterpreterFrame* current(PyThreadState* ts) noexcept {
    return ts->current_frame;
}

// An entry frame of the eval loop (on the C stack; only its owner and links are set).
inline bool c_stack_frame(_PyInterpreterFrame* f) noexcept {
    return f->owner == FRAME_OWNED_BY_INTERPRETER;
}
inline bool owned_by_thread(_PyInterpreterFrame* f) noexcept {
    return f->owner == FRAME_OWNED_BY_THREAD;
}
// A Python function's frame (not the interpreter's shim frames, which run a code object of
// their own with no function).
inline bool function_frame(_PyInterpreterFrame* f) noexcept {
    if (PyStackRef_IsNull(f->f_executable) || PyStackRef_IsNull(f->f_funcobj)) return false;
    return PyCode_Check(PyStackRef_AsPyObjectBorrow(f->f_executable)) &&
           PyFunction_Check(PyStackRef_AsPyObjectBorrow(f->f_funcobj));
}
inline bool incomplete(_PyInterpreterFrame* f) noexcept {
    return _PyFrame_IsIncomplete(f);
}
// Did C code call this frame? Then the eval loop put an entry frame of its own between it
// and its caller.
inline bool entered_from_c(_PyInterpreterFrame* f) noexcept {
    return f->previous != nullptr && enters_eval(f->previous);
}
// The Python frame that called `f`, through the C code between them if any.
inline _PyInterpreterFrame* caller(_PyInterpreterFrame* f) noexcept {
    return entered_from_c(f) ? f->previous->previous : f->previous;
}

// The code unit of the call a suspended frame waits in: instr_ptr is the call instruction
// itself, whether it called into C or pushed a Python frame (as on 3.13).
template <class OpAt, class Caches>
int waiting_call(_PyInterpreterFrame* f, bool, OpAt, Caches) {
    return last_unit(f);
}

// Slot `i` of localsplus as a new reference for a snapshot: null (no exception) if the
// slot is empty; an int object for a tagged int (the lasti of an exception handler).
inline PyObject* slot_value(_PyInterpreterFrame* f, int i) {
    const _PyStackRef r = f->localsplus[i];
    if (PyStackRef_IsNull(r)) return nullptr;
    if (PyStackRef_IsTaggedInt(r)) return PyLong_FromSsize_t(PyStackRef_UntagInt(r));
    return Py_NewRef(PyStackRef_AsPyObjectBorrow(r));
}

// Make `f` (memory for `code`) a frame of `func` (reference stolen) running `code`, its
// locals and value stack the `n` references `values` (stolen; null: an empty slot), to
// continue after the call at `call_unit` (of `call_caches` cache units) once the call's
// result is pushed. Until evaluate() runs it, it looks like a frame waiting for a Python
// callee: instr_ptr on the call, return_offset to the instruction after it.
inline void init(_PyInterpreterFrame* f, PyFunctionObject* func, PyCodeObject* code,
                 PyObject* const* values, int n, int call_unit, int call_caches) {
    _PyFrame_Initialize(PyThreadState_Get(), f,
                        PyStackRef_FromPyObjectSteal(reinterpret_cast<PyObject*>(func)), nullptr,
                        code, code->co_nlocalsplus, nullptr);
    for (int i = 0; i < n; ++i)
        f->localsplus[i] =
            values[i] != nullptr ? PyStackRef_FromPyObjectSteal(values[i]) : PyStackRef_NULL;
    f->stackpointer = f->localsplus + n;
    f->instr_ptr = _PyCode_CODE(code) + call_unit;
    f->return_offset = static_cast<uint16_t>(1 + call_caches);
}
// Make a rebuilt frame about to be resumed with an exception unwind from the instruction
// at `unit` (a preemption point: the exception comes from the tick that ran there); the
// eval loop looks for the handler of the unit before instr_ptr (as on 3.13).
inline void raise_at(_PyInterpreterFrame* f, int unit) noexcept {
    f->instr_ptr = _PyCode_CODE(frame_code(f)) + unit + 1;
    f->return_offset = 0;
}
// Does the eval loop save the frame's stack pointer while the eval breaker runs? Yes, as
// around every call that can escape it (a frame whose C callee ran the tick itself then
// has its depth before the call, which the analysis tells apart).
inline constexpr bool kBreakerSavesDepth = true;

// Slot `i` of a frame init() made is one the eval loop reads as a tagged int (an exception
// handler's lasti, which RERAISE reads; 3.15's iteration index): make the int object
// there one (the loader checked its range).
inline void make_tagged_int(_PyInterpreterFrame* f, int i) {
    const _PyStackRef r = f->localsplus[i];
    const Py_ssize_t value = PyLong_AsSsize_t(PyStackRef_AsPyObjectBorrow(r));
    f->localsplus[i] = PyStackRef_TagInt(value);
    PyStackRef_CLOSE(r);
}

// The frame a generator, coroutine or async generator object holds.
inline _PyInterpreterFrame* generator_frame(PyObject* gen) noexcept {
    return &reinterpret_cast<PyGenObject*>(gen)->gi_iframe;
}
// Has a generator in frame state `state` finished (returned, raised, or been closed)?
// (3.15 has no FRAME_COMPLETED: its macro, as 3.14's, says.)
inline bool generator_finished(int state) noexcept {
    return FRAME_STATE_FINISHED(state);
}
// Make the frame of a generator just made from `func`'s code (FRAME_CREATED) wait at
// `unit` (of `caches` cache units), its locals and value stack the `n` references `slots`
// (stolen; null: an empty slot), its function `func` (stolen). What the frame held is
// released last.
inline void set_generator_frame(_PyInterpreterFrame* f, PyFunctionObject* func,
                                PyObject* const* slots, int n, int unit, int caches) {
    std::vector<_PyStackRef> old(f->localsplus, f->stackpointer);
    for (int i = 0; i < n; ++i)
        f->localsplus[i] =
            slots[i] != nullptr ? PyStackRef_FromPyObjectSteal(slots[i]) : PyStackRef_NULL;
    f->stackpointer = f->localsplus + n;
    f->instr_ptr = _PyCode_CODE(frame_code(f)) + unit + 1 + caches;
    f->return_offset = 0;
    const _PyStackRef old_func = f->f_funcobj;
    f->f_funcobj = PyStackRef_FromPyObjectSteal(reinterpret_cast<PyObject*>(func));
    for (const _PyStackRef& r : old) PyStackRef_XCLOSE(r);
    PyStackRef_XCLOSE(old_func);
}

// (visit_word(): counted references only, as CPython's GC visits a frame's.)
inline int traverse(_PyInterpreterFrame* f, visitproc visit, void* arg) {
    Py_VISIT(f->frame_obj);
    Py_VISIT(f->f_locals);
    if (int r = visit_word(func_word(f), visit, arg)) return r;
    if (int r = visit_word(code_word(f), visit, arg)) return r;
    for (PyObject** p = slots(f); p < reinterpret_cast<PyObject**>(f->stackpointer); ++p)
        if (int r = visit_word(*p, visit, arg)) return r;
    return 0;
}
inline void drop_references(_PyInterpreterFrame* f) {
    for (_PyStackRef* p = f->localsplus; p < f->stackpointer; ++p) PyStackRef_XCLOSE(*p);
    Py_XDECREF(f->f_locals);
    PyStackRef_XCLOSE(f->f_funcobj);
    PyStackRef_XCLOSE(f->f_executable);
}
inline size_t used_bytes(_PyInterpreterFrame* f) noexcept {
    return static_cast<size_t>(reinterpret_cast<char*>(f->stackpointer) -
                               reinterpret_cast<char*>(f));
}
inline size_t frame_slots(PyCodeObject* code) noexcept {
    return static_cast<size_t>(code->co_framesize);
}

inline void push_result(_PyInterpreterFrame* f, PyObject* value) noexcept {
    *f->stackpointer++ = PyStackRef_FromPyObjectSteal(value);
}
// Take the top value off a suspended frame's stack (a new reference; an object there).
inline PyObject* take_top(_PyInterpreterFrame* f) noexcept {
    return PyStackRef_AsPyObjectSteal(*--f->stackpointer);
}
// Put `o` (stolen) in the stack slot `k` under a suspended frame's top (1: the top).
inline void replace_under_top(_PyInterpreterFrame* f, int k, PyObject* o) noexcept {
    const _PyStackRef old = f->stackpointer[-k];
    f->stackpointer[-k] = PyStackRef_FromPyObjectSteal(o);
    PyStackRef_XCLOSE(old);
}

}  // namespace slpy::cpy::frame

// Where a generator's frame waits, and placing rebuilt frames on the data stack and
// running them: as on every version since 3.12.
#include "../data_stack_frames.hpp"
#include "../generator_sites_312.hpp"

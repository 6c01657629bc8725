// frame.hpp (CPython 3.14) — the fields of an interpreter frame the module's state code
// reads and writes. 3.14 holds the code object and the function as stack references
// (_PyStackRef: a pointer whose low bit marks a reference that is not counted), marks
// where the frame is by the instruction running (instr_ptr, not the last one started)
// and enters the eval loop through an entry frame of its own (owner
// FRAME_OWNED_BY_INTERPRETER) instead of an is_entry mark on the first frame.
#pragma once

#include <cstdint>

#include "headers.hpp"

namespace slpy::cpy {

inline PyCodeObject* frame_code(const _PyInterpreterFrame* f) noexcept {
    return reinterpret_cast<PyCodeObject*>(PyStackRef_AsPyObjectBorrow(f->f_executable));
}
inline PyFunctionObject* frame_func(const _PyInterpreterFrame* f) noexcept {
    return reinterpret_cast<PyFunctionObject*>(PyStackRef_AsPyObjectBorrow(f->f_funcobj));
}
// The value stack's top, as an index into localsplus (-1: not known). 3.14 keeps a
// pointer, spilled around every call that can escape the eval loop.
inline int stack_top(const _PyInterpreterFrame* f) noexcept {
    return f->stackpointer != nullptr ? static_cast<int>(f->stackpointer - f->localsplus) : -1;
}
// A frame was moved `delta` bytes (with its slots): its stack pointer, which points into
// it, moves with it (the eval loop reloads it when the frame's call returns).
inline void frame_moved(_PyInterpreterFrame* f, ptrdiff_t delta) noexcept {
    if (f->stackpointer != nullptr)
        f->stackpointer =
            reinterpret_cast<_PyStackRef*>(reinterpret_cast<char*>(f->stackpointer) + delta);
}
// localsplus (locals, cells, free variables, value stack): stack references, each the
// size of an object pointer (its low bit marks a reference that is not counted, which the
// module copies as it is, never reads as a pointer).
inline PyObject** slots(_PyInterpreterFrame* f) noexcept {
    return reinterpret_cast<PyObject**>(f->localsplus);
}
// The frame's function and code as words of the frame (stack references, read with
// slot_object(); a packed frame keeps them as they are, counted or not).
inline PyObject* func_word(const _PyInterpreterFrame* f) noexcept {
    return reinterpret_cast<PyObject*>(f->f_funcobj.bits);
}
inline PyObject* code_word(const _PyInterpreterFrame* f) noexcept {
    return reinterpret_cast<PyObject*>(f->f_executable.bits);
}
// The object a word of a frame (a slot, its function, its code; or one copied out of a
// frame) refers to. (Not for a tagged int: visit_word() tells them apart.)
inline PyObject* slot_object(PyObject* word) noexcept {
    return PyStackRef_AsPyObjectBorrow(_PyStackRef{reinterpret_cast<uintptr_t>(word)});
}
// The GC's visit of such a word, as CPython visits a frame's (_PyGC_VisitStackRef, not
// exported): only a counted reference. A tagged int (an exception handler's lasti) is no
// object; a reference without its count (LOAD_FAST_BORROW's borrow of a local, an
// immortal, NULL) must not be subtracted from the object's count, which it never added
// to — the GC would find the object unreachable and free it while the borrowing frame
// still uses it — and what it borrows from, a local of the same frame or of one further
// out, is visited as the counted reference it is.
inline int visit_word(PyObject* word, visitproc visit, void* arg) {
    const _PyStackRef ref{reinterpret_cast<uintptr_t>(word)};
    if (!PyStackRef_RefcountOnObject(ref)) return 0;
    Py_VISIT(PyStackRef_AsPyObjectBorrow(ref));
    return 0;
}

// What a packed frame keeps of the fields that cannot be derived from its function and
// code: where it is in its code, and where it resumes when its Python callee returns
// (there is no entry mark: entries are frames of their own, which a packed chain never
// holds).
struct frame_position {
    int32_t instr;   // instr_ptr - _PyCode_CODE(code)
    uint16_t extra;  // return_offset
};
inline frame_position position_of(const _PyInterpreterFrame* f) noexcept {
    return {static_cast<int32_t>(f->instr_ptr - _PyCode_CODE(frame_code(f))), f->return_offset};
}
// Fill the fields of a frame that a packed one derives, in `f`'s memory: function and
// code (the words func_word() and code_word() read, counted or not as they were),
// globals and builtins (the function's), position, the value stack's top (-1: unknown,
// the frame is in a call); no locals dict, no frame object, owned by the thread.
inline void init_unpacked(_PyInterpreterFrame* f, PyObject* func_word, PyObject* code_word,
                          frame_position pos, int stacktop) noexcept {
    auto* func = reinterpret_cast<PyFunctionObject*>(slot_object(func_word));
    auto* code = reinterpret_cast<PyCodeObject*>(slot_object(code_word));
    f->f_funcobj = _PyStackRef{reinterpret_cast<uintptr_t>(func_word)};
    f->f_globals = func->func_globals;
    f->f_builtins = func->func_builtins;
    f->f_locals = nullptr;
    f->f_executable = _PyStackRef{reinterpret_cast<uintptr_t>(code_word)};
    f->frame_obj = nullptr;
    f->instr_ptr = _PyCode_CODE(code) + pos.instr;
    f->stackpointer = stacktop >= 0 ? f->localsplus + stacktop : nullptr;
    f->return_offset = pos.extra;
    f->owner = FRAME_OWNED_BY_THREAD;
    f->visited = 0;
}

}  // namespace slpy::cpy

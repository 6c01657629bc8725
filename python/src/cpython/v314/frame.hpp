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
// What a packed frame keeps of the fields that cannot be derived from its function and
// code: where it is in its code, and where it resumes when its Python callee returns
// (entries are frames of their own, which a packed chain never holds).
struct frame_position {
    int32_t instr;   // instr_ptr - _PyCode_CODE(code)
    uint16_t extra;  // return_offset
};
inline frame_position position_of(const _PyInterpreterFrame* f) noexcept {
    return {static_cast<int32_t>(f->instr_ptr - _PyCode_CODE(frame_code(f))), f->return_offset};
}
// Fill the fields of a frame that a packed one derives, in `f`'s memory: function, code
// (counted references: the packed frame holds the frame's; one to an immortal object was
// not counted, and counting it back changes nothing, as an immortal's count never does),
// globals and builtins (the function's), position, the value stack's top (-1: unknown,
// the frame is in a call); no locals dict, no frame object, owned by the thread.
inline void init_unpacked(_PyInterpreterFrame* f, PyFunctionObject* func, PyCodeObject* code,
                          frame_position pos, int stacktop) noexcept {
    f->f_funcobj = PyStackRef_FromPyObjectSteal(reinterpret_cast<PyObject*>(func));
    f->f_globals = func->func_globals;
    f->f_builtins = func->func_builtins;
    f->f_locals = nullptr;
    f->f_executable = PyStackRef_FromPyObjectSteal(reinterpret_cast<PyObject*>(code));
    f->frame_obj = nullptr;
    f->instr_ptr = _PyCode_CODE(code) + pos.instr;
    f->stackpointer = stacktop >= 0 ? f->localsplus + stacktop : nullptr;
    f->return_offset = pos.extra;
    f->owner = FRAME_OWNED_BY_THREAD;
    f->visited = 0;
}

}  // namespace slpy::cpy

// frame.hpp (CPython 3.13) — the fields of an interpreter frame the module's state code
// reads and writes (the GC walk, the nesting level, packing a blocked tasklet's frames).
// 3.13 renamed f_code (f_executable: the code object, None in an entry frame) and
// f_func (f_funcobj), replaced prev_instr by instr_ptr (the instruction running or
// next, gh-109094) with return_offset, and marks each entry into the eval loop with an
// entry frame on the C stack (owner FRAME_OWNED_BY_CSTACK) instead of is_entry.
#pragma once

#include <cstdint>

#include "../object_slots.hpp"
#include "headers.hpp"

namespace slpy::cpy {

// (Frames owned by the thread, a generator or a frame object: not entry frames.)
inline PyCodeObject* frame_code(const _PyInterpreterFrame* f) noexcept {
    return reinterpret_cast<PyCodeObject*>(f->f_executable);
}
inline PyFunctionObject* frame_func(const _PyInterpreterFrame* f) noexcept {
    return reinterpret_cast<PyFunctionObject*>(f->f_funcobj);
}
// The frame's function and code as words of the frame (slot_object() reads them; a packed
// frame keeps them as they are).
inline PyObject* func_word(const _PyInterpreterFrame* f) noexcept {
    return f->f_funcobj;
}
inline PyObject* code_word(const _PyInterpreterFrame* f) noexcept {
    return f->f_executable;
}
// Is this the entry frame of one entry into the eval loop from C (each such entry is one
// level of Stackless's nesting_level)?
inline bool enters_eval(const _PyInterpreterFrame* f) noexcept {
    return f->owner == FRAME_OWNED_BY_CSTACK;
}

// What a packed frame keeps of the fields that cannot be derived from its function and
// code: where it is in its code, and where it resumes when its Python callee returns.
struct frame_position {
    int32_t instr;   // instr_ptr - _PyCode_CODE(code)
    uint16_t extra;  // return_offset
};
inline frame_position position_of(const _PyInterpreterFrame* f) noexcept {
    return {static_cast<int32_t>(f->instr_ptr - _PyCode_CODE(frame_code(f))), f->return_offset};
}
// Fill the fields of a frame that a packed one derives, in `f`'s memory: function and
// code (their words as func_word() and code_word() read them), globals and builtins (the
// function's), position; no locals dict, no frame object, owned by the thread.
inline void init_unpacked(_PyInterpreterFrame* f, PyObject* func_word, PyObject* code_word,
                          frame_position pos, int stacktop) noexcept {
    auto* func = reinterpret_cast<PyFunctionObject*>(func_word);
    auto* code = reinterpret_cast<PyCodeObject*>(code_word);
    f->f_executable = code_word;
    f->f_funcobj = func_word;
    f->f_globals = func->func_globals;
    f->f_builtins = func->func_builtins;
    f->f_locals = nullptr;
    f->frame_obj = nullptr;
    f->instr_ptr = _PyCode_CODE(code) + pos.instr;
    f->stacktop = stacktop;
    f->return_offset = pos.extra;
    f->owner = FRAME_OWNED_BY_THREAD;
}

}  // namespace slpy::cpy

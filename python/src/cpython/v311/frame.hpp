// frame.hpp (CPython 3.11) — the fields of an interpreter frame the module's state code
// reads and writes (the GC walk, the nesting level, packing a blocked tasklet's frames).
#pragma once

#include <cstdint>

#include "../object_slots.hpp"
#include "headers.hpp"

namespace slpy::cpy {

inline PyCodeObject* frame_code(const _PyInterpreterFrame* f) noexcept {
    return f->f_code;
}
inline PyFunctionObject* frame_func(const _PyInterpreterFrame* f) noexcept {
    return f->f_func;
}
// The frame's function and code as words of the frame (slot_object() reads them; a packed
// frame keeps them as they are).
inline PyObject* func_word(const _PyInterpreterFrame* f) noexcept {
    return reinterpret_cast<PyObject*>(f->f_func);
}
inline PyObject* code_word(const _PyInterpreterFrame* f) noexcept {
    return reinterpret_cast<PyObject*>(f->f_code);
}
// Did this frame's evaluation enter the eval loop from C (each such entry is one level
// of Stackless's nesting_level)? 3.11 marks the first frame of each entry.
inline bool enters_eval(const _PyInterpreterFrame* f) noexcept {
    return f->is_entry;
}

// What a packed frame keeps of the fields that cannot be derived from its function and
// code: where it is in its code, and the entry mark.
struct frame_position {
    int32_t instr;   // prev_instr - _PyCode_CODE(code) (-1: not started)
    uint16_t extra;  // is_entry
};
inline frame_position position_of(const _PyInterpreterFrame* f) noexcept {
    return {static_cast<int32_t>(f->prev_instr - _PyCode_CODE(f->f_code)),
            static_cast<uint16_t>(f->is_entry ? 1 : 0)};
}
// Fill the fields of a frame that a packed one derives, in `f`'s memory: function and
// code (their words as func_word() and code_word() read them), globals and builtins (the
// function's), position; no locals dict, no frame object, owned by the thread.
inline void init_unpacked(_PyInterpreterFrame* f, PyObject* func_word, PyObject* code_word,
                          frame_position pos, int stacktop) noexcept {
    auto* func = reinterpret_cast<PyFunctionObject*>(func_word);
    auto* code = reinterpret_cast<PyCodeObject*>(code_word);
    f->f_func = func;
    f->f_globals = func->func_globals;
    f->f_builtins = func->func_builtins;
    f->f_locals = nullptr;
    f->f_code = code;
    f->frame_obj = nullptr;
    f->prev_instr = _PyCode_CODE(code) + pos.instr;
    f->stacktop = stacktop;
    f->is_entry = pos.extra != 0;
    f->owner = FRAME_OWNED_BY_THREAD;
}

}  // namespace slpy::cpy

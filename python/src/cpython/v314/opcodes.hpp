// v314/opcodes.hpp — CPython 3.14's opcode facts for the frame library
// (../../frames/bytecode.hpp), as 3.13's (v313/opcodes.hpp says how they are made) with
// 3.14's tables and bytecode: a subscript is a BINARY_OP (NB_SUBSCR), which pushes a
// class's Python __getitem__ frame itself; CALL_FUNCTION_EX always has a **kwargs slot
// (NULL when there are none); `with` loads __enter__ and __exit__ with LOAD_SPECIAL (the
// method and its self, or NULL) and calls them with CALL; WITH_EXCEPT_START leaves five
// operands (the __exit__ method, its self, lasti, the previous exception, the exception);
// POP_TOP accepts NULL; LOAD_FAST_BORROW* read locals unchecked (read off Python/bytecodes.c
// of 3.14). Included once, by frames/bytecode.cpp; 3.15 includes it too: its iteration
// keeps an index (or NULL) above what FOR_ITER and SEND iterate (kIterationIndex,
// iteration.hpp), which their stack effects and requirements say.
#pragma once

#include <opcode.h>

#include "../../frames/bytecode.hpp"
#include "frame_layout.hpp"

#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wpedantic"
#pragma GCC diagnostic ignored "-Wconversion"
#include <internal/pycore_intrinsics.h>
#include <internal/pycore_opcode_metadata.h>
#pragma GCC diagnostic pop

#include "../opcodes_312.hpp"

namespace slpy::frames {

Flow flow(int op) noexcept {
    switch (op) {
        case POP_JUMP_IF_FALSE:
        case POP_JUMP_IF_TRUE:
        case POP_JUMP_IF_NONE:
        case POP_JUMP_IF_NOT_NONE:
        case FOR_ITER:
            return Flow::kJumpForward;
        case SEND:  // jumps to END_SEND's successor when the delegate returned
            return Flow::kJumpForward;
        case END_ASYNC_FOR:  // (a jump by 0, for monitoring's branch events)
            return Flow::kNext;
        case JUMP_FORWARD:
            return Flow::kGotoForward;
        case JUMP_BACKWARD:
        case JUMP_BACKWARD_NO_INTERRUPT:
            return Flow::kGotoBackward;
        case RETURN_VALUE:
        case RAISE_VARARGS:
        case RERAISE:
            return Flow::kStop;
        // Module and class bodies: never in a restorable frame (the loader refuses such
        // code before analysing it); and what the eval loop alone runs.
        case SETUP_ANNOTATIONS:
        case STORE_NAME:
        case DELETE_NAME:
        case LOAD_NAME:
        case LOAD_LOCALS:
        case LOAD_FROM_DICT_OR_GLOBALS:
        case LOAD_FROM_DICT_OR_DEREF:
        case INTERPRETER_EXIT:
        case ENTER_EXECUTOR:
        case EXIT_INIT_CHECK:
        case CACHE:
        case RESERVED:
            return Flow::kUnsupported;
        default:
            break;
    }
    if (!generic(op)) return Flow::kUnsupported;
    // Every other jump of 3.14's tables is named above: a new one is not understood.
    if (_PyOpcode_opcode_metadata[op].flags & HAS_JUMP_FLAG) return Flow::kUnsupported;
    return Flow::kNext;
}

namespace {

// 3.15 keeps an index (or NULL) above what FOR_ITER and SEND iterate (iteration.hpp).
constexpr bool kIndex = slpy::cpy::frame::kIterationIndex;

// Operands the instruction leaves where they are, which 3.14's tables count as popped
// and pushed again (bytecodes.c's `unused` and same-named inputs and outputs). The
// analysis needs them out: they keep their requirements from later instructions, and
// only what is really consumed must not be NULL.
int left_in_place(int op, int arg) noexcept {
    switch (op) {
        case COPY:  // (bottom, unused[oparg-1] -- bottom, unused[oparg-1], top)
        case SWAP:
        case LIST_APPEND:  // (list, unused[oparg-1], v -- list, unused[oparg-1])
        case LIST_EXTEND:
        case SET_ADD:
        case SET_UPDATE:
        case DICT_UPDATE:
        case MAP_ADD:  // (dict, unused[oparg-1], key, value -- dict, unused[oparg-1])
        case RERAISE:  // (values[oparg], exc -- values[oparg])
            return arg;
        case DICT_MERGE:  // (callable, unused, unused, dict, unused[oparg-1], update -- ...)
            return arg + 3;
        case WITH_EXCEPT_START:  // (exit_func, exit_self, lasti, unused, val -- ..., res)
            return 5;
        case MATCH_KEYS:  // (subject, keys -- subject, keys, values_or_none)
            return 2;
        case FOR_ITER:  // (iter -- iter, next); 3.15: (iter, null_or_index -- ..., next)
            return kIndex ? 2 : 1;
        case SEND:  // (receiver, v -- receiver, retval); 3.15: (receiver, null_or_index, v -- ...)
            return kIndex ? 2 : 1;
        case GET_LEN:  // (obj -- obj, len)
        case MATCH_MAPPING:
        case MATCH_SEQUENCE:
        case CHECK_EXC_MATCH:  // (left, right -- left, b)
        case IMPORT_FROM:      // (from -- from, res)
        case GET_ANEXT:        // (aiter -- aiter, awaitable)
            return 1;
        default:
            return 0;
    }
}

}  // namespace

StackEffect stack_effect(int op, int arg, bool) noexcept {
    if (flow(op) == Flow::kUnsupported) return {-1, -1};
    const int kept = left_in_place(op, arg);
    return {_PyOpcode_num_popped(op, arg) - kept, _PyOpcode_num_pushed(op, arg) - kept};
}

int operand_requirements(int op, int arg, OperandReq (&out)[kMaxOperandReqs]) noexcept {
    int n = 0;
    auto add = [&](int peek, uint16_t mask) { out[n++] = OperandReq{peek, mask}; };
    if (shared_requirements(op, arg, add)) return n;
    switch (op) {
        case FOR_ITER:
            if (kIndex) {
                add(1, kReqSeqIndex);  // (an int, or NULL: what the slot below must be)
                add(2, kReqNonNull);
            } else {
                add(1, kReqIter | kReqNonNull);
            }
            break;
        case SEND:
            if (kIndex) {
                add(2, kReqSendIndex);  // (an int, or NULL: what the receiver must be)
                add(3, kReqNonNull);
            }
            break;
        case WITH_EXCEPT_START:
            add(1, kReqExc | kReqNonNull);
            add(3, kReqLasti | kReqNonNull);  // (a tagged int: RERAISE's)
            add(5, kReqNonNull);              // __exit__
            break;
        case CALL_FUNCTION_EX:
            add(1, kReqDict);  // **kwargs: a dict by then, or NULL
            break;
        case END_ASYNC_FOR:  // (awaitable, exc -- )
        case CLEANUP_THROW:  // (sub_iter, last_sent_val, exc_value -- none, value)
            add(1, kReqExc | kReqNonNull);
            break;
        default:
            break;
    }
    return n;
}

bool nullable_operand(int op, int arg, int peek) noexcept {
    // The self-or-NULL slot above the callable; CALL_FUNCTION_EX's kwargs when there are
    // none; POP_TOP drops NULL too (LOAD_SPECIAL's self-or-NULL, left from a `with`).
    if (op == CALL) return peek == arg + 1;
    if (op == CALL_KW) return peek == arg + 2;
    if (op == CALL_FUNCTION_EX) return peek == 3 || peek == 1;
    if (kIndex && op == POP_ITER) return peek == 1;  // the index, or NULL
    // (receiver, index_or_null, value -- val); (sub_iter, null_or_index, last_sent_val,
    // exc_value -- none, null_or_index, value)
    if (kIndex && op == END_SEND) return peek == 2;
    if (kIndex && op == CLEANUP_THROW) return peek == 3;
    return op == POP_TOP && peek == 1;
}

bool calls_python(int op) noexcept {
    // The eval loop pushes the callee's frame itself (no entry frame) for all four when
    // the callee is a plain Python function (BINARY_OP: a class's __getitem__, for
    // NB_SUBSCR; no other BINARY_OP pushes a frame, so no frame can wait in one).
    return op == CALL || op == CALL_KW || op == CALL_FUNCTION_EX || op == BINARY_OP;
}

bool calls_c(int op) noexcept {
    return op == CALL || op == CALL_KW || op == CALL_FUNCTION_EX;
}

bool suspends(int op) noexcept {
    // As on 3.13: a generator's frame waits after its RETURN_GENERATOR until first
    // resumed, then after each YIELD_VALUE.
    return op == YIELD_VALUE || op == RETURN_GENERATOR;
}

_object* callee(int op, int arg, _object* const* stack, int depth) noexcept {
    // (The value stack's words are stack references.)
    if (op == CALL) return slpy::cpy::slot_object(stack[depth - arg - 2]);
    if (op == CALL_KW) return slpy::cpy::slot_object(stack[depth - arg - 3]);
    if (op == CALL_FUNCTION_EX) return slpy::cpy::slot_object(stack[depth - 4]);
    return nullptr;
}

bool calls_through_c(int op) noexcept {
    // CALL, CALL_KW and CALL_FUNCTION_EX push a plain Python function's frame themselves
    // (CALL a bound method's too); other callables go through C: an object with a Python
    // __call__, a bound method in CALL_FUNCTION_EX. WITH_EXCEPT_START calls __exit__
    // (with its self, when LOAD_SPECIAL found a method). A `with`'s __enter__ and normal
    // __exit__ are CALLs since 3.14.
    return op == CALL || op == CALL_KW || op == CALL_FUNCTION_EX || op == WITH_EXCEPT_START;
}

bool c_call(int op, int arg, _object* const* stack, int depth, CCall& out) noexcept {
    out = CCall{};
    switch (op) {
        case CALL:
            if (depth < arg + 2) return false;
            break;
        case CALL_KW:
            if (depth < arg + 3) return false;
            break;
        case CALL_FUNCTION_EX:
            if (depth < 4) return false;
            break;
        case WITH_EXCEPT_START:  // (exit_func, exit_self, lasti, unused, val -- ..., res)
            if (depth < 5) return false;
            out.callable = slpy::cpy::slot_object(stack[depth - 5]);
            return out.callable != nullptr;
        default:
            return false;
    }
    out.callable = callee(op, arg, stack, depth);
    // CALL and CALL_KW pass their arguments with the callable's slot free below them.
    out.lent_slot = op != CALL_FUNCTION_EX;
    return out.callable != nullptr;
}

const char* special_under_result(int) noexcept {
    // None: a `with` loads __enter__ and __exit__ into slots of their own (LOAD_SPECIAL).
    return nullptr;
}

AfterBreaker after_breaker(int op) noexcept {
    // The instructions with HAS_EVAL_BREAK_FLAG in 3.14's tables (CALL_KW has none since
    // 3.14): the calls check once their result is pushed, JUMP_BACKWARD before it jumps,
    // RESUME at function entry.
    switch (op) {
        case JUMP_BACKWARD:
            return AfterBreaker::kJump;
        case RESUME:
        case CALL:
        case CALL_FUNCTION_EX:
            return AfterBreaker::kNext;
        default:
            return AfterBreaker::kNone;
    }
}

LocalAccess local_access(int op, int arg) noexcept {
    LocalAccess a;
    switch (op) {
        case LOAD_FAST:  // LOAD_FAST_CHECK and DELETE_FAST check; MAKE_CELL accepts NULL
        case LOAD_FAST_BORROW:
            a.reads[a.nreads++] = arg;
            break;
        case LOAD_FAST_LOAD_FAST:
        case LOAD_FAST_BORROW_LOAD_FAST_BORROW:
            a.reads[a.nreads++] = arg >> 4;
            a.reads[a.nreads++] = arg & 15;
            break;
        case STORE_FAST_LOAD_FAST:
            a.writes[a.nwrites++] = arg >> 4;
            a.reads[a.nreads++] = arg & 15;
            a.writes_first = true;
            break;
        case STORE_FAST_STORE_FAST:
            a.writes[a.nwrites++] = arg >> 4;
            a.writes[a.nwrites++] = arg & 15;
            break;
        case STORE_FAST:
        case DELETE_FAST:
        case LOAD_FAST_AND_CLEAR:
            a.writes[a.nwrites++] = arg;
            break;
        default:
            break;
    }
    return a;
}

}  // namespace slpy::frames

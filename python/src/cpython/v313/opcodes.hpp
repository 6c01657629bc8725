// v313/opcodes.hpp — CPython 3.13's opcode facts for the frame library
// (../../frames/bytecode.hpp). The numbers, cache sizes, stack effects and jump flags are
// 3.13's own tables (internal/pycore_opcode_metadata.h, compiled by ../opcode_metadata.c).
// Since 3.12 the compiler's stack effects are the eval loop's (both come from
// Python/bytecodes.c), and a jump moves the stack as the fall-through does (FOR_ITER's
// exhausted edge skips END_FOR and POP_TOP at run time, which the compiler's edge to
// END_FOR reaches at the same depth). What is written here: which opcodes a restorable
// frame never runs, the control flow, the calls, and the operand types the eval loop
// uses unchecked (read off Python/bytecodes.c of 3.13). Included once, by
// frames/bytecode.cpp.
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
        case SEND:  // jumps to END_SEND's successor when the delegate returned
            return Flow::kJumpForward;
        case JUMP_FORWARD:
            return Flow::kGotoForward;
        case JUMP_BACKWARD:
        case JUMP_BACKWARD_NO_INTERRUPT:
            return Flow::kGotoBackward;
        case RETURN_VALUE:
        case RETURN_CONST:
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
    // Every other jump of 3.13's tables is named above: a new one is not understood.
    if (_PyOpcode_opcode_metadata[op].flags & HAS_JUMP_FLAG) return Flow::kUnsupported;
    return Flow::kNext;
}

namespace {

// Operands the instruction leaves where they are, which 3.13's tables count as popped
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
        case WITH_EXCEPT_START:  // (exit_func, lasti, unused, val -- ..., res)
            return 4;
        case MATCH_KEYS:  // (subject, keys -- subject, keys, values_or_none)
            return 2;
        case GET_LEN:  // (obj -- obj, len)
        case MATCH_MAPPING:
        case MATCH_SEQUENCE:
        case CHECK_EXC_MATCH:  // (left, right -- left, b)
        case FOR_ITER:         // (iter -- iter, next)
        case IMPORT_FROM:      // (from -- from, res)
        case SEND:             // (receiver, v -- receiver, retval)
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
            add(1, kReqIter | kReqNonNull);
            break;
        case WITH_EXCEPT_START:
            add(1, kReqExc | kReqNonNull);
            add(4, kReqNonNull);  // __exit__
            break;
        case END_ASYNC_FOR:  // (awaitable, exc -- )
        case CLEANUP_THROW:  // (sub_iter, last_sent_val, exc_value -- none, value)
            add(1, kReqExc | kReqNonNull);
            break;
        case BUILD_CONST_KEY_MAP:
            add(1, kReqTuple | kReqNonNull);
            break;
        case CALL_FUNCTION_EX:
            if (arg & 1) add(1, kReqDict | kReqNonNull);  // **kwargs, a dict by then
            break;
        default:
            break;
    }
    return n;
}

bool nullable_operand(int op, int arg, int peek) noexcept {
    // The self-or-NULL slot above the callable (3.13 pushes the NULL after it).
    if (op == CALL) return peek == arg + 1;
    if (op == CALL_KW) return peek == arg + 2;
    if (op == CALL_FUNCTION_EX) return peek == 2 + (arg & 1);
    return false;
}

bool calls_python(int op) noexcept {
    // The eval loop pushes the callee's frame itself (no entry frame) for all four when
    // the callee is a plain Python function (BINARY_SUBSCR: a class's __getitem__).
    return op == CALL || op == CALL_KW || op == CALL_FUNCTION_EX || op == BINARY_SUBSCR;
}

bool calls_c(int op) noexcept {
    return op == CALL || op == CALL_KW || op == CALL_FUNCTION_EX;
}

bool suspends(int op) noexcept {
    // A generator's frame waits after its RETURN_GENERATOR until first resumed, then
    // after each YIELD_VALUE (instr_ptr on the instruction that follows).
    return op == YIELD_VALUE || op == RETURN_GENERATOR;
}

_object* callee(int op, int arg, _object* const* stack, int depth) noexcept {
    if (op == CALL) return stack[depth - arg - 2];
    if (op == CALL_KW) return stack[depth - arg - 3];
    if (op == CALL_FUNCTION_EX) return stack[depth - 3 - (arg & 1)];
    return nullptr;
}

bool calls_through_c(int op) noexcept {
    // CALL, CALL_KW and CALL_FUNCTION_EX push a plain Python function's frame themselves
    // (CALL a bound method's too); other callables go through C: an object with a Python
    // __call__, a bound method in CALL_FUNCTION_EX. BEFORE_WITH calls __enter__,
    // WITH_EXCEPT_START __exit__.
    return op == CALL || op == CALL_KW || op == CALL_FUNCTION_EX || op == BEFORE_WITH ||
           op == WITH_EXCEPT_START;
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
            if (depth < 3 + (arg & 1)) return false;
            break;
        case WITH_EXCEPT_START:  // (exit_func, lasti, unused, val -- ..., res)
            if (depth < 4) return false;
            out.callable = stack[depth - 4];
            return out.callable != nullptr;
        case BEFORE_WITH:
            // (mgr -- exit, res): __enter__ runs with __exit__ in a C local and the
            // manager's slot still holding the manager, whose reference the instruction
            // has already given up: only the callee's self keeps it alive.
            if (depth < 1 || stack[depth - 1] == nullptr) return false;
            out.special_self = stack[depth - 1];
            out.special = "__enter__";
            out.self_is_callees = true;
            return true;
        default:
            return false;
    }
    out.callable = callee(op, arg, stack, depth);
    // CALL and CALL_KW pass their arguments with the callable's slot free below them.
    out.lent_slot = op != CALL_FUNCTION_EX;
    return out.callable != nullptr;
}

const char* special_under_result(int op) noexcept {
    return op == BEFORE_WITH ? "__exit__" : nullptr;
}

AfterBreaker after_breaker(int op) noexcept {
    // Of the instructions with HAS_EVAL_BREAK_FLAG in 3.13's tables, those that call
    // nothing else: JUMP_BACKWARD (it jumps on) and RESUME at function entry. The calls
    // check too, once their result is pushed, but the frame looks the same then as inside
    // the call (the stack pointer is not saved for the eval breaker either).
    switch (op) {
        case JUMP_BACKWARD:
            return AfterBreaker::kJump;
        case RESUME:
            return AfterBreaker::kNext;
        default:
            return AfterBreaker::kNone;
    }
}

LocalAccess local_access(int op, int arg) noexcept {
    LocalAccess a;
    switch (op) {
        case LOAD_FAST:  // LOAD_FAST_CHECK and DELETE_FAST check; MAKE_CELL accepts NULL
            a.reads[a.nreads++] = arg;
            break;
        case LOAD_FAST_LOAD_FAST:
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

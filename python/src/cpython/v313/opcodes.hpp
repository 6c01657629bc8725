// v313/opcodes.hpp — CPython 3.13's opcode facts for the frame library
// (../../frames/bytecode.hpp). The numbers, cache sizes, stack effects and jump flags are
// 3.13's own tables (internal/pycore_opcode_metadata.h, compiled by ../opcode_metadata.c).
// Since 3.12 the compiler's stack effects are the eval loop's (both come from
// Python/bytecodes.c), and a jump moves the stack as the fall-through does (FOR_ITER's
// exhausted edge skips END_FOR and POP_TOP at run time, which the compiler's edge to
// END_FOR reaches at the same depth). What every version since 3.12 shares (which
// opcodes a restorable frame never runs, the control flow, the calls, most operand types
// the eval loop uses unchecked) is in ../opcodes_312.hpp; what is written here is 3.13's
// own (read off Python/bytecodes.c of 3.13). Included once, by frames/bytecode.cpp.
#pragma once

#include "../opcodes_312.hpp"  // (with the version's tables and frame layout)

namespace slpy::frames {

Flow flow(int op) noexcept {
    return op == RETURN_CONST ? Flow::kStop : shared_flow(op);
}

namespace {

int left_in_place(int op, int arg) noexcept {
    switch (op) {
        case WITH_EXCEPT_START:  // (exit_func, lasti, unused, val -- ..., res)
            return 4;
        case FOR_ITER:  // (iter -- iter, next)
        case SEND:      // (receiver, v -- receiver, retval)
            return 1;
        default:
            return shared_left_in_place(op, arg);
    }
}

}  // namespace

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

SpecialCall special_call(int op) noexcept {
    // BEFORE_WITH (mgr -- exit, res) looks __enter__ and __exit__ up, drops the manager's
    // reference and calls __enter__ with __exit__ in a C local: the manager's slot holds
    // the manager, alive only as long as something else (the bound __enter__) holds it.
    if (op == BEFORE_WITH) return {"__enter__", "__exit__"};
    return {};
}

LocalAccess local_access(int op, int arg) noexcept {
    return shared_local_access(op, arg);
}

}  // namespace slpy::frames

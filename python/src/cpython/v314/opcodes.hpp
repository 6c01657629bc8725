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

#include "../opcodes_312.hpp"  // (with the version's tables and frame layout)

namespace slpy::frames {

Flow flow(int op) noexcept {
    // END_ASYNC_FOR is a jump by 0 since 3.14, for monitoring's branch events: it falls
    // through.
    return op == END_ASYNC_FOR ? Flow::kNext : shared_flow(op);
}

namespace {

// 3.15 keeps an index (or NULL) above what FOR_ITER and SEND iterate (iteration.hpp).
constexpr bool kIndex = slpy::cpy::frame::kIterationIndex;

int left_in_place(int op, int arg) noexcept {
    switch (op) {
        case WITH_EXCEPT_START:  // (exit_func, exit_self, lasti, unused, val -- ..., res)
            return 5;
        case FOR_ITER:  // (iter -- iter, next); 3.15: (iter, null_or_index -- ..., next)
        case SEND:  // (receiver, v -- receiver, retval); 3.15: (receiver, null_or_index, v -- ...)
            return kIndex ? 2 : 1;
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

SpecialCall special_call(int) noexcept {
    // None: a `with` loads __enter__ and __exit__ into slots of their own (LOAD_SPECIAL)
    // and calls them with CALL.
    return {};
}

LocalAccess local_access(int op, int arg) noexcept {
    // LOAD_FAST_BORROW* read as LOAD_FAST* do (a reference without its count).
    if (op == LOAD_FAST_BORROW) op = LOAD_FAST;
    if (op == LOAD_FAST_BORROW_LOAD_FAST_BORROW) op = LOAD_FAST_LOAD_FAST;
    return shared_local_access(op, arg);
}

}  // namespace slpy::frames

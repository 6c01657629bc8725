// v311/opcodes.hpp — CPython 3.11's opcode facts for the frame library
// (../../frames/bytecode.hpp), read off Python/ceval.c of 3.11 (what each TARGET pops and
// pushes at run time) and checked against dis.stack_effect by the tests. Opcode numbers
// are <opcode.h>'s names. Included once, by frames/bytecode.cpp.
#pragma once

#include <opcode.h>

#include "../../frames/bytecode.hpp"
#include "frame_layout.hpp"

namespace slpy::frames {

int cache_units(int op) noexcept {
    // Lib/opcode.py `_inline_cache_entries` of 3.11 (a test compares).
    switch (op) {
        case BINARY_SUBSCR:
            return 4;
        case STORE_SUBSCR:
            return 1;
        case UNPACK_SEQUENCE:
            return 1;
        case STORE_ATTR:
            return 4;
        case LOAD_ATTR:
            return 4;
        case COMPARE_OP:
            return 2;
        case LOAD_GLOBAL:
            return 5;
        case BINARY_OP:
            return 1;
        case LOAD_METHOD:
            return 10;
        case PRECALL:
            return 1;
        case CALL:
            return 4;
        default:
            return 0;
    }
}

Flow flow(int op) noexcept {
    switch (op) {
        case POP_JUMP_FORWARD_IF_FALSE:
        case POP_JUMP_FORWARD_IF_TRUE:
        case POP_JUMP_FORWARD_IF_NONE:
        case POP_JUMP_FORWARD_IF_NOT_NONE:
        case JUMP_IF_FALSE_OR_POP:
        case JUMP_IF_TRUE_OR_POP:
        case FOR_ITER:
        case SEND:  // jumps when the delegate returned
            return Flow::kJumpForward;
        case POP_JUMP_BACKWARD_IF_FALSE:
        case POP_JUMP_BACKWARD_IF_TRUE:
        case POP_JUMP_BACKWARD_IF_NONE:
        case POP_JUMP_BACKWARD_IF_NOT_NONE:
            return Flow::kJumpBackward;
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
        // code before analysing it).
        case IMPORT_STAR:
        case SETUP_ANNOTATIONS:
        case STORE_NAME:
        case DELETE_NAME:
        case LOAD_NAME:
        case CACHE:
            return Flow::kUnsupported;
        default:
            break;
    }
    StackEffect e = stack_effect(op, 0, false);
    return e.pops < 0 ? Flow::kUnsupported : Flow::kNext;
}

StackEffect stack_effect(int op, int arg, bool jump) noexcept {
    switch (op) {
        case NOP:
        case RESUME:
        case EXTENDED_ARG:
        case MAKE_CELL:
        case COPY_FREE_VARS:
        case KW_NAMES:
        case PRECALL:  // the call itself happens in CALL, which pops everything
        case DELETE_GLOBAL:
        case DELETE_FAST:
        case DELETE_DEREF:
        case JUMP_FORWARD:
        case JUMP_BACKWARD:
        case JUMP_BACKWARD_NO_INTERRUPT:
        case SWAP:
            return {0, 0};
        case POP_TOP:
            return {1, 0};
        case PUSH_NULL:
            return {0, 1};
        case UNARY_POSITIVE:
        case UNARY_NEGATIVE:
        case UNARY_NOT:
        case UNARY_INVERT:
        case GET_ITER:
        case LIST_TO_TUPLE:
        case LOAD_ATTR:
        case GET_AITER:
        case GET_AWAITABLE:
        case GET_YIELD_FROM_ITER:
        case ASYNC_GEN_WRAP:
        case YIELD_VALUE:  // pops what it yields; the value sent in is pushed on resume
            return {1, 1};
        case RETURN_GENERATOR:  // in the generator's frame: the first send's None is pushed
        case GET_ANEXT:         // the async iterator stays
            return {0, 1};
        case SEND:  // the delegate stays while it yields; it is replaced by what it returns
            return jump ? StackEffect{2, 1} : StackEffect{1, 1};
        case END_ASYNC_FOR:
            return {2, 0};
        case BINARY_SUBSCR:
        case BINARY_OP:
        case COMPARE_OP:
        case IS_OP:
        case CONTAINS_OP:
        case IMPORT_NAME:
            return {2, 1};
        case STORE_SUBSCR:
            return {3, 0};
        case DELETE_SUBSCR:
        case STORE_ATTR:
            return {2, 0};
        case GET_LEN:
        case MATCH_MAPPING:
        case MATCH_SEQUENCE:
        case MATCH_KEYS:
        case WITH_EXCEPT_START:
        case LOAD_BUILD_CLASS:
        case LOAD_ASSERTION_ERROR:
        case IMPORT_FROM:
        case LOAD_CONST:
        case LOAD_FAST:
        case LOAD_CLOSURE:
        case LOAD_DEREF:
        case LOAD_CLASSDEREF:
        case COPY:
            return {0, 1};
        case PUSH_EXC_INFO:
        case BEFORE_WITH:
        case BEFORE_ASYNC_WITH:
        case LOAD_METHOD:
            return {1, 2};
        case CHECK_EXC_MATCH:
            return {1, 1};
        case CHECK_EG_MATCH:
            return {2, 2};
        case PRINT_EXPR:
        case RETURN_VALUE:
        case POP_EXCEPT:
        case DELETE_ATTR:
        case STORE_GLOBAL:
        case STORE_FAST:
        case STORE_DEREF:
        case LIST_APPEND:
        case SET_ADD:
        case LIST_EXTEND:
        case SET_UPDATE:
        case DICT_MERGE:
        case DICT_UPDATE:
        case RERAISE:
        case POP_JUMP_FORWARD_IF_FALSE:
        case POP_JUMP_FORWARD_IF_TRUE:
        case POP_JUMP_FORWARD_IF_NONE:
        case POP_JUMP_FORWARD_IF_NOT_NONE:
        case POP_JUMP_BACKWARD_IF_FALSE:
        case POP_JUMP_BACKWARD_IF_TRUE:
        case POP_JUMP_BACKWARD_IF_NONE:
        case POP_JUMP_BACKWARD_IF_NOT_NONE:
            return {1, 0};
        case MAP_ADD:
            return {2, 0};
        case PREP_RERAISE_STAR:
            return {2, 1};
        case UNPACK_SEQUENCE:
            return {1, arg};
        case UNPACK_EX:
            return {1, (arg & 0xFF) + (arg >> 8) + 1};
        case BUILD_TUPLE:
        case BUILD_LIST:
        case BUILD_SET:
        case BUILD_STRING:
            return {arg, 1};
        case BUILD_SLICE:
            return {arg == 3 ? 3 : 2, 1};
        case BUILD_MAP:
            return {2 * arg, 1};
        case BUILD_CONST_KEY_MAP:
            return {arg + 1, 1};
        case LOAD_GLOBAL:
            return {0, 1 + (arg & 1)};  // NULL first, then the value
        case JUMP_IF_FALSE_OR_POP:
        case JUMP_IF_TRUE_OR_POP:
            return jump ? StackEffect{0, 0} : StackEffect{1, 0};
        case FOR_ITER:
            return jump ? StackEffect{1, 0} : StackEffect{0, 1};
        case RAISE_VARARGS:
            return {arg, 0};
        case MAKE_FUNCTION:
            return {1 + ((arg & 1) != 0) + ((arg & 2) != 0) + ((arg & 4) != 0) + ((arg & 8) != 0),
                    1};
        case CALL_FUNCTION_EX:
            return {3 + (arg & 1), 1};  // NULL, callable, args[, kwargs]
        case MATCH_CLASS:
            return {3, 1};
        case FORMAT_VALUE:
            return {(arg & 0x04) != 0 ? 2 : 1, 1};
        case CALL:
            return {arg + 2, 1};
        default:
            return {-1, -1};  // unknown or unsupported
    }
}

int operand_requirements(int op, int arg, OperandReq (&out)[kMaxOperandReqs]) noexcept {
    int n = 0;
    auto add = [&](int peek, uint16_t mask) { out[n++] = OperandReq{peek, mask}; };
    switch (op) {
        case FOR_ITER:
            add(1, kReqIter | kReqNonNull);
            break;
        case LIST_APPEND:
        case LIST_EXTEND:
            add(arg + 1, kReqList | kReqNonNull);
            break;
        case SET_UPDATE:
            add(arg + 1, kReqSet | kReqNonNull);
            break;
        case MAP_ADD:
            add(arg + 2, kReqDict | kReqNonNull);
            break;
        case SET_ADD:
        case DICT_UPDATE:
            add(arg + 1, kReqNonNull);
            break;
        case DICT_MERGE:
            add(arg + 1, kReqNonNull);
            add(arg + 3, kReqNonNull);  // the callable, named in its error message
            break;
        case RERAISE:
            add(1, kReqExc | kReqNonNull);
            if (arg != 0) add(arg + 1, kReqLasti | kReqNonNull);
            break;
        case WITH_EXCEPT_START:
            add(1, kReqExc | kReqNonNull);
            add(4, kReqNonNull);  // __exit__
            break;
        case PUSH_EXC_INFO:
        case END_ASYNC_FOR:
            add(1, kReqExc | kReqNonNull);
            break;
        case POP_EXCEPT:
            add(1, kReqExcOrNone | kReqNonNull);
            break;
        case CHECK_EG_MATCH:
            add(2, kReqExcOrNone | kReqNonNull);
            break;
        case PREP_RERAISE_STAR:
            add(1, kReqExcList | kReqList | kReqNonNull);
            add(2, kReqExcOrNone | kReqNonNull);
            break;
        case MATCH_KEYS:
            add(1, kReqTuple | kReqNonNull);
            break;
        case MATCH_CLASS:
            add(1, kReqTuple | kReqNonNull);
            break;
        case MAKE_FUNCTION: {
            add(1, kReqCode | kReqNonNull);
            int peek = 2;
            if (arg & 8) add(peek++, kReqCellTuple | kReqTuple | kReqNonNull);
            if (arg & 4) add(peek++, kReqTuple | kReqNonNull);
            if (arg & 2) add(peek++, kReqDict | kReqNonNull);
            if (arg & 1) add(peek++, kReqTuple | kReqNonNull);
            break;
        }
        case COPY:
            add(arg, kReqNonNull);
            break;
        case CALL:
        case PRECALL:
            add(arg + 1, kReqNonNull);
            break;  // the callable (or self)
        case CHECK_EXC_MATCH:
        case GET_LEN:
        case MATCH_MAPPING:
        case MATCH_SEQUENCE:
            add(op == CHECK_EXC_MATCH ? 2 : 1, kReqNonNull);
            break;
        default:
            break;
    }
    return n;
}

bool nullable_operand(int op, int arg, int peek) noexcept {
    if (op == CALL) return peek == arg + 2;
    if (op == CALL_FUNCTION_EX) return peek == 3 + (arg & 1);
    return false;
}

bool calls_python(int op) noexcept {
    // CALL of a Python function, BINARY_SUBSCR of a class whose __getitem__ is one; every
    // other call into Python goes through C (an entry frame).
    return op == CALL || op == BINARY_SUBSCR;
}

bool calls_c(int op) noexcept {
    return op == CALL || op == CALL_FUNCTION_EX;
}

bool suspends(int op) noexcept {
    // A generator's frame waits at its RETURN_GENERATOR until first resumed, then at each
    // YIELD_VALUE (3.11 keeps prev_instr there).
    return op == YIELD_VALUE || op == RETURN_GENERATOR;
}

bool handlers_may_outreach() noexcept {
    return false;
}

_object* callee(int op, int arg, _object* const* stack, int depth) noexcept {
    if (op == CALL) {
        // NULL or the method under the callable or self.
        PyObject* method_or_null = stack[depth - arg - 2];
        return method_or_null != nullptr ? method_or_null : stack[depth - arg - 1];
    }
    if (op == CALL_FUNCTION_EX) return stack[depth - 2 - (arg & 1)];
    return nullptr;
}

bool calls_through_c(int op) noexcept {
    // CALL inlines a Python function and a bound method of one (PRECALL unpacks it), so
    // C lies between for an object with a Python __call__, or a bound method in the
    // method slot (the `with` statement's __exit__); CALL_FUNCTION_EX always calls
    // through PyObject_Call; BEFORE_WITH and WITH_EXCEPT_START call __enter__/__exit__.
    return op == CALL || op == CALL_FUNCTION_EX || op == BEFORE_WITH || op == WITH_EXCEPT_START;
}

bool c_call(int op, int arg, _object* const* stack, int depth, CCall& out) noexcept {
    out = CCall{};
    switch (op) {
        case CALL:
            if (depth < arg + 2) return false;
            out.callable = callee(op, arg, stack, depth);
            out.lent_slot = true;  // the method slot (or NULL's) below the arguments
            break;
        case CALL_FUNCTION_EX:
            if (depth < 3 + (arg & 1)) return false;
            out.callable = callee(op, arg, stack, depth);
            break;
        case WITH_EXCEPT_START:  // PEEK(4): the bound __exit__, left in place
            if (depth < 4) return false;
            out.callable = stack[depth - 4];
            break;
        case BEFORE_WITH:
            // The manager's slot holds the bound __exit__ while __enter__ runs (SET_TOP
            // before the call); the manager is that method's self.
            if (depth < 1 || stack[depth - 1] == nullptr || !PyMethod_Check(stack[depth - 1]))
                return false;
            out.special_self = PyMethod_GET_SELF(stack[depth - 1]);
            out.special = "__enter__";
            break;
        default:
            return false;
    }
    return out.callable != nullptr || out.special_self != nullptr;
}

SpecialCall special_call(int) noexcept {
    // None: BEFORE_WITH puts the bound __exit__ in the manager's slot before calling
    // __enter__ (c_call() finds the manager as that method's self).
    return {};
}

AfterBreaker after_breaker(int op) noexcept {
    // ceval.c's CHECK_EVAL_BREAKER() sites that call nothing else: after a backward jump
    // (taken), and RESUME's check at function entry. The calls check too, once their
    // result is pushed, but a 3.11 frame looks the same then as inside the call (a C
    // function that runs signal handlers itself, as time.sleep() does): not restorable.
    switch (op) {
        case JUMP_BACKWARD:
        case POP_JUMP_BACKWARD_IF_FALSE:
        case POP_JUMP_BACKWARD_IF_TRUE:
        case POP_JUMP_BACKWARD_IF_NONE:
        case POP_JUMP_BACKWARD_IF_NOT_NONE:
            return AfterBreaker::kJump;
        case RESUME:
            return AfterBreaker::kNext;
        case COMPARE_OP:  // COMPARE_OP_{INT,FLOAT,STR}_JUMP also take the jump after it
            return AfterBreaker::kJumpOfNext;
        default:
            return AfterBreaker::kNone;
    }
}

LocalAccess local_access(int op, int arg) noexcept {
    // Only the writes matter: every read of 3.11 checks for NULL.
    LocalAccess a;
    if (op == STORE_FAST || op == DELETE_FAST) a.writes[a.nwrites++] = arg;
    return a;
}

const char* opname(int op) noexcept {
    switch (op) {
#define SLP_OPNAME(name) \
    case name:           \
        return #name;
        SLP_OPNAME(CALL)
        SLP_OPNAME(PRECALL)
        SLP_OPNAME(JUMP_BACKWARD_NO_INTERRUPT)
        SLP_OPNAME(POP_JUMP_BACKWARD_IF_FALSE)
        SLP_OPNAME(POP_JUMP_BACKWARD_IF_TRUE)
        SLP_OPNAME(CALL_FUNCTION_EX)
        SLP_OPNAME(BINARY_SUBSCR)
        SLP_OPNAME(STORE_SUBSCR)
        SLP_OPNAME(DELETE_SUBSCR)
        SLP_OPNAME(BINARY_OP)
        SLP_OPNAME(COMPARE_OP)
        SLP_OPNAME(CONTAINS_OP)
        SLP_OPNAME(FOR_ITER)
        SLP_OPNAME(GET_ITER)
        SLP_OPNAME(BEFORE_WITH)
        SLP_OPNAME(WITH_EXCEPT_START)
        SLP_OPNAME(LOAD_ATTR)
        SLP_OPNAME(STORE_ATTR)
        SLP_OPNAME(DELETE_ATTR)
        SLP_OPNAME(LOAD_METHOD)
        SLP_OPNAME(LOAD_GLOBAL)
        SLP_OPNAME(IMPORT_NAME)
        SLP_OPNAME(IMPORT_FROM)
        SLP_OPNAME(UNPACK_SEQUENCE)
        SLP_OPNAME(UNPACK_EX)
        SLP_OPNAME(FORMAT_VALUE)
        SLP_OPNAME(UNARY_NOT)
        SLP_OPNAME(UNARY_NEGATIVE)
        SLP_OPNAME(UNARY_POSITIVE)
        SLP_OPNAME(UNARY_INVERT)
        SLP_OPNAME(RESUME)
        SLP_OPNAME(RETURN_VALUE)
        SLP_OPNAME(YIELD_VALUE)
        SLP_OPNAME(SEND)
        SLP_OPNAME(RETURN_GENERATOR)
        SLP_OPNAME(GET_AWAITABLE)
        SLP_OPNAME(END_ASYNC_FOR)
        SLP_OPNAME(JUMP_BACKWARD)
        SLP_OPNAME(BUILD_MAP)
        SLP_OPNAME(BUILD_SET)
        SLP_OPNAME(LIST_EXTEND)
        SLP_OPNAME(DICT_MERGE)
        SLP_OPNAME(DICT_UPDATE)
        SLP_OPNAME(MATCH_CLASS)
        SLP_OPNAME(MATCH_KEYS)
        SLP_OPNAME(POP_EXCEPT)
        SLP_OPNAME(RAISE_VARARGS)
        SLP_OPNAME(RERAISE)
        SLP_OPNAME(CACHE)
#undef SLP_OPNAME
        default:
            return "another opcode";
    }
}

}  // namespace slpy::frames

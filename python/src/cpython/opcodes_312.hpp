// opcodes_312.hpp — the bytecode facts that read the same in every version since 3.12
// (3.13, 3.14, 3.15: the tables of internal/pycore_opcode_metadata.h, the control flow,
// the calls, and the operand types the eval loop uses unchecked in instructions that did
// not change), for the version's opcodes.hpp, which includes this (and through it the
// version's tables and frame layout) and adds what differs: the operands an instruction leaves in
// place (left_in_place()), the instructions a Python callee's frame waits in, the nullable
// operands, and its own flow, requirements and local reads, before asking the shared ones
// here. Read off Python/bytecodes.c of 3.13 and 3.14.
#pragma once

#include <opcode.h>

#include <cstdint>
#include <iterator>

#include "../frames/bytecode.hpp"
#include "frame_layout.hpp"  // the version's (slot_object(), kBreakerSavesDepth)

#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wpedantic"
#pragma GCC diagnostic ignored "-Wconversion"
#include <internal/pycore_intrinsics.h>
#include <internal/pycore_opcode_metadata.h>
#pragma GCC diagnostic pop

namespace slpy::frames {

namespace {

// Operands the instruction leaves where they are, which the tables count as popped and
// pushed again (bytecodes.c's `unused` and same-named inputs and outputs): the version's
// opcodes.hpp defines it, naming what differs and asking shared_left_in_place() for the
// rest. The analysis needs them out: they keep their requirements from later
// instructions, and only what is really consumed must not be NULL.
int left_in_place(int op, int arg) noexcept;

// The operands left in place the same way since 3.12.
int shared_left_in_place(int op, int arg) noexcept {
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
        case MATCH_KEYS:  // (subject, keys -- subject, keys, values_or_none)
            return 2;
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

// A real (not specialized, not instrumented) opcode that the version's tables know.
bool generic(int op) noexcept {
    return op >= 0 && op < 256 && _PyOpcode_opcode_metadata[op].valid_entry &&
           _PyOpcode_Deopt[op] == op && op < MIN_INSTRUMENTED_OPCODE &&
           _PyOpcode_num_popped(op, 0) >= 0;
}

// The requirements of the instructions whose operands every version since 3.12 uses the
// same way: adds them with `add(peek, mask)` and returns true, or false for another
// instruction.
template <class Add>
bool shared_requirements(int op, int arg, Add add) noexcept {
    switch (op) {
        case LIST_APPEND:
        case LIST_EXTEND:
            add(arg + 1, kReqList | kReqNonNull);
            return true;
        case SET_UPDATE:
            add(arg + 1, kReqSet | kReqNonNull);
            return true;
        case MAP_ADD:
            add(arg + 2, kReqDict | kReqNonNull);
            return true;
        case SET_ADD:
        case DICT_UPDATE:
            add(arg + 1, kReqNonNull);
            return true;
        case DICT_MERGE:
            add(arg + 1, kReqNonNull);
            add(arg + 4, kReqNonNull);  // the callable, named in its error message
            return true;
        case RERAISE:
            add(1, kReqExc | kReqNonNull);
            if (arg != 0) add(arg + 1, kReqLasti | kReqNonNull);
            return true;
        case PUSH_EXC_INFO:
        case END_ASYNC_FOR:  // (awaitable, exc -- )
        case CLEANUP_THROW:  // (sub_iter, [3.15: null_or_index,] last_sent_val, exc_value -- ...)
            add(1, kReqExc | kReqNonNull);
            return true;
        case POP_EXCEPT:
            add(1, kReqExcOrNone | kReqNonNull);
            return true;
        case CHECK_EG_MATCH:
            add(2, kReqExcOrNone | kReqNonNull);
            return true;
        case CHECK_EXC_MATCH:
            add(2, kReqNonNull);
            return true;
        case MATCH_KEYS:
        case MATCH_CLASS:
            add(1, kReqTuple | kReqNonNull);
            return true;
        case MAKE_FUNCTION:
            add(1, kReqCode | kReqNonNull);
            return true;
        case SET_FUNCTION_ATTRIBUTE: {
            add(1, kReqFunction | kReqNonNull);
            uint16_t attr = kReqNonNull;
            if (arg == 0x08) attr |= kReqCellTuple | kReqTuple;  // closure
            if (arg == 0x04 || arg == 0x01) attr |= kReqTuple;   // annotations, defaults
            if (arg == 0x02) attr |= kReqDict;                   // keyword defaults
            add(2, attr);
            return true;
        }
        case CALL_INTRINSIC_1:
            if (arg == INTRINSIC_LIST_TO_TUPLE) add(1, kReqList | kReqNonNull);
            return true;
        case CALL_INTRINSIC_2:
            if (arg == INTRINSIC_PREP_RERAISE_STAR) {
                add(1, kReqExcList | kReqList | kReqNonNull);
                add(2, kReqExcOrNone | kReqNonNull);
            } else if (arg == INTRINSIC_SET_FUNCTION_TYPE_PARAMS) {
                add(1, kReqTuple | kReqNonNull);
                add(2, kReqFunction | kReqNonNull);
            }
            return true;
        case COPY:
            add(arg, kReqNonNull);
            return true;
        case CALL:
            add(arg + 2, kReqNonNull);  // the callable
            return true;
        case CALL_KW:
            add(1, kReqTuple | kReqNonNull);  // the keyword names
            add(arg + 3, kReqNonNull);        // the callable
            return true;
        case GET_LEN:
        case MATCH_MAPPING:
        case MATCH_SEQUENCE:
            add(1, kReqNonNull);
            return true;
        default:
            return false;
    }
}

// The control flow of every version since 3.12 (the version's flow() names its own
// first): the jumps and the ends, and what a restorable frame never runs.
Flow shared_flow(int op) noexcept {
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
    // Every other jump of the version's tables is named here or by the version: a new one
    // is not understood.
    if (_PyOpcode_opcode_metadata[op].flags & HAS_JUMP_FLAG) return Flow::kUnsupported;
    return Flow::kNext;
}

// The locals an instruction of every version since 3.12 reads unchecked and writes.
LocalAccess shared_local_access(int op, int arg) noexcept {
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

}  // namespace

StackEffect stack_effect(int op, int arg, bool) noexcept {
    if (flow(op) == Flow::kUnsupported) return {-1, -1};
    const int kept = left_in_place(op, arg);
    return {_PyOpcode_num_popped(op, arg) - kept, _PyOpcode_num_pushed(op, arg) - kept};
}

bool calls_c(int op) noexcept {
    return op == CALL || op == CALL_KW || op == CALL_FUNCTION_EX;
}

bool suspends(int op) noexcept {
    // A generator's frame waits after its RETURN_GENERATOR until first resumed, then
    // after each YIELD_VALUE (instr_ptr on the instruction that follows).
    return op == YIELD_VALUE || op == RETURN_GENERATOR;
}

bool handlers_may_outreach() noexcept {
    return slpy::cpy::frame::kHandlersMayOutreach;
}

_object* callee(int op, int arg, _object* const* stack, int depth) noexcept {
    // The callable is the lowest of the call's operands, which the tables count (3.13's
    // CALL_FUNCTION_EX has a kwargs slot only with arg & 1, 3.14's always).
    if (!calls_c(op)) return nullptr;
    return slpy::cpy::slot_object(stack[depth - _PyOpcode_num_popped(op, arg)]);
}

bool calls_through_c(int op) noexcept {
    // CALL, CALL_KW and CALL_FUNCTION_EX push a plain Python function's frame themselves
    // (CALL a bound method's too); other callables go through C: an object with a Python
    // __call__, a bound method in CALL_FUNCTION_EX. WITH_EXCEPT_START calls __exit__
    // (with its self on 3.14, when LOAD_SPECIAL found a method); the version's
    // special_call() (3.13's BEFORE_WITH calls __enter__; since 3.14 a `with`'s
    // __enter__ and normal __exit__ are CALLs).
    return calls_c(op) || op == WITH_EXCEPT_START || special_call(op).calls != nullptr;
}

bool c_call(int op, int arg, _object* const* stack, int depth, CCall& out) noexcept {
    out = CCall{};
    if (!calls_through_c(op)) return false;
    if (const char* special = special_call(op).calls) {
        // The operand's slot holds a word that only the callee's self can show is the
        // operand (CCall::self_is_callees).
        if (depth < 1) return false;
        out.special_self = slpy::cpy::slot_object(stack[depth - 1]);
        out.special = special;
        out.self_is_callees = true;
        return out.special_self != nullptr;
    }
    // What is called is the lowest operand: the callable, or WITH_EXCEPT_START's __exit__
    // (under lasti, the previous exception and the exception; 3.14: and __exit__'s self).
    const int operands = _PyOpcode_num_popped(op, arg);
    if (depth < operands) return false;
    out.callable = slpy::cpy::slot_object(stack[depth - operands]);
    // CALL and CALL_KW pass their arguments with the callable's slot free below them.
    out.lent_slot = op == CALL || op == CALL_KW;
    return out.callable != nullptr;
}

AfterBreaker after_breaker(int op) noexcept {
    // The instructions with HAS_EVAL_BREAK_FLAG in the tables: JUMP_BACKWARD checks
    // before it jumps, RESUME at function entry, the calls once their result is pushed.
    // A call's check is a point of its own only where the eval loop saves the stack
    // pointer for it (3.14: kBreakerSavesDepth); on 3.13 the frame looks the same then as
    // inside the call. (CALL_KW has no check since 3.14.)
    switch (op) {
        case JUMP_BACKWARD:
            return AfterBreaker::kJump;
        case RESUME:
            return AfterBreaker::kNext;
        case CALL:
        case CALL_FUNCTION_EX:
            return slpy::cpy::frame::kBreakerSavesDepth ? AfterBreaker::kNext : AfterBreaker::kNone;
        default:
            return AfterBreaker::kNone;
    }
}

int cache_units(int op) noexcept {
    return op >= 0 && op < 256 ? _PyOpcode_Caches[op] : 0;
}

const char* opname(int op) noexcept {
    if (op >= 0 && op < static_cast<int>(std::size(_PyOpcode_OpName)) &&
        _PyOpcode_OpName[op] != nullptr)
        return _PyOpcode_OpName[op];
    return "another opcode";
}

}  // namespace slpy::frames

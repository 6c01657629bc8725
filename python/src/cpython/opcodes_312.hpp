// opcodes_312.hpp — the bytecode facts that read the same in every version since 3.12
// (3.13, 3.14, 3.15: the tables of internal/pycore_opcode_metadata.h, and the operand
// types the eval loop uses unchecked in instructions that did not change), for the
// version's opcodes.hpp, which includes this after the metadata header and adds what
// differs. Read off Python/bytecodes.c of 3.13 and 3.14.
#pragma once

#include <cstdint>
#include <iterator>

#include "../frames/bytecode.hpp"

namespace slpy::frames {

namespace {

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

}  // namespace

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

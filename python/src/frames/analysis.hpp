// analysis.hpp — static analysis of one code object's de-optimized bytecode: the value
// stack depth before every reachable instruction, and what later instructions require of
// each stack slot (see Req). Needed because a frame suspended in a call into C has
// stacktop == -1: its depth lives only in a C local of the interpreter, so capture
// recomputes it, and the loader checks a pickled frame against it.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "py311.hpp"

namespace slpy::frames {

// A place a frame can be suspended at: an instruction that called something and will
// continue with the callee's result pushed (CALL, CALL_FUNCTION_EX, BINARY_SUBSCR).
struct CallSite {
    int index = -1;        // code unit of the instruction (after any EXTENDED_ARG)
    int op = 0;            // de-optimized opcode
    int arg = 0;           // full argument (EXTENDED_ARG applied)
    int depth_before = 0;  // stack depth before the instruction
    int kept = 0;          // depth once the call's operands are popped (result not pushed)
    int resume_unit = 0;   // what prev_instr must be to continue after it: its last unit
};

class CodeAnalysis {
 public:
    // Analyse `code_bytes` (co_code: 2 bytes per unit), its exception table and stack
    // size. On failure returns false with `error` saying why (invalid or unsupported
    // bytecode: the frame cannot be captured or restored).
    bool run(const uint8_t* code_bytes, int units, const uint8_t* exctable, int exclen,
             int stacksize, std::string& error);

    int units() const noexcept { return units_; }
    // Stack depth before the instruction at `index`, or -1 if `index` is not the start
    // of a reachable instruction.
    int depth_at(int index) const noexcept;
    // Opcode and full argument at an instruction start (undefined elsewhere).
    int op_at(int index) const noexcept { return op_[static_cast<size_t>(index)]; }
    int arg_at(int index) const noexcept { return arg_[static_cast<size_t>(index)]; }
    // The call site at `index`, if it is the start of a reachable CALL, CALL_FUNCTION_EX
    // or BINARY_SUBSCR; false otherwise.
    bool call_site(int index, CallSite& out) const noexcept;
    // Requirements on stack slot `pos` (0 = bottom) before the instruction at `index`.
    uint16_t requirement(int index, int pos) const noexcept;

 private:
    bool decode(const uint8_t* code, std::string& error);
    bool parse_exception_table(const uint8_t* table, int len, std::string& error);
    bool forward(std::string& error);
    void backward();
    bool handler_for(int index, int& target, int& level, bool& lasti) const noexcept;

    struct Handler {
        int start, end, target, level;
        bool lasti;
    };
    int units_ = 0;
    int stacksize_ = 0;
    std::vector<int16_t> op_;     // opcode at each instruction start, -1 elsewhere
    std::vector<int32_t> arg_;    // full argument at each instruction start
    std::vector<int32_t> next_;   // unit after the instruction and its caches
    std::vector<int32_t> depth_;  // depth before the instruction, -1 if unreachable
    std::vector<uint16_t> req_;   // requirements [index * stacksize + pos]
    std::vector<Handler> handlers_;
};

}  // namespace slpy::frames

// analysis.hpp — static analysis of one code object's de-optimized bytecode: the value
// stack depth before every reachable instruction, and what later instructions require of
// each stack slot (see Req). Needed because a frame suspended in a call into C has no
// saved stack pointer (stacktop == -1 on 3.11 and 3.13): its depth lives only in a C
// local of the interpreter, so capture recomputes it, and the loader checks a pickled
// frame against it.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "python.hpp"

namespace slpy::frames {

// A place a frame can be suspended at: an instruction that called something and will
// continue with the callee's result pushed (calls_python() or calls_c(), bytecode.hpp),
// or a generator frame's yield (suspends()), continuing with the value sent in pushed.
// Or a preemption point: the instruction at which the eval breaker ran (the tick of
// run(timeout) switched away there); the frame continues at `resume` with nothing pushed.
struct CallSite {
    int index = -1;        // code unit of the instruction (after any EXTENDED_ARG)
    int op = 0;            // de-optimized opcode
    int arg = 0;           // full argument (EXTENDED_ARG applied)
    int depth_before = 0;  // stack depth before the instruction
    int kept = 0;          // depth below the call's result (its operands popped, what the
                           // instruction pushes before calling kept); for a preemption
                           // point, the depth at `resume`
    int resume = -1;       // a preemption point: the code unit the frame continues at
    bool preempted() const noexcept { return resume >= 0; }
};

class CodeAnalysis {
 public:
    // Analyse `code_bytes` (co_code: 2 bytes per unit), its exception table, stack size
    // and number of locals (co_nlocalsplus). On failure returns false with `error` saying
    // why (invalid or unsupported bytecode: the frame cannot be captured or restored).
    bool run(const uint8_t* code_bytes, int units, const uint8_t* exctable, int exclen,
             int stacksize, int nlocals, std::string& error);

    int units() const noexcept { return units_; }
    // Stack depth before the instruction at `index`, or -1 if `index` is not the start
    // of a reachable instruction.
    int depth_at(int index) const noexcept;
    // Opcode and full argument at an instruction start (undefined elsewhere).
    int op_at(int index) const noexcept { return op_[static_cast<size_t>(index)]; }
    int arg_at(int index) const noexcept { return arg_[static_cast<size_t>(index)]; }
    // The call site at `index`, if it is the start of a reachable call instruction;
    // false otherwise.
    bool call_site(int index, CallSite& out) const noexcept;
    // The same for a generator frame's suspension point (bytecode.hpp's suspends()):
    // `kept` is the depth once the yielded value is popped.
    bool suspension_site(int index, CallSite& out) const noexcept;
    // The same for a frame running a generator above it (bytecode.hpp's drives(): a for
    // loop's FOR_ITER, `kept` the depth with the iterator still on the stack; a `yield
    // from` or `await`'s SEND, `kept` the depth with the delegate, the value sent taken).
    bool iteration_site(int index, CallSite& out) const noexcept;
    // The preemption point at `index` (see CallSite), if the eval breaker runs at the
    // reachable instruction there; false otherwise.
    bool preemption_point(int index, CallSite& out) const noexcept;
    // Requirements on stack slot `pos` (0 = bottom) before the instruction at `index`.
    uint16_t requirement(int index, int pos) const noexcept;
    // Requirements on slot `pos` (below `site.kept`) of a frame waiting at `site`: what
    // the rest of the code assumes of it once the frame continues (or unwinds).
    uint16_t requirement(const CallSite& site, int pos) const noexcept;
    // Must local `local` be bound (not NULL) before the instruction at `index`? True when
    // some path from there reads it without checking before setting it (local_access()).
    bool local_required(int index, int local) const noexcept;
    // The same for a frame waiting at `site` (a preemption point: where it continues, or
    // the handler an exception thrown in there reaches).
    bool local_required(const CallSite& site, int local) const noexcept;
    // Does any reachable instruction set or delete local `local`?
    bool writes_local(int local) const noexcept;

 private:
    bool decode(const uint8_t* code, std::string& error);
    bool parse_exception_table(const uint8_t* table, int len, std::string& error);
    bool forward(std::string& error);
    void liveness();
    bool live(int index, int local) const noexcept;
    bool live_after(int index, int local) const noexcept;
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
    int nlocals_ = 0;
    size_t words_ = 0;            // 64-bit words per instruction in live_
    std::vector<uint64_t> live_;  // locals read unchecked later [index * words_ + word]
    std::vector<Handler> handlers_;
};

}  // namespace slpy::frames

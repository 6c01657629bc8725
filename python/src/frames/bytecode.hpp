// bytecode.hpp — what the frame library knows about the running CPython's bytecode: the
// inline cache sizes, each opcode's effect on the value stack AT RUN TIME (3.11: not the
// compiler's bookkeeping, where PRECALL pops the arguments that CALL pops at run time),
// which operand types an opcode relies on without checking them, and which instructions
// call. Each version's facts are in ../cpython/v3XX/opcodes.hpp.
//
// Everything here reads de-optimized bytecode (the `co_code` attribute), where every
// specialized instruction is back to its generic form.
#pragma once

#include <cstdint>

struct _object;  // PyObject

namespace slpy::frames {

// Requirements on a value-stack slot: what the interpreter will assume about the object
// there when it consumes it later. A restored slot violating one would crash CPython
// (an unchecked cast), so the loader checks them. Bits, combined by `|`.
enum Req : uint16_t {
    kReqNone = 0,
    kReqNonNull = 1 << 0,     // not NULL (almost every consumer)
    kReqIter = 1 << 1,        // an iterator (FOR_ITER calls tp_iternext unchecked)
    kReqList = 1 << 2,        // a list (LIST_APPEND, LIST_EXTEND)
    kReqSet = 1 << 3,         // a set (SET_UPDATE)
    kReqDict = 1 << 4,        // a dict (MAP_ADD; MAKE_FUNCTION's kwdefaults)
    kReqExc = 1 << 5,         // an exception instance (RERAISE, PUSH_EXC_INFO, ...)
    kReqExcOrNone = 1 << 6,   // an exception instance or None (POP_EXCEPT, ...)
    kReqLasti = 1 << 7,       // an int, a code-unit index inside the code (RERAISE n)
    kReqTuple = 1 << 8,       // a tuple (MATCH_KEYS, MATCH_CLASS, defaults, annotations)
    kReqCode = 1 << 9,        // a code object (MAKE_FUNCTION)
    kReqExcList = 1 << 10,    // a list of exceptions or None (PREP_RERAISE_STAR)
    kReqCellTuple = 1 << 11,  // a tuple of cells (MAKE_FUNCTION's closure)
    kReqFunction = 1 << 12,   // a Python function (SET_FUNCTION_ATTRIBUTE)
    // 3.15's FOR_ITER index: NULL (then the slot below is an iterator) or an int (then the
    // slot below is what it indexes: a list, tuple, str or bytes); the eval loop holds it
    // as a tagged int
    kReqSeqIndex = 1 << 13,
    // 3.15's SEND index (`yield from`, `await`): as FOR_ITER's, but under NULL may be a
    // coroutine too (SEND sends into a generator or coroutine, or calls __next__ or send)
    kReqSendIndex = 1 << 14,
};
// The requirements of slots the eval loop holds as tagged ints, not objects.
inline constexpr uint16_t kReqTaggedInt = kReqLasti | kReqSeqIndex | kReqSendIndex;

// The opcode's shape for one control-flow edge: values popped, values pushed.
struct StackEffect {
    int pops = 0;
    int pushes = 0;
};

enum class Flow : uint8_t {
    kNext,          // falls through only
    kJumpForward,   // conditional forward jump (also falls through)
    kJumpBackward,  // conditional backward jump (also falls through)
    kGotoForward,   // unconditional forward jump
    kGotoBackward,  // unconditional backward jump
    kStop,          // RETURN_VALUE, RAISE_VARARGS, RERAISE
    kUnsupported,   // module or class-body opcode, or unknown
};

// Number of CACHE code units that follow `op` (0..10).
int cache_units(int op) noexcept;

// Control flow of `op` (de-optimized).
Flow flow(int op) noexcept;

// Run-time stack effect of `op` with argument `arg` on the fall-through edge
// (jump = false) or the jump edge (jump = true).
StackEffect stack_effect(int op, int arg, bool jump) noexcept;

// A requirement on one operand: `peek` counted as in CPython's PEEK(n) before the
// instruction runs (1 = top of stack).
struct OperandReq {
    int peek = 0;
    uint16_t mask = kReqNone;
};
inline constexpr int kMaxOperandReqs = 6;

// Type requirements of `op` on its operands (popped or left in place), beyond the rule
// that every popped operand is not NULL. Fills `out`, returns how many.
int operand_requirements(int op, int arg, OperandReq (&out)[kMaxOperandReqs]) noexcept;

// May the popped operand at PEEK index `peek` be NULL (the self-or-NULL slot of CALL, the
// NULL under CALL_FUNCTION_EX's callable, 3.14's empty **kwargs slot)?
bool nullable_operand(int op, int arg, int peek) noexcept;

// Can a frame wait in `op` for a Python function it called (the callee's frame above it),
// or for C code it called (the innermost frame of a suspended chain)?
bool calls_python(int op) noexcept;
bool calls_c(int op) noexcept;
// Can a generator's, coroutine's or async generator's frame be suspended at `op` (its
// YIELD_VALUE, or the RETURN_GENERATOR it waits at before its first resumption)? The
// value sent in is pushed when it resumes, after `op`'s operands are popped.
bool suspends(int op) noexcept;
// May an exception table entry keep more of the stack than an instruction it covers has
// (3.15's generator expressions, whose iterator pair the handler counts, also over the
// code after POP_ITER dropped it)? The eval loop then pops nothing (only its debug build
// asserts otherwise): no stack the analysis could model, so it leaves that edge out.
bool handlers_may_outreach() noexcept;
// Can a frame wait in `op` for the next value of a generator it iterates, the generator's
// frame running above it (FOR_ITER, on every version: its C code or its specialization
// runs the generator; what the generator yields is the instruction's result, and its
// return ends the loop)?
bool iterates(int op) noexcept;
// Can a frame wait in `op` for a generator or coroutine it delegates to (`yield from`,
// `await`), the delegate's frame running above it (SEND, on every version: its C code or
// its specialization runs the delegate; what the delegate yields is the instruction's
// result, which the frame yields in turn, and its return value replaces it on the stack)?
bool sends(int op) noexcept;
// iterates() or sends(): the frame runs the generator above it.
bool drives(int op) noexcept;

// The object the call instruction `op` (arg `arg`) calls, read from the value stack as it
// is before the instruction (`stack` its bottom, `depth` slots), or null.
_object* callee(int op, int arg, _object* const* stack, int depth) noexcept;

// Can a frame wait in `op` for a Python function that C code called for it (an entry
// frame above it), the instruction's result being that function's result? Such a call
// is a known continuation: restored, the callee's frame runs and its result completes
// the instruction, as for a call between Python functions.
bool calls_through_c(int op) noexcept;

// What the C code of such an instruction calls, read from the value stack as it is while
// the call runs (`stack` its bottom, `depth` the depth before the instruction): either
// `callable` (called with the instruction's arguments), or the special method `special`
// looked up on the type of `special_self` (a context manager's __enter__).
// A call with a free slot below its arguments (PY_VECTORCALL_ARGUMENTS_OFFSET) lends that
// slot to a bound method, which puts its self there while its function runs: then
// `callable` is that self, and `lent_slot` says it may be.
// `self_is_callees`: `special_self` is only a word left in a slot that no longer holds
// a reference to it (3.13's BEFORE_WITH): it may be read as an object only once it is
// found to be the callee's self.
struct CCall {
    _object* callable = nullptr;
    _object* special_self = nullptr;
    const char* special = nullptr;
    bool lent_slot = false;
    bool self_is_callees = false;
};
// False if `op` is not calls_through_c() on this version, or the stack does not hold
// what the instruction calls.
bool c_call(int op, int arg, _object* const* stack, int depth, CCall& out) noexcept;

// An instruction that calls a special method of its only operand through C while the
// operand's slot holds the operand itself but no reference to it, and then leaves
// another special method of the operand in that slot, under its result (3.13's
// BEFORE_WITH: it calls `__enter__` with `__exit__` in a C local meanwhile): the two
// names, or nulls for every other instruction. The call is calls_through_c(), its
// CCall's `special_self` the operand; a frame restored there gets `leaves` looked up
// again, on the operand's type and bound to it, as the instruction does.
struct SpecialCall {
    const char* calls = nullptr;
    const char* leaves = nullptr;
};
SpecialCall special_call(int op) noexcept;

// Where a frame continues after the eval breaker ran at the instruction `op` (a
// preemption point: run(timeout)'s tick switched away there, between two instructions):
// not a breaker point (or not one a suspended frame can be told apart at), the next
// instruction, the target of its backward jump, or the target of the backward jump that
// follows it (3.11's COMPARE_OP specialized together with its POP_JUMP_BACKWARD_IF_*).
enum class AfterBreaker : uint8_t { kNone, kNext, kJump, kJumpOfNext };
AfterBreaker after_breaker(int op) noexcept;

// The locals `op` reads without checking for NULL (a NULL there would crash: 3.13's
// LOAD_FAST; none on 3.11, whose reads all check) and the locals it sets or clears.
struct LocalAccess {
    int reads[2] = {0, 0};
    int nreads = 0;
    int writes[2] = {0, 0};
    int nwrites = 0;
    bool writes_first = false;  // the writes happen before the reads
};
LocalAccess local_access(int op, int arg) noexcept;

// A short name for messages ("CALL", "FOR_ITER", ...), "opcode N" if unknown.
const char* opname(int op) noexcept;

}  // namespace slpy::frames

// What a fresh context's entry sees: ABI stack alignment, the creator's FP control
// state, an unwinder that stops at the entry; and what happens when entry breaks the
// contract (returns) or make_context is given an unusable stack.
#include <gtest/gtest.h>
#include <unwind.h>

#include <cfenv>
#include <stdexcept>

#include "arch_test_support.h"
#include "slp/context.hpp"

// The two words slp_test_entry_probe writes and reads (declared in sentinels.h): here,
// once, rather than in every CPU's helper.
uintptr_t slp_test_entry_sp = 0;
slp_entry_fn slp_test_entry_target = nullptr;

namespace {

using slp_test::abi;
using slp_test::test_stack;

slp_ctx g_back = nullptr;

void record_and_return(slp_transfer t) {
    g_back = t.from;
    slp_jump(g_back, nullptr);
}

slp_transfer pass_through(slp_transfer t) {
    return t;
}

TEST(Entry, jump_enters_with_abi_stack_alignment) {
    // Several stack tops, aligned and not to the ABI's alignment: the port aligns down.
    for (std::size_t trim : {0u, 4u, 8u, 12u}) {
        test_stack stack;
        slp_test_entry_sp = 1;
        slp_test_entry_target = record_and_return;
        slp_ctx c = slp_make(stack.top() - trim, stack.span().size() - trim, slp_test_entry_probe);
        slp_jump(c, nullptr);
        // Inside the stack; exactly its (aligned) top is valid where no return address
        // is pushed by the call (aarch64, arm, riscv64).
        auto* sp = reinterpret_cast<std::byte*>(slp_test_entry_sp);
        EXPECT_TRUE(sp > stack.span().data() && sp <= stack.top() - trim);
        EXPECT_EQ((slp_test_entry_sp + abi.entry_sp_bias) % abi.entry_align, 0u)
            << "trim " << trim << " sp " << std::hex << slp_test_entry_sp;
    }
}

TEST(Entry, ontop_into_a_fresh_context_enters_with_abi_stack_alignment) {
    test_stack stack;
    slp_test_entry_sp = 1;
    slp_test_entry_target = record_and_return;
    slp_ctx c = slp_make(stack.top(), stack.span().size(), slp_test_entry_probe);
    slp_ontop(c, nullptr, pass_through);
    EXPECT_EQ((slp_test_entry_sp + abi.entry_sp_bias) % abi.entry_align, 0u);
}

int g_seen_round = -1;
void record_rounding(slp_transfer t) {
    g_seen_round = std::fegetround();
    slp_jump(t.from, nullptr);
}

TEST(Entry, new_context_inherits_the_creators_rounding_mode) {
    test_stack stack;
    const int saved = std::fegetround();
    ASSERT_EQ(std::fesetround(FE_TOWARDZERO), 0);
    slp_ctx c = slp_make(stack.top(), stack.span().size(), record_rounding);
    ASSERT_EQ(std::fesetround(saved), 0);
    slp_jump(c, nullptr);
    EXPECT_EQ(g_seen_round, FE_TOWARDZERO);
    EXPECT_EQ(std::fegetround(), saved) << "the switch back restores main's mode";
}

void returning_entry(slp_transfer) {}

TEST(EntryDeathTest, entry_that_returns_aborts_with_a_message) {
    GTEST_FLAG_SET(death_test_style, "fast");
    EXPECT_DEATH(
        {
            test_stack stack;
            slp_ctx c = slp_make(stack.top(), stack.span().size(), returning_entry);
            slp_jump(c, nullptr);
        },
        "entry function returned");
}

TEST(Entry, make_context_rejects_a_stack_smaller_than_the_minimum) {
    test_stack stack;
    auto s = stack.span();
    EXPECT_THROW(slp::make_context(s.last(slp::min_stack_size - 16), record_and_return),
                 std::invalid_argument);
    EXPECT_THROW(slp::make_context({}, record_and_return), std::invalid_argument);
}

TEST(Entry, make_context_rejects_a_misaligned_stack_top) {
    test_stack stack;
    auto s = stack.span();
    EXPECT_THROW(slp::make_context(s.first(s.size() - 8), record_and_return),
                 std::invalid_argument);
    EXPECT_THROW(slp::make_context(s.first(s.size() - 1), record_and_return),
                 std::invalid_argument);
}

TEST(Entry, make_context_rejects_a_null_entry) {
    test_stack stack;
    EXPECT_THROW(slp::make_context(stack.span(), nullptr), std::invalid_argument);
}

TEST(Entry, make_context_accepts_a_minimal_aligned_stack_and_runs_it) {
    test_stack stack;
    slp_ctx c = slp::make_context(stack.span().last(slp::min_stack_size), record_and_return);
    g_back = nullptr;
    slp_jump(c, nullptr);
    EXPECT_NE(g_back, nullptr);
}

// The unwinder walks from inside a context to its entry and stops there cleanly.
struct walk {
    int frames = 0;
    _Unwind_Reason_Code end = _URC_NO_REASON;
};
#ifdef __ARM_EABI_UNWINDER__
constexpr _Unwind_Reason_Code kStopWalk = _URC_FAILURE;  // EHABI has no _URC_NORMAL_STOP
#else
constexpr _Unwind_Reason_Code kStopWalk = _URC_NORMAL_STOP;
#endif
_Unwind_Reason_Code count_frame(struct _Unwind_Context*, void* arg) {
    auto* w = static_cast<walk*>(arg);
    if (++w->frames > 64) return kStopWalk;  // ran off the end: no stop
    return _URC_NO_REASON;
}
walk g_walk;
volatile int g_after_call = 0;
__attribute__((noinline)) void walk_from_here(int depth) {
    if (depth > 0) {
        walk_from_here(depth - 1);
        g_after_call = g_after_call + 1;  // work after the call: no tail call, frames stay
        return;
    }
    g_walk.end = _Unwind_Backtrace(count_frame, &g_walk);
}
void walking_entry(slp_transfer t) {
    walk_from_here(3);
    slp_jump(t.from, nullptr);
}

TEST(Entry, unwinder_stops_at_the_context_entry) {
    test_stack stack;
    g_walk = {};
    slp_ctx c = slp_make(stack.top(), stack.span().size(), walking_entry);
    slp_jump(c, nullptr);
    EXPECT_EQ(g_walk.end, _URC_END_OF_STACK);
    // walk_from_here x4, walking_entry, the trampoline (+ the unwinder's own frames).
    EXPECT_GE(g_walk.frames, 5);
    EXPECT_LE(g_walk.frames, 12);
}

}  // namespace

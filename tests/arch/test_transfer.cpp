// Data passed both ways through slp_jump and slp_ontop, and where ontop's function runs.
#include <gtest/gtest.h>

#include "arch_test_support.h"

namespace {

using slp_test::test_stack;

void echo_plus_one(slp_transfer t) {
    // Every resume brings a number; answer with number + 1 until asked to stop (0).
    for (;;) {
        auto n = reinterpret_cast<uintptr_t>(t.data);
        t = slp_jump(t.from, reinterpret_cast<void*>(n + 1));
        if (t.data == nullptr) slp_jump(t.from, nullptr);
    }
}

TEST(Transfer, jump_passes_data_both_ways) {
    test_stack stack;
    slp_ctx c = slp_make(stack.top(), stack.span().size(), echo_plus_one);
    for (uintptr_t n = 1; n < 100; ++n) {
        slp_transfer t = slp_jump(c, reinterpret_cast<void*>(n));
        EXPECT_EQ(reinterpret_cast<uintptr_t>(t.data), n + 1);
        c = t.from;
    }
}

TEST(Transfer, entry_receives_the_first_jumps_data_and_sender) {
    test_stack stack;
    static void* seen_data;
    static slp_ctx seen_from;
    slp_ctx c = slp_make(stack.top(), stack.span().size(), [](slp_transfer t) {
        seen_data = t.data;
        seen_from = t.from;
        slp_jump(t.from, &seen_data);
    });
    int token;
    slp_transfer back = slp_jump(c, &token);
    EXPECT_EQ(seen_data, &token);
    EXPECT_NE(seen_from, nullptr);
    EXPECT_EQ(back.data, &seen_data);
}

test_stack* g_ontop_stack = nullptr;
bool g_ran_on_target = false;
slp_transfer on_target(slp_transfer t) {
    int local = 0;
    g_ran_on_target = g_ontop_stack->contains(&local);
    // Replace the data the target will see.
    return {t.from, reinterpret_cast<void*>(reinterpret_cast<uintptr_t>(t.data) * 10)};
}

TEST(Transfer, ontop_runs_on_the_target_stack_and_its_result_reaches_the_target) {
    test_stack stack;
    g_ontop_stack = &stack;
    slp_ctx c = slp_make(stack.top(), stack.span().size(), echo_plus_one);
    // Start the context normally, then resume it through ontop.
    slp_transfer t = slp_jump(c, reinterpret_cast<void*>(1));
    ASSERT_EQ(reinterpret_cast<uintptr_t>(t.data), 2u);
    g_ran_on_target = false;
    t = slp_ontop(t.from, reinterpret_cast<void*>(3), on_target);
    EXPECT_TRUE(g_ran_on_target);
    EXPECT_EQ(reinterpret_cast<uintptr_t>(t.data), 31u) << "echo got 3 * 10";
}

TEST(Transfer, ontop_into_a_fresh_context_delivers_its_result_to_entry) {
    test_stack stack;
    g_ontop_stack = &stack;
    slp_ctx c = slp_make(stack.top(), stack.span().size(), echo_plus_one);
    g_ran_on_target = false;
    slp_transfer t = slp_ontop(c, reinterpret_cast<void*>(4), on_target);
    EXPECT_TRUE(g_ran_on_target);
    EXPECT_EQ(reinterpret_cast<uintptr_t>(t.data), 41u);
}

// ontop's function may itself switch away; the target resumes later as usual.
slp_ctx g_main_ctx = nullptr;
slp_transfer detour_to_main(slp_transfer t) {
    slp_transfer back = slp_jump(g_main_ctx, t.from);  // tell main who called ontop
    return back;
}

void ontop_target_entry(slp_transfer t) {
    // Resumed here after the detour; t.data is what main sent on its final jump.
    slp_jump(t.from, reinterpret_cast<void*>(reinterpret_cast<uintptr_t>(t.data) + 100));
}

TEST(Transfer, ontop_function_may_switch_away_before_returning) {
    test_stack a, b;
    // Context A runs ontop into fresh context B with a function that jumps to main.
    static slp_ctx b_ctx;
    b_ctx = slp_make(b.top(), b.span().size(), ontop_target_entry);
    slp_ctx a_ctx = slp_make(a.top(), a.span().size(), [](slp_transfer t) {
        g_main_ctx = t.from;
        slp_transfer r = slp_ontop(b_ctx, nullptr, detour_to_main);
        slp_jump(g_main_ctx, r.data);
    });
    slp_transfer t = slp_jump(a_ctx, nullptr);  // A -> ontop(B) -> detour -> main
    ASSERT_NE(t.data, nullptr) << "detour reported A's context";
    // Resume the detour (on B's stack); it returns into B's entry with data 5.
    t = slp_jump(t.from, reinterpret_cast<void*>(5));
    // B jumps to whoever resumed it (main) with 105.
    EXPECT_EQ(reinterpret_cast<uintptr_t>(t.data), 105u);
}

}  // namespace

// Every callee-saved register and FP control word survives slp_jump, slp_ontop and
// slp_switch: both sides of each switch hold their own sentinels in every such register
// while the other side runs.
#include <gtest/gtest.h>

#include "arch_test_support.h"

namespace {

using slp_test::abi;
using slp_test::diff_regs;
using slp_test::make_sentinels;
using slp_test::test_stack;

// The state shared by the two sides of a register test.
struct reg_pair {
    slp_ctx other = nullptr;  // the suspended side
    slp_test_regs main_in{}, main_out{};
    slp_test_regs ctx_in{}, ctx_out{};
    bool via_ontop = false;
    int ontop_calls = 0;
};
reg_pair* g_pair = nullptr;

slp_transfer count_ontop(slp_transfer t) {
    ++g_pair->ontop_calls;
    return t;
}

// Leave for the other side, keeping whichever mechanism the test asked for.
void leave(void*) {
    slp_transfer t = g_pair->via_ontop ? slp_ontop(g_pair->other, nullptr, count_ontop)
                                       : slp_jump(g_pair->other, nullptr);
    g_pair->other = t.from;
}

void context_entry(slp_transfer t) {
    g_pair->other = t.from;
    // Hold the context's own sentinels across a switch back to main and return here.
    slp_test_with_sentinels(&g_pair->ctx_in, &g_pair->ctx_out, leave, nullptr);
    slp_jump(g_pair->other, nullptr);
    ADD_FAILURE() << "finished context resumed";
}

// main holds control setting 0, the context `ctx_variant` (1: another rounding mode and
// more; 2: the same rounding mode, other bits). same_last_ctl: both sides hold the same
// last control word (x86_64: the x87 control word) and differ in the first only (MXCSR),
// so a port that reloads one word only when the other differs is caught.
void run_register_pair(bool via_ontop, int ctx_variant, bool same_last_ctl = false) {
    test_stack stack;
    reg_pair pair;
    g_pair = &pair;
    pair.via_ontop = via_ontop;
    pair.main_in = make_sentinels(1, 0);
    pair.ctx_in = make_sentinels(2, ctx_variant);
    if (same_last_ctl) pair.ctx_in.ctl[abi.ctls - 1] = pair.main_in.ctl[abi.ctls - 1];
    pair.other = slp_make(stack.top(), stack.span().size(), context_entry);
    // main holds sentinels A, the context B; each switch must swap them wholesale.
    slp_test_with_sentinels(&pair.main_in, &pair.main_out, leave, nullptr);
    EXPECT_EQ(diff_regs(pair.main_in, pair.main_out), "") << "main side";
    // Let the context finish its own check.
    slp_transfer t = slp_jump(pair.other, nullptr);
    (void)t;
    EXPECT_EQ(diff_regs(pair.ctx_in, pair.ctx_out), "") << "context side";
    if (via_ontop) {
        EXPECT_EQ(pair.ontop_calls, 2);
    }
}

TEST(Registers, jump_preserves_callee_saved_registers_and_control_words) {
    run_register_pair(false, 1);
}

TEST(Registers, ontop_preserves_callee_saved_registers_and_control_words) {
    run_register_pair(true, 1);
}

TEST(Registers, jump_restores_first_control_word_when_the_last_is_the_same) {
    if (abi.ctls < 2) GTEST_SKIP() << "one control word on this CPU";
    run_register_pair(false, 1, true);
}

TEST(Registers, ontop_restores_first_control_word_when_the_last_is_the_same) {
    if (abi.ctls < 2) GTEST_SKIP() << "one control word on this CPU";
    run_register_pair(true, 1, true);
}

TEST(Registers, jump_moves_control_words_that_differ_only_outside_the_rounding_mode) {
    run_register_pair(false, 2);
}

TEST(Registers, ontop_moves_control_words_that_differ_only_outside_the_rounding_mode) {
    run_register_pair(true, 2);
}

// The sentinel helper itself must round-trip every control setting (so each compared
// bit is one the CPU keeps): a check of the check.
TEST(Registers, sentinel_helper_round_trips_without_a_switch) {
    for (int variant = 0; variant < 3; ++variant) {
        slp_test_regs in = make_sentinels(7, variant), out{};
        slp_test_with_sentinels(
            &in, &out, [](void*) {}, nullptr);
        EXPECT_EQ(diff_regs(in, out), "") << "control setting " << variant;
    }
}

// The test settings are what the facts promise: [0] and [1] differ in the rounding
// mode, [2] shares [0]'s and differs from it elsewhere (except where the CPU has no
// other FP control: riscv64).
TEST(Registers, control_settings_differ_as_the_tests_need) {
    bool differ01 = false, differ02 = false;
    for (int i = 0; i < abi.ctls; ++i) {
        differ01 |= ((abi.ctl_value[0][i] ^ abi.ctl_value[1][i]) & abi.ctl_mask[i]) != 0;
        differ02 |= ((abi.ctl_value[0][i] ^ abi.ctl_value[2][i]) & abi.ctl_mask[i]) != 0;
    }
    EXPECT_TRUE(differ01);
#if !defined(__riscv)
    EXPECT_TRUE(differ02);
#endif
}

// The sentinel comparison is not vacuous: a changed register is reported.
TEST(Registers, sentinel_diff_reports_a_changed_register) {
    slp_test_regs in = make_sentinels(7, 0), out = in;
    out.gpr[abi.gprs - 1] ^= 0x10;
    EXPECT_NE(diff_regs(in, out), "");
    if (abi.fprs > 0) {
        out = in;
        out.fpr[abi.fprs - 1] ^= 0x10;
        EXPECT_NE(diff_regs(in, out), "");
    }
    if (abi.vrs > 0) {
        out = in;
        out.vr[abi.vrs - 1][1] ^= 0x10;
        EXPECT_NE(diff_regs(in, out), "");
    }
    for (int i = 0; i < abi.ctls; ++i) {
        out = in;
        out.ctl[i] ^= abi.ctl_mask[i] & (0u - abi.ctl_mask[i]);  // lowest control bit
        EXPECT_NE(diff_regs(in, out), "") << "ctl[" << i << "]";
    }
}

// slp_switch: two copy-stack contexts, each holding its own sentinels while the other
// runs on the same stack addresses.
struct copy_pair {
    slp_test::copy_stacks* cs = nullptr;
    slp_test::copy_stacks::context* ctx = nullptr;
    slp_test_regs main_in{}, main_out{}, ctx_in{}, ctx_out{};
};
copy_pair* g_copy = nullptr;

void copy_leave_to_ctx(void*) {
    g_copy->cs->switch_to(*g_copy->ctx);
}
void copy_leave_to_main(void*) {
    g_copy->cs->switch_to(g_copy->cs->main());
}

void copy_body(slp_test::copy_stacks& cs, slp_test::copy_stacks::context&, void*) {
    slp_test_with_sentinels(&g_copy->ctx_in, &g_copy->ctx_out, copy_leave_to_main, nullptr);
    cs.switch_to(cs.main());
}

__attribute__((noinline)) void copy_run(copy_pair& pair, slp_test::copy_stacks& cs) {
    cs.set_base(__builtin_frame_address(0));
    pair.cs = &cs;
    pair.ctx = &cs.create(copy_body, nullptr);
    slp_test_with_sentinels(&pair.main_in, &pair.main_out, copy_leave_to_ctx, nullptr);
    cs.switch_to(*pair.ctx);  // let the context store its registers
}

void run_copy_pair(int ctx_variant) {
    copy_pair pair;
    g_copy = &pair;
    pair.main_in = make_sentinels(3, 0);
    pair.ctx_in = make_sentinels(4, ctx_variant);
    slp_test::copy_stacks cs;
    copy_run(pair, cs);
    EXPECT_EQ(diff_regs(pair.main_in, pair.main_out), "") << "main side";
    EXPECT_EQ(diff_regs(pair.ctx_in, pair.ctx_out), "") << "context side";
}

TEST(Registers, switch_preserves_callee_saved_registers_and_control_words) {
    run_copy_pair(1);
}

TEST(Registers, switch_moves_control_words_that_differ_only_outside_the_rounding_mode) {
    run_copy_pair(2);
}

}  // namespace

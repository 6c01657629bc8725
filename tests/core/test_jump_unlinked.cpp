// detail::jump_unlinked and jump_unlinked_keeping (slp/detail/jump_unlinked.hpp), the
// switches of the channel's inline paths: a context one suspends is resumed by another
// or by plain slp_jump, the transfer reports who resumed, and the callee-saved state and
// the kept object of the suspended side survive (x86_64 enters slp_jump by a jump
// there; the other CPUs by a call).
#include <gtest/gtest.h>

#include <cstdint>

#include "slp/channel.hpp"  // (slp/detail/fast_channel.hpp: inline_switch)
#include "slp/detail/jump_unlinked.hpp"
#include "slp/stack.hpp"

namespace {

struct ping_state {
    slp_ctx main = nullptr;  // where the context resumes main next
    int rounds = 0;
    std::uint64_t sum = 0;
};

ping_state* g_ping = nullptr;

struct kept_pair {
    std::uint64_t x;
    std::uint64_t y;
};

// One of the three ways to `to`, by `way` (0, 1, 2: slp_jump, jump_unlinked,
// jump_unlinked_keeping with `kept`).
slp_transfer jump_by(int way, slp_ctx to, kept_pair& kept) {
    if (way == 0) return slp_jump(to, nullptr);
    if (way == 1) return slp::detail::jump_unlinked(to);
    return slp::detail::jump_unlinked_keeping(to, kept);
}

// The context: adds to the sum on every visit; it goes back to main by each way in
// turn, and checks its own locals across each.
void ping_entry(slp_transfer tr) {
    g_ping->main = tr.from;
    volatile std::uint64_t mine = 0x5a5a5a5a12345678u;  // must survive the switches
    kept_pair kept{7, 8};
    for (int i = 0;; i++) {
        const bool intact = mine == 0x5a5a5a5a12345678u && kept.x == 7 && kept.y == 8;
        g_ping->sum += static_cast<std::uint64_t>(i) * 3 + (intact ? 0 : 1000);
        g_ping->rounds++;
        slp_transfer back = jump_by(i % 3, g_ping->main, kept);
        g_ping->main = back.from;
    }
}

TEST(JumpUnlinked, EachWayMixesWithTheOthersAndKeepsTheSuspendedState) {
    if constexpr (!slp::detail::inline_switch)
        GTEST_SKIP() << "sanitizer build: switches are announced";
    slp::stack st(64 * 1024);
    ping_state ps;
    g_ping = &ps;
    slp_ctx ctx = slp_make(st.top(), st.size(), ping_entry);
    std::uint64_t expect = 0;
    // Callee-saved values live across the switches in main, in as many registers as the
    // compiler cares to use.
    volatile std::uint64_t a = 11, b = 22, c = 33, d = 44, e = 55;
    kept_pair kept{1, 2};
    for (int i = 0; i < 100; i++) {
        const std::uint64_t a0 = a, b0 = b, c0 = c, d0 = d, e0 = e;
        slp_transfer tr = jump_by((i / 3) % 3, ctx, kept);  // (every pair of ways meets)
        ctx = tr.from;  // the context, suspended in its switch back
        EXPECT_EQ(tr.data, nullptr);
        EXPECT_EQ(kept.x + kept.y, 3u);
        EXPECT_EQ(a0 + b0 + c0 + d0 + e0, 165u);
        EXPECT_EQ(a + b + c + d + e, 165u);
        expect += static_cast<std::uint64_t>(i) * 3;
        ASSERT_EQ(ps.rounds, i + 1);
        ASSERT_EQ(ps.sum, expect);
    }
    g_ping = nullptr;
    // The context stays suspended on its stack, which goes away with `st`: it is never
    // resumed again.
}

}  // namespace

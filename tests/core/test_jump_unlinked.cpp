// detail::jump_unlinked (slp/detail/jump_unlinked.hpp), the switch of the channel's
// inline path: a context it suspends is resumed by plain slp_jump and the other way
// round, the transfer reports who resumed, and the callee-saved state of the suspended
// side survives (x86_64 enters slp_jump by a jump there; the other CPUs by a call).
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

// The context: adds to the sum on every visit; it goes back to main alternately by
// jump_unlinked and by slp_jump, and checks its own locals across each.
void ping_entry(slp_transfer tr) {
    g_ping->main = tr.from;
    volatile std::uint64_t mine = 0x5a5a5a5a12345678u;  // must survive the switches
    for (int i = 0;; i++) {
        g_ping->sum += static_cast<std::uint64_t>(i) * 3 + (mine == 0x5a5a5a5a12345678u ? 0 : 1000);
        g_ping->rounds++;
        slp_transfer back = (i % 2 == 0) ? slp::detail::jump_unlinked(g_ping->main)
                                         : slp_jump(g_ping->main, nullptr);
        g_ping->main = back.from;
    }
}

TEST(JumpUnlinked, MixesWithSlpJumpAndKeepsTheSuspendedState) {
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
    for (int i = 0; i < 100; i++) {
        const std::uint64_t a0 = a, b0 = b, c0 = c, d0 = d, e0 = e;
        slp_transfer tr = (i % 3 == 0) ? slp_jump(ctx, nullptr) : slp::detail::jump_unlinked(ctx);
        ctx = tr.from;  // the context, suspended in its switch back
        EXPECT_EQ(tr.data, nullptr);
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

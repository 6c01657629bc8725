// Randomized stress: a million switches among many contexts, each switching from random
// recursion depths, every frame checking its stack-resident data after every resume.
// It ends at the first corruption and runs under a watchdog, so a broken port fails in
// bounded time instead of hanging.
#include <gtest/gtest.h>

#include <chrono>
#include <memory>
#include <random>
#include <vector>

#include "arch_test_support.h"

namespace {

using slp_test::test_stack;

constexpr int kContexts = 24;
constexpr long kSwitches = 1'000'000;
// Far above a healthy run under QEMU on a loaded machine, far below ctest's timeout.
constexpr std::chrono::seconds kWatchdog{300};

struct stress {
    slp_ctx ctx[kContexts + 1] = {};  // slot kContexts is main
    std::mt19937_64 rng{12345};
    long switches = 0;
    long checked_frames = 0;
    long corrupt = 0;
};
stress* g_s = nullptr;

// Keep the suspended context that resumed us; a bad index is corruption, not a write.
void record_resume(slp_transfer t) {
    auto from = reinterpret_cast<intptr_t>(t.data);
    if (from < 0 || from > kContexts) {
        ++g_s->corrupt;
        return;
    }
    g_s->ctx[from] = t.from;
}

// Switch from context `self` to a random other one (main when the budget is spent).
void switch_away(int self) {
    int next;
    if (g_s->switches >= kSwitches || g_s->corrupt != 0) {
        next = kContexts;
    } else {
        do next = static_cast<int>(g_s->rng() % kContexts);
        while (next == self);
    }
    ++g_s->switches;
    slp_ctx to = g_s->ctx[next];
    g_s->ctx[next] = nullptr;
    slp_transfer t = slp_jump(to, reinterpret_cast<void*>(static_cast<intptr_t>(self)));
    record_resume(t);
}

// Recurse to `depth` with a frame full of data derived from (self, depth, round); switch
// at the bottom; on the way back up every frame verifies its data.
__attribute__((noinline)) uint64_t dive(int self, int depth, uint64_t round) {
    volatile uint64_t local[8];
    for (int i = 0; i < 8; ++i)
        local[i] = (static_cast<uint64_t>(self) << 48) ^ (static_cast<uint64_t>(depth) << 32) ^
                   round ^ static_cast<uint64_t>(i) * 0x9e3779b97f4a7c15ull;
    uint64_t below = depth > 0 ? dive(self, depth - 1, round) : (switch_away(self), 0);
    uint64_t sum = 0;
    for (int i = 0; i < 8; ++i) {
        uint64_t want = (static_cast<uint64_t>(self) << 48) ^ (static_cast<uint64_t>(depth) << 32) ^
                        round ^ static_cast<uint64_t>(i) * 0x9e3779b97f4a7c15ull;
        if (local[i] != want) ++g_s->corrupt;
        sum += local[i];
    }
    ++g_s->checked_frames;
    return sum + below;
}

void stress_entry(slp_transfer t) {
    int self = static_cast<int>(reinterpret_cast<intptr_t>(t.data));
    g_s->ctx[kContexts] = t.from;  // main started us
    // The first switch of each context goes back to main, which starts the next one.
    record_resume(slp_jump(t.from, nullptr));
    for (uint64_t round = 0;; ++round) {
        int depth = static_cast<int>(g_s->rng() % 40);  // 0..39 frames deep
        dive(self, depth, round);
    }
}

TEST(Stress, million_random_switches_keep_stack_data_intact) {
    slp_test::watchdog guard("the stress test", kWatchdog);
    stress s;
    g_s = &s;
    std::vector<std::unique_ptr<test_stack>> stacks;
    for (int i = 0; i < kContexts; ++i) {
        stacks.push_back(std::make_unique<test_stack>(128 * 1024));
        slp_ctx c = slp_make(stacks.back()->top(), 128 * 1024, stress_entry);
        slp_transfer t = slp_jump(c, reinterpret_cast<void*>(static_cast<intptr_t>(i)));
        s.ctx[i] = t.from;
    }
    // Enter the ring through context 0; it comes back when the budget is spent.
    slp_ctx first = s.ctx[0];
    s.ctx[0] = nullptr;
    slp_transfer t = slp_jump(first, reinterpret_cast<void*>(static_cast<intptr_t>(kContexts)));
    EXPECT_EQ(s.corrupt, 0);
    EXPECT_GE(s.switches, kSwitches);
    EXPECT_GT(s.checked_frames, kSwitches / 2);
    (void)t;
}

// The watchdog is what bounds a hang: it ends a spinning process with a message.
TEST(StressDeathTest, watchdog_ends_a_spinning_test) {
    EXPECT_EXIT(
        {
            slp_test::watchdog guard("a spinning loop", std::chrono::seconds{1});
            volatile int spin = 1;
            while (spin != 0) {
            }
        },
        testing::ExitedWithCode(3), "a spinning loop did not finish within 1 s");
}

}  // namespace

// Randomized stress: a million switches among many contexts, each switching from random
// recursion depths, every frame checking its stack-resident data after every resume.
#include <gtest/gtest.h>

#include <memory>
#include <random>
#include <vector>

#include "arch_test_support.h"

namespace {

using slp_test::test_stack;

constexpr int kContexts = 24;
constexpr long kSwitches = 1'000'000;

struct stress {
    slp_ctx ctx[kContexts + 1] = {};  // slot kContexts is main
    std::mt19937_64 rng{12345};
    long switches = 0;
    long checked_frames = 0;
    long corrupt = 0;
};
stress* g_s = nullptr;

// Switch from context `self` to a random other one (main when the budget is spent).
void switch_away(int self) {
    int next;
    if (g_s->switches >= kSwitches) {
        next = kContexts;
    } else {
        do next = static_cast<int>(g_s->rng() % kContexts);
        while (next == self);
    }
    ++g_s->switches;
    slp_ctx to = g_s->ctx[next];
    g_s->ctx[next] = nullptr;
    slp_transfer t = slp_jump(to, reinterpret_cast<void*>(static_cast<intptr_t>(self)));
    g_s->ctx[reinterpret_cast<intptr_t>(t.data)] = t.from;
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
    slp_transfer back = slp_jump(t.from, nullptr);
    g_s->ctx[reinterpret_cast<intptr_t>(back.data)] = back.from;
    for (uint64_t round = 0;; ++round) {
        int depth = static_cast<int>(g_s->rng() % 40);  // 0..39 frames deep
        dive(self, depth, round);
    }
}

TEST(Stress, million_random_switches_keep_stack_data_intact) {
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
    EXPECT_GE(s.switches, kSwitches);
    EXPECT_EQ(s.corrupt, 0);
    EXPECT_GT(s.checked_frames, kSwitches / 2);
    (void)t;
}

}  // namespace

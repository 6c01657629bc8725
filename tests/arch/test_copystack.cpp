// slp_switch on one shared stack: pointers into a context's stack stay valid across
// switches at several depths (its slice comes back at the same addresses), under random
// switching among many contexts.
#include <gtest/gtest.h>

#include <random>

#include "arch_test_support.h"

namespace {

using slp_test::copy_stacks;

struct live_state {
    copy_stacks* cs = nullptr;
    std::vector<copy_stacks::context*> ctxs;
    std::mt19937 rng{777};
    long switches_left = 0;
    long verified = 0;
    long corrupt = 0;
    int finished = 0;
};
live_state* g_l = nullptr;

void hop() {
    auto& l = *g_l;
    copy_stacks::context* self = l.cs->current();
    copy_stacks::context* next;
    if (--l.switches_left <= 0) {
        next = &l.cs->main();
    } else {
        do next = l.ctxs[l.rng() % l.ctxs.size()];
        while (next == self);
    }
    l.cs->switch_to(*next);
}

// At each depth keep an array on the stack and a pointer to it in the frame below; after
// switching (from the bottom, and from some middle depths), check through the pointers.
__attribute__((noinline)) void nest(int id, int depth, volatile unsigned* parent_buf,
                                    unsigned parent_seed) {
    volatile unsigned buf[32];
    const unsigned seed = static_cast<unsigned>(id) * 7919u + static_cast<unsigned>(depth);
    for (unsigned i = 0; i < 32; ++i) buf[i] = seed * 31u + i;
    if (depth % 3 == 1) hop();  // switch from a middle depth too
    if (depth > 0)
        nest(id, depth - 1, buf, seed);
    else
        hop();
    for (unsigned i = 0; i < 32; ++i) {
        if (buf[i] != seed * 31u + i) ++g_l->corrupt;
        if (parent_buf != nullptr && parent_buf[i] != parent_seed * 31u + i) ++g_l->corrupt;
    }
    ++g_l->verified;
}

void body(copy_stacks& cs, copy_stacks::context&, void* arg) {
    const int id = static_cast<int>(reinterpret_cast<intptr_t>(arg));
    for (int round = 0; g_l->switches_left > 0; ++round) {
        nest(id, static_cast<int>(g_l->rng() % 12), nullptr, 0);
    }
    ++g_l->finished;
    for (;;) cs.switch_to(cs.main());
}

__attribute__((noinline)) void drive(copy_stacks& cs, live_state& l) {
    cs.set_base(__builtin_frame_address(0));
    for (intptr_t i = 0; i < 8; ++i) l.ctxs.push_back(&cs.create(body, reinterpret_cast<void*>(i)));
    cs.switch_to(*l.ctxs[0]);
}

TEST(CopyStack, live_pointers_into_switched_stacks_stay_valid_at_several_depths) {
    copy_stacks cs;
    live_state l;
    l.cs = &cs;
    l.switches_left = 200000;
    g_l = &l;
    drive(cs, l);
    EXPECT_EQ(l.corrupt, 0);
    EXPECT_GT(l.verified, 10000);
    EXPECT_GE(cs.switches(), 200000u);
    EXPECT_EQ(cs.restores(), cs.switches());  // every slp_switch ran restore once
}

}  // namespace

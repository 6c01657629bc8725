// Switching from inside a C library callback: qsort's comparator switches to another
// context (and back) on every call; the sort must come out right. This is foreign C
// code with live frames on the switched stack, as an interpreter's callbacks have.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdlib>
#include <numeric>
#include <random>
#include <vector>

#include "arch_test_support.h"

namespace {

using slp_test::copy_stacks;
using slp_test::test_stack;

struct qsort_state {
    slp_ctx helper = nullptr;   // own-stack variant
    copy_stacks* cs = nullptr;  // copy-stack variant
    copy_stacks::context* cs_helper = nullptr;
    long calls = 0;
};
qsort_state* g_q = nullptr;

// The helper context counts and returns the comparison's sign: the comparator itself
// asks another context for the answer.
void compare_service(slp_transfer t) {
    for (;;) {
        auto* pair = static_cast<const int**>(t.data);
        intptr_t answer = (*pair[0] > *pair[1]) - (*pair[0] < *pair[1]);
        ++g_q->calls;
        t = slp_jump(t.from, reinterpret_cast<void*>(answer));
    }
}

int compare_via_jump(const void* a, const void* b) {
    const int* pair[2] = {static_cast<const int*>(a), static_cast<const int*>(b)};
    slp_transfer t = slp_jump(g_q->helper, pair);
    g_q->helper = t.from;
    return static_cast<int>(reinterpret_cast<intptr_t>(t.data));
}

std::vector<int> shuffled(int n) {
    std::vector<int> v(static_cast<std::size_t>(n));
    std::iota(v.begin(), v.end(), 0);
    std::shuffle(v.begin(), v.end(), std::mt19937(42));
    return v;
}

TEST(Qsort, jump_from_inside_a_qsort_callback) {
    test_stack stack;
    qsort_state q;
    g_q = &q;
    q.helper = slp_make(stack.top(), stack.span().size(), compare_service);
    std::vector<int> v = shuffled(2000);
    std::qsort(v.data(), v.size(), sizeof(int), compare_via_jump);
    EXPECT_TRUE(std::is_sorted(v.begin(), v.end()));
    EXPECT_GT(q.calls, 2000);
}

// Copy-stack variant: the comparator switches to a context that runs on the same
// stack, below qsort's frames, and comes back.
const int* g_pair_a = nullptr;
const int* g_pair_b = nullptr;
int g_answer = 0;

void copy_compare_body(copy_stacks& cs, copy_stacks::context&, void*) {
    for (;;) {
        g_answer = (*g_pair_a > *g_pair_b) - (*g_pair_a < *g_pair_b);
        ++g_q->calls;
        cs.switch_to(cs.main());
    }
}

int compare_via_switch(const void* a, const void* b) {
    g_pair_a = static_cast<const int*>(a);
    g_pair_b = static_cast<const int*>(b);
    g_q->cs->switch_to(*g_q->cs_helper);
    return g_answer;
}

__attribute__((noinline)) void sort_with_copy_stacks(copy_stacks& cs, std::vector<int>& v) {
    cs.set_base(__builtin_frame_address(0));
    g_q->cs = &cs;
    g_q->cs_helper = &cs.create(copy_compare_body, nullptr);
    std::qsort(v.data(), v.size(), sizeof(int), compare_via_switch);
}

TEST(Qsort, copy_stack_switch_from_inside_a_qsort_callback) {
    qsort_state q;
    g_q = &q;
    copy_stacks cs;
    std::vector<int> v = shuffled(2000);
    sort_with_copy_stacks(cs, v);
    EXPECT_TRUE(std::is_sorted(v.begin(), v.end()));
    EXPECT_GT(q.calls, 2000);
}

}  // namespace

// Stacks: guard page, lazy commit, the pool, and the stack-overflow report (in a child
// process: a death test).
#include <sys/mman.h>
#include <unistd.h>

#include <cstring>
#include <functional>

#include "core_test_support.h"

TEST(Stack, usable_size_is_rounded_up_to_whole_pages) {
    slp::stack s(10000);
    EXPECT_EQ(s.size() % slp::page_size(), 0u);
    EXPECT_GE(s.size(), 10000u);
    EXPECT_EQ(s.lo() - s.guard_lo(), static_cast<std::ptrdiff_t>(slp::page_size()));
}

TEST(Stack, default_size_is_256_KiB) {
    slp::stack s(0);
    EXPECT_EQ(s.size(), slp::default_stack_size);
}

TEST(Stack, pages_are_committed_only_when_touched) {
    slp::stack s(1 << 20);
    const std::size_t pages = s.size() / slp::page_size();
    std::vector<unsigned char> vec(pages);
    ASSERT_EQ(mincore(s.lo(), s.size(), vec.data()), 0);
    std::size_t resident = 0;
    for (unsigned char v : vec) resident += v & 1u;
    EXPECT_EQ(resident, 0u);
    s.top()[-1] = std::byte{1};
    ASSERT_EQ(mincore(s.lo(), s.size(), vec.data()), 0);
    EXPECT_EQ(vec[pages - 1] & 1u, 1u);
}

TEST(Stack, pool_reuses_a_released_stack_of_the_same_size) {
    slp::stack_pool pool;
    slp::stack a = pool.acquire(64 * 1024);
    std::byte* lo = a.lo();
    pool.release(std::move(a));
    EXPECT_EQ(pool.cached(), 1u);
    slp::stack b = pool.acquire(64 * 1024);
    EXPECT_EQ(b.lo(), lo);
    EXPECT_EQ(pool.cached(), 0u);
}

TEST(Stack, pool_keeps_at_most_its_limit) {
    slp::stack_pool pool(2);
    for (int i = 0; i < 4; ++i) pool.release(slp::stack(16 * 1024));
    EXPECT_EQ(pool.cached(), 2u);
}

TEST(Stack, running_stack_is_empty_on_the_threads_own_stack) {
    EXPECT_TRUE(slp::running_stack().empty());
}

class RunningStack : public ::testing::TestWithParam<slp::stack_kind> {};
INSTANTIATE_TEST_SUITE_P(, RunningStack,
                         ::testing::Values(slp::stack_kind::own, slp::stack_kind::copied),
                         slp_test::kind_name);

TEST_P(RunningStack, holds_the_tasklets_locals) {
    std::span<std::byte> seen;
    const std::byte* local = nullptr;
    slp::spawn(
        [&] {
            std::byte here{};
            local = &here;
            seen = slp::running_stack();
            slp::schedule();  // still its stack after a switch
            EXPECT_EQ(slp::running_stack().data(), seen.data());
        },
        {GetParam(), 128 * 1024, "probe"});
    slp::run();
    ASSERT_FALSE(seen.empty());
    EXPECT_GE(seen.size(), 128u * 1024);
    EXPECT_GE(local, seen.data());
    EXPECT_LT(local, seen.data() + seen.size());
    EXPECT_TRUE(slp::running_stack().empty());
}

TEST(StackDeathTest, writing_the_guard_page_faults) {
    GTEST_FLAG_SET(death_test_style, "fast");  // fork only: re-exec fails under qemu-user
    EXPECT_DEATH(
        {
            slp::stack s(16 * 1024);
            volatile std::byte* g = s.guard_lo();
            *g = std::byte{1};
        },
        "");
}

namespace {
volatile bool g_keep_going = true;
__attribute__((noinline)) int recurse_forever(int n) {
    volatile char buf[512];
    buf[0] = static_cast<char>(n);
    if (!g_keep_going) return buf[0];
    return recurse_forever(n + 1) + buf[0];
}
}  // namespace

class StackOverflowDeathTest : public ::testing::TestWithParam<slp::stack_kind> {};
INSTANTIATE_TEST_SUITE_P(, StackOverflowDeathTest,
                         ::testing::Values(slp::stack_kind::own, slp::stack_kind::copied,
                                           slp::stack_kind::soft),
                         slp_test::kind_name);

TEST_P(StackOverflowDeathTest, overflow_names_the_tasklet_and_the_stack_then_aborts) {
#if defined(SLP_ASAN)
    GTEST_SKIP() << "ASan reports stack overflows itself";
#endif
    GTEST_FLAG_SET(death_test_style, "fast");  // fork only: re-exec fails under qemu-user
    EXPECT_DEATH(
        {
            slp::spawn([] { recurse_forever(0); }, {GetParam(), 64 * 1024, "deep"});
            slp::run();
        },
        "slp: stack overflow in tasklet #[0-9]+ 'deep' \\((own|shared|soft runner) stack "
        "\\[0x[0-9a-f]+, "
        "0x[0-9a-f]+\\), guard page at 0x[0-9a-f]+");
}

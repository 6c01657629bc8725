// Stack colours (slp::stack_colour): tasklets that start in turn on own stacks, and
// tasklets on a thread's different shared stacks, begin at different offsets within a
// page, so that their busiest frames fall in different sets of the L1 data cache; and an
// own stack still gives a tasklet the size it asked for.
#include <gtest/gtest.h>

#include <cstdint>
#include <set>
#include <thread>
#include <vector>

#include "core_test_support.h"
#include "slp/slp.hpp"

namespace {

constexpr unsigned colours = slp::stack_colour_range / 64;

// The cache line within its page of the frame of the calling function.
[[gnu::noinline]] unsigned line_in_page() {
    const auto a = reinterpret_cast<std::uintptr_t>(__builtin_frame_address(0));
    return static_cast<unsigned>(a % slp::page_size() / 64);
}

// The lines in their pages where `n` tasklets of `kind`, started in turn on a thread of
// its own, run the same function, each while the others wait on a channel (so that every
// copied one keeps a shared stack of its own).
std::vector<unsigned> lines_of_tasklets_started_in_turn(slp::stack_kind kind, int n) {
    std::vector<unsigned> lines;
    std::thread fresh([&] {
        slp::channel<int> ch;
        for (int i = 0; i < n; ++i)
            slp::spawn(
                [&] {
                    lines.push_back(line_in_page());
                    (void)ch.receive();
                },
                {kind, 0, {}});
        slp::run();  // each starts and waits
        for (int i = 0; i < n; ++i) ch.send(i);
        slp::run();
    });
    fresh.join();
    return lines;
}

TEST(StackColours, cover_the_range_in_multiples_of_a_cache_line) {
    std::set<std::size_t> seen;
    for (unsigned turn = 0; turn < colours; ++turn) {
        const std::size_t c = slp::stack_colour(turn);
        EXPECT_EQ(c % 64, 0u);
        EXPECT_LT(c, slp::stack_colour_range);
        seen.insert(c);
    }
    EXPECT_EQ(seen.size(), colours);
    EXPECT_EQ(slp::stack_colour(colours), slp::stack_colour(0));
}

TEST(StackColours, tasklets_started_in_turn_on_own_stacks_run_in_different_lines) {
    const std::vector<unsigned> lines =
        lines_of_tasklets_started_in_turn(slp::stack_kind::own, static_cast<int>(colours));
    ASSERT_EQ(lines.size(), colours);
    EXPECT_EQ(std::set<unsigned>(lines.begin(), lines.end()).size(), colours);
}

TEST(StackColours, tasklets_on_different_shared_stacks_run_in_different_lines) {
    const int n = std::min<int>(static_cast<int>(colours), slp::shared_stacks_per_thread);
    const std::vector<unsigned> lines =
        lines_of_tasklets_started_in_turn(slp::stack_kind::copied, n);
    ASSERT_EQ(lines.size(), static_cast<std::size_t>(n));
    EXPECT_EQ(std::set<unsigned>(lines.begin(), lines.end()).size(), static_cast<std::size_t>(n));
}

// Whatever its colour, a tasklet has at least the stack size it asked for below its
// first frames (a few hundred bytes: the entry's and the body's).
TEST(StackColours, an_own_stack_keeps_the_size_asked_for) {
    constexpr std::size_t asked = 16 * 1024;
    std::vector<std::size_t> below;
    std::thread fresh([&] {
        for (unsigned i = 0; i < colours; ++i)
            slp::spawn(
                [&] {
                    const auto* frame = static_cast<std::byte*>(__builtin_frame_address(0));
                    below.push_back(static_cast<std::size_t>(frame - slp::running_stack().data()));
                },
                {slp::stack_kind::own, asked, {}});
        slp::run();
    });
    fresh.join();
    ASSERT_EQ(below.size(), colours);
    for (std::size_t b : below) EXPECT_GE(b, asked - 1024);
}

}  // namespace

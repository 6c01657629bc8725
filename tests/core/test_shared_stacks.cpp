// Copied-stack tasklets on a thread's several shared stacks (slp::shared_stacks_per_thread,
// more for a crowd of runnable ones up to slp::max_shared_stacks_per_thread): a few
// tasklets that switch among themselves, or a crowd of runnable ones up to the cap, keep
// their slices in place and copy nothing; more of them than the cap take turns, copying
// slices out and back, with every frame intact. The kind-parameterized suites check the
// semantics; these check where slices live (get_switch_counts().slice_copies) and the paths
// between shared stacks.
#include <gtest/gtest.h>

#include <cstdint>
#include <new>
#include <thread>
#include <vector>

#include "core_test_support.h"
#include "slp/slp.hpp"

namespace {

constexpr slp::tasklet_options copied{slp::stack_kind::copied, 0, {}};

std::uint64_t slice_copies() {
    return slp::get_switch_counts().slice_copies;
}

// Fill a stack buffer with a pattern only `id` and `round` produce, and count the
// entries that no longer hold it after the caller switched away and back.
struct stack_pattern {
    volatile std::uint32_t words[96];
    void fill(int id, int round) {
        for (int i = 0; i < 96; ++i)
            words[i] = static_cast<std::uint32_t>(id * 7919 + round * 131 + i);
    }
    int damaged(int id, int round) const {
        int bad = 0;
        for (int i = 0; i < 96; ++i)
            if (words[i] != static_cast<std::uint32_t>(id * 7919 + round * 131 + i)) ++bad;
        return bad;
    }
};

// `n` copied tasklets that start together and schedule() `rounds` times each, with a
// pattern in each one's frame across every switch, run to their end: every round runs and
// finds its pattern intact. Returns the slices copied meanwhile.
std::uint64_t crowd_taking_turns(int n, int rounds) {
    int damaged = 0;
    int rounds_done = 0;
    for (int id = 0; id < n; ++id) {
        slp::spawn(
            [&, id, rounds] {
                stack_pattern p;
                for (int round = 0; round < rounds; ++round) {
                    p.fill(id, round);
                    slp::schedule();
                    damaged += p.damaged(id, round);
                    ++rounds_done;
                }
            },
            copied);
    }
    const std::uint64_t before = slice_copies();
    slp::run();
    EXPECT_EQ(rounds_done, n * rounds);
    EXPECT_EQ(damaged, 0);
    return slice_copies() - before;
}

class SharedStacks : public ::testing::Test {
 protected:
    slp::tasklet spawn(std::function<void()> fn) {
        slp::tasklet t = slp::spawn(std::move(fn), copied);
        made_.push_back(t);
        return t;
    }
    void TearDown() override { slp_test::kill_leftovers(made_); }

 private:
    std::vector<slp::tasklet> made_;
};

TEST_F(SharedStacks, a_pair_talking_over_a_channel_copies_no_slice) {
    static_assert(slp::shared_stacks_per_thread >= 2);
    slp::channel<int> ch;
    long sum = 0;
    int damaged = 0;
    spawn([&] {
        stack_pattern p;
        p.fill(1, 0);
        for (int i = 0; i < 1000; ++i) sum += ch.receive();
        damaged += p.damaged(1, 0);
    });
    spawn([&] {
        stack_pattern p;
        p.fill(2, 0);
        for (int i = 0; i < 1000; ++i) ch.send(i);
        damaged += p.damaged(2, 0);
    });
    const std::uint64_t before = slice_copies();
    slp::run();
    EXPECT_EQ(slice_copies() - before, 0u);
    EXPECT_EQ(sum, 999L * 1000 / 2);
    EXPECT_EQ(damaged, 0);
}

TEST_F(SharedStacks, as_many_tasklets_as_shared_stacks_schedule_without_copying) {
    EXPECT_EQ(crowd_taking_turns(slp::shared_stacks_per_thread, 100), 0u);
}

// A crowd of runnable tasklets that start together, as many as a thread may have shared
// stacks: each starts on a stack of its own, so taking turns copies no slice.
TEST_F(SharedStacks, a_crowd_of_runnable_tasklets_up_to_the_cap_takes_turns_without_copying) {
    static_assert(slp::max_shared_stacks_per_thread > slp::shared_stacks_per_thread);
    EXPECT_EQ(crowd_taking_turns(slp::max_shared_stacks_per_thread, 20), 0u);
}

// Round-robin among more tasklets than a thread may have shared stacks: every path
// between shared stacks runs (a slice copied out by one slp_switch on the same stack or
// by make_room from another, resumed by slp_switch, by a jump, or through the resumer),
// and each tasklet's frames — three levels deep, a pattern in each — come back intact.
TEST_F(SharedStacks, more_tasklets_than_the_cap_take_turns_with_frames_intact) {
    constexpr int n = slp::max_shared_stacks_per_thread * 2 + 1;
    int damaged = 0;
    int rounds_done = 0;
    std::function<void(int, int)> nest = [&](int id, int depth) {
        stack_pattern p;
        for (int round = 0; round < 20; ++round) {
            p.fill(id * 10 + depth, round);
            if (depth > 0)
                nest(id, depth - 1);
            else
                slp::schedule();
            damaged += p.damaged(id * 10 + depth, round);
            if (depth == 2) ++rounds_done;
        }
    };
    for (int id = 0; id < n; ++id) spawn([&, id] { nest(id, 2); });
    const std::uint64_t before = slice_copies();
    slp::run();
    EXPECT_GT(slice_copies() - before, 0u);
    EXPECT_EQ(rounds_done, n * 20);
    EXPECT_EQ(damaged, 0);
}

// Each thread's scheduler has shared stacks of its own: crowds on two threads at once,
// each as large as the cap, take turns without copying and without touching each
// other's frames.
TEST(SharedStacksThreads, each_thread_has_its_own_shared_stacks) {
    constexpr int n = slp::max_shared_stacks_per_thread;
    std::uint64_t copies_there = 1;
    std::thread other([&] { copies_there = crowd_taking_turns(n, 20); });
    EXPECT_EQ(crowd_taking_turns(n, 20), 0u);
    other.join();
    EXPECT_EQ(copies_there, 0u);
}

// Channels between copied tasklets and own-stack ones and main, with more copied
// tasklets than shared stacks: values arrive in order and no frame is damaged.
TEST_F(SharedStacks, copied_own_and_main_mixed_over_channels) {
    constexpr int copied_count = slp::shared_stacks_per_thread + 2;
    slp::channel<int> to_main;
    int damaged = 0;
    std::vector<slp::tasklet> own_ones;
    for (int id = 0; id < copied_count; ++id) {
        spawn([&, id] {
            stack_pattern p;
            for (int i = 0; i < 30; ++i) {
                p.fill(id, i);
                to_main.send(id * 1000 + i);
                damaged += p.damaged(id, i);
            }
        });
        own_ones.push_back(slp::spawn([] { slp::schedule(); }));
    }
    std::vector<int> next(copied_count, 0);
    for (int k = 0; k < copied_count * 30; ++k) {
        const int v = to_main.receive();
        const int id = v / 1000;
        ASSERT_GE(id, 0);
        ASSERT_LT(id, copied_count);
        EXPECT_EQ(v % 1000, next[id]++);
    }
    slp::run();
    EXPECT_EQ(damaged, 0);
}

// A tasklet that ends frees its shared stack: the next pair to start finds free ones
// and copies nothing, even after a crowd filled every shared stack.
TEST_F(SharedStacks, ended_tasklets_leave_their_shared_stacks_free) {
    for (int id = 0; id < slp::shared_stacks_per_thread * 3; ++id) spawn([] { slp::schedule(); });
    slp::run();
    slp::channel<int> ch;
    long sum = 0;
    spawn([&] {
        for (int i = 0; i < 100; ++i) sum += ch.receive();
    });
    spawn([&] {
        for (int i = 0; i < 100; ++i) ch.send(i);
    });
    const std::uint64_t before = slice_copies();
    slp::run();
    EXPECT_EQ(slice_copies() - before, 0u);
    EXPECT_EQ(sum, 99L * 100 / 2);
}

// A copied tasklet that keeps a pattern in its frame while it waits on `parked` (and adds
// the entries that no longer hold it to `damaged`).
void park(slp::channel<int>& parked, int id, int& damaged) {
    slp::spawn(
        [&parked, &damaged, id] {
            stack_pattern p;
            p.fill(id, 7);
            (void)parked.receive();
            damaged += p.damaged(id, 7);
        },
        copied);
}

// Every shared stack holds a tasklet blocked on a channel: a pair that starts then takes
// two of those stacks (each start copies one blocked slice out, once) rather than mapping
// more, and talks without copying anything more; the blocked ones come back intact. (On
// a thread of its own, whose scheduler has mapped no shared stack yet: the other tests'
// crowds leave more stacks free on theirs.)
TEST(SharedStacksFresh, a_new_pair_evicts_blocked_occupants_once_then_copies_nothing) {
    std::thread fresh([] {
        constexpr int n = slp::shared_stacks_per_thread;
        slp::channel<int> parked;
        int damaged = 0;
        for (int id = 0; id < n; ++id) park(parked, id, damaged);
        slp::run();  // all of them blocked, one on each shared stack
        ASSERT_EQ(parked.balance(), -n);
        slp::channel<int> ch;
        long sum = 0;
        slp::spawn(
            [&] {
                for (int i = 0; i < 500; ++i) sum += ch.receive();
            },
            copied);
        slp::spawn(
            [&] {
                for (int i = 0; i < 500; ++i) ch.send(i);
            },
            copied);
        const std::uint64_t before = slice_copies();
        slp::run();
        EXPECT_EQ(slice_copies() - before, 2u);  // two blocked slices out, nothing else
        EXPECT_EQ(sum, 499L * 500 / 2);
        for (int id = 0; id < n; ++id) parked.send(id);
        EXPECT_EQ(damaged, 0);
    });
    fresh.join();
}

// The stacks a crowd mapped and left free go to a crowd only: a tasklet that starts while
// every occupant waits takes a waiting one's stack (its slice goes to the heap: tasklets
// that wait stay compact), and a later crowd takes the free ones after the waiting
// occupants' stacks. (On a thread of its own, as above.)
TEST(SharedStacksFresh, stacks_a_crowd_left_free_go_to_a_crowd_not_to_waiting_tasklets) {
    std::thread fresh([] {
        constexpr int kept = slp::shared_stacks_per_thread;
        EXPECT_EQ(crowd_taking_turns(kept + 6, 5), 0u);  // maps 6 stacks more
        slp::channel<int> parked;
        int damaged = 0;
        const std::uint64_t before = slice_copies();
        for (int id = 0; id < kept + 1; ++id) park(parked, id, damaged);
        slp::run();
        EXPECT_EQ(slice_copies() - before, 1u);  // the last one displaced a waiting one
        // (the waiting occupants' stacks first, one copy each, then the free ones)
        EXPECT_EQ(crowd_taking_turns(kept + 6, 5), static_cast<std::uint64_t>(kept));
        for (int id = 0; id < kept + 1; ++id) parked.send(id);
        EXPECT_EQ(damaged, 0);
    });
    fresh.join();
}

// A pipeline of `n` copied tasklets (a source, n - 2 stages that pass each item on, a sink)
// that start in turn and block as they start, passing `items` integers through n - 1
// channels, on a thread of its own (no stacks mapped yet): every item arrives, and no
// frame is damaged. Returns the slices copied from the first start to the end.
std::uint64_t pipeline_on_a_fresh_thread(int n, int items) {
    std::uint64_t copies = 0;
    std::thread fresh([&] {
        std::vector<slp::channel<int>> chs(static_cast<std::size_t>(n - 1));
        long sum = 0;
        int damaged = 0;
        slp::spawn(
            [&] {
                for (int i = 0; i < items; ++i) sum += chs.back().receive();
            },
            copied);
        for (int stage = n - 3; stage >= 0; --stage) {
            slp::spawn(
                [&, stage] {
                    stack_pattern p;
                    p.fill(stage, 0);
                    for (int i = 0; i < items; ++i) chs[stage + 1].send(chs[stage].receive());
                    damaged += p.damaged(stage, 0);
                },
                copied);
        }
        slp::spawn(
            [&] {
                for (int i = 0; i < items; ++i) chs.front().send(i);
            },
            copied);
        const std::uint64_t before = slice_copies();
        slp::run();
        copies = slice_copies() - before;
        EXPECT_EQ(sum, static_cast<long>(items - 1) * items / 2);
        EXPECT_EQ(damaged, 0);
    });
    fresh.join();
    return copies;
}

// Each stage of a pipeline waits as it starts, so each takes a shared stack of its own
// while the thread has fewer than shared_stacks_per_thread: a pipeline that long passes
// items without copying a slice. One stage more takes a waiting stage's stack, and those
// two copy slices whenever they take turns on it.
TEST(SharedStacksFresh, a_pipeline_as_long_as_the_kept_stacks_copies_no_slice) {
    EXPECT_EQ(pipeline_on_a_fresh_thread(slp::shared_stacks_per_thread, 200), 0u);
}

TEST(SharedStacksFresh, a_pipeline_one_stage_longer_copies_slices) {
    EXPECT_GT(pipeline_on_a_fresh_thread(slp::shared_stacks_per_thread + 1, 200), 0u);
}

// A copied tasklet that would block and switch to a tasklet whose stack cannot be
// mapped gets std::bad_alloc, still running and off the channel; the channel works on.
TEST_F(SharedStacks, blocking_into_a_tasklet_that_cannot_start_throws_and_changes_nothing) {
    const std::size_t ps = slp::page_size();
    slp::channel<int> ch;
    bool threw = false;
    bool still_running = false;
    slp::tasklet huge;
    const slp::tasklet me = spawn([&] {
        try {
            (void)ch.receive();  // the next runnable is `huge`
        } catch (const std::bad_alloc&) {
            threw = true;
        }
        still_running = slp::getcurrent().is_current() && !slp::getcurrent().blocked() &&
                        slp::getcurrent().scheduled();
        huge.remove();
    });
    huge = slp::spawn([] {}, {slp::stack_kind::own, (SIZE_MAX / ps - 4) * ps, {}});
    slp::run();
    EXPECT_TRUE(threw);
    EXPECT_TRUE(still_running);
    EXPECT_FALSE(me.alive());
    EXPECT_EQ(ch.balance(), 0);
    const slp::tasklet sender = spawn([&] { ch.send(7); });
    EXPECT_EQ(ch.receive(), 7);
    slp::run();
}

}  // namespace

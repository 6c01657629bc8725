// The channel's lock: biased to the first thread that uses the channel (plain stores, no
// atomic read-modify-write), handed over to a shared spin lock the moment a second thread
// wants it (core/src/channel.cpp). Values must never be lost or reordered across the
// handover, whichever thread is inside the lock when it happens.
#include <atomic>
#include <chrono>
#include <thread>
#include <vector>

#include "core_test_support.h"

namespace {

// (A macro: GTEST_SKIP returns from the function it is written in.)
#define SKIP_WITHOUT_BIAS()                             \
    if (!slp::channel_base::biased_locking_available()) \
    GTEST_SKIP() << "no membarrier(2) here (or TSan): every channel lock is shared"

// A receiver and a sender tasklet of this thread exchange n values over ch; returns the
// values received, in order.
std::vector<int> local_pingpong(slp::channel<int>& ch, int n) {
    std::vector<int> got;
    slp::spawn([&] {
        for (int i = 0; i < n; ++i) got.push_back(ch.receive());
    });
    slp::spawn([&] {
        for (int i = 0; i < n; ++i) ch.send(i);
    });
    slp::run();
    return got;
}

}  // namespace

TEST(ChannelLock, the_first_thread_to_use_a_channel_owns_its_lock) {
    SKIP_WITHOUT_BIAS();
    slp::channel<int> ch;
    (void)slp::getcurrent();
    EXPECT_FALSE(ch.lock_biased_here());  // nobody used it yet
    EXPECT_EQ(local_pingpong(ch, 3), (std::vector<int>{0, 1, 2}));
    EXPECT_TRUE(ch.lock_biased_here());
    bool biased_there = true;
    std::thread other([&] {
        (void)slp::getcurrent();
        biased_there = ch.lock_biased_here();
    });
    other.join();
    EXPECT_FALSE(biased_there);  // a thread that did not lock it does not own it
}

TEST(ChannelLock, a_second_thread_takes_the_lock_over_and_both_go_on) {
    SKIP_WITHOUT_BIAS();
    (void)slp::getcurrent();
    slp::channel<int> ch;
    EXPECT_EQ(local_pingpong(ch, 10).size(), 10U);
    ASSERT_TRUE(ch.lock_biased_here());
    std::vector<int> got_there;
    bool biased_there = true;
    std::atomic<int> ready{0};
    std::thread other([&] {
        (void)slp::getcurrent();
        ++ready;
        for (int i = 0; i < 3; ++i) got_there.push_back(ch.receive());  // takes the lock over
        biased_there = ch.lock_biased_here();
    });
    while (ready.load() < 1) std::this_thread::yield();
    for (int i = 0; i < 3; ++i) ch.send(100 + i);
    other.join();
    EXPECT_EQ(got_there, (std::vector<int>{100, 101, 102}));
    EXPECT_FALSE(ch.lock_biased_here());
    EXPECT_FALSE(biased_there);                       // shared for good: nobody owns it any more
    EXPECT_EQ(local_pingpong(ch, 100).size(), 100U);  // and this thread still uses it
    EXPECT_EQ(ch.balance(), 0);
}

// The owner is inside its lock over and over (a ping-pong of its own tasklets) when a
// second thread starts sending on the same channel: the handover happens mid-stream.
// Every value arrives exactly once, and each sender's values in the order sent.
TEST(ChannelLock, handover_while_the_owner_is_busy_in_the_lock) {
    (void)slp::getcurrent();
    constexpr int own = 20000;
    constexpr int foreign = 500;
    slp::channel<int> ch;
    std::atomic<bool> owner_running{false};
    std::vector<int> got;
    std::thread owner([&] {
        (void)slp::getcurrent();
        slp::channel<int> done;
        slp::spawn([&] {
            for (int i = 0; i < own + foreign; ++i) got.push_back(ch.receive());
            done.send(1);
        });
        slp::spawn([&] {
            for (int i = 0; i < own; ++i) {
                if (i == 100) owner_running = true;
                ch.send(i);
            }
        });
        done.receive();  // the receiver waits for the other thread's values meanwhile
    });
    while (!owner_running.load()) std::this_thread::yield();
    for (int i = 0; i < foreign; ++i) ch.send(-1 - i);  // blocks while nobody receives
    owner.join();
    ASSERT_EQ(got.size(), static_cast<std::size_t>(own + foreign));
    int next_own = 0;
    int next_foreign = -1;
    for (int v : got) {
        if (v >= 0)
            EXPECT_EQ(v, next_own++);
        else
            EXPECT_EQ(v, next_foreign--);
    }
    EXPECT_EQ(next_own, own);
    EXPECT_EQ(next_foreign, -1 - foreign);
    EXPECT_FALSE(ch.lock_biased_here());
}

// A thread that never used slp (no scheduler) may still take the lock: it takes the
// channel over like any other thread.
TEST(ChannelLock, a_thread_without_a_scheduler_takes_the_lock_over) {
    (void)slp::getcurrent();
    slp::channel<int> ch;
    slp::tasklet rx = slp::spawn([&] { (void)ch.receive(); });
    slp::run();  // rx blocks on ch: the channel's lock is now this thread's
    ASSERT_TRUE(rx.blocked());
    std::uint64_t seen = 0;
    std::thread plain([&] { seen = ch.queue().id(); });  // locks the channel
    plain.join();
    EXPECT_EQ(seen, rx.id());
    EXPECT_FALSE(ch.lock_biased_here());
    ch.send(1);  // the shared lock serves this thread as before
    EXPECT_FALSE(rx.alive());
}

// The handover waits for an owner that is inside the lock, and from then on the old
// owner takes the shared lock, which excludes the others as well.
TEST(ChannelLock, the_taker_waits_for_the_owner_to_leave_and_the_lock_stays_exclusive) {
    SKIP_WITHOUT_BIAS();
    (void)slp::getcurrent();
    slp::channel<int> ch;
    ch.unlock(ch.lock());  // first use: the lock is this thread's from now on
    ASSERT_TRUE(ch.lock_biased_here());

    const bool biased = ch.lock();  // the owner is inside
    ASSERT_TRUE(biased);
    std::atomic<bool> owner_left{false};
    std::atomic<bool> taker_in{false};
    std::atomic<bool> taker_saw_owner_left{false};
    std::thread taker([&] {
        (void)ch.queue();  // takes the lock over: must wait for the owner
        taker_saw_owner_left = owner_left.load();
        taker_in = true;
    });
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    EXPECT_FALSE(taker_in.load());
    owner_left = true;
    ch.unlock(biased);
    taker.join();
    EXPECT_TRUE(taker_saw_owner_left.load());
    EXPECT_FALSE(ch.lock_biased_here());

    const bool again = ch.lock();  // the old owner now takes the shared lock...
    EXPECT_FALSE(again);
    std::atomic<bool> second_in{false};
    std::thread second([&] {
        (void)ch.queue();  // ...which keeps the others out
        second_in = true;
    });
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    EXPECT_FALSE(second_in.load());
    ch.unlock(again);
    second.join();
    EXPECT_TRUE(second_in.load());
}

// A thread without a scheduler that is the first to lock a channel makes it shared at
// once: were it left unowned, the next thread with a scheduler would bias it to itself
// and then lock with plain stores while the first one may hold the spin lock.
TEST(ChannelLock, a_first_lock_from_a_thread_without_a_scheduler_shares_the_channel) {
    SKIP_WITHOUT_BIAS();
    slp::channel<int> ch;
    std::thread plain([&] { (void)ch.queue(); });
    plain.join();
    EXPECT_EQ(local_pingpong(ch, 3), (std::vector<int>{0, 1, 2}));
    EXPECT_FALSE(ch.lock_biased_here());
}

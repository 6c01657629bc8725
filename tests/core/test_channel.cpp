// Channels: send/receive, preference and schedule_all exactly as Stackless, balance,
// close/open, exceptions over channels, sequences, iteration, the queue, and errors.
#include <memory>
#include <stdexcept>
#include <string>

#include "core_test_support.h"

using slp_test::Kinds;
using slp_test::trace;
using S = std::vector<std::string>;

class Channel : public Kinds {};
SLP_KINDS_SUITE(Channel);

TEST_P(Channel, send_delivers_the_value_to_a_waiting_receiver) {
    slp::channel<int> ch;
    int got = 0;
    go([&] { got = ch.receive(); });
    slp::run();
    ch.send(42);
    EXPECT_EQ(got, 42);
}

// A tasklet that ended and is set up again starts afresh when a channel action switches
// to it: how it was last suspended (the jump that ended it) is no way to resume it. It
// gets a stack of its own again: another tasklet started while it is suspended does not
// land on its frames.
TEST_P(Channel, a_tasklet_set_up_again_after_it_ended_starts_afresh) {
    slp::channel<int> ch;
    int runs = 0;
    int damaged = 0;
    slp::tasklet t = go([&] { ++runs; });
    slp::run();
    ASSERT_FALSE(t.alive());
    t.bind([&] {
        ++runs;
        volatile int mine[256];
        for (int i = 0; i < 256; ++i) mine[i] = i * 3 + 1;
        ch.send(7);  // to the waiting receiver, which runs first
        for (int i = 0; i < 256; ++i)
            if (mine[i] != i * 3 + 1) ++damaged;
    });
    t.setup();
    EXPECT_EQ(ch.receive(), 7);  // blocks, and t, the next runnable, starts
    slp::tasklet other = go([] {
        volatile int mine[256];
        for (int i = 0; i < 256; ++i) mine[i] = -1;
        slp::schedule();
        mine[0] = mine[255];
    });
    other.run();  // before t resumes
    slp::run();
    EXPECT_EQ(runs, 2);
    EXPECT_EQ(damaged, 0);
    EXPECT_FALSE(t.alive());
}

TEST_P(Channel, receive_takes_the_value_of_a_waiting_sender) {
    slp::channel<std::string> ch;
    go([&] { ch.send("hello"); });
    slp::run();
    EXPECT_EQ(ch.balance(), 1);
    EXPECT_EQ(ch.receive(), "hello");
    EXPECT_EQ(ch.balance(), 0);
}

TEST_P(Channel, balance_counts_waiting_senders_positive_and_receivers_negative) {
    slp::channel<int> ch;
    go([&] { ch.receive(); });
    go([&] { ch.receive(); });
    slp::run();
    EXPECT_EQ(ch.balance(), -2);
    ch.send(1);
    EXPECT_EQ(ch.balance(), -1);
    ch.send(2);
    EXPECT_EQ(ch.balance(), 0);
    go([&] { ch.send(3); });
    slp::run();
    EXPECT_EQ(ch.balance(), 1);
    ch.receive();
}

// Preference -1 (default): on send, the receiver runs at once; the sender is put right
// behind it.
TEST_P(Channel, prefer_receiver_send_switches_to_the_receiver) {
    slp::channel<int> ch;
    trace tr;
    go([&] { tr("r got " + std::to_string(ch.receive())); });
    slp::run();
    go([&] { tr("other"); });
    ch.send(1);
    tr("sender continues");
    slp::run();
    // Ring after the send: main, r, other; r runs now, main is last from r's view.
    EXPECT_EQ(tr.ev, (S{"r got 1", "other", "sender continues"}));
}

TEST_P(Channel, prefer_receiver_receive_continues_and_sender_goes_last) {
    slp::channel<int> ch;
    trace tr;
    go([&] {
        ch.send(5);
        tr("sender resumed");
    });
    slp::run();
    go([&] { tr("other"); });
    EXPECT_EQ(ch.receive(), 5);
    tr("receiver continues");
    slp::run();
    EXPECT_EQ(tr.ev, (S{"receiver continues", "other", "sender resumed"}));
}

TEST_P(Channel, prefer_sender_send_continues_and_receiver_goes_last) {
    slp::channel<int> ch;
    ch.set_preference(1);
    trace tr;
    go([&] { tr("r got " + std::to_string(ch.receive())); });
    slp::run();
    go([&] { tr("other"); });
    ch.send(1);
    tr("sender continues");
    slp::run();
    EXPECT_EQ(tr.ev, (S{"sender continues", "other", "r got 1"}));
}

TEST_P(Channel, prefer_sender_receive_switches_to_the_sender) {
    slp::channel<int> ch;
    ch.set_preference(1);
    trace tr;
    go([&] {
        ch.send(5);
        tr("sender resumed");
    });
    slp::run();
    go([&] { tr("other"); });
    EXPECT_EQ(ch.receive(), 5);
    tr("receiver continues");
    slp::run();
    EXPECT_EQ(tr.ev, (S{"sender resumed", "other", "receiver continues"}));
}

TEST_P(Channel, prefer_neither_the_caller_continues_on_send) {
    slp::channel<int> ch;
    ch.set_preference(0);
    trace tr;
    go([&] { tr("r got " + std::to_string(ch.receive())); });
    slp::run();
    go([&] { tr("other"); });
    ch.send(1);
    tr("sender continues");
    slp::run();
    EXPECT_EQ(tr.ev, (S{"sender continues", "other", "r got 1"}));
}

TEST_P(Channel, prefer_neither_the_caller_continues_on_receive) {
    slp::channel<int> ch;
    ch.set_preference(0);
    trace tr;
    go([&] {
        ch.send(5);
        tr("sender resumed");
    });
    slp::run();
    go([&] { tr("other"); });
    EXPECT_EQ(ch.receive(), 5);
    tr("receiver continues");
    slp::run();
    EXPECT_EQ(tr.ev, (S{"receiver continues", "other", "sender resumed"}));
}

TEST_P(Channel, preference_is_clamped_to_minus_one_zero_one) {
    slp::channel<int> ch;
    EXPECT_EQ(ch.preference(), -1);
    ch.set_preference(17);
    EXPECT_EQ(ch.preference(), 1);
    ch.set_preference(-5);
    EXPECT_EQ(ch.preference(), -1);
    ch.set_preference(0);
    EXPECT_EQ(ch.preference(), 0);
}

TEST_P(Channel, schedule_all_sends_partner_last_and_runs_the_next_runnable) {
    slp::channel<int> ch;
    ch.set_schedule_all(true);
    trace tr;
    go([&] { tr("r got " + std::to_string(ch.receive())); });
    slp::run();
    go([&] { tr("other"); });
    ch.send(1);
    tr("sender continues");
    slp::run();
    EXPECT_EQ(tr.ev, (S{"other", "r got 1", "sender continues"}));
}

TEST_P(Channel, schedule_all_overrides_preference) {
    slp::channel<int> ch;
    ch.set_schedule_all(true);
    ch.set_preference(1);
    trace tr;
    go([&] { tr("r got " + std::to_string(ch.receive())); });
    slp::run();
    go([&] { tr("other"); });
    ch.send(1);
    tr("sender continues");
    slp::run();
    EXPECT_EQ(tr.ev, (S{"other", "r got 1", "sender continues"}));
}

TEST_P(Channel, close_with_waiters_is_closing_but_not_closed) {
    slp::channel<int> ch;
    go([&] { ch.send(1); });
    slp::run();
    ch.close();
    EXPECT_TRUE(ch.closing());
    EXPECT_FALSE(ch.closed());
    EXPECT_EQ(ch.receive(), 1);  // a waiting partner still completes
    EXPECT_TRUE(ch.closed());
}

TEST_P(Channel, receive_on_closed_channel_raises) {
    slp::channel<int> ch;
    ch.close();
    EXPECT_TRUE(ch.closed());
    try {
        ch.receive();
        FAIL();
    } catch (const slp::value_error& e) {
        EXPECT_STREQ(e.what(), slp::msg::closed_channel);
    }
    EXPECT_EQ(ch.balance(), 0);
}

TEST_P(Channel, send_on_closed_channel_raises) {
    slp::channel<int> ch;
    ch.close();
    EXPECT_THROW(ch.send(1), slp::value_error);
    EXPECT_EQ(ch.balance(), 0);
}

TEST_P(Channel, send_on_closing_channel_with_a_waiting_receiver_works) {
    slp::channel<int> ch;
    int got = 0;
    go([&] { got = ch.receive(); });
    slp::run();
    ch.close();
    ch.send(9);
    EXPECT_EQ(got, 9);
    EXPECT_TRUE(ch.closed());
}

TEST_P(Channel, open_reopens_a_closed_channel) {
    slp::channel<int> ch;
    ch.close();
    ch.open();
    EXPECT_FALSE(ch.closing());
    go([&] { ch.send(3); });
    EXPECT_EQ(ch.receive(), 3);
}

TEST_P(Channel, send_exception_raises_in_the_receiver) {
    slp::channel<int> ch;
    std::string got;
    go([&] {
        try {
            ch.receive();
        } catch (const std::logic_error& e) {
            got = e.what();
        }
    });
    slp::run();
    ch.send_exception<std::logic_error>("over the channel");
    EXPECT_EQ(got, "over the channel");
}

TEST_P(Channel, send_throw_to_a_later_receiver_raises_there) {
    slp::channel<int> ch;
    go([&] { ch.send_throw(std::make_exception_ptr(std::out_of_range("later"))); });
    slp::run();
    EXPECT_EQ(ch.balance(), 1);
    EXPECT_THROW(ch.receive(), std::out_of_range);
    EXPECT_EQ(ch.balance(), 0);
}

TEST_P(Channel, send_sequence_sends_each_element_in_order) {
    slp::channel<int> ch;
    std::vector<int> got;
    go([&] {
        for (int i = 0; i < 4; ++i) got.push_back(ch.receive());
    });
    std::size_t n = 0;
    go([&] { n = ch.send_sequence(std::vector<int>{0, 1, 2, 3}); });
    slp::run();
    EXPECT_EQ(n, 4u);
    EXPECT_EQ(got, (std::vector<int>{0, 1, 2, 3}));
}

TEST_P(Channel, iteration_receives_until_closed) {
    slp::channel<int> ch;
    std::vector<int> got;
    go([&] {
        for (int v : ch) got.push_back(v);
    });
    go([&] {
        for (int i = 0; i < 3; ++i) ch.send(i);
        ch.close();
    });
    slp::run();
    EXPECT_EQ(got, (std::vector<int>{0, 1, 2}));
}

TEST_P(Channel, iteration_of_a_closed_channel_ends_at_once) {
    slp::channel<int> ch;
    ch.close();
    int n = 0;
    for (int v : ch) n += v + 1;
    EXPECT_EQ(n, 0);
    EXPECT_FALSE(ch.next().has_value());
}

TEST_P(Channel, queue_lists_the_blocked_tasklets_in_order) {
    slp::channel<int> ch;
    EXPECT_FALSE(ch.queue());
    slp::tasklet a = go([&] { ch.receive(); });
    slp::tasklet b = go([&] { ch.receive(); });
    slp::run();
    EXPECT_EQ(ch.queue(), a);
    EXPECT_EQ(ch.queue().next(), b);
    EXPECT_FALSE(b.next());
    ch.send(1);
    ch.send(2);
}

// The queue's head says whether it is empty: a queue emptied by an exchange (its tail
// left behind) and filled again links only the tasklets now in it, in order, and one
// taken off in the middle (kill) leaves the others linked.
TEST_P(Channel, a_queue_emptied_by_an_exchange_and_filled_again_keeps_its_order) {
    slp::channel<int> ch;
    int got_first = 0;
    go([&] { got_first = ch.receive(); });
    slp::run();
    ch.send(1);  // the queue is empty again
    EXPECT_EQ(got_first, 1);
    EXPECT_FALSE(ch.queue());
    std::vector<int> got;  // 10 * which tasklet + the value it got
    slp::tasklet a = go([&] { got.push_back(10 + ch.receive()); });
    slp::tasklet b = go([&] { got.push_back(20 + ch.receive()); });
    slp::tasklet c = go([&] { got.push_back(30 + ch.receive()); });
    slp::run();
    EXPECT_EQ(ch.queue(), a);
    EXPECT_EQ(ch.queue().next(), b);
    EXPECT_EQ(ch.queue().next().next(), c);
    EXPECT_FALSE(c.next());
    b.kill();
    EXPECT_EQ(ch.balance(), -2);
    EXPECT_EQ(ch.queue(), a);
    EXPECT_EQ(ch.queue().next(), c);
    EXPECT_FALSE(c.next());
    ch.send(2);
    ch.send(3);
    EXPECT_EQ(got, (std::vector<int>{12, 33}));
    EXPECT_FALSE(ch.queue());
}

TEST_P(Channel, receivers_are_served_first_come_first_served) {
    slp::channel<int> ch;
    trace tr;
    // (Via to_string of the value first: g++ 12 -O3 gives a false -Wrestrict for
    // "b" + std::to_string(...) here, GCC PR 105651.)
    go([&] { tr(std::to_string(ch.receive()).insert(0, 1, 'a')); });
    go([&] { tr(std::to_string(ch.receive()).insert(0, 1, 'b')); });
    slp::run();
    ch.send(1);
    ch.send(2);
    EXPECT_EQ(tr.ev, (S{"a1", "b2"}));
}

TEST_P(Channel, block_trap_makes_blocking_raise) {
    slp::channel<int> ch;
    go([] {});
    slp::tasklet m = slp::getcurrent();
    m.set_block_trap(true);
    try {
        ch.receive();
        FAIL();
    } catch (const slp::runtime_error& e) {
        EXPECT_STREQ(e.what(), slp::msg::block_trap);
    }
    m.set_block_trap(false);
    EXPECT_EQ(ch.balance(), 0);
    slp::run();
}

TEST_P(Channel, move_only_and_large_values_travel) {
    slp::channel<std::unique_ptr<int>> a;
    struct big {
        char bytes[200];
    };
    slp::channel<big> b;
    go([&] { a.send(std::make_unique<int>(7)); });
    go([&] {
        big x{};
        x.bytes[199] = 'z';
        b.send(x);
    });
    slp::run();
    EXPECT_EQ(*a.receive(), 7);
    EXPECT_EQ(b.receive().bytes[199], 'z');
}

TEST_P(Channel, destroying_a_channel_kills_its_blocked_tasklets) {
    int unwound = 0;
    slp::tasklet t;
    {
        slp::channel<int> ch;
        t = go([&] {
            slp_test::sentry s(&unwound);
            ch.receive();
        });
        slp::run();
    }
    EXPECT_TRUE(t.alive());
    slp::run();
    EXPECT_EQ(unwound, 1);
    EXPECT_FALSE(t.alive());
}

TEST_P(Channel, seed_example_prints_in_stackless_order) {
    slp::channel<std::string> ch;
    trace tr;
    go([&] {
        tr("Receiving tasklet started");
        tr(ch.receive());
        tr("Receiving tasklet finished");
    });
    go([&] {
        tr("Sending tasklet started");
        ch.send("send from sending_tasklet");
        tr("sending tasklet finished");
    });
    go([&] { tr("Just another tasklet in the scheduler"); });
    slp::run();
    EXPECT_EQ(tr.ev, (S{"Receiving tasklet started", "Sending tasklet started",
                        "send from sending_tasklet", "Receiving tasklet finished",
                        "Just another tasklet in the scheduler", "sending tasklet finished"}));
}

TEST(Payload, take_of_the_wrong_type_raises) {
    slp::payload p;
    p.emplace<int>(3);
    EXPECT_TRUE(p.holds<int>());
    EXPECT_THROW(p.take<long>(), std::logic_error);
    EXPECT_EQ(p.take<int>(), 3);
    EXPECT_FALSE(p.has_value());
}

// A value that cannot be moved into the channel (boxed: its move may throw, and here
// does) makes the send throw before anything changed: the receiver keeps waiting.
namespace {
struct move_may_throw {
    static inline bool fail = false;
    int v = 0;
    explicit move_may_throw(int x) : v(x) {}
    move_may_throw(move_may_throw&& o) : v(o.v) {
        if (fail) throw std::runtime_error("move failed");
    }
};
}  // namespace

TEST(ChannelValues, a_send_whose_value_cannot_be_moved_throws_and_changes_nothing) {
    slp::channel<move_may_throw> ch;
    int got = 0;
    slp::tasklet rx = slp::spawn([&] { got = ch.receive().v; });
    slp::run();
    ASSERT_EQ(ch.balance(), -1);
    move_may_throw::fail = true;
    EXPECT_THROW(ch.send(move_may_throw(7)), std::runtime_error);
    move_may_throw::fail = false;
    EXPECT_EQ(ch.balance(), -1);
    EXPECT_TRUE(rx.blocked());
    ch.send(move_may_throw(8));
    EXPECT_EQ(got, 8);
    EXPECT_FALSE(rx.alive());
}

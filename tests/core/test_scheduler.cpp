// The per-thread scheduler: run, schedule, schedule_remove, runcount, deadlock,
// exceptions escaping tasklets, switch_trap, callbacks and the switch observer.
#include <cstdint>
#include <new>
#include <string>
#include <thread>

#include "core_test_support.h"

using slp_test::Kinds;
using slp_test::trace;
using S = std::vector<std::string>;

class Scheduler : public Kinds {};
SLP_KINDS_SUITE(Scheduler);

TEST_P(Scheduler, run_runs_tasklets_in_creation_order) {
    trace tr;
    go([&] { tr("a"); });
    go([&] { tr("b"); });
    go([&] { tr("c"); });
    slp::run();
    EXPECT_EQ(tr.ev, (S{"a", "b", "c"}));
}

TEST_P(Scheduler, run_returns_at_once_when_nothing_else_is_runnable) {
    slp::run();
    EXPECT_EQ(slp::getruncount(), 1);
}

TEST_P(Scheduler, schedule_alternates_tasklets_round_robin) {
    trace tr;
    for (const char* n : {"x", "y"}) {
        go([&tr, n] {
            for (int i = 0; i < 3; ++i) {
                tr(std::string(n) + std::to_string(i));
                slp::schedule();
            }
        });
    }
    slp::run();
    EXPECT_EQ(tr.ev, (S{"x0", "y0", "x1", "y1", "x2", "y2"}));
}

// More runnables than a thread may have shared stacks: copied tasklets then take turns on
// them, and schedule() takes its general path, where own-stack ones switch by its inline
// path.
TEST_P(Scheduler, schedule_keeps_round_robin_among_more_tasklets_than_shared_stacks) {
    trace tr;
    S want;
    constexpr int kTasklets = slp::max_shared_stacks_per_thread + 2;
    for (int round = 0; round < 3; ++round)
        for (int t = 0; t < kTasklets; ++t)
            want.push_back(std::to_string(t) + std::to_string(round));
    for (int t = 0; t < kTasklets; ++t) {
        go([&tr, t] {
            for (int round = 0; round < 3; ++round) {
                tr(std::to_string(t) + std::to_string(round));
                slp::schedule();
            }
        });
    }
    slp::run();
    EXPECT_EQ(tr.ev, want);
}

TEST_P(Scheduler, schedule_from_main_runs_the_others_once_and_returns) {
    trace tr;
    go([&] {
        tr("a1");
        slp::schedule();
        tr("a2");
    });
    slp::schedule();
    tr("main");
    slp::schedule();
    EXPECT_EQ(tr.ev, (S{"a1", "main", "a2"}));
}

TEST_P(Scheduler, schedule_alone_returns_at_once) {
    slp::schedule();
    EXPECT_EQ(slp::getruncount(), 1);
}

TEST_P(Scheduler, schedule_remove_pauses_the_caller) {
    slp::tasklet t = go([] { slp::schedule_remove(); });
    go([] {});  // with nothing else runnable, schedule_remove() would just return
    slp::run();
    EXPECT_TRUE(t.alive());
    EXPECT_TRUE(t.paused());
    EXPECT_FALSE(t.scheduled());
    EXPECT_EQ(slp::getruncount(), 1);
}

TEST_P(Scheduler, schedule_remove_alone_keeps_the_caller_current) {
    slp::schedule_remove();
    EXPECT_TRUE(slp::getcurrent().scheduled());
    EXPECT_EQ(slp::getruncount(), 1);
}

TEST_P(Scheduler, schedule_remove_from_the_last_runnable_resumes_the_watchdog) {
    bool after = false;
    slp::tasklet t = go([&] {
        slp::schedule_remove();
        after = true;
    });
    slp::run();  // returns with t paused, as in Stackless
    EXPECT_FALSE(after);
    EXPECT_TRUE(t.paused());
    t.insert();
    slp::run();
    EXPECT_TRUE(after);
}

TEST_P(Scheduler, schedule_remove_of_the_last_runnable_while_main_is_blocked_raises_deadlock) {
    // Stackless raises the deadlock there; it ran on, out of the ring, before.
    slp::channel<int> ch;
    bool raised = false, runnable_after = false;
    go([&] {
        try {
            slp::schedule_remove();
        } catch (const slp::deadlock_error&) {
            raised = true;
            runnable_after = slp::getcurrent().scheduled();
        }
        ch.send(1);
    });
    EXPECT_EQ(ch.receive(), 1);
    EXPECT_TRUE(raised);
    EXPECT_TRUE(runnable_after);
    slp::run();  // it ends
}

TEST_P(Scheduler, runcount_includes_the_main_tasklet) {
    EXPECT_EQ(slp::getruncount(), 1);
    go([] {});
    go([] {});
    EXPECT_EQ(slp::getruncount(), 3);
    slp::run();
    EXPECT_EQ(slp::getruncount(), 1);
}

TEST_P(Scheduler, main_tasklet_is_current_outside_tasklets) {
    EXPECT_TRUE(slp::getcurrent().is_main());
    EXPECT_EQ(slp::getcurrent(), slp::getmain());
    EXPECT_TRUE(slp::getmain().alive());
}

TEST_P(Scheduler, getcurrent_inside_a_tasklet_is_that_tasklet) {
    slp::tasklet seen;
    slp::tasklet t = go([&] { seen = slp::getcurrent(); });
    slp::run();
    EXPECT_EQ(seen, t);
    EXPECT_FALSE(seen.is_main());
}

TEST_P(Scheduler, exception_escaping_a_tasklet_is_raised_by_run_in_main) {
    go([] { throw std::logic_error("boom"); });
    EXPECT_THROW(
        {
            try {
                slp::run();
            } catch (const std::logic_error& e) {
                EXPECT_STREQ(e.what(), "boom");
                throw;
            }
        },
        std::logic_error);
}

TEST_P(Scheduler, escaped_exception_ends_the_tasklet_and_the_rest_still_runs) {
    trace tr;
    slp::tasklet bad = go([] { throw std::logic_error("boom"); });
    go([&] { tr("after"); });
    EXPECT_THROW(slp::run(), std::logic_error);
    EXPECT_FALSE(bad.alive());
    slp::run();
    EXPECT_EQ(tr.ev, (S{"after"}));
}

TEST_P(Scheduler, escaped_exception_is_raised_where_main_is_blocked) {
    slp::channel<int> ch;
    go([] { throw std::logic_error("boom"); });
    EXPECT_THROW(ch.receive(), std::logic_error);
    EXPECT_EQ(ch.balance(), 0);
    EXPECT_FALSE(slp::getmain().blocked());
}

TEST_P(Scheduler, tasklet_exit_escaping_a_tasklet_ends_it_silently) {
    slp::tasklet t = go([] { throw slp::tasklet_exit{}; });
    EXPECT_NO_THROW(slp::run());
    EXPECT_FALSE(t.alive());
}

TEST_P(Scheduler, blocking_the_last_tasklet_while_main_runs_returns_from_run) {
    slp::channel<int> ch;
    slp::tasklet t = go([&] { ch.receive(); });
    slp::run();
    EXPECT_TRUE(t.blocked());
    EXPECT_EQ(ch.balance(), -1);
    ch.send(1);
    EXPECT_FALSE(t.alive());
}

TEST_P(Scheduler, main_receiving_with_nothing_runnable_raises_deadlock) {
    slp::channel<int> ch;
    try {
        ch.receive();
        FAIL() << "no deadlock";
    } catch (const slp::deadlock_error& e) {
        EXPECT_EQ(std::string(e.what()).rfind("Deadlock", 0), 0u) << e.what();
    }
    EXPECT_EQ(ch.balance(), 0);
    EXPECT_TRUE(slp::getmain().scheduled());
    EXPECT_FALSE(slp::getmain().blocked());
    EXPECT_EQ(slp::getruncount(), 1);
}

TEST_P(Scheduler, main_sending_with_nothing_runnable_raises_deadlock) {
    slp::channel<int> ch;
    EXPECT_THROW(ch.send(1), slp::deadlock_error);
    EXPECT_EQ(ch.balance(), 0);
}

TEST_P(Scheduler, deadlock_is_a_runtime_error_starting_with_Deadlock) {
    slp::channel<int> ch;
    try {
        ch.receive();
    } catch (const slp::runtime_error& e) {
        EXPECT_STREQ(e.what(), slp::msg::deadlock);
    }
}

TEST_P(Scheduler, last_tasklet_blocking_while_main_is_blocked_raises_deadlock_in_it) {
    slp::channel<int> a, b;
    std::string in_tasklet;
    go([&] {
        try {
            b.receive();
        } catch (const slp::deadlock_error& e) {
            in_tasklet = e.what();
            a.send(7);  // main is waiting on a: this one works
        }
    });
    EXPECT_EQ(a.receive(), 7);
    EXPECT_EQ(in_tasklet.rfind("Deadlock", 0), 0u);
    EXPECT_EQ(b.balance(), 0);
}

TEST_P(Scheduler, last_tasklet_ending_while_main_is_blocked_raises_deadlock_in_main) {
    slp::channel<int> ch;
    go([] {});
    try {
        ch.receive();
        FAIL() << "no deadlock";
    } catch (const slp::deadlock_error& e) {
        EXPECT_STREQ(e.what(), slp::msg::main_receiving);
    }
    EXPECT_EQ(ch.balance(), 0);
    EXPECT_FALSE(slp::getmain().blocked());
}

TEST_P(Scheduler, switch_trap_makes_schedule_raise_and_change_nothing) {
    go([] {});
    EXPECT_EQ(slp::switch_trap(1), 0);
    EXPECT_THROW(
        {
            try {
                slp::schedule();
            } catch (const slp::runtime_error& e) {
                EXPECT_STREQ(e.what(), "switch_trap");
                throw;
            }
        },
        slp::runtime_error);
    EXPECT_THROW(slp::run(), slp::runtime_error);
    EXPECT_EQ(slp::switch_trap(-1), 1);
    EXPECT_EQ(slp::getruncount(), 2);
    slp::run();
}

TEST_P(Scheduler, switch_trap_allows_a_channel_action_that_does_not_switch) {
    slp::channel<int> ch;
    ch.set_preference(1);  // prefer sender: sending to a waiting receiver does not switch
    go([&] { ch.receive(); });
    slp::run();
    slp::switch_trap(1);
    EXPECT_NO_THROW(ch.send(1));
    slp::switch_trap(-1);
    slp::run();
}

TEST_P(Scheduler, switch_trap_makes_a_switching_send_raise_and_change_nothing) {
    slp::channel<int> ch;
    slp::tasklet r = go([&] { ch.receive(); });
    slp::run();
    slp::switch_trap(1);
    EXPECT_THROW(ch.send(1), slp::runtime_error);
    slp::switch_trap(-1);
    EXPECT_TRUE(r.blocked());
    EXPECT_EQ(ch.balance(), -1);
    ch.send(1);
    EXPECT_FALSE(r.alive());
}

TEST_P(Scheduler, switch_trap_makes_blocking_raise) {
    slp::channel<int> ch;
    go([] {});
    slp::switch_trap(1);
    EXPECT_THROW(ch.receive(), slp::runtime_error);
    slp::switch_trap(-1);
    EXPECT_EQ(ch.balance(), 0);
    EXPECT_EQ(slp::getruncount(), 2);
    slp::run();
}

TEST_P(Scheduler, schedule_callback_sees_every_switch) {
    std::vector<std::pair<std::uint64_t, std::uint64_t>> seen;
    slp::tasklet a = go([] { slp::schedule(); });
    const std::uint64_t m = slp::getmain().id();
    slp::set_schedule_callback([&](const slp::tasklet& prev, const slp::tasklet& next) {
        seen.emplace_back(prev.id(), next.id());
    });
    slp::run();
    slp::set_schedule_callback({});
    const std::uint64_t t = a.id();
    // run() switches to a; a's schedule() finds nobody else (main is the watchdog, out
    // of the ring) and does not switch; a ends and main resumes.
    ASSERT_EQ(seen.size(), 2u);
    EXPECT_EQ(seen[0], std::make_pair(m, t));
    EXPECT_EQ(seen[1], std::make_pair(t, m));
}

TEST_P(Scheduler, switching_inside_a_schedule_callback_raises) {
    bool raised = false;
    go([] {});
    bool once = false;
    slp::set_schedule_callback([&](const slp::tasklet&, const slp::tasklet&) {
        if (std::exchange(once, true)) return;
        go([] {});
        try {
            slp::schedule();
        } catch (const slp::runtime_error& e) {
            raised = std::string(e.what()) == slp::msg::recursive_schedule;
        }
    });
    slp::run();
    slp::set_schedule_callback({});
    slp::run();
    EXPECT_TRUE(raised);
}

TEST_P(Scheduler, channel_callback_gets_channel_tasklet_direction_and_will_block) {
    struct call {
        slp::channel_base* ch;
        std::uint64_t t;
        bool sending, will_block;
    };
    std::vector<call> calls;
    slp::channel<int> ch;
    slp::tasklet r = go([&] { ch.receive(); });
    slp::set_channel_callback([&](slp::channel_base& c, const slp::tasklet& t, bool s, bool w) {
        calls.push_back({&c, t.id(), s, w});
    });
    slp::run();
    ch.send(1);
    slp::set_channel_callback({});
    ASSERT_EQ(calls.size(), 2u);
    EXPECT_EQ(calls[0].ch, &ch);
    EXPECT_EQ(calls[0].t, r.id());
    EXPECT_FALSE(calls[0].sending);
    EXPECT_TRUE(calls[0].will_block);
    EXPECT_EQ(calls[1].t, slp::getmain().id());
    EXPECT_TRUE(calls[1].sending);
    EXPECT_FALSE(calls[1].will_block);
}

namespace {
struct recorder : slp::switch_observer {
    std::vector<std::string> ev;
    void before_switch(slp::tasklet_view f, slp::tasklet_view t) noexcept override {
        ev.push_back("before " + std::to_string(f.id()) + ">" + std::to_string(t.id()) +
                     (f.is_current() ? " cur" : ""));
    }
    void after_switch(slp::tasklet_view f, slp::tasklet_view t) noexcept override {
        ev.push_back("after " + std::to_string(f.id()) + ">" + std::to_string(t.id()) +
                     (t.is_current() ? " cur" : ""));
    }
};
}  // namespace

TEST_P(Scheduler, switch_observer_is_told_before_and_after_every_switch) {
    recorder rec;
    slp::tasklet a = go([] {});
    slp::set_switch_observer(&rec);
    slp::run();
    slp::set_switch_observer(nullptr);
    const std::string m = std::to_string(slp::getmain().id());
    const std::string t = std::to_string(a.id());
    EXPECT_EQ(rec.ev, (S{"before " + m + ">" + t + " cur", "after " + m + ">" + t + " cur",
                         "before " + t + ">" + m + " cur", "after " + t + ">" + m + " cur"}));
}

TEST_P(Scheduler, run_called_from_a_tasklet_makes_it_the_watchdog) {
    trace tr;
    go([&] {
        go([&] { tr("inner"); });
        slp::run();
        tr("watchdog back");
    });
    slp::run();
    EXPECT_EQ(tr.ev, (S{"inner", "watchdog back"}));
}

// A watchdog run() resumed explicitly (main.run() from a tasklet) before the watchdogs
// nested in it returned: its run() returns, and they are woken too (runnable again,
// their run() returns when they run), as in Stackless; none is left paused for good.
TEST_P(Scheduler, a_watchdog_woken_explicitly_wakes_the_watchdogs_nested_in_it) {
    trace tr;
    const slp::tasklet main = slp::getmain();
    slp::tasklet runner = go([&] {
        go([&] {
            slp::tasklet(main).run();  // main's run() returns
            tr("waker");
        });
        slp::run();
        tr("runner");
    });
    slp::run();
    EXPECT_TRUE(tr.ev.empty());
    EXPECT_TRUE(runner.scheduled());  // woken with main
    slp::run();
    EXPECT_EQ(tr.ev, (S{"waker", "runner"}));
    EXPECT_FALSE(runner.alive());
}

// A switch that cannot happen for want of memory (here: a stack that cannot be mapped,
// larger than any address space) throws std::bad_alloc in the tasklet that asked for it,
// before it was suspended: it stays current, and whatever it was doing is undone — a
// receive leaves the channel as it was. The tasklet that could not start stays runnable.
namespace {
std::size_t unmappable_stack_size() {
    const std::size_t ps = slp::page_size();
    return (SIZE_MAX / ps - 4) * ps;
}
}  // namespace

TEST(SchedulerOutOfMemory, a_switch_that_cannot_start_the_next_tasklet_throws_and_changes_nothing) {
    slp::tasklet huge = slp::spawn([] {}, {slp::stack_kind::own, unmappable_stack_size(), {}});
    const slp::tasklet me = slp::getcurrent();
    EXPECT_THROW(slp::schedule(), std::bad_alloc);
    EXPECT_EQ(slp::getcurrent(), me);
    EXPECT_EQ(slp::getruncount(), 2);
    EXPECT_TRUE(huge.scheduled());

    slp::channel<int> ch;
    EXPECT_THROW((void)ch.receive(), std::bad_alloc);  // would block and switch to huge
    EXPECT_EQ(slp::getcurrent(), me);
    EXPECT_EQ(ch.balance(), 0);
    EXPECT_FALSE(me.blocked());
    EXPECT_EQ(slp::getruncount(), 2);

    EXPECT_THROW(slp::schedule_remove(), std::bad_alloc);  // takes `me` out, then puts it back
    EXPECT_TRUE(me.scheduled());
    EXPECT_EQ(slp::getruncount(), 2);
    EXPECT_THROW(huge.switch_to(), std::bad_alloc);
    EXPECT_TRUE(me.scheduled());
    EXPECT_EQ(slp::getcurrent(), me);
    EXPECT_EQ(slp::getruncount(), 2);

    huge.remove();
    slp::tasklet sender = slp::spawn([&] { ch.send(7); });
    EXPECT_EQ(ch.receive(), 7);  // the channel works as before
    slp::run();
    EXPECT_FALSE(sender.alive());
    EXPECT_EQ(slp::getruncount(), 1);
    // huge can never start, so not even die (kill() runs a tasklet to raise TaskletExit
    // in it): it stays paused, and the thread's end forgets it.
}

// A thread that ends with tasklets that can never start (one runnable, two paused): the
// end of the thread tries to kill each, which puts it in the ring and fails to switch to
// it; each is forgotten, and taken out of the ring first, so that the next kill does
// not link a freed tasklet (ASan and valgrind would report it).
TEST(SchedulerOutOfMemory, a_thread_ending_with_tasklets_that_can_never_start_forgets_them) {
    bool made = false;
    std::thread th([&] {
        const slp::tasklet_options huge{slp::stack_kind::own, unmappable_stack_size(), {}};
        slp::tasklet runnable = slp::spawn([] {}, huge);
        for (int i = 0; i < 2; ++i) slp::spawn([] {}, huge).remove();
        made = runnable.scheduled() && slp::getruncount() == 2;
    });
    th.join();
    EXPECT_TRUE(made);
}

// Tasklets: life cycle, insert/remove/run/switch, kill and throw, flags, and the errors
// Stackless raises for each misuse.
#include <memory>
#include <string>

#include "core_test_support.h"

using slp_test::Kinds;
using slp_test::sentry;
using slp_test::trace;
using S = std::vector<std::string>;

class Tasklet : public Kinds {};
SLP_KINDS_SUITE(Tasklet);

namespace {
template <class F>
std::string runtime_message(F&& f) {
    try {
        f();
    } catch (const slp::runtime_error& e) {
        return e.what();
    }
    return "(no runtime_error)";
}
}  // namespace

TEST_P(Tasklet, bound_tasklet_is_not_alive_and_not_scheduled) {
    slp::tasklet t = make([] {});
    EXPECT_FALSE(t.alive());
    EXPECT_FALSE(t.scheduled());
    EXPECT_FALSE(t.paused());
    EXPECT_FALSE(t.blocked());
    EXPECT_EQ(t.kind(), GetParam());
}

TEST_P(Tasklet, setup_makes_it_alive_and_scheduled) {
    slp::tasklet t = make([] {});
    t.setup();
    EXPECT_TRUE(t.alive());
    EXPECT_TRUE(t.scheduled());
    EXPECT_FALSE(t.paused());
    slp::run();
    EXPECT_FALSE(t.alive());
    EXPECT_FALSE(t.scheduled());
}

TEST_P(Tasklet, setup_of_an_alive_tasklet_raises) {
    slp::tasklet t = go([] {});
    EXPECT_EQ(runtime_message([&] { t.setup(); }), slp::msg::alive);
}

TEST_P(Tasklet, setup_of_an_unbound_tasklet_raises) {
    slp::tasklet t = make(nullptr);
    EXPECT_EQ(runtime_message([&] { t.setup(); }), slp::msg::not_bound);
}

TEST_P(Tasklet, bind_of_an_alive_tasklet_raises) {
    slp::tasklet t = go([] {});
    EXPECT_EQ(runtime_message([&] { t.bind([] {}); }), slp::msg::alive);
}

TEST_P(Tasklet, dead_tasklet_can_be_bound_and_set_up_again) {
    int runs = 0;
    slp::tasklet t = go([&] { ++runs; });
    slp::run();
    t.bind([&] { runs += 10; }).setup();
    slp::run();
    EXPECT_EQ(runs, 11);
}

TEST_P(Tasklet, tasklet_runs_without_a_handle_kept) {
    int runs = 0;
    {
        go([&] { ++runs; });
    }
    slp::run();
    EXPECT_EQ(runs, 1);
}

TEST_P(Tasklet, empty_handle_operations_raise) {
    slp::tasklet t;
    EXPECT_FALSE(t);
    EXPECT_THROW(t.alive(), slp::runtime_error);
}

TEST_P(Tasklet, insert_of_a_dead_tasklet_raises) {
    slp::tasklet t = go([] {});
    slp::run();
    EXPECT_EQ(runtime_message([&] { t.insert(); }), slp::msg::run_dead);
}

TEST_P(Tasklet, insert_of_a_blocked_tasklet_raises) {
    slp::channel<int> ch;
    slp::tasklet t = go([&] { ch.receive(); });
    slp::run();
    EXPECT_EQ(runtime_message([&] { t.insert(); }), slp::msg::run_blocked);
    EXPECT_EQ(runtime_message([&] { t.run(); }), slp::msg::run_blocked);
}

TEST_P(Tasklet, remove_of_a_blocked_tasklet_raises) {
    slp::channel<int> ch;
    slp::tasklet t = go([&] { ch.receive(); });
    slp::run();
    EXPECT_EQ(runtime_message([&] { t.remove(); }), slp::msg::remove_blocked);
    EXPECT_TRUE(t.blocked());
}

TEST_P(Tasklet, remove_of_the_current_tasklet_raises) {
    EXPECT_EQ(runtime_message([] { slp::getcurrent().remove(); }), slp::msg::remove_current);
}

TEST_P(Tasklet, remove_pauses_and_insert_resumes) {
    trace tr;
    slp::tasklet t = go([&] { tr("ran"); });
    t.remove();
    EXPECT_TRUE(t.paused());
    EXPECT_EQ(slp::getruncount(), 1);
    slp::run();
    EXPECT_TRUE(tr.ev.empty());
    t.insert();
    slp::run();
    EXPECT_EQ(tr.ev, (S{"ran"}));
}

TEST_P(Tasklet, remove_of_an_unscheduled_tasklet_does_nothing) {
    slp::tasklet t = make([] {});
    EXPECT_NO_THROW(t.remove());
}

TEST_P(Tasklet, run_switches_now_and_the_caller_stays_scheduled) {
    // Stackless's doc example: t1.run() from main runs t1, t2, t3, then main again.
    trace tr;
    slp::tasklet t1 = go([&] { tr("t1"); });
    go([&] { tr("t2"); });
    go([&] { tr("t3"); });
    t1.run();
    tr("main");
    EXPECT_EQ(tr.ev, (S{"t1", "t2", "t3", "main"}));
}

TEST_P(Tasklet, run_of_a_later_tasklet_skips_those_before_it) {
    trace tr;
    go([&] { tr("t1"); });
    slp::tasklet t2 = go([&] { tr("t2"); });
    go([&] { tr("t3"); });
    t2.run();
    tr("main");
    slp::run();
    EXPECT_EQ(tr.ev, (S{"t2", "t3", "main", "t1"}));
}

TEST_P(Tasklet, switch_to_pauses_the_caller) {
    slp::tasklet m = slp::getmain();
    bool main_paused = false;
    slp::tasklet t = go([&] {
        main_paused = m.paused();
        m.insert();
    });
    t.switch_to();
    EXPECT_TRUE(main_paused);
    EXPECT_FALSE(t.alive());
}

TEST_P(Tasklet, kill_of_a_blocked_tasklet_unwinds_it_and_unblocks_it) {
    slp::channel<int> ch;
    int destroyed = 0;
    bool after_receive = false;
    slp::tasklet t = go([&] {
        sentry s(&destroyed);
        ch.receive();
        after_receive = true;
    });
    slp::run();
    ASSERT_TRUE(t.blocked());
    t.kill();
    EXPECT_EQ(destroyed, 1);
    EXPECT_FALSE(after_receive);
    EXPECT_FALSE(t.alive());
    EXPECT_FALSE(t.blocked());
    EXPECT_EQ(ch.balance(), 0);
}

TEST_P(Tasklet, drop_gives_up_on_a_tasklet_that_survives_every_kill) {
    slp::channel<int> ch;
    int kills = 0;
    slp::tasklet t = go([&] {
        for (;;) {
            try {
                ch.receive();
            } catch (const slp::tasklet_exit&) {
                ++kills;  // and blocks again
            }
        }
    });
    slp::run();
    t.kill();
    ASSERT_EQ(kills, 1);
    ASSERT_TRUE(t.blocked());
    t.drop();
    EXPECT_FALSE(t.alive());
    EXPECT_FALSE(t.blocked());
    EXPECT_FALSE(t.scheduled());
    EXPECT_EQ(ch.balance(), 0);
    EXPECT_EQ(slp::getruncount(), 1);
    t.kill();  // dead: nothing runs it again
    EXPECT_EQ(kills, 1);
    EXPECT_NO_THROW(t.drop());
}

TEST_P(Tasklet, drop_of_a_runnable_or_unstarted_tasklet_takes_it_out) {
    bool ran = false;
    slp::tasklet t = go([&] { ran = true; });
    t.drop();
    EXPECT_FALSE(t.alive());
    EXPECT_EQ(slp::getruncount(), 1);
    slp::run();
    EXPECT_FALSE(ran);
}

TEST_P(Tasklet, drop_of_the_current_or_main_tasklet_raises) {
    EXPECT_EQ(runtime_message([] { slp::getcurrent().drop(); }), slp::msg::remove_current);
    std::string inside;
    slp::tasklet t = go([&] { inside = runtime_message([] { slp::getmain().drop(); }); });
    slp::run();
    EXPECT_EQ(inside, slp::msg::remove_current);
}

TEST_P(Tasklet, kill_of_an_unstarted_tasklet_ends_it_without_running_its_function) {
    bool ran = false;
    slp::tasklet t = go([&] { ran = true; });
    t.kill();
    EXPECT_FALSE(ran);
    EXPECT_FALSE(t.alive());
    EXPECT_EQ(slp::getruncount(), 1);
}

TEST_P(Tasklet, kill_of_a_dead_tasklet_does_nothing) {
    slp::tasklet t = go([] {});
    slp::run();
    EXPECT_NO_THROW(t.kill());
    EXPECT_NO_THROW(t.kill(true));
    EXPECT_FALSE(t.alive());
}

TEST_P(Tasklet, kill_of_a_bound_tasklet_does_nothing) {
    slp::tasklet t = make([] {});
    EXPECT_NO_THROW(t.kill());
    EXPECT_FALSE(t.alive());
}

TEST_P(Tasklet, kill_returns_to_the_killer_right_after) {
    trace tr;
    slp::tasklet t = go([&] {
        try {
            slp::schedule_remove();
        } catch (const slp::tasklet_exit&) {
            tr("unwinding");
            throw;
        }
    });
    go([&] { tr("other"); });
    t.run();  // t pauses itself, "other" runs, main resumes
    tr("main");
    t.kill();
    tr("killed");
    EXPECT_EQ(tr.ev, (S{"other", "main", "unwinding", "killed"}));
}

TEST_P(Tasklet, kill_pending_only_makes_it_runnable) {
    slp::channel<int> ch;
    int destroyed = 0;
    slp::tasklet t = go([&] {
        sentry s(&destroyed);
        ch.receive();
    });
    slp::run();
    t.kill(true);
    EXPECT_EQ(destroyed, 0);
    EXPECT_TRUE(t.alive());
    EXPECT_FALSE(t.blocked());
    EXPECT_TRUE(t.scheduled());
    EXPECT_EQ(ch.balance(), 0);
    slp::run();
    EXPECT_EQ(destroyed, 1);
    EXPECT_FALSE(t.alive());
}

TEST_P(Tasklet, kill_of_the_current_tasklet_throws_tasklet_exit_in_it) {
    bool caught = false;
    slp::tasklet t = go([&] {
        try {
            slp::getcurrent().kill();
        } catch (const slp::tasklet_exit&) {
            caught = true;
        }
    });
    slp::run();
    EXPECT_TRUE(caught);
}

TEST_P(Tasklet, tasklet_exit_is_not_a_std_exception) {
    bool swallowed = false;
    slp::tasklet t = go([&] {
        try {
            slp::schedule_remove();
        } catch (const std::exception&) {
            swallowed = true;
        }
    });
    go([] {});  // so that schedule_remove() really pauses t
    slp::run();
    ASSERT_TRUE(t.paused());
    t.kill();
    EXPECT_FALSE(swallowed);
    EXPECT_FALSE(t.alive());
}

TEST_P(Tasklet, throw_immediate_raises_in_the_target_now) {
    trace tr;
    slp::tasklet t = go([&] {
        try {
            slp::schedule_remove();
        } catch (const std::logic_error& e) {
            tr(e.what());
        }
    });
    go([] {});  // so that schedule_remove() really pauses t
    slp::run();
    t.throw_exception(std::make_exception_ptr(std::logic_error("hit")));
    tr("back");
    EXPECT_EQ(tr.ev, (S{"hit", "back"}));
}

TEST_P(Tasklet, throw_pending_raises_when_it_next_runs) {
    trace tr;
    slp::tasklet t = go([&] {
        try {
            slp::schedule_remove();
        } catch (const std::logic_error& e) {
            tr(e.what());
        }
    });
    go([] {});  // so that schedule_remove() really pauses t
    slp::run();
    t.throw_exception(std::make_exception_ptr(std::logic_error("hit")), true);
    tr("pending");
    EXPECT_TRUE(t.scheduled());
    slp::run();
    EXPECT_EQ(tr.ev, (S{"pending", "hit"}));
}

TEST_P(Tasklet, throw_to_a_blocked_tasklet_raises_in_its_receive) {
    slp::channel<int> ch;
    std::string got;
    slp::tasklet t = go([&] {
        try {
            ch.receive();
        } catch (const std::logic_error& e) {
            got = e.what();
        }
    });
    slp::run();
    t.raise_exception<std::logic_error>("in receive");
    EXPECT_EQ(got, "in receive");
    EXPECT_EQ(ch.balance(), 0);
}

TEST_P(Tasklet, throw_to_a_dead_tasklet_raises) {
    slp::tasklet t = go([] {});
    slp::run();
    EXPECT_EQ(
        runtime_message([&] { t.throw_exception(std::make_exception_ptr(std::logic_error("x"))); }),
        slp::msg::throw_dead);
    EXPECT_EQ(runtime_message([&] { t.raise_exception<std::logic_error>("x"); }),
              slp::msg::throw_dead);
}

TEST_P(Tasklet, throw_of_tasklet_exit_to_a_dead_tasklet_does_nothing) {
    slp::tasklet t = go([] {});
    slp::run();
    EXPECT_NO_THROW(t.throw_exception(std::make_exception_ptr(slp::tasklet_exit{})));
}

TEST_P(Tasklet, throw_to_self_raises_at_once) {
    EXPECT_THROW(slp::getcurrent().throw_exception(std::make_exception_ptr(std::logic_error("s"))),
                 std::logic_error);
}

TEST_P(Tasklet, unhandled_throw_in_target_propagates_to_main) {
    slp::tasklet t = go([] { slp::schedule_remove(); });
    go([] {});  // so that schedule_remove() really pauses t
    slp::run();
    EXPECT_THROW(t.raise_exception<std::logic_error>("up"), std::logic_error);
    EXPECT_FALSE(t.alive());
}

TEST_P(Tasklet, atomic_flag_is_set_returned_and_inherited) {
    slp::tasklet m = slp::getcurrent();
    EXPECT_FALSE(m.set_atomic(true));
    slp::tasklet t = make([] {});
    EXPECT_TRUE(t.atomic());
    EXPECT_TRUE(m.set_atomic(false));
    {
        slp::atomic_guard g;
        EXPECT_TRUE(m.atomic());
    }
    EXPECT_FALSE(m.atomic());
}

TEST_P(Tasklet, user_data_id_and_name_are_kept) {
    int x = 0;
    slp::tasklet t = make([] {}, "worker");
    t.set_user_data(&x);
    EXPECT_EQ(t.user_data(), &x);
    EXPECT_STREQ(t.name(), "worker");
    EXPECT_NE(t.id(), make([] {}).id());
}

TEST_P(Tasklet, next_and_prev_walk_the_ring) {
    slp::tasklet a = go([] {});
    slp::tasklet b = go([] {});
    slp::tasklet m = slp::getmain();
    EXPECT_EQ(m.next(), a);
    EXPECT_EQ(a.next(), b);
    EXPECT_EQ(b.next(), m);
    EXPECT_EQ(m.prev(), b);
    slp::run();
}

TEST_P(Tasklet, destructors_run_when_a_tasklet_is_killed_deep_in_calls) {
    int destroyed = 0;
    std::function<void(int)> deep = [&](int n) {
        sentry s(&destroyed);
        if (n == 0)
            slp::schedule_remove();
        else
            deep(n - 1);
    };
    slp::tasklet t = go([&] { deep(20); });
    go([] {});  // so that schedule_remove() really pauses t
    slp::run();
    EXPECT_EQ(destroyed, 0);
    t.kill();
    EXPECT_EQ(destroyed, 21);
}

TEST_P(Tasklet, locals_survive_many_switches_at_depth) {
    // Pointers into a tasklet's stack stay valid while other tasklets run.
    long bad = 0;
    auto body = [&](int id) {
        std::function<void(int)> rec = [&](int depth) {
            volatile int buf[64];
            for (int i = 0; i < 64; ++i) buf[i] = id * 1000 + depth * 64 + i;
            volatile int* p = buf;
            slp::schedule();
            if (depth > 0) rec(depth - 1);
            slp::schedule();
            for (int i = 0; i < 64; ++i)
                if (p[i] != id * 1000 + depth * 64 + i) ++bad;
        };
        rec(5 + id % 7);
    };
    for (int i = 0; i < 8; ++i) go([&body, i] { body(i); });
    slp::run();
    EXPECT_EQ(bad, 0);
}

TEST(TaskletKinds, own_and_copied_tasklets_interleave) {
    slp::channel<int> ch;
    long sum = 0;
    std::vector<slp::tasklet> ts;
    for (int i = 0; i < 6; ++i) {
        auto k = i % 2 == 0 ? slp::stack_kind::own : slp::stack_kind::copied;
        ts.push_back(slp::spawn(
            [&ch, i] {
                volatile char pad[1024];
                pad[0] = static_cast<char>(i);
                for (int j = 0; j < 50; ++j) ch.send(i * 100 + j + pad[0] - i);
            },
            {k, 0, {}}));
    }
    ts.push_back(slp::spawn(
        [&] {
            for (int j = 0; j < 300; ++j) sum += ch.receive();
        },
        {slp::stack_kind::copied, 0, {}}));
    slp::run();
    long want = 0;
    for (int i = 0; i < 6; ++i)
        for (int j = 0; j < 50; ++j) want += i * 100 + j;
    EXPECT_EQ(sum, want);
    for (auto& t : ts) EXPECT_FALSE(t.alive());
}

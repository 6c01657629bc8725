// Soft tasklets (coroutine bodies): the semantics of the channel and scheduler with
// soft tasklets, soft/hard pairs on every channel operation, nested tasks, promotion
// (the 80/20 rule) and the switch counters.
#include <coroutine>
#include <cstdint>
#include <cstdlib>
#include <functional>
#include <memory>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "core_test_support.h"

using slp_test::trace;
using S = std::vector<std::string>;

namespace {

// Soft (and some hard) tasklets, the scheduler left as found (see kill_leftovers).
class Soft : public ::testing::Test {
 protected:
    slp::tasklet soft(std::function<slp::task<>()> fn) {
        slp::tasklet t = slp::spawn_soft(std::move(fn));
        made_.push_back(t);
        return t;
    }
    slp::tasklet hard(std::function<void()> fn, slp::stack_kind k = slp::stack_kind::own) {
        slp::tasklet t = slp::spawn(std::move(fn), {k, 0, {}});
        made_.push_back(t);
        return t;
    }
    // Two soft tasklets taking turns by async_schedule `rounds` times, tracing
    // "<name><round>".
    void two_soft_taking_turns(trace& tr, int rounds) {
        for (const char* name : {"a", "b"}) {
            soft([&tr, name, rounds]() -> slp::task<> {
                for (int r = 0; r < rounds; ++r) {
                    tr(name + std::to_string(r));
                    co_await slp::async_schedule();
                }
            });
        }
    }
    void TearDown() override { slp_test::kill_leftovers(made_); }
    std::vector<slp::tasklet> made_;
};

// ---- scripted agents: one scenario, run by every pair of kinds ------------------------

enum class op { send, recv, send_throw, sched, trace_only };
struct step {
    op o;
    int v = 0;
};
using script = std::vector<step>;

struct world {
    slp::channel<int> ch;
    trace tr;
};

void note(world& w, const std::string& who, const std::string& what) {
    w.tr(who + " " + what);
}

// What a step did, as the trace says it (`got`: what a receive got).
void note_done(world& w, const std::string& who, const step& st, int got) {
    switch (st.o) {
        case op::send:
            note(w, who, "sent " + std::to_string(st.v));
            break;
        case op::recv:
            note(w, who, "got " + std::to_string(got));
            break;
        case op::send_throw:
            note(w, who, "threw " + std::to_string(st.v));
            break;
        case op::sched:
            note(w, who, "back");
            break;
        case op::trace_only:
            note(w, who, "step " + std::to_string(st.v));
            break;
    }
}

// In a catch handler: note what the step raised; a tasklet_exit goes on (the tasklet
// must end).
void note_failure(world& w, const std::string& who) {
    try {
        throw;
    } catch (const slp::tasklet_exit&) {
        note(w, who, "killed");
        throw;
    } catch (const std::exception& e) {
        note(w, who, std::string("raised ") + e.what());
    }
}

std::exception_ptr boom(int v) {
    return std::make_exception_ptr(std::runtime_error("boom " + std::to_string(v)));
}

// The same script, played with the blocking calls (hard) or the awaitables (soft).
void run_hard(world& w, const std::string& who, const script& sc) {
    for (const step& st : sc) {
        try {
            int got = 0;
            switch (st.o) {
                case op::send:
                    w.ch.send(st.v);
                    break;
                case op::recv:
                    got = w.ch.receive();
                    break;
                case op::send_throw:
                    w.ch.send_throw(boom(st.v));
                    break;
                case op::sched:
                    slp::schedule();
                    break;
                case op::trace_only:
                    break;
            }
            note_done(w, who, st, got);
        } catch (...) {
            note_failure(w, who);
        }
    }
    note(w, who, "done");
}

slp::task<> run_soft(world& w, std::string who, script sc) {
    for (const step& st : sc) {
        try {
            int got = 0;
            switch (st.o) {
                case op::send:
                    co_await w.ch.async_send(st.v);
                    break;
                case op::recv:
                    got = co_await w.ch.async_receive();
                    break;
                case op::send_throw:
                    co_await w.ch.async_send_throw(boom(st.v));
                    break;
                case op::sched:
                    co_await slp::async_schedule();
                    break;
                case op::trace_only:
                    break;
            }
            note_done(w, who, st, got);
        } catch (...) {
            note_failure(w, who);
        }
    }
    note(w, who, "done");
}

slp::tasklet agent(slp::stack_kind k, world& w, const std::string& who, const script& sc) {
    if (k == slp::stack_kind::soft)
        return slp::spawn_soft([&w, who, sc] { return run_soft(w, who, sc); });
    return slp::spawn([&w, who, sc] { run_hard(w, who, sc); }, {k, 0, {}});
}

struct scenario {
    std::string name;
    int preference = -1;
    bool schedule_all = false;
    std::vector<script> agents;   // created in this order, then run()
    bool kill_leftovers = false;  // main kills agents still alive after run()
    std::vector<int> main_sends;  // main sends these after run()
};

S play(const scenario& sc, const std::vector<slp::stack_kind>& kinds) {
    world w;
    w.ch.set_preference(sc.preference);
    w.ch.set_schedule_all(sc.schedule_all);
    std::vector<slp::tasklet> ts;
    for (std::size_t i = 0; i < sc.agents.size(); ++i)
        ts.push_back(agent(kinds[i], w, std::string(1, static_cast<char>('A' + i)), sc.agents[i]));
    slp::run();
    for (int v : sc.main_sends) {
        w.ch.send(v);
        w.tr("main sent " + std::to_string(v));
        slp::run();
    }
    if (sc.kill_leftovers)
        for (auto& t : ts) t.kill();
    slp::run();
    return w.tr.ev;
}

const std::vector<scenario>& scenarios() {
    static const std::vector<scenario> all = [] {
        std::vector<scenario> v;
        const script recv2{{op::recv}, {op::trace_only, 1}, {op::recv}};
        const script send2{{op::send, 1}, {op::trace_only, 2}, {op::send, 2}};
        for (int pref : {-1, 0, 1}) {
            for (bool all_flag : {false, true}) {
                std::string tag =
                    "pref" + std::to_string(pref + 1) + (all_flag ? "_schedule_all" : "");
                v.push_back({"receiver_first_" + tag, pref, all_flag, {recv2, send2}, false, {}});
                v.push_back({"sender_first_" + tag, pref, all_flag, {send2, recv2}, false, {}});
                v.push_back({"throw_" + tag,
                             pref,
                             all_flag,
                             {{{op::recv}, {op::recv}}, {{op::send_throw, 7}, {op::send, 8}}},
                             false,
                             {}});
                v.push_back({"three_with_schedule_" + tag,
                             pref,
                             all_flag,
                             {{{op::recv}, {op::sched}, {op::recv}},
                              {{op::sched}, {op::send, 1}, {op::sched}},
                              {{op::send, 2}, {op::sched}}},
                             false,
                             {}});
            }
        }
        v.push_back(
            {"main_sends_to_blocked", -1, false, {{{op::recv}, {op::recv}}}, false, {5, 6}});
        v.push_back({"kill_blocked", -1, false, {{{op::recv}}, {{op::recv}}}, true, {}});
        v.push_back({"kill_blocked_sender", -1, false, {{{op::send, 3}}}, true, {}});
        return v;
    }();
    return all;
}

using kind_pair = std::tuple<slp::stack_kind, slp::stack_kind>;

std::string kname(slp::stack_kind k) {
    return k == slp::stack_kind::own ? "own" : k == slp::stack_kind::copied ? "copied" : "soft";
}

class Pairs : public ::testing::TestWithParam<kind_pair> {
 protected:
    void TearDown() override { EXPECT_EQ(slp::getruncount(), 1); }
};

INSTANTIATE_TEST_SUITE_P(
    , Pairs,
    ::testing::Combine(
        ::testing::Values(slp::stack_kind::soft, slp::stack_kind::own, slp::stack_kind::copied),
        ::testing::Values(slp::stack_kind::soft, slp::stack_kind::own, slp::stack_kind::copied)),
    [](const ::testing::TestParamInfo<kind_pair>& i) {
        return kname(std::get<0>(i.param)) + "_" + kname(std::get<1>(i.param));
    });

// Every scenario gives the same trace whatever the kinds of its agents (the reference is
// the all-own-stack run, whose semantics the Channel suite checks against Stackless).
TEST_P(Pairs, every_channel_scenario_traces_as_with_own_stacks) {
    auto [a, b] = GetParam();
    const std::vector<slp::stack_kind> kinds{a, b, a};
    const std::vector<slp::stack_kind> own(3, slp::stack_kind::own);
    for (const scenario& sc : scenarios()) {
        S expected = play(sc, own);
        S got = play(sc, kinds);
        EXPECT_EQ(got, expected) << sc.name;
    }
}

// Spot checks that the reference itself is Stackless's order.
TEST(SoftScenarios, reference_traces_follow_stackless_order) {
    const std::vector<slp::stack_kind> soft(3, slp::stack_kind::soft);
    const auto& all = scenarios();
    auto find = [&](const std::string& n) -> const scenario& {
        for (const auto& s : all)
            if (s.name == n) return s;
        throw std::logic_error(n);
    };
    // Prefer receiver: the sender's send switches to the receiver at once.
    EXPECT_EQ(play(find("receiver_first_pref0"), soft),
              (S{"A got 1", "A step 1", "B sent 1", "B step 2", "A got 2", "A done", "B sent 2",
                 "B done"}));
    // Prefer sender: the sender continues, the receiver goes to the end of the ring; then
    // B blocks on its second send, and A's receive switches to it.
    EXPECT_EQ(play(find("receiver_first_pref2"), soft),
              (S{"B sent 1", "B step 2", "A got 1", "A step 1", "B sent 2", "B done", "A got 2",
                 "A done"}));
    EXPECT_EQ(play(find("throw_pref0"), soft),
              (S{"A raised boom 7", "B threw 7", "A got 8", "A done", "B sent 8", "B done"}));
    EXPECT_EQ(play(find("kill_blocked"), soft), (S{"A killed", "B killed"}));
}

// ---- scheduler semantics with coroutine bodies ------------------------------------------

TEST_F(Soft, a_soft_tasklet_runs_to_completion_and_ends) {
    int ran = 0;
    slp::tasklet t = soft([&]() -> slp::task<> {
        ++ran;
        co_return;
    });
    EXPECT_EQ(t.kind(), slp::stack_kind::soft);
    EXPECT_TRUE(t.alive());
    slp::run();
    EXPECT_EQ(ran, 1);
    EXPECT_FALSE(t.alive());
}

// "<kind><i>.<r>", built by appending: g++ 12 warns (-Wrestrict, falsely) about
// "literal" + std::string once inlined into some bodies.
std::string turn(const char* kind, int i, int r) {
    std::string s(kind);
    s += std::to_string(i);
    s += '.';
    s += std::to_string(r);
    return s;
}

TEST_F(Soft, async_schedule_round_robins_soft_and_hard_tasklets_in_ring_order) {
    trace tr;
    for (int i = 0; i < 2; ++i) {
        soft([&tr, i]() -> slp::task<> {
            for (int r = 0; r < 2; ++r) {
                tr(turn("s", i, r));
                co_await slp::async_schedule();
            }
        });
        hard([&tr, i] {
            for (int r = 0; r < 2; ++r) {
                tr(turn("h", i, r));
                slp::schedule();
            }
        });
    }
    slp::run();
    EXPECT_EQ(tr.ev, (S{"s0.0", "h0.0", "s1.0", "h1.0", "s0.1", "h0.1", "s1.1", "h1.1"}));
}

TEST_F(Soft, async_schedule_remove_pauses_and_run_returns) {
    trace tr;
    slp::tasklet t = soft([&]() -> slp::task<> {
        tr("before");
        co_await slp::async_schedule_remove();
        tr("after");
    });
    slp::run();
    EXPECT_TRUE(t.paused());
    EXPECT_EQ(tr.ev, (S{"before"}));
    t.insert();
    slp::run();
    EXPECT_EQ(tr.ev, (S{"before", "after"}));
    EXPECT_FALSE(t.alive());
}

TEST_F(Soft, an_exception_escaping_a_soft_tasklet_is_raised_in_main) {
    soft([]() -> slp::task<> {
        co_await slp::async_schedule();
        throw std::runtime_error("escaped");
    });
    try {
        slp::run();
        FAIL() << "nothing raised";
    } catch (const std::runtime_error& e) {
        EXPECT_STREQ(e.what(), "escaped");
    }
}

TEST_F(Soft, kill_unwinds_a_blocked_soft_tasklet_through_nested_tasks) {
    slp::channel<int> ch;
    int destroyed = 0;
    bool saw_exit = false;
    struct inner {
        static slp::task<int> wait(slp::channel<int>& c, int* d) {
            slp_test::sentry s(d);
            co_return co_await c.async_receive();
        }
    };
    slp::tasklet t = soft([&]() -> slp::task<> {
        slp_test::sentry s(&destroyed);
        try {
            co_await inner::wait(ch, &destroyed);
        } catch (const slp::tasklet_exit&) {
            saw_exit = true;
            throw;
        }
    });
    slp::run();
    EXPECT_TRUE(t.blocked());
    EXPECT_EQ(ch.balance(), -1);
    t.kill();
    EXPECT_TRUE(saw_exit);
    EXPECT_EQ(destroyed, 2);
    EXPECT_FALSE(t.alive());
    EXPECT_EQ(ch.balance(), 0);
    t.kill();  // dead: nothing happens
}

TEST_F(Soft, kill_pending_and_kill_before_start) {
    int started = 0;
    slp::tasklet never = soft([&]() -> slp::task<> {
        ++started;
        co_return;
    });
    never.kill();  // not yet run: ends without running
    EXPECT_FALSE(never.alive());
    EXPECT_EQ(started, 0);

    slp::channel<int> ch;
    bool killed = false;
    slp::tasklet t = soft([&]() -> slp::task<> {
        try {
            co_await ch.async_receive();
        } catch (const slp::tasklet_exit&) {
            killed = true;
            throw;
        }
    });
    slp::run();
    t.kill(true);
    EXPECT_FALSE(killed);
    EXPECT_TRUE(t.scheduled());
    EXPECT_FALSE(t.blocked());
    slp::run();
    EXPECT_TRUE(killed);
    EXPECT_FALSE(t.alive());
}

TEST_F(Soft, throw_exception_reaches_the_awaiting_coroutine) {
    slp::channel<int> ch;
    std::string caught;
    slp::tasklet t = soft([&]() -> slp::task<> {
        try {
            co_await ch.async_receive();
        } catch (const std::logic_error& e) {
            caught = e.what();
        }
    });
    slp::run();
    t.raise_exception<std::logic_error>("thrown at it");
    EXPECT_EQ(caught, "thrown at it");
    EXPECT_FALSE(t.alive());
    EXPECT_THROW(t.raise_exception<std::logic_error>("x"), slp::runtime_error);  // dead
}

TEST_F(Soft, last_soft_tasklet_blocking_while_main_is_blocked_gets_deadlock) {
    slp::channel<int> a, b;
    std::string in_tasklet;
    soft([&]() -> slp::task<> {
        try {
            co_await b.async_receive();
        } catch (const slp::deadlock_error& e) {
            in_tasklet = e.what();
        }
        co_await a.async_send(7);
    });
    EXPECT_EQ(a.receive(), 7);
    EXPECT_EQ(in_tasklet.rfind("Deadlock", 0), 0u);
    EXPECT_EQ(b.balance(), 0);
}

TEST_F(Soft, main_blocked_while_the_last_soft_tasklet_ends_raises_deadlock_in_main) {
    slp::channel<int> ch;
    soft([]() -> slp::task<> { co_return; });
    EXPECT_THROW(ch.receive(), slp::deadlock_error);
}

TEST_F(Soft, switch_trap_makes_async_actions_raise_and_changes_nothing) {
    slp::channel<int> ch;
    std::vector<std::string> errors;
    soft([&]() -> slp::task<> {
        slp::switch_trap(1);
        try {
            co_await slp::async_schedule();
        } catch (const slp::runtime_error& e) {
            errors.push_back(e.what());
        }
        try {
            co_await ch.async_receive();
        } catch (const slp::runtime_error& e) {
            errors.push_back(e.what());
        }
        slp::switch_trap(-1);
    });
    hard([] {});
    slp::run();
    EXPECT_EQ(errors, (S{slp::msg::switch_trap, slp::msg::switch_trap}));
    EXPECT_EQ(ch.balance(), 0);
}

TEST_F(Soft, block_trap_and_closed_channel_raise_in_the_coroutine) {
    slp::channel<int> ch;
    std::vector<std::string> errors;
    soft([&]() -> slp::task<> {
        slp::getcurrent().set_block_trap(true);
        try {
            co_await ch.async_receive();
        } catch (const slp::runtime_error& e) {
            errors.push_back(e.what());
        }
        slp::getcurrent().set_block_trap(false);
        ch.close();
        try {
            co_await ch.async_send(1);
        } catch (const slp::value_error& e) {
            errors.push_back(e.what());
        }
    });
    slp::run();
    EXPECT_EQ(errors, (S{slp::msg::block_trap, slp::msg::closed_channel}));
}

TEST_F(Soft, atomic_flag_belongs_to_the_soft_tasklet) {
    bool inside = false;
    bool inherited = false;
    soft([&]() -> slp::task<> {
        slp::atomic_guard g;
        inside = slp::getcurrent().atomic();
        slp::tasklet child([] {});
        inherited = child.atomic();
        co_await slp::async_schedule();
    });
    slp::run();
    EXPECT_TRUE(inside);
    EXPECT_TRUE(inherited);
    EXPECT_FALSE(slp::getcurrent().atomic());
}

TEST_F(Soft, schedule_and_channel_callbacks_see_soft_tasklets) {
    slp::channel<int> ch;
    std::vector<std::uint64_t> switches;
    std::vector<std::string> actions;
    slp::set_schedule_callback([&](const slp::tasklet& prev, const slp::tasklet& next) {
        switches.push_back(prev.id());
        switches.push_back(next.id());
    });
    slp::set_channel_callback([&](slp::channel_base&, const slp::tasklet&, bool sending,
                                  bool will_block) {
        actions.push_back(std::string(sending ? "send" : "recv") + (will_block ? " blocks" : ""));
    });
    slp::tasklet r = soft([&]() -> slp::task<> { co_await ch.async_receive(); });
    slp::tasklet s = soft([&]() -> slp::task<> { co_await ch.async_send(1); });
    const std::uint64_t main_id = slp::getmain().id();
    slp::run();
    slp::set_schedule_callback({});
    slp::set_channel_callback({});
    EXPECT_EQ(actions, (S{"recv blocks", "send"}));
    // main -> r (blocks) -> s, s -> r (prefer receiver), r ends -> s, s ends -> main.
    EXPECT_EQ(switches, (std::vector<std::uint64_t>{main_id, r.id(), r.id(), s.id(), s.id(), r.id(),
                                                    r.id(), s.id(), s.id(), main_id}));
}

TEST_F(Soft, switches_between_soft_tasklets_are_counted_soft) {
    slp::channel<int> ch;
    const slp::switch_counts before = slp::get_switch_counts();
    soft([&]() -> slp::task<> {
        for (int i = 0; i < 100; ++i) co_await ch.async_send(i);
    });
    soft([&]() -> slp::task<> {
        for (int i = 0; i < 100; ++i) {
            const int v = co_await ch.async_receive();  // (not in EXPECT_EQ: see soft.hpp)
            EXPECT_EQ(v, i);
        }
    });
    slp::run();
    const slp::switch_counts after = slp::get_switch_counts();
    EXPECT_GE(after.soft - before.soft, 199u);
    EXPECT_LE(after.hard - before.hard, 2u);  // main -> the runner, and back
    EXPECT_EQ(after.promotions, before.promotions);
}

// ---- async_schedule between soft tasklets: the inline path declines when it must ----

TEST_F(Soft, async_schedule_between_soft_tasklets_alternates_and_counts_soft) {
    trace tr;
    const slp::switch_counts before = slp::get_switch_counts();
    two_soft_taking_turns(tr, 3);
    slp::run();
    EXPECT_EQ(tr.ev, (S{"a0", "b0", "a1", "b1", "a2", "b2"}));
    const slp::switch_counts after = slp::get_switch_counts();
    EXPECT_GE(after.soft - before.soft, 5u);
    EXPECT_LE(after.hard - before.hard, 2u);  // main -> the runner, and back
}

TEST_F(Soft, async_schedule_of_a_soft_tasklet_alone_goes_on_without_a_switch) {
    trace tr;
    const slp::switch_counts before = slp::get_switch_counts();
    soft([&]() -> slp::task<> {
        for (int r = 0; r < 3; ++r) {
            tr("alone" + std::to_string(r));
            co_await slp::async_schedule();  // main waits in run(): nobody else to run
        }
    });
    slp::run();
    EXPECT_EQ(tr.ev, (S{"alone0", "alone1", "alone2"}));
    EXPECT_EQ(slp::get_switch_counts().soft, before.soft);
}

TEST_F(Soft, switch_trap_stops_async_schedule_towards_a_soft_tasklet) {
    trace tr;
    soft([&]() -> slp::task<> {
        tr("a");
        slp::switch_trap(1);
        try {
            co_await slp::async_schedule();
        } catch (const slp::runtime_error& e) {
            tr(e.what());
        }
        slp::switch_trap(-1);
        tr("a goes on");
        co_await slp::async_schedule();
        tr("a again");
    });
    soft([&]() -> slp::task<> {
        tr("b");
        co_return;
    });
    slp::run();
    EXPECT_EQ(tr.ev, (S{"a", slp::msg::switch_trap, "a goes on", "b", "a again"}));
}

TEST_F(Soft, schedule_callback_sees_async_schedule_between_soft_tasklets) {
    std::vector<std::uint64_t> switches;
    slp::set_schedule_callback([&](const slp::tasklet& prev, const slp::tasklet& next) {
        switches.push_back(prev.id());
        switches.push_back(next.id());
    });
    trace tr;
    two_soft_taking_turns(tr, 1);
    const std::uint64_t a = made_[0].id(), b = made_[1].id(), main_id = slp::getmain().id();
    slp::run();
    slp::set_schedule_callback({});
    // main -> a, a -> b (async_schedule), b -> a (async_schedule), a ends -> b, b ends -> main.
    EXPECT_EQ(switches, (std::vector<std::uint64_t>{main_id, a, a, b, b, a, a, b, b, main_id}));
}

// Records every switch it is told of, as "before from>to" / "after from>to".
class recording_observer : public slp::switch_observer {
 public:
    explicit recording_observer(std::vector<std::uint64_t>* ids) : ids_(ids) {}
    void before_switch(slp::tasklet_view from, slp::tasklet_view to) noexcept override {
        record(0, from, to);
    }
    void after_switch(slp::tasklet_view from, slp::tasklet_view to) noexcept override {
        record(1, from, to);
    }

 private:
    void record(std::uint64_t when, slp::tasklet_view from, slp::tasklet_view to) noexcept {
        if (from.is_main() || to.is_main()) return;  // the runner's entry and exit
        ids_->push_back(when);
        ids_->push_back(from.id());
        ids_->push_back(to.id());
    }
    std::vector<std::uint64_t>* ids_;
};

TEST_F(Soft, switch_observer_is_told_of_async_schedule_between_soft_tasklets) {
    std::vector<std::uint64_t> seen;
    recording_observer obs(&seen);
    trace tr;
    two_soft_taking_turns(tr, 1);
    const std::uint64_t a = made_[0].id(), b = made_[1].id();
    slp::switch_observer* old = slp::set_switch_observer(&obs);
    slp::run();
    slp::set_switch_observer(old);
    EXPECT_EQ(tr.ev, (S{"a0", "b0"}));
    // a -> b and b -> a by async_schedule, then a ends -> b: each told before and after.
    EXPECT_EQ(seen,
              (std::vector<std::uint64_t>{0, a, b, 1, a, b, 0, b, a, 1, b, a, 0, a, b, 1, a, b}));
}

TEST_F(Soft, async_schedule_takes_in_what_another_thread_handed_over_first) {
    (void)slp::getcurrent();  // this thread counts for deadlock detection from now on
    slp::channel<int> ch;
    trace tr;
    soft([&]() -> slp::task<> {
        const int v = co_await ch.async_receive();
        tr("c got " + std::to_string(v));
    });
    soft([&]() -> slp::task<> {
        tr("a");
        // Another thread sends to c: c is handed over to this thread, not yet in the ring.
        std::thread th([&] { ch.send(5); });
        th.join();
        co_await slp::async_schedule();  // takes c in (behind b), then switches to b
        tr("a again");
    });
    soft([&]() -> slp::task<> {
        tr("b");
        co_await slp::async_schedule();
        tr("b again");
    });
    slp::run();
    EXPECT_EQ(tr.ev, (S{"a", "b", "c got 5", "a again", "b again"}));
}

// A coroutine type of the user's own, run on a fresh thread outside any tasklet.
struct foreign_coroutine {
    struct promise_type {
        foreign_coroutine get_return_object() noexcept { return {}; }
        std::suspend_never initial_suspend() noexcept { return {}; }
        std::suspend_never final_suspend() noexcept { return {}; }
        void return_void() noexcept {}
        void unhandled_exception() noexcept { std::abort(); }
    };
};

foreign_coroutine schedule_from_a_foreign_coroutine(bool& done) {
    co_await slp::async_schedule();  // main alone: nothing to switch to
    done = true;
}

TEST(SoftOutsideTasklets, async_schedule_in_a_thread_without_a_scheduler_goes_on) {
    bool done = false;
    std::thread th([&] { schedule_from_a_foreign_coroutine(done); });
    th.join();
    EXPECT_TRUE(done);
}

// ---- nested tasks ---------------------------------------------------------------------

slp::task<int> depth_sum(int n, slp::channel<int>* ch) {
    if (n == 0) {
        if (ch == nullptr) co_return 0;  // (not ?: — g++ 12 evaluates a co_await in both arms)
        co_return co_await ch->async_receive();
    }
    co_return n + co_await depth_sum(n - 1, ch);
}

slp::task<int> thrower(int n) {
    if (n == 0) throw std::out_of_range("deep");
    co_return co_await thrower(n - 1);
}

// The C stack the loop resumes coroutines from, seen from a non-inlined call.
[[gnu::noinline]] std::uintptr_t stack_here() {
    return reinterpret_cast<std::uintptr_t>(__builtin_frame_address(0));
}
slp::task<std::uintptr_t> sp_at(int n) {
    if (n == 0) co_return stack_here();
    co_return co_await sp_at(n - 1);
}

TEST_F(Soft, nested_tasks_return_values_and_block_at_any_depth) {
    slp::channel<int> ch;
    int result = 0;
    soft([&]() -> slp::task<> { result = co_await depth_sum(10000, &ch); });
    slp::run();
    EXPECT_EQ(ch.balance(), -1);  // blocked 10,000 coroutines deep
    ch.send(7);
    EXPECT_EQ(result, 10000 * 10001 / 2 + 7);
}

TEST_F(Soft, an_exception_thrown_deep_inside_reaches_the_caller) {
    std::string caught;
    soft([&]() -> slp::task<> {
        try {
            co_await thrower(1000);
        } catch (const std::out_of_range& e) {
            caught = e.what();
        }
    });
    slp::run();
    EXPECT_EQ(caught, "deep");
}

TEST_F(Soft, nesting_does_not_grow_the_c_stack) {
    std::uintptr_t shallow = 0, deep = 0;
    soft([&]() -> slp::task<> {
        shallow = co_await sp_at(1);
        deep = co_await sp_at(100000);
        for (int i = 0; i < 1000000; ++i) co_await depth_sum(0, nullptr);  // sequential calls
        const std::uintptr_t again = co_await sp_at(1);
        EXPECT_EQ(again, shallow);
    });
    slp::run();
    EXPECT_NE(shallow, 0u);
    EXPECT_EQ(deep, shallow);
}

// ---- promotion (the 80/20 rule) ----------------------------------------------------------

slp::channel<int>* g_sort_channel = nullptr;
int g_sort_blocks = 0;
extern "C" int compare_and_block(const void* a, const void* b) {
    if (g_sort_blocks++ == 0) g_sort_channel->receive();  // foreign code blocks
    const int x = *static_cast<const int*>(a), y = *static_cast<const int*>(b);
    return (x > y) - (x < y);
}

TEST_F(Soft, blocking_in_a_qsort_callback_promotes_the_soft_tasklet) {
    slp::channel<int> ch;
    g_sort_channel = &ch;
    g_sort_blocks = 0;
    std::vector<int> v{5, 3, 9, 1, 7};
    trace tr;
    const slp::switch_counts before = slp::get_switch_counts();
    slp::tasklet sorter = soft([&]() -> slp::task<> {
        tr("sort start");
        std::qsort(v.data(), v.size(), sizeof(int), &compare_and_block);
        tr("sorted");
        co_await slp::async_schedule();  // still a coroutine after promotion
        tr("sorter after schedule");
    });
    slp::tasklet other = soft([&]() -> slp::task<> {
        tr("other runs");  // on a fresh runner stack, while the sorter holds the old one
        co_await ch.async_send(1);
        tr("other done");
    });
    slp::run();
    EXPECT_EQ(tr.ev,
              (S{"sort start", "other runs", "sorted", "other done", "sorter after schedule"}));
    EXPECT_EQ(v, (std::vector<int>{1, 3, 5, 7, 9}));
    EXPECT_EQ(slp::get_switch_counts().promotions - before.promotions, 1u);
    EXPECT_FALSE(sorter.alive());
    EXPECT_FALSE(other.alive());
}

struct base_handler {
    virtual ~base_handler() = default;
    virtual int handle(slp::channel<int>& ch) = 0;
};
struct receiving_handler : base_handler {
    int handle(slp::channel<int>& ch) override { return ch.receive(); }
};

TEST_F(Soft, blocking_in_a_std_function_three_frames_down_promotes) {
    slp::channel<int> ch;
    receiving_handler h;
    base_handler& hb = h;
    std::function<int()> level3 = [&] { return hb.handle(ch); };  // virtual call, blocks
    std::function<int()> level2 = [&] { return level3() + 1; };
    std::function<int()> level1 = [&] { return level2() + 1; };
    int got = 0;
    slp::tasklet t = soft([&]() -> slp::task<> {
        got = level1();
        got += co_await ch.async_receive();  // after promotion: a hard wait, same result
    });
    slp::run();
    EXPECT_TRUE(t.blocked());
    EXPECT_EQ(t.kind(), slp::stack_kind::own);  // promoted
    ch.send(40);
    ch.send(100);
    EXPECT_EQ(got, 142);
    EXPECT_FALSE(t.alive());
}

TEST_F(Soft, a_promoted_tasklet_can_be_killed_and_unwinds) {
    slp::channel<int> ch;
    int destroyed = 0;
    slp::tasklet t = soft([&]() -> slp::task<> {
        slp_test::sentry s(&destroyed);
        std::function<void()> f = [&] {
            slp_test::sentry inner(&destroyed);
            ch.receive();
        };
        f();
        co_return;
    });
    slp::run();
    EXPECT_EQ(t.kind(), slp::stack_kind::own);
    t.kill();
    EXPECT_EQ(destroyed, 2);
    EXPECT_FALSE(t.alive());
}

// ---- many -----------------------------------------------------------------------------

TEST_F(Soft, a_million_soft_tasklets_alive_at_once) {
    const int n = 1000000;
    slp::channel<int> ch;
    long long sum = 0;
    for (int i = 0; i < n; ++i)
        slp::spawn_soft([&ch, &sum]() -> slp::task<> { sum += co_await ch.async_receive(); });
    slp::run();
    EXPECT_EQ(ch.balance(), -n);
    for (int i = 0; i < n; ++i) ch.send(1);
    slp::run();
    EXPECT_EQ(sum, n);
    EXPECT_EQ(ch.balance(), 0);
}

}  // namespace

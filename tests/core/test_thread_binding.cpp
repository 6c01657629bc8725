// Other threads' schedulers: get_thread_info(thread_ref) and bind_thread() (Stackless:
// stackless.get_thread_info(thread_id), tasklet.bind_thread(thread_id)).
//
// The other thread here is a worker that runs jobs on request and waits on a condition
// variable between them, outside slp: it is quiet then, as the two functions require.
#include <condition_variable>
#include <exception>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

#include "core_test_support.h"

namespace {

using slp_test::kind_name;

class worker {
 public:
    worker() : th_([this] { loop(); }) {
        call([this] {
            ref = slp::this_thread();
            id = std::this_thread::get_id();
        });
    }
    ~worker() { stop(); }
    worker(const worker&) = delete;
    worker& operator=(const worker&) = delete;

    // Run fn on the worker and wait until it has run; rethrows what it threw.
    void call(std::function<void()> fn) {
        std::unique_lock<std::mutex> lk(mu_);
        job_ = std::move(fn);
        done_ = false;
        cv_.notify_all();
        cv_.wait(lk, [&] { return done_; });
        if (error_) std::rethrow_exception(std::exchange(error_, nullptr));
    }
    // End the thread (its scheduler goes, killing what is alive there).
    void stop() {
        if (!th_.joinable()) return;
        {
            std::lock_guard<std::mutex> lk(mu_);
            quit_ = true;
            cv_.notify_all();
        }
        th_.join();
    }

    slp::thread_ref ref;  // valid until stop()
    std::thread::id id;

 private:
    void loop() {
        std::unique_lock<std::mutex> lk(mu_);
        for (;;) {
            cv_.wait(lk, [&] { return quit_ || job_; });
            if (quit_) return;
            std::function<void()> fn = std::move(job_);
            job_ = nullptr;
            lk.unlock();
            std::exception_ptr e;
            try {
                fn();
            } catch (...) {
                e = std::current_exception();
            }
            lk.lock();
            error_ = e;
            done_ = true;
            cv_.notify_all();
        }
    }

    std::mutex mu_;
    std::condition_variable cv_;
    std::function<void()> job_;
    std::exception_ptr error_;
    bool done_ = false;
    bool quit_ = false;
    std::thread th_;
};

template <class F>
void expect_runtime_error(F&& f, const char* what) {
    try {
        f();
        ADD_FAILURE() << "expected slp::runtime_error: " << what;
    } catch (const slp::runtime_error& e) {
        EXPECT_STREQ(e.what(), what);
    }
}

class ThreadBinding : public slp_test::Kinds {
 protected:
    slp::tasklet_options opts() const { return {GetParam(), 0, {}}; }
};

INSTANTIATE_TEST_SUITE_P(, ThreadBinding,
                         ::testing::Values(slp::stack_kind::own, slp::stack_kind::copied),
                         kind_name);

}  // namespace

TEST_P(ThreadBinding, thread_info_of_this_thread) {
    const int before = slp::getruncount();  // 1, unless an earlier test left one behind
    go([] {});
    go([] {});
    slp::thread_info info = slp::get_thread_info(slp::this_thread());
    EXPECT_TRUE(info.main == slp::getmain());
    EXPECT_TRUE(info.current == slp::getcurrent());
    EXPECT_EQ(info.runcount, before + 2);
    EXPECT_EQ(info.runcount, slp::getruncount());
    EXPECT_TRUE(slp::this_thread() == slp::this_thread());
    expect_runtime_error([] { slp::get_thread_info(slp::thread_ref()); }, slp::msg::no_thread);
    slp::run();
}

TEST_P(ThreadBinding, thread_info_of_another_thread) {
    worker w;
    std::uint64_t main_there = 0;
    slp::tasklet paused;
    w.call([&] {
        main_there = slp::getmain().id();
        slp::spawn([] {}, opts());
        slp::spawn([] {}, opts());
        paused = slp::spawn([] {}, opts());
        paused.remove();
    });
    EXPECT_FALSE(w.ref == slp::this_thread());
    slp::thread_info info = slp::get_thread_info(w.ref);
    EXPECT_EQ(info.main.id(), main_there);
    EXPECT_TRUE(info.current == info.main);
    EXPECT_EQ(info.runcount, 3);
    EXPECT_NE(info.main.id(), slp::getmain().id());

    // insert() from here hands `paused` to its thread, which has not taken it in yet:
    // it counts already.
    paused.insert();
    EXPECT_EQ(slp::get_thread_info(w.ref).runcount, 4);
    EXPECT_EQ(slp::getruncount(), 1);  // ours is untouched
    w.call([] {
        EXPECT_EQ(slp::getruncount(), 4);
        slp::run();
        EXPECT_EQ(slp::getruncount(), 1);
    });
    EXPECT_EQ(slp::get_thread_info(w.ref).runcount, 1);
    EXPECT_FALSE(paused.alive());
}

TEST_P(ThreadBinding, unstarted_tasklet_bound_to_another_thread_runs_there) {
    worker w;
    std::thread::id ran_on;
    slp::tasklet t = make([&] { ran_on = std::this_thread::get_id(); });
    slp::bind_thread(t, w.ref);
    EXPECT_FALSE(t.alive());
    w.call([&] {
        t.setup();
        EXPECT_EQ(slp::getruncount(), 2);
        slp::run();
    });
    EXPECT_EQ(ran_on, w.id);
    EXPECT_FALSE(t.alive());
    EXPECT_EQ(slp::getruncount(), 1);
}

// setup() from another thread (Stackless inserts into the tasklet's own thread): alive
// at once, handed to its thread, counted there before that thread takes it in, run
// there.
TEST_P(ThreadBinding, tasklet_of_another_thread_set_up_from_here_runs_there) {
    worker w;
    std::thread::id ran_on;
    slp::tasklet t = make([&] { ran_on = std::this_thread::get_id(); });
    slp::bind_thread(t, w.ref);
    t.setup();
    EXPECT_TRUE(t.alive());
    EXPECT_TRUE(t.scheduled());
    EXPECT_EQ(slp::getruncount(), 1);  // not ours
    EXPECT_EQ(slp::get_thread_info(w.ref).runcount, 2);
    expect_runtime_error([&] { t.setup(); }, slp::msg::alive);
    expect_runtime_error([&] { slp::bind_thread(t, slp::this_thread()); }, slp::msg::bind_runnable);
    w.call([] {
        EXPECT_EQ(slp::getruncount(), 2);
        slp::run();
    });
    EXPECT_EQ(ran_on, w.id);
    EXPECT_FALSE(t.alive());
}

// setup_paused() from another thread: alive and paused, not runnable there; insert()
// from here then runs it there. Bound back here before its thread took it in, it is
// ours (the pending hand-over is taken back), and runs here.
TEST_P(ThreadBinding, tasklet_of_another_thread_set_up_paused_from_here) {
    worker w;
    std::vector<std::thread::id> ran_on;
    slp::tasklet a = make([&] { ran_on.push_back(std::this_thread::get_id()); });
    slp::tasklet b = make([&] { ran_on.push_back(std::this_thread::get_id()); });
    slp::bind_thread(a, w.ref);
    slp::bind_thread(b, w.ref);
    a.setup_paused();
    b.setup_paused();
    EXPECT_TRUE(a.alive() && a.paused());
    EXPECT_EQ(slp::get_thread_info(w.ref).runcount, 1);
    a.insert();
    EXPECT_EQ(slp::get_thread_info(w.ref).runcount, 2);
    slp::bind_thread(b, slp::this_thread());  // its hand-over is still pending
    EXPECT_TRUE(b.alive() && b.paused());
    w.call([] { slp::run(); });
    EXPECT_FALSE(a.alive());
    EXPECT_TRUE(b.alive());
    b.insert();
    slp::run();
    EXPECT_FALSE(b.alive());
    EXPECT_EQ(ran_on, (std::vector<std::thread::id>{w.id, std::this_thread::get_id()}));
    // w's end forgets nothing of b: it is not w's any more.
}

// run() from another thread hands the tasklet over to run next there, before the
// runnables handed over earlier (Stackless's remote run order).
TEST_P(ThreadBinding, run_from_another_thread_runs_the_tasklet_there_first) {
    worker w;
    std::vector<char> order;
    slp::tasklet a = make([&] { order.push_back('a'); });
    slp::tasklet b = make([&] { order.push_back('b'); });
    slp::tasklet c = make([&] { order.push_back('c'); });
    for (slp::tasklet* t : {&a, &b, &c}) {
        slp::bind_thread(*t, w.ref);
        t->setup_paused();
    }
    b.insert();
    c.insert();
    a.run();  // from here: like insert(), but first in line over there
    EXPECT_TRUE(order.empty());
    w.call([] { slp::run(); });
    EXPECT_EQ(order, (std::vector<char>{'a', 'b', 'c'}));
}

// The owner acts on a tasklet handed to it before any scheduling point of its own: it
// takes the hand-over in first (remove() pauses it, kill() ends it without running its
// function; both tracked as its own).
TEST_P(ThreadBinding, owner_acts_on_a_handed_over_tasklet_before_taking_it_in) {
    worker w;
    bool ran = false;
    slp::tasklet t = make([&] { ran = true; });
    slp::tasklet u = make([&] { ran = true; });
    slp::bind_thread(t, w.ref);
    slp::bind_thread(u, w.ref);
    t.setup();
    u.setup();
    w.call([&] {
        t.remove();
        EXPECT_TRUE(t.paused());
        EXPECT_EQ(slp::getruncount(), 2);  // main and u
        u.kill();
        t.kill();
        EXPECT_FALSE(t.alive());
        EXPECT_FALSE(u.alive());
        EXPECT_EQ(slp::getruncount(), 1);
    });
    EXPECT_FALSE(ran);
}

// A thread that ends before it took in a tasklet set up from another thread kills it
// there like its own (its function never runs); one whose thread has ended cannot be
// set up (and stays as it was).
TEST_P(ThreadBinding, tasklet_set_up_for_an_ending_or_ended_thread) {
    bool ran = false;
    slp::tasklet t = make([&] { ran = true; });
    slp::tasklet late = make([&] { ran = true; });
    {
        worker w;
        slp::bind_thread(t, w.ref);
        slp::bind_thread(late, w.ref);
        t.setup();
    }  // w ends with t in its inbox
    EXPECT_FALSE(t.alive());
    EXPECT_FALSE(ran);
    expect_runtime_error([&] { late.setup(); }, slp::msg::no_thread);
    EXPECT_FALSE(late.alive());
    slp::bind_thread(late, slp::this_thread());  // a tasklet of an ended thread can be rebound
    late.setup();
    slp::run();
    EXPECT_TRUE(ran);
}

TEST_P(ThreadBinding, alive_paused_tasklet_moves_and_runs_on_its_new_thread) {
    worker w;
    std::thread::id ran_on;
    slp::tasklet t;
    w.call([&] {
        t = slp::tasklet([&] { ran_on = std::this_thread::get_id(); }, opts());
        t.setup();
        t.remove();  // alive, paused, never run
    });
    slp::bind_thread(t, slp::this_thread());
    EXPECT_TRUE(t.alive());
    EXPECT_TRUE(t.paused());
    EXPECT_EQ(slp::get_thread_info(w.ref).runcount, 1);
    // Its old thread ends: the tasklet is not its any more, so it is not killed.
    w.stop();
    EXPECT_TRUE(t.alive());
    t.insert();
    EXPECT_EQ(slp::getruncount(), 2);
    slp::run();
    EXPECT_EQ(ran_on, std::this_thread::get_id());
    EXPECT_FALSE(t.alive());
}

TEST_P(ThreadBinding, alive_paused_tasklet_moved_to_a_third_thread_is_inserted_from_here) {
    worker a, b;
    std::thread::id ran_on;
    slp::tasklet t;
    a.call([&] {
        t = slp::spawn([&] { ran_on = std::this_thread::get_id(); }, opts());
        t.remove();
    });
    slp::bind_thread(t, b.ref);  // neither thread is this one
    EXPECT_EQ(slp::get_thread_info(a.ref).runcount, 1);
    EXPECT_EQ(slp::get_thread_info(b.ref).runcount, 1);
    t.insert();  // from here: handed to b
    EXPECT_EQ(slp::get_thread_info(b.ref).runcount, 2);
    b.call([] { slp::run(); });
    EXPECT_EQ(ran_on, b.id);
    EXPECT_FALSE(t.alive());
}

TEST_P(ThreadBinding, tasklet_left_alive_on_its_new_thread_is_killed_when_that_thread_ends) {
    int unwound = 0;
    slp::tasklet t = make([&] {
        slp_test::sentry s(&unwound);
        slp::schedule_remove();
    });
    {
        worker w;
        slp::bind_thread(t, w.ref);
        w.call([&] {
            t.setup();
            slp::run();  // t pauses itself, run() returns
            EXPECT_TRUE(t.paused());
        });
    }  // the worker ends: its scheduler kills t
    EXPECT_FALSE(t.alive());
    EXPECT_EQ(unwound, 1);
}

TEST_P(ThreadBinding, ended_tasklets_and_tasklets_of_ended_threads_can_be_rebound) {
    int runs = 0;
    slp::tasklet ended, never_ran;
    {
        worker w;
        w.call([&] {
            ended = slp::spawn([&] { ++runs; }, opts());
            slp::run();
            never_ran = slp::tasklet([&] { ++runs; }, opts());
        });
    }
    EXPECT_EQ(runs, 1);
    EXPECT_FALSE(ended.alive());
    slp::bind_thread(ended, slp::this_thread());
    slp::bind_thread(never_ran, slp::this_thread());
    ended.bind([&] { ++runs; }).setup();
    never_ran.setup();
    slp::run();
    EXPECT_EQ(runs, 3);

    // And an ended tasklet of this thread goes to another one.
    worker w;
    slp::bind_thread(ended, w.ref);
    ended.bind([&] { ++runs; });
    w.call([&] {
        ended.setup();
        slp::run();
    });
    EXPECT_EQ(runs, 4);
}

TEST_P(ThreadBinding, rebinding_to_its_own_thread_changes_nothing) {
    slp::tasklet t = make([] {});
    slp::bind_thread(t, slp::this_thread());
    t.setup();
    t.remove();
    slp::bind_thread(t, slp::this_thread());
    EXPECT_TRUE(t.paused());
    t.insert();
    slp::run();
    EXPECT_FALSE(t.alive());
}

TEST_P(ThreadBinding, errors_change_nothing) {
    worker w;
    expect_runtime_error([&] { slp::bind_thread(slp::tasklet(), w.ref); }, slp::msg::null_tasklet);
    slp::tasklet t = make([] {});
    expect_runtime_error([&] { slp::bind_thread(t, slp::thread_ref()); }, slp::msg::no_thread);

    // Runnable: in the ring.
    t.setup();
    expect_runtime_error([&] { slp::bind_thread(t, w.ref); }, slp::msg::bind_runnable);
    expect_runtime_error([&] { slp::bind_thread(t, slp::this_thread()); }, slp::msg::bind_runnable);
    // The current tasklet of a thread is runnable too (here: our main; there: its main).
    expect_runtime_error([&] { slp::bind_thread(slp::getcurrent(), w.ref); },
                         slp::msg::bind_runnable);
    slp::tasklet other_main;
    w.call([&] { other_main = slp::getmain(); });
    expect_runtime_error([&] { slp::bind_thread(other_main, slp::this_thread()); },
                         slp::msg::bind_runnable);

    // A main tasklet has its thread's stack (here: ours, paused in run()).
    go([&] {
        expect_runtime_error([&] { slp::bind_thread(slp::getmain(), w.ref); },
                             slp::msg::bind_c_state);
    });
    slp::run();

    // Started: paused inside, or blocked on a channel.
    slp::channel<int> ch;
    slp::tasklet paused_inside = go([] { slp::schedule_remove(); });
    slp::tasklet blocked = go([&] { ch.receive(); });
    slp::run();  // both stop where they are
    EXPECT_TRUE(paused_inside.paused());
    EXPECT_TRUE(blocked.blocked());
    expect_runtime_error([&] { slp::bind_thread(paused_inside, w.ref); }, slp::msg::bind_c_state);
    expect_runtime_error([&] { slp::bind_thread(blocked, w.ref); }, slp::msg::bind_c_state);
    EXPECT_TRUE(paused_inside.paused());
    EXPECT_TRUE(blocked.blocked());
    EXPECT_EQ(slp::get_thread_info(w.ref).runcount, 1);

    // Runnable: handed to its thread by another one, not taken in yet.
    slp::tasklet handed;
    w.call([&] {
        handed = slp::spawn([] {}, opts());
        handed.remove();
    });
    handed.insert();
    expect_runtime_error([&] { slp::bind_thread(handed, slp::this_thread()); },
                         slp::msg::bind_runnable);
    w.call([&] {
        EXPECT_EQ(slp::getruncount(), 2);
        slp::run();
    });
    EXPECT_FALSE(handed.alive());

    // Everything still works as before.
    ch.send(1);
    slp::run();
    EXPECT_FALSE(blocked.alive());
    paused_inside.insert();
    slp::run();
    EXPECT_FALSE(paused_inside.alive());
}

TEST_P(ThreadBinding, remove_of_another_threads_tasklet_takes_it_off_that_threads_runnables) {
    worker w;
    slp::tasklet t, handed;
    bool ran = false, handed_ran = false;
    int there = 0;
    w.call([&] {
        t = slp::tasklet([&] { ran = true; }, opts()).setup();
        handed = slp::tasklet([&] { handed_ran = true; }, opts()).setup();
        handed.remove();  // paused over there
    });
    handed.insert();  // handed over from here, not taken in yet
    const int here = slp::getruncount();
    slp::remove_from_its_thread(t);
    slp::remove_from_its_thread(handed);
    EXPECT_EQ(slp::getruncount(), here);  // this thread's runnables are untouched
    EXPECT_FALSE(t.scheduled());
    EXPECT_FALSE(handed.scheduled());
    EXPECT_TRUE(t.alive() && t.paused());
    w.call([&] {
        there = slp::getruncount();
        slp::run();
    });
    EXPECT_EQ(there, 1);
    EXPECT_FALSE(ran || handed_ran);
    t.insert();  // runs over there again
    w.call([&] { slp::run(); });
    EXPECT_TRUE(ran);
    expect_runtime_error([&] { slp::remove_from_its_thread(slp::get_thread_info(w.ref).main); },
                         slp::msg::remove_current);
    w.call([&] { handed.kill(); });
}

TEST_P(ThreadBinding, remove_of_a_dead_tasklet_does_nothing_whatever_its_thread) {
    slp::tasklet t;
    {
        worker w;
        w.call([&] { t = slp::tasklet([] {}, opts()); });
    }
    EXPECT_NO_THROW(t.remove());
    EXPECT_FALSE(t.scheduled());
}

// Threads: each has its own scheduler and main tasklet; channels work across threads; a
// tasklet only runs on its own thread.
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <thread>

#include "core_test_support.h"

namespace {
// A thread counts for deadlock detection once it has a scheduler: every test gives this
// thread one before starting others, and waits until the others have theirs before it
// may block on them.
void wait_until(std::atomic<int>& n, int want) {
    while (n.load() < want) std::this_thread::yield();
}
}  // namespace

TEST(Threads, each_thread_has_its_own_main_tasklet) {
    std::uint64_t here = slp::getmain().id();
    std::uint64_t there = 0;
    int runcount_there = 0;
    std::thread th([&] {
        there = slp::getmain().id();
        runcount_there = slp::getruncount();
    });
    th.join();
    EXPECT_NE(here, there);
    EXPECT_EQ(runcount_there, 1);
}

TEST(Threads, send_from_one_thread_wakes_a_receiver_of_another) {
    (void)slp::getcurrent();
    slp::channel<int> ch;
    int got = 0;
    std::thread b([&] { got = ch.receive(); });  // b's main blocks: waits for us
    while (ch.balance() != -1) std::this_thread::yield();
    ch.send(5);  // a receiver of another thread: we continue, it runs over there
    b.join();
    EXPECT_EQ(got, 5);
    EXPECT_EQ(ch.balance(), 0);
}

TEST(Threads, tasklets_run_only_on_their_own_thread) {
    (void)slp::getcurrent();
    slp::channel<std::thread::id> ch;
    slp::channel<int> done;
    std::thread::id worker_id;
    std::atomic<int> ready{0};
    std::thread th([&] {
        worker_id = std::this_thread::get_id();
        (void)slp::getcurrent();
        ++ready;
        for (int i = 0; i < 3; ++i) slp::spawn([&] { ch.send(std::this_thread::get_id()); });
        slp::run();  // all three block sending: run returns
        done.send(1);
    });
    wait_until(ready, 1);
    for (int i = 0; i < 3; ++i) EXPECT_EQ(ch.receive(), worker_id);
    EXPECT_EQ(done.receive(), 1);
    th.join();
}

TEST(Threads, ping_pong_between_tasklets_of_two_threads) {
    (void)slp::getcurrent();
    slp::channel<int> ping, pong;
    constexpr int n = 2000;
    std::atomic<int> ready{0};
    std::thread th([&] {
        slp::channel<int> done;
        (void)slp::getcurrent();
        ++ready;
        slp::spawn(
            [&] {
                for (int i = 0; i < n; ++i) pong.send(ping.receive() + 1);
                done.send(1);
            },
            {slp::stack_kind::copied, 0, {}});
        done.receive();  // nothing else here can run: waits for the other thread
    });
    wait_until(ready, 1);
    long sum = 0;
    for (int i = 0; i < n; ++i) {
        ping.send(i);
        sum += pong.receive();
    }
    th.join();
    EXPECT_EQ(sum, static_cast<long>(n) * (n + 1) / 2);
}

TEST(Threads, many_threads_share_one_channel) {
    (void)slp::getcurrent();
    slp::channel<int> ch;
    constexpr int threads = 4, per = 500;
    std::vector<std::thread> ts;
    std::atomic<int> ready{0};
    for (int t = 0; t < threads; ++t)
        ts.emplace_back([&] {
            (void)slp::getcurrent();
            ++ready;
            for (int i = 0; i < per; ++i) ch.send(1);
        });
    wait_until(ready, threads);
    long sum = 0;
    for (int i = 0; i < threads * per; ++i) sum += ch.receive();
    for (auto& t : ts) t.join();
    EXPECT_EQ(sum, threads * per);
}

// Soft tasklets across threads: a soft sender on another thread wakes a soft receiver
// here, and the answer goes back the same way. (Each thread's main waits on a channel of
// its own, so that its soft tasklet may block while the other thread works.)
TEST(Threads, soft_tasklets_talk_across_threads) {
    (void)slp::getcurrent();
    slp::channel<int> to_main, to_worker, worker_done, main_done;
    std::atomic<int> ready{0};
    int answer = 0;
    std::thread th([&] {
        (void)slp::getcurrent();
        ++ready;
        slp::spawn_soft([&]() -> slp::task<> {
            for (int i = 1; i <= 3; ++i) {
                co_await to_main.async_send(i);
                const int back = co_await to_worker.async_receive();
                answer += back;
            }
            co_await worker_done.async_send(1);
        });
        worker_done.receive();
    });
    wait_until(ready, 1);
    long sum = 0;
    slp::spawn_soft([&]() -> slp::task<> {
        for (int i = 0; i < 3; ++i) {
            const int v = co_await to_main.async_receive();
            sum += v;
            co_await to_worker.async_send(v * 10);
        }
        co_await main_done.async_send(1);
    });
    EXPECT_EQ(main_done.receive(), 1);
    slp::run();  // the soft tasklet, made runnable by its last send, ends
    th.join();
    EXPECT_EQ(sum, 6);
    EXPECT_EQ(answer, 60);
    EXPECT_EQ(slp::getruncount(), 1);
}

namespace {
// An observer whose wait for another thread ends with an "interrupt", as Ctrl-C does in
// the Python binding. With `deliver_first`, the other thread completes the waiting
// action (its send) before the interrupt is returned: the race of a Ctrl-C with a
// delivery.
struct interrupting_observer : slp::switch_observer {
    std::atomic<bool>* go = nullptr;
    std::atomic<bool>* sent = nullptr;
    std::exception_ptr late;
    void before_switch(slp::tasklet_view, slp::tasklet_view) noexcept override {}
    void after_switch(slp::tasklet_view, slp::tasklet_view) noexcept override {}
    std::exception_ptr poll_wait() noexcept override {
        if (go != nullptr) {
            go->store(true);
            while (!sent->load()) std::this_thread::yield();
        }
        return std::make_exception_ptr(std::runtime_error("interrupt"));
    }
    void action_completed_anyway(std::exception_ptr why) noexcept override { late = why; }
};
}  // namespace

TEST(Threads, an_interrupted_wait_for_another_thread_undoes_the_action) {
    (void)slp::getcurrent();
    slp::channel<int> ch;
    std::atomic<int> ready{0};
    std::atomic<bool> stop{false};
    std::thread th([&] {
        (void)slp::getcurrent();
        ++ready;
        while (!stop.load()) std::this_thread::yield();
    });
    wait_until(ready, 1);
    interrupting_observer obs;
    slp::switch_observer* old = slp::set_switch_observer(&obs);
    EXPECT_THROW(ch.receive(), std::runtime_error);
    slp::set_switch_observer(old);
    stop = true;
    th.join();
    EXPECT_EQ(ch.balance(), 0);
    EXPECT_FALSE(obs.late);
    EXPECT_EQ(slp::getruncount(), 1);
}

TEST(Threads, an_interrupt_after_another_thread_delivered_keeps_the_value) {
    (void)slp::getcurrent();
    slp::channel<int> ch;
    std::atomic<int> ready{0};
    std::atomic<bool> go{false}, sent{false};
    std::thread th([&] {
        (void)slp::getcurrent();
        ++ready;
        while (!go.load()) std::this_thread::yield();
        ch.send(42);  // to main, which waits in receive: taken off the queue, posted
        sent = true;
    });
    wait_until(ready, 1);
    interrupting_observer obs;
    obs.go = &go;
    obs.sent = &sent;
    slp::switch_observer* old = slp::set_switch_observer(&obs);
    int got = 0;
    EXPECT_NO_THROW(got = ch.receive());
    slp::set_switch_observer(old);
    th.join();
    EXPECT_EQ(got, 42);     // the send succeeded over there: the value is not lost here
    EXPECT_TRUE(obs.late);  // the interrupt is handed back, not dropped
    EXPECT_EQ(ch.balance(), 0);
    EXPECT_EQ(slp::getruncount(), 1);
}

namespace {
// Fork while thread B holds `ch`'s lock, as B does in the middle of a channel action,
// and while a tasklet of B is blocked on ch. In the child, only this thread exists: the
// forgotten tasklet leaves ch, and ch works. Returns what the child reported through a
// pipe ('0': works; its exit status is valgrind's when it runs under valgrind, which
// counts B's memory as lost there), or -1 if it said nothing within 10 s (killed).
int fork_while_another_thread_holds_the_lock(bool biased_to_b) {
    (void)slp::getcurrent();
    slp::channel<int> ch;
    if (!biased_to_b) {  // this thread takes the lock first: B's use makes it shared
        const bool b = ch.lock();
        ch.unlock(b);
    }
    std::atomic<bool> held{false}, release{false};
    std::thread th([&] {
        slp::spawn([&] { (void)ch.receive(); });
        slp::schedule();  // the receiver blocks on ch
        const bool b = ch.lock();
        held = true;
        while (!release.load()) std::this_thread::yield();
        ch.unlock(b);
        ch.send(0);  // its receiver ends
    });
    while (!held.load()) std::this_thread::yield();
    int report[2];
    if (pipe(report) != 0) return -2;
    const pid_t pid = fork();
    if (pid == 0) {
        close(report[0]);
        alarm(10);
        int got = 0;
        slp::spawn([&] { got = ch.receive(); });
        slp::schedule();
        const int before = ch.balance();
        ch.send(7);
        const char ok = before == -1 && got == 7 && ch.balance() == 0 ? '0' : '1';
        (void)!write(report[1], &ok, 1);
        _exit(0);
    }
    close(report[1]);
    release = true;
    th.join();
    pollfd pfd{report[0], POLLIN, 0};
    char said = 0;
    const bool heard = poll(&pfd, 1, 10000) == 1 && read(report[0], &said, 1) == 1;
    close(report[0]);
    if (!heard) kill(pid, SIGKILL);
    int status = 0;
    waitpid(pid, &status, 0);
    return heard ? said - '0' : -1;
}
}  // namespace

TEST(Threads, a_child_forked_while_another_thread_holds_a_shared_channel_lock_works) {
    EXPECT_EQ(fork_while_another_thread_holds_the_lock(false), 0);
}

TEST(Threads, a_child_forked_while_another_thread_holds_a_biased_channel_lock_works) {
    EXPECT_EQ(fork_while_another_thread_holds_the_lock(true), 0);
}

// drop() of a tasklet that a partner of another thread is taking off its channel at that
// moment: the partner's post must arrive before the tasklet is dropped (and freed once
// its last handle goes), or the inbox would hand over freed memory (ASan: use after
// free). Whichever comes first, nothing is lost that was not dropped, and nobody hangs.
TEST(Threads, drop_of_a_tasklet_that_another_thread_is_delivering_to) {
    (void)slp::getcurrent();
    slp::channel<int> ch;
    std::atomic<int> ready{0}, round{0}, done{0};
    constexpr int rounds = 500;
    std::thread th([&] {
        (void)slp::getcurrent();
        ++ready;
        for (int i = 1; i <= rounds; ++i) {
            while (round.load() != i) std::this_thread::yield();
            ch.send(i);  // to the receiver over there, or blocks until main receives
            done = i;
        }
    });
    wait_until(ready, 1);
    int received = 0;
    for (int i = 1; i <= rounds; ++i) {
        {
            slp::tasklet t = slp::spawn([&] { received += ch.receive() > 0; });
            slp::schedule();  // t blocks on ch
            round = i;
            while (ch.balance() == -1) {
            }
            t.drop();  // the send took t off ch just now (or is blocked: balance 1)
        }
        while (done.load() != i)
            if (ch.balance() == 1) (void)ch.receive();
        EXPECT_EQ(slp::getruncount(), 1);
    }
    th.join();
    EXPECT_EQ(received, 0);  // every receiver was dropped before it could run
}

namespace {
// In the calling thread: a ping-pong of two tasklets over one channel and schedule()s,
// the actions the inline paths take when nothing holds them.
void ping_pong_here(int rounds) {
    slp::channel<int> ch;
    slp::spawn([&] {
        for (int i = 0; i < rounds; ++i) (void)ch.receive();
    });
    slp::spawn([&] {
        for (int i = 0; i < rounds; ++i) {
            ch.send(i);
            slp::schedule();
        }
    });
    slp::run();
}
}  // namespace

TEST(Threads, callbacks_installed_by_another_thread_see_this_threads_switches) {
    (void)slp::getcurrent();
    std::atomic<int> ready{0}, installed{0}, channel_calls{0}, schedule_calls{0};
    std::thread th([&] {
        (void)slp::getcurrent();  // its scheduler exists before the callbacks
        ping_pong_here(3);        // (the inline paths have run here)
        ++ready;
        wait_until(installed, 1);
        ping_pong_here(3);
    });
    wait_until(ready, 1);
    slp::set_channel_callback(
        [&](slp::channel_base&, const slp::tasklet&, bool, bool) { ++channel_calls; });
    slp::set_schedule_callback([&](const slp::tasklet&, const slp::tasklet&) { ++schedule_calls; });
    ++installed;
    th.join();
    slp::set_channel_callback({});
    slp::set_schedule_callback({});
    EXPECT_EQ(channel_calls.load(), 6);  // every send and receive of the second ping-pong
    EXPECT_GE(schedule_calls.load(), 6);
}

TEST(Threads, callbacks_installed_before_a_thread_starts_see_its_switches) {
    std::atomic<int> channel_calls{0};
    slp::set_channel_callback(
        [&](slp::channel_base&, const slp::tasklet&, bool, bool) { ++channel_calls; });
    std::thread th([&] { ping_pong_here(3); });
    th.join();
    slp::set_channel_callback({});
    EXPECT_EQ(channel_calls.load(), 6);
}

TEST(Threads, removing_the_callbacks_lets_another_thread_switch_without_them) {
    std::atomic<int> ready{0}, removed{0}, channel_calls{0};
    slp::set_channel_callback(
        [&](slp::channel_base&, const slp::tasklet&, bool, bool) { ++channel_calls; });
    std::thread th([&] {
        ping_pong_here(3);
        ++ready;
        wait_until(removed, 1);
        ping_pong_here(3);
    });
    wait_until(ready, 1);
    slp::set_channel_callback({});
    ++removed;
    th.join();
    EXPECT_EQ(channel_calls.load(), 6);  // the first ping-pong's only
}

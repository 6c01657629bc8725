// Signals delivered while a context's stack is in use: the kernel pushes its frame
// below the context's stack pointer, so nothing there may be relied upon.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/time.h>

#include <chrono>

#include "arch_test_support.h"

namespace {

using slp_test::test_stack;

test_stack* g_stack = nullptr;
volatile sig_atomic_t g_on_context_stack = 0;
volatile sig_atomic_t g_ticks = 0;

void on_usr1(int) {
    int local = 0;
    g_on_context_stack = g_stack->contains(&local) ? 1 : 0;
}

void on_alarm(int) {
    g_ticks = g_ticks + 1;
}

void raise_usr1(slp_transfer t) {
    raise(SIGUSR1);
    slp_jump(t.from, nullptr);
}

TEST(Signals, synchronous_signal_runs_on_the_context_stack_and_returns) {
    test_stack stack;
    g_stack = &stack;
    struct sigaction sa = {}, old = {};
    sa.sa_handler = on_usr1;
    sigemptyset(&sa.sa_mask);
    ASSERT_EQ(sigaction(SIGUSR1, &sa, &old), 0);
    g_on_context_stack = 0;
    slp_jump(slp_make(stack.top(), stack.span().size(), raise_usr1), nullptr);
    sigaction(SIGUSR1, &old, nullptr);
    EXPECT_EQ(g_on_context_stack, 1);
}

// Ping-pong between main and a context while a timer interrupts at random points, in
// the middle of switches too; the stack data checks must all hold.
void pingpong(slp_transfer t) {
    for (uintptr_t n = 0;; ++n) {
        volatile uintptr_t mine[4] = {n, n * 3, n * 5, n * 7};
        t = slp_jump(t.from, reinterpret_cast<void*>(n));
        if (mine[0] != n || mine[1] != n * 3 || mine[2] != n * 5 || mine[3] != n * 7)
            t = slp_jump(t.from, nullptr);  // report corruption as null
    }
}

TEST(Signals, timer_signals_during_switches_corrupt_nothing) {
    test_stack stack;
    struct sigaction sa = {}, old = {};
    sa.sa_handler = on_alarm;
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = SA_RESTART;
    ASSERT_EQ(sigaction(SIGALRM, &sa, &old), 0);
    itimerval tv{{0, 200}, {0, 200}};  // every 200 us
    ASSERT_EQ(setitimer(ITIMER_REAL, &tv, nullptr), 0);
    g_ticks = 0;
    slp_ctx c = slp_make(stack.top(), stack.span().size(), pingpong);
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
    long rounds = 0, bad = 0;
    // Keep switching until enough signals have landed (bounded by the deadline).
    while ((g_ticks < 50 || rounds < 100000) && std::chrono::steady_clock::now() < deadline) {
        slp_transfer t = slp_jump(c, nullptr);
        c = t.from;
        if (rounds > 0 && reinterpret_cast<uintptr_t>(t.data) != static_cast<uintptr_t>(rounds))
            ++bad;
        ++rounds;
    }
    itimerval off{};
    setitimer(ITIMER_REAL, &off, nullptr);
    sigaction(SIGALRM, &old, nullptr);
    EXPECT_GE(g_ticks, 50) << "timer signals did not arrive";
    EXPECT_EQ(bad, 0);
}

}  // namespace

// The core library's costs beside its peers, in one run (per-switch times in the
// counter `switch`, one direction, as in bench_arch.cpp):
//   BM_raw_slp_jump                    slp_jump ping-pong, the floor (same run)
//   BM_hard_switch/own_stack|copied_stack          schedule() between 2 tasklets
//   BM_hard_switch_10k/own_stack|copied_stack      schedule() round-robin, 10,000 tasklets
//   BM_pingpong/own_stack|copied_stack  channel send -> blocked receiver, one direction
//   BM_boost_fiber_pingpong            the same on Boost.Fiber's unbuffered_channel
//   BM_thread_cv_handoff               the same between two std::threads (mutex + cv)
//   BM_create_run_finish/own_stack|copied_stack    spawn + run + end of an empty tasklet
//   BM_memory_per_blocked_tasklet/own_stack|copied_stack
//                                      RSS delta / count with 100,000 blocked tasklets
//                                      (counter bytes_per_tasklet)
// Soft tasklets (coroutine bodies, slp/soft.hpp), beside the hard ones:
//   BM_soft_switch                     co_await async_schedule() between 2 soft tasklets
//   BM_soft_switch_10k                 the same round-robin among 10,000
//   BM_pingpong/soft                   channel ping-pong between two soft tasklets
//   BM_pingpong/mixed                  a soft receiver and an own-stack sender
//   BM_create_run_finish/soft          spawn_soft + run + end of an empty coroutine
//   BM_memory_per_blocked_tasklet/soft RSS delta / count, 1,000,000 blocked soft tasklets
// Targets (README): pingpong/own_stack within 3x of raw_slp_jump; a blocked copied-stack
// tasklet under 1 KiB; BM_soft_switch at most a third of BM_hard_switch/own_stack; a
// blocked soft tasklet at most 256 bytes.
#include <benchmark/benchmark.h>
#include <malloc.h>
#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <boost/fiber/all.hpp>
#include <condition_variable>
#include <cstdio>
#include <mutex>
#include <thread>
#include <vector>

#include "memory/process_memory.hpp"
#include "slp/slp.hpp"
#include "slp_arch.h"

namespace {

void per_switch(benchmark::State& state, double switches_per_iteration) {
    state.counters["switch"] =
        benchmark::Counter(switches_per_iteration, benchmark::Counter::kIsIterationInvariantRate |
                                                       benchmark::Counter::kInvert);
}

// Name the two variants own_stack / copied_stack.
#define SLP_KIND_BENCH(fn)                                  \
    BENCHMARK_CAPTURE(fn, own_stack, slp::stack_kind::own); \
    BENCHMARK_CAPTURE(fn, copied_stack, slp::stack_kind::copied)

// --- the floor --------------------------------------------------------------------
void echo(slp_transfer t) {
    for (;;) t = slp_jump(t.from, t.data);
}

void BM_raw_slp_jump(benchmark::State& state) {
    slp::stack st(64 * 1024);
    slp_ctx c = slp_make(st.top(), st.size(), echo);
    for (auto _ : state) c = slp_jump(c, nullptr).from;
    per_switch(state, 2);
}
BENCHMARK(BM_raw_slp_jump);

// --- schedule() between tasklets ----------------------------------------------------
// The measuring loop runs inside a tasklet of the kind under test, so that every
// switch is between two tasklets of that kind.
void round_robin(benchmark::State& state, slp::stack_kind kind, int others) {
    bool stop = false;
    std::vector<slp::tasklet> ts;
    ts.push_back(slp::spawn(
        [&] {
            for (auto _ : state) slp::schedule();
            stop = true;
        },
        {kind, 0, {}}));
    for (int i = 0; i < others; ++i)
        ts.push_back(slp::spawn(
            [&] {
                while (!stop) slp::schedule();
            },
            {kind, 0, {}}));
    slp::run();
    per_switch(state, others + 1);
}

void BM_hard_switch(benchmark::State& state, slp::stack_kind kind) {
    round_robin(state, kind, 1);
}
SLP_KIND_BENCH(BM_hard_switch);

void BM_hard_switch_10k(benchmark::State& state, slp::stack_kind kind) {
    round_robin(state, kind, 9999);
}
SLP_KIND_BENCH(BM_hard_switch_10k);

// The same with soft tasklets: the measuring loop in one of them.
void soft_round_robin(benchmark::State& state, int others) {
    bool stop = false;
    slp::spawn_soft([&]() -> slp::task<> {
        for (auto _ : state) co_await slp::async_schedule();
        stop = true;
    });
    for (int i = 0; i < others; ++i)
        slp::spawn_soft([&]() -> slp::task<> {
            while (!stop) co_await slp::async_schedule();
        });
    slp::run();
    per_switch(state, others + 1);
}

void BM_soft_switch(benchmark::State& state) {
    soft_round_robin(state, 1);
}
BENCHMARK(BM_soft_switch);

void BM_soft_switch_10k(benchmark::State& state) {
    soft_round_robin(state, 9999);
}
BENCHMARK(BM_soft_switch_10k);

// --- channel ping-pong ----------------------------------------------------------------
void BM_pingpong(benchmark::State& state, slp::stack_kind kind) {
    slp::channel<int> ch;
    slp::spawn(
        [&] {
            for (;;) {
                if (ch.receive() < 0) return;
            }
        },
        {kind, 0, {}});
    slp::spawn(
        [&] {
            int i = 0;
            for (auto _ : state) ch.send(i++);  // to the blocked receiver, and back
            ch.send(-1);
        },
        {kind, 0, {}});
    slp::run();
    per_switch(state, 2);
}
SLP_KIND_BENCH(BM_pingpong);

// (The received value goes to a variable first: g++ 12 miscompiles a co_await inside an
// if/while condition.)
slp::task<> soft_receiver(slp::channel<int>& ch) {
    for (;;) {
        const int v = co_await ch.async_receive();
        if (v < 0) co_return;
    }
}

void BM_pingpong_soft(benchmark::State& state) {
    slp::channel<int> ch;
    slp::spawn_soft([&] { return soft_receiver(ch); });
    slp::spawn_soft([&]() -> slp::task<> {
        int i = 0;
        for (auto _ : state) co_await ch.async_send(i++);
        co_await ch.async_send(-1);
    });
    slp::run();
    per_switch(state, 2);
}
BENCHMARK(BM_pingpong_soft)->Name("BM_pingpong/soft");

// A soft receiver, an own-stack sender: every switch jumps between the sender's stack and
// the runner's.
void BM_pingpong_mixed(benchmark::State& state) {
    slp::channel<int> ch;
    slp::spawn_soft([&] { return soft_receiver(ch); });
    slp::spawn(
        [&] {
            int i = 0;
            for (auto _ : state) ch.send(i++);
            ch.send(-1);
        },
        {slp::stack_kind::own, 0, {}});
    slp::run();
    per_switch(state, 2);
}
BENCHMARK(BM_pingpong_mixed)->Name("BM_pingpong/mixed");

void BM_boost_fiber_pingpong(benchmark::State& state) {
    boost::fibers::unbuffered_channel<int> ch;
    boost::fibers::fiber rx([&] {
        int v;
        while (ch.pop(v) == boost::fibers::channel_op_status::success) {
        }
    });
    int i = 0;
    for (auto _ : state) ch.push(i++);
    ch.close();
    rx.join();
    per_switch(state, 2);
}
BENCHMARK(BM_boost_fiber_pingpong);

void BM_thread_cv_handoff(benchmark::State& state) {
    std::mutex mu;
    std::condition_variable cv;
    int turn = 0;  // 0: producer's turn, 1: consumer's
    bool done = false;
    std::thread consumer([&] {
        std::unique_lock<std::mutex> lk(mu);
        for (;;) {
            cv.wait(lk, [&] { return turn == 1 || done; });
            if (done) return;
            turn = 0;
            cv.notify_one();
        }
    });
    for (auto _ : state) {
        std::unique_lock<std::mutex> lk(mu);
        turn = 1;
        cv.notify_one();
        cv.wait(lk, [&] { return turn == 0; });
    }
    {
        std::lock_guard<std::mutex> lk(mu);
        done = true;
    }
    cv.notify_one();
    consumer.join();
    per_switch(state, 2);
}
BENCHMARK(BM_thread_cv_handoff)->UseRealTime();

// --- life cycle ---------------------------------------------------------------------
void BM_create_run_finish(benchmark::State& state, slp::stack_kind kind) {
    for (auto _ : state) {
        slp::spawn([] {}, {kind, 0, {}});
        slp::run();
    }
}
SLP_KIND_BENCH(BM_create_run_finish);

void BM_create_run_finish_soft(benchmark::State& state) {
    for (auto _ : state) {
        slp::spawn_soft([]() -> slp::task<> { co_return; });
        slp::run();
    }
}
BENCHMARK(BM_create_run_finish_soft)->Name("BM_create_run_finish/soft");

// --- memory -------------------------------------------------------------------------
// The RSS after handing freed heap pages back to the kernel: each repetition of a memory
// benchmark must start from a heap with no free pages the previous one left, or the
// tasklets it makes would reuse them and the RSS would hardly grow.
using slp_bench::rss_bytes;
long settled_rss_bytes() {
    malloc_trim(0);
    return rss_bytes();
}

// Each own stack is two mappings (guard page + stack): the kernel's vm.max_map_count
// (65530 by default) caps how many can exist at once, so own stacks are measured with
// as many as fit (about 30,000), copied ones with 100,000.
int max_own_stacks() {
    long maps = 65530;
    if (FILE* f = std::fopen("/proc/sys/vm/max_map_count", "r")) {
        if (std::fscanf(f, "%ld", &maps) != 1) maps = 65530;
        std::fclose(f);
    }
    return static_cast<int>(std::min(100000L, (maps - 4000) / 2));
}

void BM_memory_per_blocked_tasklet(benchmark::State& state, slp::stack_kind kind) {
    const int n = kind == slp::stack_kind::own ? max_own_stacks() : 100000;
    double per = 0;
    for (auto _ : state) {
        slp::channel<int> ch;
        const long before = settled_rss_bytes();
        for (int i = 0; i < n; ++i) slp::spawn([&ch] { ch.receive(); }, {kind, 0, {}});
        slp::run();  // every one blocks in receive()
        const long after = rss_bytes();
        per = static_cast<double>(after - before) / n;
        state.PauseTiming();
        for (int i = 0; i < n; ++i) ch.send(i);  // let them all finish
        state.ResumeTiming();
    }
    state.counters["bytes_per_tasklet"] = per;
    state.counters["tasklets"] = n;
}
BENCHMARK_CAPTURE(BM_memory_per_blocked_tasklet, own_stack, slp::stack_kind::own)
    ->Iterations(1)
    ->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(BM_memory_per_blocked_tasklet, copied_stack, slp::stack_kind::copied)
    ->Iterations(1)
    ->Unit(benchmark::kMillisecond);

slp::task<> receive_once(slp::channel<int>& ch) {
    co_await ch.async_receive();
}

void BM_memory_per_blocked_soft_tasklet(benchmark::State& state) {
    const int n = 1000000;
    double per = 0;
    for (auto _ : state) {
        slp::channel<int> ch;
        const long before = settled_rss_bytes();
        for (int i = 0; i < n; ++i) slp::spawn_soft([&ch] { return receive_once(ch); });
        slp::run();  // every one waits in async_receive()
        const long after = rss_bytes();
        per = static_cast<double>(after - before) / n;
        state.PauseTiming();
        for (int i = 0; i < n; ++i) ch.send(i);
        slp::run();
        state.ResumeTiming();
    }
    state.counters["bytes_per_tasklet"] = per;
    state.counters["tasklets"] = n;
}
BENCHMARK(BM_memory_per_blocked_soft_tasklet)
    ->Name("BM_memory_per_blocked_tasklet/soft")
    ->Iterations(1)
    ->Unit(benchmark::kMillisecond);

}  // namespace

// Raw switch latency of the arch layer beside its peers, in one run:
//   BM_slp_jump          slp_jump between two contexts on their own stacks
//   BM_boost_fcontext    Boost.Context's jump_fcontext, the same ping-pong
//   BM_slp_ontop         slp_ontop both ways, each calling an identity function on top
//   BM_boost_ontop       Boost.Context's ontop_fcontext, the same ping-pong
//   BM_ucontext          glibc swapcontext, the same ping-pong
//   BM_slp_switch/<B>    slp_switch on one shared stack, B bytes of live stack each side
// Every benchmark does a ping-pong; the counter `switch` is the time of ONE switch (one
// direction), which is what the README's table and the ratios use.
#include <alloca.h>
#include <benchmark/benchmark.h>
#include <sys/mman.h>
#include <ucontext.h>

#include <boost/context/detail/fcontext.hpp>
#include <cstdint>
#include <cstring>
#include <stdexcept>

#include "slp_arch.h"

namespace {

namespace bctx = boost::context::detail;

constexpr std::size_t kStackSize = 256 * 1024;

// A plain mmap'd stack for the peers and slp alike.
struct bench_stack {
    std::byte* base;
    bench_stack() {
        void* p = mmap(nullptr, kStackSize, PROT_READ | PROT_WRITE,
                       MAP_PRIVATE | MAP_ANONYMOUS | MAP_STACK, -1, 0);
        if (p == MAP_FAILED) throw std::runtime_error("mmap");
        base = static_cast<std::byte*>(p);
    }
    ~bench_stack() { munmap(base, kStackSize); }
    std::byte* top() const { return base + kStackSize; }
};

void set_switch_counter(benchmark::State& state, double switches_per_iteration) {
    state.counters["switch"] =
        benchmark::Counter(switches_per_iteration, benchmark::Counter::kIsIterationInvariantRate |
                                                       benchmark::Counter::kInvert);
}

// --- slp_jump ---------------------------------------------------------------------
void slp_echo(slp_transfer t) {
    for (;;) t = slp_jump(t.from, t.data);
}

void BM_slp_jump(benchmark::State& state) {
    bench_stack stack;
    slp_ctx c = slp_make(stack.top(), kStackSize, slp_echo);
    for (auto _ : state) {
        slp_transfer t = slp_jump(c, nullptr);
        c = t.from;
    }
    set_switch_counter(state, 2);
}
BENCHMARK(BM_slp_jump);

// --- Boost.Context fcontext ---------------------------------------------------------
void boost_echo(bctx::transfer_t t) {
    for (;;) t = bctx::jump_fcontext(t.fctx, t.data);
}

void BM_boost_fcontext(benchmark::State& state) {
    bench_stack stack;
    bctx::fcontext_t c = bctx::make_fcontext(stack.top(), kStackSize, boost_echo);
    for (auto _ : state) {
        bctx::transfer_t t = bctx::jump_fcontext(c, nullptr);
        c = t.fctx;
    }
    set_switch_counter(state, 2);
}
BENCHMARK(BM_boost_fcontext);

// --- ontop: the switch plus a call of fn on top of the resumed context ----------------
slp_transfer slp_pass(slp_transfer t) {
    return t;
}

void slp_ontop_echo(slp_transfer t) {
    for (;;) t = slp_ontop(t.from, t.data, slp_pass);
}

void BM_slp_ontop(benchmark::State& state) {
    bench_stack stack;
    slp_ctx c = slp_make(stack.top(), kStackSize, slp_ontop_echo);
    c = slp_jump(c, nullptr).from;  // the echo side now waits inside slp_ontop
    for (auto _ : state) {
        slp_transfer t = slp_ontop(c, nullptr, slp_pass);
        c = t.from;
    }
    set_switch_counter(state, 2);
}
BENCHMARK(BM_slp_ontop);

bctx::transfer_t boost_pass(bctx::transfer_t t) {
    return t;
}

void boost_ontop_echo(bctx::transfer_t t) {
    t = bctx::jump_fcontext(t.fctx, t.data);
    for (;;) t = bctx::ontop_fcontext(t.fctx, t.data, boost_pass);
}

void BM_boost_ontop(benchmark::State& state) {
    bench_stack stack;
    bctx::fcontext_t c = bctx::make_fcontext(stack.top(), kStackSize, boost_ontop_echo);
    c = bctx::jump_fcontext(c, nullptr).fctx;
    for (auto _ : state) {
        bctx::transfer_t t = bctx::ontop_fcontext(c, nullptr, boost_pass);
        c = t.fctx;
    }
    set_switch_counter(state, 2);
}
BENCHMARK(BM_boost_ontop);

// --- glibc ucontext -----------------------------------------------------------------
ucontext_t g_uc_main, g_uc_other;
void uc_echo() {
    for (;;) swapcontext(&g_uc_other, &g_uc_main);
}

void BM_ucontext(benchmark::State& state) {
    bench_stack stack;
    getcontext(&g_uc_other);
    g_uc_other.uc_stack.ss_sp = stack.base;
    g_uc_other.uc_stack.ss_size = kStackSize;
    g_uc_other.uc_link = nullptr;
    makecontext(&g_uc_other, uc_echo, 0);
    for (auto _ : state) swapcontext(&g_uc_main, &g_uc_other);
    set_switch_counter(state, 2);
}
BENCHMARK(BM_ucontext);

// --- slp_switch on a shared stack ---------------------------------------------------
// The smallest correct copy-stack driver for two contexts: each suspended one keeps its
// slice [sp, base) in a preallocated buffer. A context's base is the top of its own
// frames: A's is the benchmark's frame, B's the top of copy_body's frame (B starts in
// A's copy_switch_to frame but leaves it at once, for good), so each switch copies only
// the switching sides' own live bytes, as a real copy-stack runtime does.
struct copy_ctx {
    char* base = nullptr;
    char* sp = nullptr;
    char* saved = nullptr;
    std::size_t len = 0;
    bool started = false;
};
struct copy_pair {
    copy_ctx a, b;
    copy_ctx* current = nullptr;
    copy_ctx* target = nullptr;
    std::size_t live = 0;
    benchmark::State* state = nullptr;
};
copy_pair* g_cp = nullptr;

intptr_t copy_save(void* sp, void* arg) {
    auto* p = static_cast<copy_pair*>(arg);
    copy_ctx* from = p->current;
    from->sp = static_cast<char*>(sp);
    from->len = static_cast<std::size_t>(from->base - from->sp);
    std::memcpy(from->saved, from->sp, from->len);
    p->current = p->target;
    if (!p->target->started) return 0;  // start right here, below the outgoing slice
    return p->target->sp - from->sp;
}

void copy_restore(void* arg) {
    auto* p = static_cast<copy_pair*>(arg);
    copy_ctx* to = p->current;
    if (to->started) std::memcpy(to->sp, to->saved, to->len);
}

void copy_body();

__attribute__((noinline)) void copy_switch_to(copy_ctx& to) {
    g_cp->target = &to;
    slp_switch(copy_save, copy_restore, g_cp);
    if (!g_cp->current->started) {
        g_cp->current->started = true;
        copy_body();
    }
}

// B: keep `live` bytes on the stack and bounce back to A forever.
__attribute__((noinline)) void copy_body() {
#if defined(__x86_64__)
    // The frame pointer, the saved rbp and the return address: the top of this frame.
    g_cp->b.base = static_cast<char*>(__builtin_frame_address(0)) + 2 * sizeof(void*);
#else
    // Elsewhere the frame record may sit below the locals: take generous room above.
    g_cp->b.base = static_cast<char*>(__builtin_frame_address(0)) + 512;
#endif
    auto* live = static_cast<volatile char*>(alloca(g_cp->live + 1));
    live[0] = 1;
    for (;;) copy_switch_to(g_cp->a);
}

__attribute__((noinline)) void copy_main_loop(benchmark::State& state) {
    auto* live = static_cast<volatile char*>(alloca(g_cp->live + 1));
    live[0] = 1;
    for (auto _ : state) copy_switch_to(g_cp->b);
}

__attribute__((noinline)) void copy_run(copy_pair& p, benchmark::State& state) {
    p.a.base = static_cast<char*>(__builtin_frame_address(0));
    copy_main_loop(state);
}

void BM_slp_switch(benchmark::State& state) {
    copy_pair p;
    p.live = static_cast<std::size_t>(state.range(0));
    std::size_t cap = p.live + 64 * 1024;  // the live bytes plus the frames above them
    p.a.saved = new char[cap];
    p.b.saved = new char[cap];
    p.a.started = true;  // A is the benchmark's own context
    p.current = &p.a;
    g_cp = &p;
    copy_run(p, state);
    // B stays suspended; its slice is simply dropped.
    delete[] p.a.saved;
    delete[] p.b.saved;
    set_switch_counter(state, 2);
    state.counters["live_bytes"] = static_cast<double>(p.live);
}
BENCHMARK(BM_slp_switch)->Arg(0)->Arg(1024)->Arg(8192)->Arg(65536);

}  // namespace

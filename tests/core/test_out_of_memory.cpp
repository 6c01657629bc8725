// Out of memory where a tasklet ends: the switch away from an ended tasklet cannot be
// undone, so whatever memory it needs is taken before it; if there is none, the
// successor stays runnable and the watchdog (main) gets std::bad_alloc — never
// std::terminate. Each case runs in a forked child with its address space capped just
// above what it uses.
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <functional>
#include <new>
#include <thread>

#include "core_test_support.h"

namespace {

#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
constexpr bool sanitized = true;  // their shadow memory makes an address-space cap moot
#else
constexpr bool sanitized = false;
#endif

std::size_t address_space_in_use() {
    std::FILE* f = std::fopen("/proc/self/status", "r");
    if (f == nullptr) return 0;
    char line[256];
    std::size_t kib = 0;
    while (std::fgets(line, sizeof line, f) != nullptr)
        if (std::strncmp(line, "VmSize:", 7) == 0) kib = std::strtoul(line + 7, nullptr, 10);
    std::fclose(f);
    return kib * 1024;
}

// realloc() of this many bytes or more fails (0: none). (malloc takes big blocks from an
// arena's reserve, which an address-space cap does not limit.)
std::atomic<std::size_t> g_realloc_limit{0};

// While it lives: stacks cannot be mapped (the address space is capped `margin` bytes
// above its use), and realloc() of 1 MiB or more fails.
struct starved {
    rlimit old{};
    explicit starved(std::size_t margin) {
        getrlimit(RLIMIT_AS, &old);
        rlimit cap = old;
        cap.rlim_cur = address_space_in_use() + margin;
        setrlimit(RLIMIT_AS, &cap);
        g_realloc_limit = 1 << 20;
    }
    ~starved() {
        g_realloc_limit = 0;
        setrlimit(RLIMIT_AS, &old);
    }
};

}  // namespace

#if !defined(__SANITIZE_ADDRESS__) && !defined(__SANITIZE_THREAD__)
extern "C" void* __libc_realloc(void* p, std::size_t n);
// Every realloc() of this program (slp's slice buffers among them) comes here.
extern "C" void* realloc(void* p, std::size_t n) {
    const std::size_t limit = g_realloc_limit.load(std::memory_order_relaxed);
    if (limit != 0 && n >= limit) {
        errno = ENOMEM;
        return nullptr;
    }
    return __libc_realloc(p, n);
}
#endif

namespace {

// Runs `body` on a new thread (a scheduler with no soft runner and no shared stack yet)
// of a forked child; the child's exit status: 0 if body returned true, 1 if false, 2 if
// it threw, other: killed by a signal (128 + signal).
int in_child(std::function<bool()> body) {
    std::fflush(nullptr);
    const pid_t pid = fork();
    if (pid == 0) {
        int code = 2;
        auto run = [&] {
            try {
                code = body() ? 0 : 1;
            } catch (...) {
                code = 2;
            }
        };
        std::thread(run).join();
        _exit(code);
    }
    int status = 0;
    waitpid(pid, &status, 0);
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

// A hard tasklet blocked on `ch` ends when main sends to it; the tasklet after it in the
// ring is `successor`, which needs memory to be switched to. With none: main's send
// raises bad_alloc, the successor stays runnable, and runs once there is memory.
bool end_before(slp::channel<int>& ch, const slp::tasklet& successor, bool& successor_ran) {
    bool raised = false;
    {
        starved none(128 * 1024);  // less than a stack
        try {
            ch.send(1);  // the ending tasklet's successor cannot be entered
        } catch (const std::bad_alloc&) {
            raised = true;
        }
    }
    const bool waiting = successor.alive() && successor.scheduled() && !successor_ran;
    slp::run();
    return raised && waiting && successor_ran;
}

}  // namespace

TEST(OutOfMemory, a_soft_successor_without_a_runner_raises_bad_alloc_in_main) {
    if (sanitized) GTEST_SKIP() << "an address-space cap does not work under a sanitizer";
    EXPECT_EQ(in_child([] {
                  slp::channel<int> ch;
                  slp::tasklet ending = slp::spawn([&] { (void)ch.receive(); });
                  slp::schedule();  // it blocks
                  bool ran = false;
                  slp::tasklet soft = slp::spawn_soft([&]() -> slp::task<> {
                      ran = true;
                      co_return;
                  });
                  return end_before(ch, soft, ran);
              }),
              0);
}

TEST(OutOfMemory, a_copied_successor_whose_stack_holds_a_big_slice_raises_bad_alloc_in_main) {
    if (sanitized) GTEST_SKIP() << "an address-space cap does not work under a sanitizer";
    EXPECT_EQ(in_child([] {
                  slp::channel<int> hold, ch;
                  // Every shared stack gets a waiting occupant; the first, which the next
                  // copied tasklet to start will displace, holds a 4 MiB slice.
                  std::function<void(int)> deep = [&](int n) {
                      volatile char pad[4096];
                      pad[0] = static_cast<char>(n);
                      if (n > 0)
                          deep(n - 1);
                      else
                          (void)hold.receive();
                      (void)pad[0];
                  };
                  const slp::tasklet_options copied{slp::stack_kind::copied, 0, {}};
                  slp::spawn([&] { deep(1024); }, copied);
                  for (int i = 1; i < slp::shared_stacks_per_thread; ++i)
                      slp::spawn([&] { (void)hold.receive(); }, copied);
                  slp::tasklet ending = slp::spawn([&] { (void)ch.receive(); });
                  slp::run();  // all of them block
                  bool ran = false;
                  slp::tasklet next = slp::spawn([&] { ran = true; }, copied);
                  const bool ok = end_before(ch, next, ran);
                  for (int i = 0; i < slp::shared_stacks_per_thread; ++i) hold.send(0);
                  return ok;
              }),
              0);
}

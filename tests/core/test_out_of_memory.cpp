// Out of memory where a tasklet ends: the switch away from an ended tasklet cannot be
// undone, so whatever memory it needs is taken before it; if there is none, the
// successor stays runnable and the watchdog (main) gets std::bad_alloc — never
// std::terminate. Each case runs in a forked child, where slp's own mmap() and
// realloc() fail for a while (see `starved`).
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>
#include <valgrind/valgrind.h>

#include <atomic>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <new>
#include <thread>

#include "core_test_support.h"

namespace {

#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
constexpr bool sanitized = true;
#else
constexpr bool sanitized = false;
#endif

// While `starved` lives, slp finds no memory for a stack (mmap() of 64 KiB or more
// fails) nor for a big slice (realloc() of 1 MiB or more fails). (Not an address-space
// cap: malloc takes big blocks from an arena's reserve, which the cap does not limit,
// and under qemu-user the guest's mmap() is not limited by it either.)
std::atomic<bool> g_starved{false};

struct starved {
    starved() { g_starved = true; }
    ~starved() { g_starved = false; }
    starved(const starved&) = delete;
    starved& operator=(const starved&) = delete;
};

}  // namespace

#if !defined(__SANITIZE_ADDRESS__) && !defined(__SANITIZE_THREAD__)
// Every mmap() and realloc() this program calls itself (slp's stacks and slice buffers
// among them; not the C library's own) comes here.
extern "C" void* __mmap(void* addr, std::size_t n, int prot, int flags, int fd, off_t off);
extern "C" void* mmap(void* addr, std::size_t n, int prot, int flags, int fd, off_t off) {
    if (g_starved.load(std::memory_order_relaxed) && n >= 64 * 1024) {
        errno = ENOMEM;
        return MAP_FAILED;
    }
    return __mmap(addr, n, prot, flags, fd, off);
}
extern "C" void* __libc_realloc(void* p, std::size_t n);
extern "C" void* realloc(void* p, std::size_t n) {
    if (g_starved.load(std::memory_order_relaxed) && n >= (1 << 20)) {
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
        starved none;
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

// Whether `starved` works here (valgrind replaces the allocator with its own).
bool starving_works() {
    if (RUNNING_ON_VALGRIND) return false;
    return in_child([] {
               starved none;
               void* p = std::realloc(nullptr, 2 << 20);
               void* m = mmap(nullptr, 1 << 20, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS,
                              -1, 0);
               std::free(p);
               if (m != MAP_FAILED) munmap(m, 1 << 20);
               return p == nullptr && m == MAP_FAILED;
           }) == 0;
}

}  // namespace

TEST(OutOfMemory, a_soft_successor_without_a_runner_raises_bad_alloc_in_main) {
    if (sanitized || !starving_works())
        GTEST_SKIP() << "mmap and realloc are someone else's here (a sanitizer, valgrind)";
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
    if (sanitized || !starving_works())
        GTEST_SKIP() << "mmap and realloc are someone else's here (a sanitizer, valgrind)";
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

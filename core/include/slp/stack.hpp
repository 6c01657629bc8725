// slp/stack.hpp — stacks for tasklets: mmap'd, guard page below, committed lazily,
// pooled for reuse.
//
//   hi  +------------------+  <- top(): the stack grows down from here
//       |  usable bytes    |     reserved with mmap(MAP_NORESERVE): a page costs memory
//       |  ...             |     only once it is touched
//   lo  +------------------+  <- lo()
//       |  guard page      |     PROT_NONE: an overflow faults here (see overflow
//       +------------------+     handler below) instead of corrupting what lies below
//
// Every stack is registered with valgrind (VALGRIND_STACK_REGISTER) while it is mapped.
#pragma once

#include <cstddef>
#include <span>
#include <vector>

namespace slp {

// The size a tasklet's own stack gets unless its options say otherwise.
inline constexpr std::size_t default_stack_size = 256 * 1024;
// The size of each shared stack that a thread's copied-stack tasklets run on.
inline constexpr std::size_t default_shared_stack_size = 8 * 1024 * 1024;
// How many shared stacks a thread maps before a starting copied tasklet takes one from a
// tasklet that waits. A copied tasklet gets a shared stack when it starts and keeps it for
// life (its slice holds addresses into it); while it is the one whose slice is on that
// stack, switching to it copies nothing. So tasklets that switch among themselves (a
// producer and a consumer, a pipeline or a ring of channels, whose stages wait as they
// start) switch as cheaply as own-stack tasklets while there are no more of them than
// this: 32 on 64-bit CPUs, 8 on 32-bit ones (about 265 and 66 MiB of address space with
// the module's data regions, committed only as touched). A waiting occupant holds the
// pages its slice and frames touched on its stack; tasklets that wait past these hold
// only what they use, in the heap.
inline constexpr int shared_stacks_per_thread = sizeof(void*) >= 8 ? 32 : 8;
// How many shared stacks a thread may map in all. Past shared_stacks_per_thread, a
// starting copied tasklet maps another only when every occupant is runnable (a crowd
// taking turns, which would otherwise copy slices on most switches); an occupant that
// waits gives up its stack first, so blocked tasklets keep their slices compact in the
// heap. Each shared stack is address space, committed only as touched: its
// default_shared_stack_size and a guard page (and, in the Python module, a 256 KiB data
// region): 128 of them are about 1.1 GiB of a 64-bit address space, 16 about 140 MiB of a
// 32-bit one's 3 GiB. A larger crowd shares them and copies, as a smaller cap would.
inline constexpr int max_shared_stacks_per_thread = sizeof(void*) >= 8 ? 128 : 16;

// Stacks begin at a page boundary, and a CPU picks the L1 data cache set of an address
// by its bits below the page size. So the busiest bytes of every tasklet (the frames at
// the top of its stack, which run at each of its switches) would fall in the same few
// sets, where ten or so tasklets switching in turn would evict each other. A stack's
// contexts therefore begin this many bytes lower: its colour, one of the 32 multiples of 64
// below stack_colour_range, 17 cache lines apart from turn to turn (odd: every colour
// comes once before one repeats). A thread's own stacks take turns as tasklets start on
// them, its shared stacks by their slot. An own stack is mapped that much larger, so
// that a tasklet keeps the stack size it asked for.
inline constexpr std::size_t stack_colour_range = 2048;
constexpr std::size_t stack_colour(unsigned turn) noexcept {
    constexpr unsigned lines = stack_colour_range / 64;
    return turn * 17u % lines * 64u;
}

// The system page size (the guard page is one page).
std::size_t page_size() noexcept;

class stack {
 public:
    stack() noexcept = default;
    // Map a stack of at least `size` usable bytes (rounded up to whole pages) plus a
    // guard page. Throws std::bad_alloc if the mapping fails.
    explicit stack(std::size_t size);
    stack(stack&& other) noexcept;
    stack& operator=(stack&& other) noexcept;
    stack(const stack&) = delete;
    stack& operator=(const stack&) = delete;
    ~stack();  // unmaps (never while a context runs on it: the caller's duty)

    std::byte* lo() const noexcept { return lo_; }
    std::byte* top() const noexcept { return hi_; }
    std::byte* guard_lo() const noexcept { return map_; }
    std::size_t size() const noexcept { return static_cast<std::size_t>(hi_ - lo_); }
    std::span<std::byte> usable() const noexcept { return {lo_, size()}; }
    explicit operator bool() const noexcept { return map_ != nullptr; }

 private:
    void release() noexcept;
    std::byte* map_ = nullptr;  // start of the mapping = the guard page
    std::byte* lo_ = nullptr;
    std::byte* hi_ = nullptr;
    unsigned valgrind_id_ = 0;
};

// A per-thread cache of stacks by size. acquire() reuses a cached stack of the same
// rounded size or maps a new one; release() keeps up to max_cached stacks, unmapping
// the rest. Not thread-safe: one pool per thread (the scheduler owns it).
class stack_pool {
 public:
    explicit stack_pool(std::size_t max_cached = 64) noexcept : max_cached_(max_cached) {}
    // Throws std::bad_alloc like stack(size).
    stack acquire(std::size_t size);
    void release(stack&& s) noexcept;
    std::size_t cached() const noexcept { return free_.size(); }

 private:
    std::size_t max_cached_;
    std::vector<stack> free_;
};

// The usable bytes of the stack the calling tasklet runs on: its own, the shared one of a
// copied tasklet, the runner's of a soft one; empty on the thread's own stack (a main
// tasklet, or a thread without a scheduler). For code that checks its C stack's depth by
// address (CPython 3.14+ does, against limits it keeps per thread).
std::span<std::byte> running_stack() noexcept;

// Install, once per process, the SIGSEGV handler that recognises a guard-page hit of the
// running tasklet, and, once per calling thread, an alternate signal stack for it to run
// on. On a hit it writes one line to stderr naming the tasklet (id and name) and the
// stack's bounds, and aborts. Any other SIGSEGV goes to the handler installed before.
// The scheduler calls both for every thread that runs tasklets; calling again is cheap.
void install_overflow_handler();
void install_thread_altstack();

}  // namespace slp

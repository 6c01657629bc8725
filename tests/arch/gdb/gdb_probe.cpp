// A program for gdb: a context's entry calls a function with a breakpoint on it; the
// test (tests/arch/gdb/CMakeLists.txt) checks that gdb's backtrace from there walks
// through the entry and ends at the port's trampoline, with no "corrupt stack".
#include <sys/mman.h>

#include <cstdio>

#include "slp_arch.h"

extern "C" __attribute__((noinline)) void slp_gdb_probe_breakpoint(int depth) {
    std::printf("probe at depth %d\n", depth);
}

namespace {
__attribute__((noinline)) void descend(int depth) {
    if (depth == 0) {
        slp_gdb_probe_breakpoint(depth);
        return;
    }
    descend(depth - 1);
    std::printf("back at %d\n", depth);
}

void probe_entry(slp_transfer t) {
    descend(2);
    slp_jump(t.from, nullptr);
}
}  // namespace

int main() {
    const std::size_t size = 128 * 1024;
    void* stack = mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (stack == MAP_FAILED) return 1;
    slp_ctx c = slp_make(static_cast<char*>(stack) + size, size, probe_entry);
    slp_jump(c, nullptr);
    munmap(stack, size);
    return 0;
}

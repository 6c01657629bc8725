// blocked_tasklet_memory — what one blocked copied-stack tasklet costs, on any CPU.
//
// slp_bench measures the same with Google Benchmark on the host; this program has no
// dependency but slp, so it is built for every preset and runs under qemu-user too,
// where no timing means anything but bytes do. It blocks N copied-stack tasklets in a
// channel receive and prints, per tasklet:
//   heap  bytes malloc holds (mallinfo2: in use plus mmap'd blocks), the guest's own
//         count: exact under QEMU as well
//   rss   the resident-set growth (/proc/self/statm). Under qemu-user this is the QEMU
//         process's, in host pages, and includes its translated code: a rough check.
//
//   blocked_tasklet_memory [count]     (default 100000)
#include <malloc.h>

#include <cstdio>
#include <cstdlib>
#include <slp/slp.hpp>

#include "process_memory.hpp"

namespace {

using slp_bench::heap_bytes;
using slp_bench::rss_bytes;

double per(long bytes, long n) {
    return static_cast<double>(bytes) / static_cast<double>(n);
}

}  // namespace

int main(int argc, char** argv) {
    const long n = argc > 1 ? std::strtol(argv[1], nullptr, 10) : 100000;
    if (n <= 0) {
        std::fprintf(stderr, "usage: blocked_tasklet_memory [count > 0]\n");
        return 2;
    }
    slp::channel<int> ch;
    malloc_trim(0);
    const long heap_before = heap_bytes();
    const long rss_before = rss_bytes();
    for (long i = 0; i < n; ++i)
        slp::spawn([&ch] { ch.receive(); }, {slp::stack_kind::copied, 0, {}});
    const long heap_spawned = heap_bytes();  // the tasklet objects, nothing run yet
    slp::run();                              // every one blocks in receive()
    const long heap_after = heap_bytes();
    const long rss_after = rss_bytes();
    std::printf("blocked copied-stack tasklets: %ld\n", n);
    std::printf("heap per tasklet: %.0f bytes (object %.0f, saved stack slice %.0f)\n",
                per(heap_after - heap_before, n), per(heap_spawned - heap_before, n),
                per(heap_after - heap_spawned, n));
    std::printf("rss per tasklet:  %.0f bytes\n", per(rss_after - rss_before, n));
    for (long i = 0; i < n; ++i) ch.send(static_cast<int>(i));  // let them all finish
    return 0;
}

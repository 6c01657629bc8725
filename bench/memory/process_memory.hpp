// process_memory.hpp — how much memory this process holds, for the memory benchmarks
// (bench/bench_core.cpp, bench/memory/blocked_tasklet_memory.cpp).
#pragma once

#include <malloc.h>
#include <unistd.h>

#include <cstdio>

namespace slp_bench {

// The resident set (/proc/self/statm), in bytes; 0 if it cannot be read.
inline long rss_bytes() {
    long pages = 0, resident = 0;
    if (FILE* f = std::fopen("/proc/self/statm", "r")) {
        if (std::fscanf(f, "%ld %ld", &pages, &resident) != 2) resident = 0;
        std::fclose(f);
    }
    return resident * sysconf(_SC_PAGESIZE);
}

// The bytes malloc holds: in use, plus blocks it mmap'd.
inline long heap_bytes() {
    struct mallinfo2 m = mallinfo2();
    return static_cast<long>(m.uordblks + m.hblkhd);
}

}  // namespace slp_bench

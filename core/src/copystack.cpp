// copystack.cpp — the live slices of copied-stack tasklets (PyPy stacklet style).
//
// Copied-stack tasklets of a thread all run on one shared stack, each with its frames in
// [slice_lo, base). Only one slice is on the stack at a time: the occupant's. A slice is
// copied out lazily — only when another copied tasklet needs the stack, not when its
// owner merely switches to an own-stack tasklet — and only its live part; it is copied
// back in when its owner resumes, unless it never left.
//
//   base  +----------------+   heap copy (saved, saved_size bytes)
//         | occupant's     |   <-- slice_save -->  [ slice of a suspended tasklet ]
//         | live slice     |   <-- slice_restore --
//   lo'   +----------------+  <- slice_lo
//         | free           |
//   lo    +----------------+  guard page below
#include <cstdlib>
#include <new>

#include "internal.hpp"
#include "sanitizer.hpp"

namespace slp::detail {

void shared_stack_init(scheduler_impl& s) {
    if (s.shared.mem) return;
    s.shared.mem = stack(default_shared_stack_size);
    // Leave the top 64 bytes unused; slices end at a 16-byte aligned base.
    s.shared.base = s.shared.mem.top() - 64;
    s.shared.lowest = s.shared.base;
    s.shared.helper = stack(64 * 1024);
}

// Copy t's slice [slice_lo, base) to its heap buffer.
void slice_save(tasklet_impl& t, std::byte* base) {
    const std::size_t n = static_cast<std::size_t>(base - t.slice_lo);
    if (n > t.saved_cap) {
        void* p = std::realloc(t.saved, n);
        if (p == nullptr) throw std::bad_alloc();
        t.saved = static_cast<std::byte*>(p);
        t.saved_cap = static_cast<std::uint32_t>(n);  // slices are far below 4 GiB
    }
    san::copy_stack_bytes(t.saved, t.slice_lo, n);
    t.saved_size = static_cast<std::uint32_t>(n);
    t.slice_in_heap = true;
}

// Copy t's saved slice back to [slice_lo, base); the memory it lands on held other
// frames, so forget their ASan poisoning first.
void slice_restore(tasklet_impl& t, std::byte* base) {
    san::make_writable(t.slice_lo, static_cast<std::size_t>(base - t.slice_lo));
    san::unpoison(t.slice_lo, static_cast<std::size_t>(base - t.slice_lo));
    san::copy_stack_bytes(t.slice_lo, t.saved, t.saved_size);
    t.slice_in_heap = false;
}

}  // namespace slp::detail

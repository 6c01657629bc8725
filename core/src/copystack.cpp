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
    tasklet_extra& x = *t.x;
    const std::size_t n = static_cast<std::size_t>(base - x.slice_lo);
    if (n > x.saved_cap) {
        void* p = std::realloc(x.saved, n);
        if (p == nullptr) throw std::bad_alloc();
        x.saved = static_cast<std::byte*>(p);
        x.saved_cap = static_cast<std::uint32_t>(n);  // slices are far below 4 GiB
    }
    san::copy_stack_bytes(x.saved, x.slice_lo, n);
    x.saved_size = static_cast<std::uint32_t>(n);
    t.slice_in_heap = true;
}

// Copy t's saved slice back to [slice_lo, base); the memory it lands on held other
// frames, so forget their ASan poisoning first.
void slice_restore(tasklet_impl& t, std::byte* base) {
    const tasklet_extra& x = *t.x;
    san::make_writable(x.slice_lo, static_cast<std::size_t>(base - x.slice_lo));
    san::unpoison(x.slice_lo, static_cast<std::size_t>(base - x.slice_lo));
    san::copy_stack_bytes(x.slice_lo, x.saved, x.saved_size);
    t.slice_in_heap = false;
}

}  // namespace slp::detail

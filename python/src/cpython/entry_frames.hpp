// entry_frames.hpp — a suspended tasklet's frame chain, readable while its C stack is
// elsewhere. Since 3.12 each entry into the eval loop from C pushes an entry frame on
// the C stack and links it into the chain. A copied-stack tasklet's C stack is copied
// away while it is suspended (another tasklet's runs at those addresses), so a link to
// one of its entry frames would lead into that other tasklet's stack: the GC, frame
// objects (f_back), tracebacks and the frame library would read garbage. While it is
// suspended its chain shows heap copies of its entry frames instead (entry marks
// included, so nesting_level and the frame library still see where C entered), and the
// links are put back before it runs again. One walk of its frames per suspension.
// (Include it after the version's headers: it needs the frame struct.)
#pragma once

#include <cstdlib>
#include <cstring>

namespace slpy::cpy {

class entry_frame_copies {
 public:
    entry_frame_copies() noexcept = default;
    entry_frame_copies(const entry_frame_copies&) = delete;
    entry_frame_copies& operator=(const entry_frame_copies&) = delete;
    ~entry_frame_copies() { std::free(block_); }

    bool active() const noexcept { return block_ != nullptr && block_->count != 0; }

    // The chain from `top` out: each link to a frame `is_entry` accepts now leads to a
    // copy of it. (Out of memory for the copies is fatal: a chain left as it is would be
    // read wrong later.)
    template <class IsEntry>
    [[gnu::noinline]] void expose(_PyInterpreterFrame* top, IsEntry is_entry) noexcept {
        int n = 0;
        for (const _PyInterpreterFrame* f = top; f != nullptr; f = f->previous)
            if (f->previous != nullptr && is_entry(f->previous)) ++n;
        if (n == 0) return;
        if (block_ == nullptr || block_->capacity < n) {
            void* p = std::realloc(block_,
                                   sizeof(block) + static_cast<std::size_t>(n - 1) * sizeof(copy));
            if (p == nullptr)
                Py_FatalError("stackless: no memory to keep a suspended tasklet's frame chain");
            block_ = static_cast<block*>(p);
            block_->capacity = n;
        }
        block_->count = 0;
        for (_PyInterpreterFrame* f = top; f != nullptr; f = f->previous) {
            _PyInterpreterFrame* e = f->previous;
            if (e == nullptr || !is_entry(e)) continue;
            copy& c = block_->copies[block_->count++];
            c.above = f;
            c.entry = e;
            std::memcpy(static_cast<void*>(&c.frame), e, sizeof(_PyInterpreterFrame));
            f->previous = &c.frame;
        }
    }
    // The links back to the entry frames (the tasklet's C stack and frames are back).
    [[gnu::noinline]] void unexpose() noexcept {
        for (int i = block_->count; i-- > 0;)
            block_->copies[i].above->previous = block_->copies[i].entry;
        block_->count = 0;
    }
    // The tasklet ended.
    void release() noexcept {
        std::free(block_);
        block_ = nullptr;
    }

 private:
    struct copy {
        _PyInterpreterFrame* above;  // the frame whose `previous` it is
        _PyInterpreterFrame* entry;  // on the tasklet's C stack
        _PyInterpreterFrame frame;
    };
    struct block {
        int count;
        int capacity;
        copy copies[1];
    };
    block* block_ = nullptr;
};

}  // namespace slpy::cpy

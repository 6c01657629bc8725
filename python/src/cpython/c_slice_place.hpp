// c_slice_place.hpp — where a suspended copied-stack tasklet's C stack is, for reading
// what CPython keeps on it (entry_frames.hpp) after its slice was copied away; and, while
// its packed frames are unpacked aside, where the frames of its data region are.
#pragma once

#include <cstddef>

namespace slpy::cpy {

// Where a suspended tasklet's C stack is: at its own addresses, or, once its live slice
// [lo, lo + size) was copied away from its shared stack, in that copy (`copy`). Frames of
// its data region [frames_lo, frames_lo + frames_size) may be read from elsewhere the same
// way (`frames_copy`: the frames unpacked aside, still linked as in the region).
struct c_slice_place {
    std::byte* lo = nullptr;
    std::byte* copy = nullptr;  // null: in place
    std::size_t size = 0;
    std::byte* frames_lo = nullptr;
    std::byte* frames_copy = nullptr;  // null: in place
    std::size_t frames_size = 0;
    template <class T>
    T* at(T* p) const noexcept {
        auto* b = reinterpret_cast<std::byte*>(p);
        if (copy != nullptr && b >= lo && b < lo + size)
            return reinterpret_cast<T*>(copy + (b - lo));
        if (frames_copy != nullptr && b >= frames_lo && b < frames_lo + frames_size)
            return reinterpret_cast<T*>(frames_copy + (b - frames_lo));
        return p;
    }
};

}  // namespace slpy::cpy

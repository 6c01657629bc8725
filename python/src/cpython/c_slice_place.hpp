// c_slice_place.hpp — where a suspended copied-stack tasklet's C stack is, for reading
// what CPython keeps on it (entry_frames.hpp) after its slice was copied away.
#pragma once

#include <cstddef>

namespace slpy::cpy {

// Where a suspended tasklet's C stack is: at its own addresses, or, once its live slice
// [lo, lo + size) was copied away from its shared stack, in that copy (`copy`).
struct c_slice_place {
    std::byte* lo = nullptr;
    std::byte* copy = nullptr;  // null: in place
    std::size_t size = 0;
    template <class T>
    T* at(T* p) const noexcept {
        auto* b = reinterpret_cast<std::byte*>(p);
        if (copy == nullptr || b < lo || b >= lo + size) return p;
        return reinterpret_cast<T*>(copy + (b - lo));
    }
};

}  // namespace slpy::cpy

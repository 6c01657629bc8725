// entry_frames.hpp — a suspended tasklet's eval-loop entry frames, for the versions whose
// eval loop pushes one on the C stack at each entry from C (3.12+; the version's
// enters_eval() names them). A tasklet whose C stack is copied away while it is suspended
// (stack_kind copied) would leave its frame chain linked into memory another tasklet then
// uses; the chain is shown through a heap copy of each entry frame instead (expose) until
// the tasklet runs again (unexpose), so the GC, frame objects (f_back), tracebacks and the
// frame library read a valid chain, entry marks included. The copies are made when the
// C stack leaves (datastack.cpp: with the tasklet's frames, when another tasklet takes its
// shared stack), from where its bytes are then (c_slice_place), so that a switch that
// moves nothing walks no frames. IsEntry: the version's enters_eval().
#pragma once

#include <cstdlib>
#include <cstring>

#include "c_slice_place.hpp"

namespace slpy::cpy {

template <bool (*IsEntry)(const _PyInterpreterFrame*)>
class entry_frames {
 public:
    entry_frames() noexcept = default;
    entry_frames(const entry_frames&) = delete;
    entry_frames& operator=(const entry_frames&) = delete;
    ~entry_frames() { std::free(exposed_); }

    bool exposed() const noexcept { return exposed_ != nullptr && exposed_->count != 0; }

    // Show the chain from `top` through copies of its entry frames, read where the C
    // stack is now (`where`). Once: the chain shown stays shown until unexpose().
    [[gnu::noinline]] void expose(_PyInterpreterFrame* top,
                                  const c_slice_place& where = {}) noexcept {
        if (exposed()) return;
        int n = 0;
        for (_PyInterpreterFrame* f = top; f != nullptr; f = where.at(f)->previous) {
            _PyInterpreterFrame* e = where.at(f)->previous;
            if (e != nullptr && IsEntry(where.at(e))) ++n;
        }
        if (n == 0) return;
        if (exposed_ == nullptr || exposed_->capacity < n) {
            void* p = std::realloc(exposed_, sizeof(exposure) + (n - 1) * sizeof(entry));
            if (p == nullptr)
                Py_FatalError("stackless: no memory to keep a suspended tasklet's frame chain");
            exposed_ = static_cast<exposure*>(p);
            exposed_->capacity = n;
        }
        exposed_->count = 0;
        for (_PyInterpreterFrame* f = top; f != nullptr; f = where.at(f)->previous) {
            _PyInterpreterFrame* e = where.at(f)->previous;
            if (e == nullptr || !IsEntry(where.at(e))) continue;
            entry& x = exposed_->entries[exposed_->count++];
            x.above = f;
            x.frame = e;
            std::memcpy(static_cast<void*>(&x.copy), where.at(e), sizeof(_PyInterpreterFrame));
            where.at(f)->previous = &x.copy;
        }
    }
    // Link the chain to the entry frames again (they are back where they ran).
    [[gnu::noinline]] void unexpose() noexcept {
        for (int i = exposed_->count; i-- > 0;) {
            entry& x = exposed_->entries[i];
            x.above->previous = x.frame;
        }
        exposed_->count = 0;
    }
    // The tasklet ended.
    void clear() noexcept {
        std::free(exposed_);
        exposed_ = nullptr;
    }

 private:
    struct entry {
        _PyInterpreterFrame* above;  // the frame whose `previous` it is
        _PyInterpreterFrame* frame;  // on the tasklet's C stack
        _PyInterpreterFrame copy;
    };
    struct exposure {
        int count;
        int capacity;
        entry entries[1];
    };
    exposure* exposed_ = nullptr;  // while suspended, if its C stack moves
};

}  // namespace slpy::cpy

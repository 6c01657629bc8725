// entry_frames.hpp — a suspended tasklet's eval-loop entry frames, for the versions whose
// eval loop pushes one on the C stack at each entry from C (3.12+; the version's
// enters_eval() names them). A tasklet whose C stack is copied away while it is suspended
// (stack_kind copied) would leave its frame chain linked into memory another tasklet then
// uses; the chain is shown through a heap copy of each entry frame instead (expose) until
// the tasklet runs again (unexpose), so the GC, frame objects (f_back), tracebacks and the
// frame library read a valid chain, entry marks included. (The entries at the bottom of
// the tasklet's C stack, all a tasklet blocked in Python frames has, are shown by their
// bytes in the copy of its C slice when there is one: in_slice_copy.) The copies are
// made when the C stack leaves (datastack.cpp: with the tasklet's frames, when another
// tasklet takes its shared stack), from where its bytes are then (c_slice_place), so that
// a switch that moves nothing walks no frames. IsEntry: the version's enters_eval().
#pragma once

#include <cstdint>
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
    // The heap block that shows them while they are shown (null otherwise).
    const void* block() const noexcept { return exposed() ? exposed_ : nullptr; }

    // Show the chain from `top` through copies of its entry frames, read where the C
    // stack is now (`where`). Once: the chain shown stays shown until unexpose().
    [[gnu::noinline]] void expose(_PyInterpreterFrame* top,
                                  const c_slice_place& where = {}) noexcept {
        if (exposed()) return;
        int n = 0;
        int copies = 0;
        for (_PyInterpreterFrame* f = top; f != nullptr; f = where.at(f)->previous) {
            _PyInterpreterFrame* e = where.at(f)->previous;
            if (e == nullptr || !IsEntry(where.at(e))) continue;
            ++n;
            copies += in_slice_copy(e, where) ? 0 : 1;
        }
        if (n == 0) return;
        const size_t bytes = sizeof(exposure) + (n - 1) * sizeof(entry) +
                             static_cast<size_t>(copies) * sizeof(_PyInterpreterFrame);
        if (exposed_ == nullptr || exposed_->capacity < bytes) {
            void* p = std::realloc(exposed_, bytes);
            if (p == nullptr)
                Py_FatalError("stackless: no memory to keep a suspended tasklet's frame chain");
            exposed_ = static_cast<exposure*>(p);
            exposed_->capacity = static_cast<uint32_t>(bytes);
        }
        exposed_->count = 0;
        auto* copy = reinterpret_cast<_PyInterpreterFrame*>(&exposed_->entries[n]);
        for (_PyInterpreterFrame* f = top; f != nullptr; f = where.at(f)->previous) {
            _PyInterpreterFrame* e = where.at(f)->previous;
            if (e == nullptr || !IsEntry(where.at(e))) continue;
            exposed_->entries[exposed_->count++] = {f, e};
            if (in_slice_copy(e, where)) {
                where.at(f)->previous = where.at(e);
            } else {
                std::memcpy(static_cast<void*>(copy), where.at(e), sizeof(_PyInterpreterFrame));
                where.at(f)->previous = copy++;
            }
        }
    }
    // Link the chain to the entry frames again (they are back where they ran).
    [[gnu::noinline]] void unexpose() noexcept {
        for (uint32_t i = exposed_->count; i-- > 0;) {
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
    // Is entry frame `e` shown by its bytes in the copy of the C slice (`where`) rather
    // than by a copy of its own? The copy stays where it is until the tasklet resumes
    // (its slice goes back to the stack then), and nothing writes to it meanwhile when
    // nothing that moves is below the entry: the module moves frames (relink, and expose
    // here) by their `previous` links, and below the entries at the bottom of a tasklet's
    // C stack is only the chain's end (null, or a frame outside the slice whose own
    // `previous` is null: 3.15's sentinel in the thread state).
    static bool in_slice_copy(_PyInterpreterFrame* e, const c_slice_place& where) noexcept {
        _PyInterpreterFrame* below = where.at(e)->previous;
        return where.at(e) != e &&
               (below == nullptr || (where.at(below) == below && below->previous == nullptr));
    }
    struct entry {
        _PyInterpreterFrame* above;  // the frame whose `previous` it is
        _PyInterpreterFrame* frame;  // on the tasklet's C stack
    };
    // The entries, then the copies of those not shown in the slice's copy.
    struct exposure {
        uint32_t count;
        uint32_t capacity;  // bytes
        entry entries[1];
    };
    exposure* exposed_ = nullptr;  // while suspended, if its C stack moves
};

}  // namespace slpy::cpy

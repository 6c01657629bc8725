// python_state.hpp — the ONE place that knows which per-thread interpreter state a
// tasklet owns. A switch saves the running tasklet's share of PyThreadState into its
// python_state and restores the next one's; nothing else in the module touches these
// fields.
//
// What belongs to a tasklet (greenlet's TPythonState is the same checklist): the fields
// every supported CPython has — the frame data stack (chunk, top, limit), exc_info (the
// handled exception), context (+ context_ver bump), and the tracing state (trace/profile
// functions, their objects, the `tracing` depth) — here; and the ones that differ
// between versions (the current frame and where it is kept, recursion counters, the
// trashcan's) in cpy::thread_share (cpython/v*/thread_state.hpp).
#pragma once

#include <bit>
#include <cstddef>
#include <cstdint>

#include "common.hpp"

namespace slpy {

struct data_region;  // datastack.cpp

// python_state's flags (bits: see its fields' order).
struct state_flags {
    bool fresh : 1 = false;
    bool own_root : 1 = false;       // the bottom chunk is ours (malloc), not CPython's
    bool traced : 1 = false;         // holds what save_rare() moved out of the thread state,
                                     // or its tracers changed while suspended
    bool away : 1 = false;           // its frames are not where they ran (see data_region_bytes)
    bool packed : 1 = false;         // ... and away, saved_ holds them packed
    bool c_stack_moves : 1 = false;  // it runs on a copied (shared) stack
    bool shape_kept : 1 = false;     // not packed, but saved_ still holds its last shape
    bool exposed : 1 = false;        // its entry frames are shown by copies (thread_share)
};

class python_state {
 public:
    python_state() noexcept = default;
    python_state(const python_state&) = delete;
    python_state& operator=(const python_state&) = delete;
    ~python_state();

    // Prepare the state of a tasklet that has not run yet: no frames (its data-stack
    // chunk is allocated when it starts), no tracing, recursion depth 0, `exc_item` as its
    // exception stack (its handled exception lives there), `context` (new reference, may be null)
    // as its contextvars context. Returns false (MemoryError set) if out of memory.
    bool init_fresh(_PyErr_StackItem* exc_item, PyObject* context) noexcept;

    // tstate -> this: the running tasklet is being suspended. Takes over the thread
    // state's references (context, trace and profile objects). (Inline, as restore():
    // every switch does both.)
    [[gnu::always_inline]] void save(PyThreadState* ts) noexcept {
        if (save_usual(ts)) [[unlikely]]
            save_rare(ts);
        saved();
    }
    // save() in three parts, for a caller that makes save_rare's call itself: save_usual
    // returns whether save_rare(ts) must follow; then saved().
    [[gnu::always_inline]] bool save_usual(PyThreadState* ts) noexcept {
        const auto rare = share_.save(ts);  // (a word of the version's width: one test)
        datastack_chunk_ = ts->datastack_chunk;
        datastack_top_ = ts->datastack_top;  // (its limit is the chunk's end: limit_of())
        exc_info_ = ts->exc_info;
        context_ = ts->context;  // reference moves
        ts->context = nullptr;
        // The tracing nesting, the trace and profile functions and the version's rare
        // fields (thread_share) move only when there are any (the common case has none,
        // and then this state's fields and the thread state's stay clear: restore() has
        // nothing to write). So do the entry frames of every copied-stack tasklet once
        // some are unwatched (see c_stack_unwatched_; never on a version without them).
        return (rare | static_cast<unsigned>(ts->tracing | watch_all_entries())) != 0;
    }
    [[gnu::always_inline]] void saved() noexcept { f_.fresh = false; }
    // The tracing nesting, trace and profile functions and the version's rare fields:
    // out of the thread state (which it leaves clear). (Also shows the entry frames of a
    // copied-stack tasklet while some are unwatched.)
    [[gnu::noinline]] void save_rare(PyThreadState* ts) noexcept;
    // this -> tstate: the tasklet resumes (or starts). Hands the references back.
    // A fresh tasklet's body completes its start (cpy::enter_body) in its first C frame.
    [[gnu::always_inline]] void restore(PyThreadState* ts) noexcept {
        _PyStackChunk* const chunk = restore_common(ts);
        if (unusual()) [[unlikely]] {  // tracing, frames away or shown by copies, not started
            restore_unusual(ts);
            return;
        }
        restore_usual(ts, chunk);
    }
    // Whether restore() takes its usual way, which calls nothing (restore_plainly).
    bool restores_plainly() const noexcept { return !unusual(); }
    // restore() for a state that restores_plainly().
    [[gnu::always_inline]] void restore_plainly(PyThreadState* ts) noexcept {
        restore_usual(ts, restore_common(ts));
    }
    // The tasklet ended (its frames are gone): give back its data-stack chunk and move
    // the references it still holds into `out` (decref them when Python code may run).
    void discard(PyObject** out, int* n_out) noexcept;

    // For a suspended tasklet: its innermost frame (null if none) and recursion depth.
    // (Its frames may be away from their data region, see below: read them from here,
    // and pass pointers into them that were taken while it ran through locate().)
    _PyInterpreterFrame* top_frame() noexcept {
        if (f_.packed) [[unlikely]]
            unpack_aside();
        return share_.frame();
    }
    // Where the data-stack word that was at `p` when the tasklet last ran is now (after
    // top_frame()).
    PyObject** locate(PyObject** p) const noexcept;
    int recursion_depth() const noexcept { return share_.recursion_depth(); }
    PyObject* context() const noexcept { return context_; }
    // Replace the saved context (new reference; the old one is returned, owned).
    PyObject* exchange_context(PyObject* ctx) noexcept;
    PyObject* trace_object() const noexcept {
        return tracers_ != nullptr ? tracers_->trace_obj : nullptr;
    }
    PyObject* profile_object() const noexcept {
        return tracers_ != nullptr ? tracers_->profile_obj : nullptr;
    }
    // A suspended tasklet gets the trace (profile: false) or profile function `fn` with
    // `obj` (borrowed; both null: none), as sys.settrace / sys.setprofile would have set
    // them while it ran (cpy::retrace_suspended: through the running thread `ts`). Python
    // code may run (audit hooks, the old function's release). Returns -1 with MemoryError
    // set if there is no memory to keep them.
    int set_tracer(PyThreadState* ts, bool profile, Py_tracefunc fn, PyObject* obj);
    bool fresh() const noexcept { return f_.fresh; }

    // GC: visit the references a suspended tasklet's state holds, including the
    // locals of its frames. `innermost_sp`, if not null, is the value-stack top of the
    // innermost frame (known when it is blocked in a stackless call; as it was when the
    // tasklet ran, locate() finds it), so its value stack is visited too; otherwise only
    // its locals are.
    int traverse(visitproc visit, void* arg, PyObject** innermost_sp) const;

    // Number of C-level entries into the interpreter among the frames, minus the base
    // (Stackless's nesting_level) for a suspended tasklet.
    int nesting_level() noexcept;

    // The frame data stack (datastack.cpp). A copied-stack tasklet's root chunk is the
    // data region of its shared stack (data_region_bytes, one per shared stack and
    // thread): its frames live there while its C slice is on that stack, and are copied
    // out (only the used bytes) when another tasklet of that stack needs the region, and
    // back, to the same address, before it runs again; so a blocked tasklet keeps only
    // its frames' bytes — packed, when its frames allow (see pack()): the live words of
    // each frame and the specials that cannot be derived. Any other tasklet's root chunk is
    // root_chunk_bytes of its own (room for a handful of small frames, and with malloc's 8-byte
    // header exactly one 512-byte heap chunk). Frames that do not fit the root chunk go to chunks
    // CPython allocates, the tasklet's own.
    static constexpr size_t root_chunk_bytes = 512 - sizeof(void*);
    static constexpr size_t data_region_bytes = 256 * 1024;

    // What a suspended copied-stack tasklet's frames cost (memory_probe.cpp): the bytes
    // of its frames' copy while they are away from the region (0 while they are in it),
    // that copy's heap block, whether it is packed, and the bytes its frames take in
    // CPython's layout (the used part of the region).
    size_t away_bytes() const noexcept { return f_.away ? saved_size_ : 0; }
    const void* away_block() const noexcept { return saved_; }
    bool away_packed() const noexcept { return f_.packed; }
    // The heap block that shows its entry frames while it is suspended (null: none).
    const void* entries_block() const noexcept { return share_.entries_block(); }
    // While packed: the heap block of its frames' shape, and how many packed tasklets share it.
    const void* away_shape(unsigned* users) const noexcept;
    size_t away_shape_bytes() const noexcept;
    size_t frame_bytes() const noexcept;

 private:
    // Its trace and profile functions, while suspended: in a block of their own, made
    // when it first has one (few tasklets do, and every blocked tasklet's object counts).
    struct tracers {
        Py_tracefunc trace_fn = nullptr;
        Py_tracefunc profile_fn = nullptr;
        PyObject* trace_obj = nullptr;    // owned
        PyObject* profile_obj = nullptr;  // owned
        bool any() const noexcept {
            return trace_fn != nullptr || profile_fn != nullptr || trace_obj != nullptr ||
                   profile_obj != nullptr;
        }
    };
    // save_rare()'s inverse: back into the thread state.
    void restore_rare(PyThreadState* ts) noexcept;
    // Whether this state holds any of them.
    bool holds_rare() const noexcept {
        return tracing_ != 0 || (tracers_ != nullptr && tracers_->any()) || share_.holds_rare();
    }
    // The rest of restore() for a tasklet with trace functions, frames away from its data
    // region, entry frames shown by copies, or not started.
    [[gnu::noinline]] void restore_unusual(PyThreadState* ts) noexcept;
    // What restore() does in every case; returns the data-stack chunk it gave back. (Read
    // once: share_.restore() may store through a char pointer, which could alias this
    // object's fields.)
    [[gnu::always_inline]] _PyStackChunk* restore_common(PyThreadState* ts) noexcept {
        ts->context = context_;  // reference moves
        context_ = nullptr;
        ts->context_ver++;  // contextvars caches the last lookup per version
        _PyStackChunk* const chunk = datastack_chunk_;
        ts->datastack_chunk = chunk;
        ts->datastack_top = datastack_top_;
        ts->exc_info = exc_info_;
        return chunk;
    }
    // The rest of restore() in the usual case.
    [[gnu::always_inline]] void restore_usual(PyThreadState* ts, _PyStackChunk* chunk) noexcept {
        share_.restore(ts);
        ts->datastack_limit = limit_of(chunk);
    }
    // restore()'s unusual cases, in one test (g++ tests bit-fields one by one; the mask
    // folds to a constant).
    bool unusual() const noexcept {
        constexpr state_flags unusual{.fresh = true, .traced = true, .away = true, .exposed = true};
        return (std::bit_cast<unsigned char>(f_) & std::bit_cast<unsigned char>(unusual)) != 0;
    }
    void restore_fresh(PyThreadState* ts) noexcept;
    void allocate_root_chunk() noexcept;
    void start_data_stack() noexcept;
    void free_data_stack() noexcept;
    void leave_region() noexcept;
    // The region's occupant (a copied-stack tasklet) leaves it: its C stack has left, or
    // is about to leave, its shared stack (occupancy follows the shared stack's). What
    // of the thread's chain CPython keeps on that C stack is shown from where it is now.
    void c_stack_leaves() noexcept;
    // The region's occupant is moved out (see data_region_bytes) for another tasklet.
    // Returns false if there was no memory for the copy (the occupant then stays).
    bool evict() noexcept;
    bool reserve_saved(size_t n) noexcept;
    // The packed form of evict(): false (nothing changed) if the frames do not allow it
    // or there is no memory.
    bool pack() noexcept;
    // Packed frames back into the exact layout, at `base` (the region, or a buffer that
    // stands in for it); returns the top frame there.
    _PyInterpreterFrame* unpack_to(char* base, char* as) noexcept;
    // Packed -> exact frames away from the region (they are read while it is suspended).
    void unpack_aside() noexcept;
    // The packed form (or saved_, shape_kept) no longer uses its shape.
    void drop_shape() noexcept;
    int traverse_packed(visitproc visit, void* arg, PyObject** innermost_sp) const;
    [[gnu::noinline]] void bring_back() noexcept;
    void relink(const char* lo, const char* hi, ptrdiff_t delta) noexcept;
    // The end of a data-stack chunk (as CPython sets the thread's limit when it pushes
    // one); null for none (a thread state that never ran a frame has none either).
    static PyObject** limit_of(_PyStackChunk* c) noexcept {
        return c != nullptr ? reinterpret_cast<PyObject**>(reinterpret_cast<char*>(c) + c->size)
                            : nullptr;
    }

    // A copied-stack tasklet's C stack leaves its shared stack when another tasklet of that
    // stack runs, which then takes the stack's data region (c_stack_leaves). Once one ran
    // without a region (no memory), that no longer tells every tasklet when its C stack
    // leaves: from then on every copied-stack tasklet of the process shows its entry frames
    // at each suspension. (Set with the GIL held.)
    static inline bool c_stack_unwatched_ = false;
    // save()'s test of it: an int to OR into the rare ones, 0 where a version has no entry
    // frames to show.
    static int watch_all_entries() noexcept {
        return cpy::thread_share::has_entry_frames ? c_stack_unwatched_ : 0;
    }

    // (Ordered to pack, and the flags are bits: a blocked tasklet's memory counts, and
    // the tasklet object that holds this state takes one pymalloc size class less. The
    // flags and tracing_ go in the tail padding share_ may have.)
    [[no_unique_address]] cpy::thread_share share_;
    state_flags f_;
    int tracing_ = 0;
    _PyStackChunk* datastack_chunk_ = nullptr;
    PyObject** datastack_top_ = nullptr;
    _PyErr_StackItem* exc_info_ = nullptr;
    PyObject* context_ = nullptr;    // owned
    tracers* tracers_ = nullptr;     // made when it first has one, kept until it ends
    data_region* region_ = nullptr;  // a copied-stack tasklet's, once started
    std::byte* saved_ = nullptr;     // its frames while away from the region
    uint32_t saved_size_ = 0;
    uint32_t saved_cap_ = 0;
};

// The same for the frames from `top` out (the running tasklet's: cpy::current_frame()).
int nesting_level(const _PyInterpreterFrame* top) noexcept;

}  // namespace slpy

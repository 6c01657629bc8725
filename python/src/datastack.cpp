// datastack.cpp — where a tasklet's Python frames live: its frame data stack (CPython's
// chunks of _PyInterpreterFrame).
//
// Data regions (copied-stack tasklets). A copied-stack tasklet's C slice holds pointers
// into its frames (the eval loop's frame and stack pointers), and is put back at the same
// address whenever it runs; so are its frames. Each shared stack of a thread has a data
// region (python_state::data_region_bytes, mapped once, committed as touched), the root
// chunk of every tasklet that runs on that stack. Its occupant's frames are in it; when
// another tasklet of that stack starts or resumes, the occupant's frames are copied out
// to a heap buffer, and back before it runs again. Copied out packed (pack(): the live
// words of each frame and what cannot be derived, about half of a frame's bytes) when
// nothing outside the tasklet's state points at them; what cannot be derived apart from
// the live words (each frame's function, code, position and stack top: its shape) is kept
// once for all the tasklets blocked in the same frames at the same places, as the many
// tasklets of a server blocked in one call chain are. Then the GC reads the packed form
// (traverse_packed) and whoever asks for the frames (top_frame(): t.frame, pickling) gets
// them unpacked aside first. Otherwise (frame objects, a running generator's or an
// overflow chunk's frame linked to the region) exactly, the used bytes as they are, and
// the copy stays a valid frame chain while it is away: every pointer that can be followed
// without running the tasklet is moved with it — the `previous` links (also those of
// frames outside the region), each frame object's f_frame, and the saved current frame —
// so frame objects, tracebacks, the GC and pickling read it as they would the original.
// Occupancy follows the shared stack's (same slot), so tasklets that switch among
// fewer than the number of shared stacks copy nothing.
//
// Root chunks (other tasklets). A tasklet on its own stack starts with a small root
// chunk of its own (python_state::root_chunk_bytes).
//
// The chunk cache. Frames that do not fit the root chunk go to a chunk CPython allocates
// (16 KiB, through the object arena allocator: mmap) and frees again as soon as the first
// frame in it returns — so a tasklet whose depth goes back and forth across its root
// chunk's end would map and unmap memory on every call. The module therefore wraps the
// arena allocator: blocks of exactly the data-stack chunk size go to and come from a
// small cache; every other size (pymalloc's arenas) passes straight through to the
// allocator that was installed before.
#include <sys/mman.h>

#include <cstdlib>
#include <cstring>
#include <functional>
#include <string_view>
#include <vector>

#include "python_state.hpp"
#include "runtime.hpp"
#include "slp/stack.hpp"

namespace slpy {

// One shared stack's data region (never freed: a tasklet that outlived its thread may
// still name it; its mapping goes with the thread unless frames are left in it).
struct data_region {
    _PyStackChunk* chunk = nullptr;                            // data_region_bytes
    python_state* occupant = nullptr;                          // whose frames are in it
    const slp::detail::tasklet_impl* occupant_core = nullptr;  // its core tasklet
};

namespace {

constexpr size_t chunk_size = cpy::datastack_chunk_bytes;
constexpr size_t max_cached = 64;

PyObjectArenaAllocator g_inner;
std::vector<void*>* g_cache = nullptr;  // guarded by the GIL (arena calls hold it)

void* cached_alloc(void* ctx, size_t size) {
    if (size == chunk_size && g_cache != nullptr && !g_cache->empty()) {
        void* p = g_cache->back();
        g_cache->pop_back();
        return p;
    }
    (void)ctx;
    return g_inner.alloc(g_inner.ctx, size);
}

void cached_free(void* ctx, void* p, size_t size) {
    (void)ctx;
    if (size == chunk_size && g_cache != nullptr && g_cache->size() < max_cached) {
        try {
            g_cache->push_back(p);
            return;
        } catch (...) {
        }
    }
    g_inner.free(g_inner.ctx, p, size);
}

// Free a chunk CPython allocated (it uses the object arena allocator for them).
void free_cpython_chunk(_PyStackChunk* c) noexcept {
    PyObjectArenaAllocator a;
    PyObject_GetArenaAllocator(&a);
    a.free(a.ctx, c, c->size);
}

// The calling thread's data regions, by shared-stack slot.
struct region_table {
    data_region* slots[slp::shared_stacks_per_thread] = {};
    ~region_table() {
        for (data_region* r : slots)
            if (r != nullptr && r->chunk != nullptr && r->occupant == nullptr)
                munmap(r->chunk, python_state::data_region_bytes);
    }
};
thread_local region_table t_regions;

// The data region of slot `slot` of this thread, mapped on first use; null if it cannot be.
data_region* region_of_slot(int slot) noexcept {
    data_region*& r = t_regions.slots[slot];
    if (r == nullptr) r = new (std::nothrow) data_region;
    if (r == nullptr) return nullptr;
    if (r->chunk == nullptr) {
        void* p = mmap(nullptr, python_state::data_region_bytes, PROT_READ | PROT_WRITE,
                       MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
        if (p == MAP_FAILED) return nullptr;
        r->chunk = static_cast<_PyStackChunk*>(p);
    }
    return r;
}

// The core tasklet of the running tasklet, whose state `st` is, if it is a copied-stack
// one (it may have a data region); otherwise null.
const slp::detail::tasklet_impl* running_copied_core(const python_state* st) noexcept {
    thread_runtime* rt = thread_runtime::current_if_any();
    TaskletObject* t = rt != nullptr ? rt->current_object() : nullptr;
    if (t == nullptr || &t->state != st || !t->core) return nullptr;
    const slp::detail::tasklet_impl* c = t->core.impl();
    if (c->kind != slp::stack_kind::copied || c->is_main) return nullptr;
    return c;
}

// A frame of a packed form's shape (python_state::pack): this, then its function and
// code words (as the frame held them: cpy::func_word, cpy::code_word) unless it shares
// them with the frame packed before it (the one it called: a recursive call's frames all
// share one function), and only the function's when the code word is the function's
// __code__ (code_of_function: what a frame that was called holds, unless the function's
// __code__ was replaced while it ran). Its kept words are in the tasklet's packed form.
struct packed_frame {
    int32_t instr;       // cpy::frame_position
    uint16_t extra;      // cpy::frame_position
    uint16_t top_flags;  // (stacktop + 1) * 4, + 2 if its code is its function's,
                         // + 1 if it shares its callee's words
    cpy::frame_position position() const noexcept { return {instr, extra}; }
    // (-1: in a call into C, every word is kept)
    int stacktop() const noexcept { return (top_flags >> 2) - 1; }
    bool shares_callee() const noexcept { return (top_flags & 1) != 0; }
    bool code_of_function() const noexcept { return (top_flags & 2) != 0; }
    void set(int stacktop, bool shares, bool code_of_function) noexcept {
        top_flags = static_cast<uint16_t>((stacktop + 1) * 4 + (code_of_function ? 2 : 0) +
                                          (shares ? 1 : 0));
    }
    // The words that follow it.
    size_t words() const noexcept { return shares_callee() ? 0 : code_of_function() ? 1 : 2; }
    size_t header_bytes() const noexcept {
        return sizeof(packed_frame) + words() * sizeof(PyObject*);
    }
};
// Its words follow it, so it is a whole number of them (8 bytes: one on 64-bit CPUs, two on
// 32-bit ones).
static_assert(sizeof(packed_frame) == 8);
static_assert(sizeof(packed_frame) % alignof(PyObject*) == 0);
constexpr int max_packed_stacktop = UINT16_MAX / 4 - 1;

// The code word a frame called through the function `func_word` holds (the function's
// __code__, as cpy::code_word reads it).
PyObject* function_code_word(PyObject* func_word) noexcept {
    return reinterpret_cast<PyFunctionObject*>(cpy::slot_object(func_word))->func_code;
}

// Is a frame's code word derived from its function word when packed? Only while the
// module hears of every change of a function's __code__ (watch_code_changes()).
bool g_code_changes_heard = false;

// The shape of a tasklet's packed frames: each frame's packed_frame, from the innermost
// out. Shared by every packed tasklet whose frames have the same shape (the same words
// and positions: compared by value, so a shape never names an object no user holds), in a
// table while any uses it. (Each user's frames still hold their own references to their
// functions and codes, as the frames did.) A function whose code a shape's frames derive
// from it that gets another __code__ leaves them their code (`replaced`, by frame), and
// the shape leaves the table: it no longer means what its bytes say.
struct frame_shape {
    frame_shape* next;    // in its bucket of the table, while listed
    PyObject** replaced;  // null, or a code word for each frame (null: derived, as packed)
    uint32_t users;
    uint32_t bytes;  // of the packed_frames that follow
    const char* data() const noexcept { return reinterpret_cast<const char*>(this + 1); }
};
static_assert(sizeof(frame_shape) % alignof(PyObject*) == 0);

// Reads a shape's frames from the innermost out: each one's packed_frame, and its function
// and code words (its own, or its callee's).
class shape_reader {
 public:
    explicit shape_reader(const frame_shape* s) noexcept
        : s_(s), at_(s->data()), stop_(s->data() + s->bytes) {}
    // The next frame; false after the outermost.
    bool next() noexcept {
        if (at_ == stop_) return false;
        pf_ = reinterpret_cast<const packed_frame*>(at_);
        if (!pf_->shares_callee()) {
            auto* const w = reinterpret_cast<PyObject* const*>(pf_ + 1);
            func_ = w[0];
            if (!pf_->code_of_function())
                code_ = w[1];
            else if (s_->replaced != nullptr && s_->replaced[index_] != nullptr)
                code_ = s_->replaced[index_];
            else
                code_ = function_code_word(func_);
        }
        at_ += pf_->header_bytes();
        ++index_;
        return true;
    }
    const packed_frame& frame() const noexcept { return *pf_; }
    size_t index() const noexcept { return index_ - 1; }
    PyObject* func_word() const noexcept { return func_; }
    PyObject* code_word() const noexcept { return code_; }
    PyCodeObject* code() const noexcept {
        return reinterpret_cast<PyCodeObject*>(cpy::slot_object(code_));
    }

 private:
    const frame_shape* s_;
    const char* at_;
    const char* stop_;
    const packed_frame* pf_ = nullptr;
    size_t index_ = 0;
    PyObject* func_ = nullptr;
    PyObject* code_ = nullptr;
};

// The shapes in use (guarded by the GIL): chained through their `next`, in buckets by
// their bytes' hash (computed again when needed: a blocked tasklet whose shape is its
// own pays for the table's part of it, so that is a bucket's word and no more), one
// bucket a shape at most. And the buffer a shape is written to before it is looked up.
struct shape_table {
    frame_shape** buckets = nullptr;
    size_t mask = 0;  // buckets - 1
    size_t count = 0;
};
shape_table g_shapes;
char* g_scratch = nullptr;
size_t g_scratch_cap = 0;

char* scratch(size_t n) noexcept {
    if (n > g_scratch_cap) {
        void* p = std::realloc(g_scratch, n);
        if (p == nullptr) return nullptr;
        g_scratch = static_cast<char*>(p);
        g_scratch_cap = n;
    }
    return g_scratch;
}

size_t shape_hash(const char* data, size_t bytes) noexcept {
    return std::hash<std::string_view>{}(std::string_view(data, bytes));
}

// Twice the buckets (when there are more shapes than buckets); false if there is no
// memory for them (the chains grow instead).
bool grow_shape_table() noexcept {
    const size_t n = g_shapes.buckets == nullptr ? 16 : 2 * (g_shapes.mask + 1);
    auto** buckets = static_cast<frame_shape**>(std::calloc(n, sizeof(frame_shape*)));
    if (buckets == nullptr) return false;
    for (size_t i = 0; g_shapes.buckets != nullptr && i <= g_shapes.mask; ++i)
        for (frame_shape* s = g_shapes.buckets[i]; s != nullptr;) {
            frame_shape* next = s->next;
            frame_shape*& head = buckets[shape_hash(s->data(), s->bytes) & (n - 1)];
            s->next = head;
            head = s;
            s = next;
        }
    std::free(g_shapes.buckets);
    g_shapes.buckets = buckets;
    g_shapes.mask = n - 1;
    return true;
}

// The shared shape whose packed_frames are those `bytes` of g_scratch, one more user of it
// (made if there is none); null if there is no memory for it.
frame_shape* use_shape(size_t bytes) noexcept {
    if ((g_shapes.buckets == nullptr || g_shapes.count > g_shapes.mask) && !grow_shape_table() &&
        g_shapes.buckets == nullptr)
        return nullptr;
    frame_shape*& bucket = g_shapes.buckets[shape_hash(g_scratch, bytes) & g_shapes.mask];
    for (frame_shape* s = bucket; s != nullptr; s = s->next)
        if (s->bytes == bytes && std::memcmp(s->data(), g_scratch, bytes) == 0) {
            ++s->users;
            return s;
        }
    auto* s = static_cast<frame_shape*>(std::malloc(sizeof(frame_shape) + bytes));
    if (s == nullptr) return nullptr;
    s->next = bucket;
    s->replaced = nullptr;
    s->users = 1;
    s->bytes = static_cast<uint32_t>(bytes);
    std::memcpy(const_cast<char*>(s->data()), g_scratch, bytes);
    bucket = s;
    ++g_shapes.count;
    return s;
}

// Take a listed shape out of the table.
void unlist_shape(const frame_shape* s) noexcept {
    frame_shape** at = &g_shapes.buckets[shape_hash(s->data(), s->bytes) & g_shapes.mask];
    while (*at != s) at = &(*at)->next;
    *at = s->next;
    --g_shapes.count;
}

void release_shape(frame_shape* s) noexcept {
    if (--s->users != 0) return;
    if (s->replaced == nullptr)
        unlist_shape(s);
    else
        std::free(s->replaced);
    std::free(s);
}

// `func`'s __code__ is about to be replaced (its frames packed so far keep the code they
// ran: each shape that derives a frame's code from it records that code and leaves the
// table). False, with MemoryError set, when there is no memory for that: the audit hook
// then refuses the assignment, so the frames stay right and the function unchanged.
bool function_code_changes(PyObject* func) noexcept {
    // (Does the frame `r` is at take its code from func?)
    auto derives_from_func = [func](const shape_reader& r) {
        return r.frame().code_of_function() && !r.frame().shares_callee() &&
               cpy::slot_object(r.func_word()) == func;
    };
    for (size_t i = 0; g_shapes.buckets != nullptr && i <= g_shapes.mask; ++i) {
        for (frame_shape** at = &g_shapes.buckets[i]; *at != nullptr;) {
            frame_shape* s = *at;
            size_t frames = 0;
            bool derives = false;
            for (shape_reader r(s); r.next(); ++frames) derives = derives || derives_from_func(r);
            if (!derives) {
                at = &s->next;
                continue;
            }
            s->replaced = static_cast<PyObject**>(std::calloc(frames, sizeof(PyObject*)));
            if (s->replaced == nullptr) {
                PyErr_NoMemory();
                return false;
            }
            for (shape_reader r(s); r.next();)
                if (derives_from_func(r)) s->replaced[r.index()] = r.code_word();
            *at = s->next;  // (unlisted)
            --g_shapes.count;
        }
    }
    return true;
}

// The audit hook that hears of every change of a function's __code__ (CPython audits
// each one as object.__setattr__ before it makes it).
int hear_code_changes(const char* event, PyObject* args, void*) {
    if (std::strcmp(event, "object.__setattr__") != 0 || !PyTuple_Check(args) ||
        PyTuple_GET_SIZE(args) < 2)
        return 0;
    PyObject* obj = PyTuple_GET_ITEM(args, 0);
    PyObject* name = PyTuple_GET_ITEM(args, 1);
    if (PyFunction_Check(obj) && PyUnicode_Check(name) &&
        PyUnicode_CompareWithASCIIString(name, "__code__") == 0 && !function_code_changes(obj))
        return -1;
    return 0;
}

// The packed form: this, then the kept words of each frame from the innermost out, up to
// its end (python_state::saved_size_); the rest of each frame is in its shape.
struct packed_head {
    _PyInterpreterFrame* below;  // the outermost frame's previous (not in the region)
    frame_shape* shape;
};

size_t frame_words(const PyCodeObject* code) noexcept {
    return static_cast<size_t>(code->co_nlocalsplus + code->co_stacksize) + FRAME_SPECIALS_SIZE;
}

// The words of localsplus a frame with this stacktop keeps.
size_t kept_words(const PyCodeObject* code, int stacktop) noexcept {
    return stacktop >= 0 ? static_cast<size_t>(stacktop)
                         : static_cast<size_t>(code->co_nlocalsplus + code->co_stacksize);
}

// Is frame f's code word its function's __code__ (so that its packed form keeps only the
// function word)?
bool code_of_function(const _PyInterpreterFrame* f) noexcept {
    return g_code_changes_heard && cpy::code_word(f) == function_code_word(cpy::func_word(f));
}

// Does frame f have the same function and code words as `callee`, the frame it called
// (packed right before it)? Then its packed form shares them.
bool shares_words(const _PyInterpreterFrame* f, const _PyInterpreterFrame* callee) noexcept {
    return callee != nullptr && cpy::func_word(f) == cpy::func_word(callee) &&
           cpy::code_word(f) == cpy::code_word(callee);
}

template <class T>
T* moved(T* p, const char* lo, const char* hi, ptrdiff_t delta) noexcept {
    const char* q = reinterpret_cast<const char*>(p);
    return q >= lo && q < hi ? reinterpret_cast<T*>(const_cast<char*>(q) + delta) : p;
}

}  // namespace

void watch_code_changes() noexcept {
    if (!g_code_changes_heard)
        g_code_changes_heard = PySys_AddAuditHook(hear_code_changes, nullptr) == 0;
}

void install_chunk_cache() noexcept {
    if (g_cache != nullptr) return;
    g_cache = new (std::nothrow) std::vector<void*>();
    if (g_cache == nullptr) return;
    g_cache->reserve(max_cached);
    PyObject_GetArenaAllocator(&g_inner);
    PyObjectArenaAllocator mine = {nullptr, cached_alloc, cached_free};
    PyObject_SetArenaAllocator(&mine);
}

void python_state::start_data_stack() noexcept {
    const slp::detail::tasklet_impl* core = running_copied_core(this);
    f_.c_stack_moves = core != nullptr;
    data_region* r = core != nullptr ? region_of_slot(core->slot) : nullptr;
    if (r == nullptr || (r->occupant != nullptr && !r->occupant->evict())) {
        // (no region, or no memory to make room in it)
        if (core != nullptr) c_stack_unwatched_ = true;
        allocate_root_chunk();
        return;
    }
    r->occupant = this;
    r->occupant_core = core;
    region_ = r;
    f_.away = false;
    _PyStackChunk* c = r->chunk;
    c->previous = nullptr;
    c->size = data_region_bytes;
    c->top = 0;
    datastack_chunk_ = c;
    // Start one slot in: CPython pops (and frees) a chunk when a frame at its data[0]
    // goes, and a root chunk is never CPython's to free.
    datastack_top_ = &c->data[1];
}

void python_state::allocate_root_chunk() noexcept {
    auto* chunk = static_cast<_PyStackChunk*>(std::malloc(root_chunk_bytes));
    if (chunk == nullptr) return;  // CPython then makes a root chunk of its own
    chunk->previous = nullptr;
    chunk->size = root_chunk_bytes;
    chunk->top = 0;
    f_.own_root = true;
    datastack_chunk_ = chunk;
    datastack_top_ = &chunk->data[1];  // (as in a region)
}

// For a tasklet without frames (not started, or ended): its chunks go back (our root
// chunk to malloc, chunks CPython made to CPython's allocator) and its region is free.
void python_state::free_data_stack() noexcept {
    _PyStackChunk* c = datastack_chunk_;
    while (c != nullptr) {
        _PyStackChunk* prev = c->previous;
        if (region_ != nullptr && c == region_->chunk) {
            // the region's (a frameless tasklet is its occupant)
        } else if (prev == nullptr && f_.own_root) {
            std::free(c);
        } else {
            free_cpython_chunk(c);
        }
        c = prev;
    }
    f_.own_root = false;
    datastack_chunk_ = nullptr;
    datastack_top_ = nullptr;
    if (region_ != nullptr && region_->occupant == this) region_->occupant = nullptr;
    region_ = nullptr;
    if (f_.packed || f_.shape_kept) drop_shape();
    f_.shape_kept = false;
    std::free(saved_);
    saved_ = nullptr;
    saved_size_ = saved_cap_ = 0;
    f_.away = false;
    f_.packed = false;
}

// A tasklet whose frames never end (it outlived its thread, or its object went while it
// could not be killed) leaves its region to others: its frames move to a buffer that is
// kept for whatever still points at them.
void python_state::leave_region() noexcept {
    if (region_ == nullptr || f_.away || region_->occupant != this) return;
    if (!evict()) region_->occupant = nullptr;  // (no memory: the region is reused anyway)
    saved_ = nullptr;                           // kept
}

// Room for n bytes in saved_: grown as needed, and shrunk when it is much bigger (it
// held the frames unpacked, or deeper ones), so a blocked tasklet keeps about its
// frames' bytes; kept otherwise, so a tasklet moved out and back again and again at the
// same depth does not allocate.
bool python_state::reserve_saved(size_t n) noexcept {
    if (n <= saved_cap_ && n >= saved_cap_ - saved_cap_ / 4) return true;
    void* p = std::realloc(saved_, n);
    if (p == nullptr) return n <= saved_cap_;  // (no memory to shrink: the bigger one does)
    saved_ = static_cast<std::byte*>(p);
    saved_cap_ = static_cast<uint32_t>(n);
    return true;
}

void python_state::c_stack_leaves() noexcept {
    if (!f_.c_stack_moves) return;
    cpy::c_slice_place where;
    const slp::detail::tasklet_impl* c = region_->occupant_core;
    if (c != nullptr && c->slice_in_heap)
        where = {c->x->slice.lo, c->x->slice.saved, c->x->slice.saved_size};
    if (share_.c_stack_moved(where)) f_.exposed = true;
}

bool python_state::evict() noexcept {
    c_stack_leaves();
    if (pack()) return true;
    if (f_.shape_kept) {  // (saved_ is overwritten)
        drop_shape();
        f_.shape_kept = false;
    }
    _PyStackChunk* c = region_->chunk;
    // Used: up to its data-stack top, or, while it is in a chunk above, up to where that
    // chunk was pushed.
    PyObject** top = datastack_chunk_ == c ? datastack_top_ : &c->data[c->top];
    char* lo = reinterpret_cast<char*>(c);
    char* hi = reinterpret_cast<char*>(top);
    const auto n = static_cast<uint32_t>(hi - lo);  // (at most data_region_bytes)
    if (!reserve_saved(n)) return false;
    std::memcpy(saved_, lo, n);
    saved_size_ = n;
    relink(lo, hi, reinterpret_cast<char*>(saved_) - lo);
    f_.away = true;
    region_->occupant = nullptr;
    return true;
}

void python_state::bring_back() noexcept {
    data_region* r = region_;
    if (r->occupant != nullptr && !r->occupant->evict())
        Py_FatalError("stackless: no memory to move a blocked tasklet's frames aside");
    char* lo = reinterpret_cast<char*>(r->chunk);
    if (f_.packed) {
        share_.set_frame(unpack_to(lo));
        f_.packed = false;
        f_.shape_kept = true;  // (most likely its shape when it is packed next)
    } else {
        char* from = reinterpret_cast<char*>(saved_);
        std::memcpy(lo, from, saved_size_);
        relink(from, from + saved_size_, lo - from);
    }
    r->occupant = this;
    r->occupant_core = running_copied_core(this);
    f_.away = false;
}

// The packed form keeps, of each frame, the live words of localsplus (locals, cells, the
// value stack up to stacktop), and in its shape (shared with the tasklets blocked in the
// same frames at the same places) its function and code (once for a run of frames of one
// function and code, as a recursion has them), where it is in its code, its stacktop and
// what cpy::position_of() keeps; the rest is derived: globals and builtins are its function's,
// f_locals and frame_obj are null, owner is the thread, previous is the next frame out,
// and the frames lie end to end from the region's first slot (datastack_top_ is the
// innermost frame's end). Frames that do not fit this (a frame object, an f_locals dict,
// a generator's or an overflow chunk's frame linked to the region) are saved exactly.
bool python_state::pack() noexcept {
    _PyStackChunk* c = region_->chunk;
    if (datastack_chunk_ != c) return false;
    auto* const first = reinterpret_cast<char*>(&c->data[1]);
    auto* end = reinterpret_cast<char*>(datastack_top_);
    size_t bytes = sizeof(packed_head);
    size_t shape_bytes = 0;
    uint32_t frames = 0;
    _PyInterpreterFrame* f = share_.frame();
    const _PyInterpreterFrame* callee = nullptr;
    for (; end != first; ++frames) {
        if (f == nullptr || f->owner != FRAME_OWNED_BY_THREAD || f->frame_obj != nullptr ||
            f->f_locals != nullptr)
            return false;
        PyFunctionObject* func = cpy::frame_func(f);
        PyCodeObject* code = cpy::frame_code(f);
        if (func == nullptr || !PyFunction_Check(func) || f->f_globals != func->func_globals ||
            f->f_builtins != func->func_builtins)
            return false;
        const size_t words = frame_words(code);
        if (end - first < static_cast<ptrdiff_t>(words * sizeof(PyObject*)) ||
            reinterpret_cast<char*>(f) != end - words * sizeof(PyObject*) ||
            cpy::stack_top(f) > code->co_nlocalsplus + code->co_stacksize ||
            cpy::stack_top(f) > max_packed_stacktop)
            return false;
        bytes += kept_words(code, cpy::stack_top(f)) * sizeof(PyObject*);
        shape_bytes += sizeof(packed_frame);
        if (!shares_words(f, callee))
            shape_bytes += (code_of_function(f) ? 1 : 2) * sizeof(PyObject*);
        end = reinterpret_cast<char*>(f);
        callee = f;
        f = f->previous;
    }
    const char* lo = reinterpret_cast<char*>(c);
    if (reinterpret_cast<const char*>(f) >= lo &&
        reinterpret_cast<const char*>(f) < lo + data_region_bytes)
        return false;
    char* shape = scratch(shape_bytes);
    if (shape == nullptr) return false;
    frame_shape* kept = f_.shape_kept ? reinterpret_cast<packed_head*>(saved_)->shape : nullptr;
    f_.shape_kept = false;
    if (!reserve_saved(bytes)) {
        if (kept != nullptr) release_shape(kept);
        return false;
    }
    auto* head = reinterpret_cast<packed_head*>(saved_);
    head->below = f;
    auto* out = reinterpret_cast<char*>(head + 1);
    f = share_.frame();
    callee = nullptr;
    for (uint32_t i = 0; i < frames; ++i, callee = f, f = f->previous) {
        auto* pf = reinterpret_cast<packed_frame*>(shape);
        const cpy::frame_position pos = cpy::position_of(f);
        pf->instr = pos.instr;
        pf->extra = pos.extra;
        const bool shares = shares_words(f, callee);
        pf->set(cpy::stack_top(f), shares, !shares && code_of_function(f));
        shape += sizeof(packed_frame);
        auto** words = reinterpret_cast<PyObject**>(shape);
        if (pf->words() >= 1) words[0] = cpy::func_word(f);
        if (pf->words() == 2) words[1] = cpy::code_word(f);
        shape += pf->words() * sizeof(PyObject*);
        const size_t n = kept_words(cpy::frame_code(f), pf->stacktop()) * sizeof(PyObject*);
        std::memcpy(out, cpy::slots(f), n);
        out += n;
    }
    if (kept != nullptr && kept->replaced == nullptr && kept->bytes == shape_bytes &&
        std::memcmp(kept->data(), g_scratch, shape_bytes) == 0) {
        head->shape = kept;  // (blocked where it was blocked last time: no lookup)
    } else {
        head->shape = use_shape(shape_bytes);
        if (kept != nullptr) release_shape(kept);
        if (head->shape == nullptr) return false;
    }
    saved_size_ = static_cast<uint32_t>(bytes);
    f_.packed = true;
    f_.away = true;
    region_->occupant = nullptr;
    return true;
}

_PyInterpreterFrame* python_state::unpack_to(char* base) noexcept {
    const auto* head = reinterpret_cast<const packed_head*>(saved_);
    const char* in = reinterpret_cast<const char*>(head + 1);
    // (datastack_top_ is where the innermost frame ends in the region)
    char* end =
        base + (reinterpret_cast<char*>(datastack_top_) - reinterpret_cast<char*>(region_->chunk));
    _PyInterpreterFrame* top = head->below;
    _PyInterpreterFrame* above = nullptr;
    for (shape_reader r(head->shape); r.next();) {
        const packed_frame& pf = r.frame();
        PyCodeObject* const code = r.code();
        auto* f =
            reinterpret_cast<_PyInterpreterFrame*>(end - frame_words(code) * sizeof(PyObject*));
        cpy::init_unpacked(f, r.func_word(), r.code_word(), pf.position(), pf.stacktop());
        f->previous = head->below;
        const size_t n = kept_words(code, pf.stacktop()) * sizeof(PyObject*);
        std::memcpy(cpy::slots(f), in, n);
        in += n;
        if (above != nullptr)
            above->previous = f;
        else
            top = f;
        above = f;
        end = reinterpret_cast<char*>(f);
    }
    return top;
}

void python_state::drop_shape() noexcept {
    release_shape(reinterpret_cast<packed_head*>(saved_)->shape);
}

void python_state::unpack_aside() noexcept {
    // The exact layout, in a buffer that stands for the region from its start to the
    // innermost frame's end (as evict() leaves it).
    const size_t n = static_cast<size_t>(reinterpret_cast<char*>(datastack_top_) -
                                         reinterpret_cast<char*>(region_->chunk));
    auto* buf = static_cast<char*>(std::malloc(n));
    if (buf == nullptr) {
        share_.set_frame(nullptr);  // (no memory: it shows no frames until it runs)
        return;
    }
    auto* c = reinterpret_cast<_PyStackChunk*>(buf);
    c->previous = nullptr;
    c->size = data_region_bytes;
    c->top = 0;
    share_.set_frame(unpack_to(buf));
    drop_shape();
    std::free(saved_);
    saved_ = reinterpret_cast<std::byte*>(buf);
    saved_size_ = saved_cap_ = static_cast<uint32_t>(n);
    f_.packed = false;
}

int python_state::traverse_packed(visitproc visit, void* arg, PyObject** innermost_sp) const {
    const auto* head = reinterpret_cast<const packed_head*>(saved_);
    const char* in = reinterpret_cast<const char*>(head + 1);
    auto* end = reinterpret_cast<char*>(datastack_top_);  // the innermost frame's, in the region
    shape_reader sr(head->shape);
    for (bool innermost = true; sr.next(); innermost = false) {
        // (each frame holds its own references to them, shared words or not)
        if (int r = cpy::visit_word(sr.func_word(), visit, arg)) return r;
        if (int r = cpy::visit_word(sr.code_word(), visit, arg)) return r;
        PyCodeObject* const code = sr.code();
        const int nlocals = code->co_nlocalsplus;
        const size_t kept = kept_words(code, sr.frame().stacktop());
        auto** words = reinterpret_cast<PyObject**>(const_cast<char*>(in));
        int depth = sr.frame().stacktop();
        if (depth < 0) {  // as traverse(): the value stack only up to a known top
            depth = nlocals;
            auto** localsplus =
                reinterpret_cast<PyObject**>(end - frame_words(code) * sizeof(PyObject*)) +
                FRAME_SPECIALS_SIZE;
            if (innermost && innermost_sp != nullptr) {
                const auto d = innermost_sp - localsplus;
                if (d >= nlocals && d <= nlocals + code->co_stacksize) depth = static_cast<int>(d);
            }
        }
        for (int k = 0; k < depth; k++)
            if (int r = cpy::visit_word(words[k], visit, arg)) return r;
        end -= frame_words(code) * sizeof(PyObject*);
        in += kept * sizeof(PyObject*);
    }
    return 0;
}

// The frames that were in [lo, hi) are now `delta` bytes away: move every pointer to
// them (or into them) that the suspended tasklet's frames and their frame objects hold.
void python_state::relink(const char* lo, const char* hi, ptrdiff_t delta) noexcept {
    share_.set_frame(moved(share_.frame(), lo, hi, delta));
    for (_PyInterpreterFrame* f = share_.frame(); f != nullptr; f = f->previous) {
        f->previous = moved(f->previous, lo, hi, delta);
        const char* q = reinterpret_cast<const char*>(f);
        if (q < lo + delta || q >= hi + delta) continue;  // (not one of the moved frames)
        cpy::frame_moved(f, delta);
        if (f->frame_obj != nullptr) f->frame_obj->f_frame = f;
    }
}

const void* python_state::away_shape(unsigned* users) const noexcept {
    if (!f_.packed) {
        *users = 0;
        return nullptr;
    }
    const frame_shape* shape = reinterpret_cast<const packed_head*>(saved_)->shape;
    *users = shape->users;
    return shape;
}

size_t python_state::away_shape_bytes() const noexcept {
    return f_.packed ? reinterpret_cast<const packed_head*>(saved_)->shape->bytes : 0;
}

size_t python_state::frame_bytes() const noexcept {
    if (region_ == nullptr) return 0;
    const _PyStackChunk* c = region_->chunk;
    const auto* first = reinterpret_cast<const char*>(&c->data[1]);
    if (datastack_chunk_ == c)
        return static_cast<size_t>(reinterpret_cast<char*>(datastack_top_) - first);
    // (frames in a chunk above the region: the region's part, if it is away exactly)
    return f_.away && !f_.packed ? saved_size_ - (first - reinterpret_cast<const char*>(c)) : 0;
}

PyObject** python_state::locate(PyObject** p) const noexcept {
    if (!f_.away || f_.packed || p == nullptr) return p;
    const char* lo = reinterpret_cast<const char*>(region_->chunk);
    const char* q = reinterpret_cast<const char*>(p);
    // (<=: a value-stack top may be the end of the innermost frame, the used end)
    if (q < lo || q > lo + saved_size_) return p;
    return reinterpret_cast<PyObject**>(reinterpret_cast<char*>(saved_) + (q - lo));
}

}  // namespace slpy

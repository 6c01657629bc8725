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

#include <algorithm>
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
    void* mapping = nullptr;                                   // where chunk lies
    python_state* occupant = nullptr;                          // whose frames are in it
    const slp::detail::tasklet_impl* occupant_core = nullptr;  // its core tasklet
};

namespace {

constexpr size_t chunk_size = cpy::datastack_chunk_bytes;
// Where a region begins in its mapping's first page, before its colour: past the page's
// first lines. Blocks that begin at a page boundary (CPython's memory pools and data-stack
// chunks, other mappings) keep their headers there, so those lines' cache sets are busier
// than the rest, and the frames at a region's start run at every switch of its tasklet.
constexpr size_t region_lead = 128;
// A data region's mapping: the region, below it its lead and at most its colour.
constexpr size_t region_mapping_bytes =
    python_state::data_region_bytes + region_lead + slp::stack_colour_range;
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

// The calling thread's data regions, by shared-stack slot (as many as core may map).
struct region_table {
    data_region* slots[slp::max_shared_stacks_per_thread] = {};
    ~region_table() {
        for (data_region* r : slots)
            if (r != nullptr && r->chunk != nullptr && r->occupant == nullptr)
                munmap(r->mapping, region_mapping_bytes);
    }
};
thread_local region_table t_regions;

// The data region of slot `slot` of this thread, mapped on first use; null if it cannot be.
data_region* region_of_slot(int slot) noexcept {
    data_region*& r = t_regions.slots[slot];
    if (r == nullptr) r = new (std::nothrow) data_region;
    if (r == nullptr) return nullptr;
    if (r->chunk == nullptr) {
        void* p = mmap(nullptr, region_mapping_bytes, PROT_READ | PROT_WRITE,
                       MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
        if (p == MAP_FAILED) return nullptr;
        r->mapping = p;
        // Coloured as the slot's shared stack is (slp/stack.hpp), for the same reason:
        // the frames at the start of every region would share their cache sets.
        r->chunk = reinterpret_cast<_PyStackChunk*>(static_cast<std::byte*>(p) + region_lead +
                                                    slp::stack_colour(static_cast<unsigned>(slot)));
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

// A frame of a packed form's shape (python_state::pack): its head (a 32-bit word, and
// two more when what it holds does not fit one), then its function and code words (as the
// frame held them: cpy::func_word, cpy::code_word; unaligned) unless it shares them with
// the frame packed before it (the one it called: a recursive call's frames all share one
// function), and only the function's when the code word is the function's __code__
// (code_of_function: what a frame that was called holds, unless the function's __code__
// was replaced while it ran). Its kept words are in the tasklet's packed form.
struct packed_frame {
    int32_t instr = 0;   // cpy::frame_position
    uint16_t extra = 0;  // cpy::frame_position
    int stacktop = 0;    // (-1: in a call into C, every word is kept)
    bool shares_callee = false;
    bool code_of_function = false;
    bool entered = false;  // called from C: an entry frame between it and the next frame out

    cpy::frame_position position() const noexcept { return {instr, extra}; }
    // The words that follow its head.
    size_t words() const noexcept { return shares_callee ? 0 : code_of_function ? 1 : 2; }

    // The head's word: shares_callee, code_of_function, whether two words follow (the
    // long form: instr, then extra and stacktop + 1, each as it is; and `entered`), then
    // extra (4 bits), stacktop + 1 (9 bits) and instr + 1 (16 bits).
    static constexpr uint32_t long_form = 4;
    static constexpr uint32_t entered_bit = 8;  // (long form)
    bool fits_short() const noexcept {
        return !entered && extra < 16 && stacktop + 1 < 512 && instr + 1 >= 0 && instr + 1 < 65536;
    }
    size_t head_bytes() const noexcept { return fits_short() ? 4 : 12; }
    static constexpr size_t max_bytes = 12 + 2 * sizeof(PyObject*);
    size_t bytes() const noexcept { return head_bytes() + words() * sizeof(PyObject*); }
    // Writes its head at `at`; returns its end.
    char* put_head(char* at) const noexcept {
        uint32_t w = (shares_callee ? 1 : 0) | (code_of_function ? 2 : 0);
        if (!fits_short()) {
            const uint32_t more[2] = {static_cast<uint32_t>(instr),
                                      extra | static_cast<uint32_t>(stacktop + 1) << 16};
            w |= long_form | (entered ? entered_bit : 0);
            std::memcpy(at, &w, 4);
            std::memcpy(at + 4, more, 8);
            return at + 12;
        }
        w |= static_cast<uint32_t>(extra) << 3 | static_cast<uint32_t>(stacktop + 1) << 7 |
             static_cast<uint32_t>(instr + 1) << 16;
        std::memcpy(at, &w, 4);
        return at + 4;
    }
    // Reads a head at `at`; returns its end.
    const char* get_head(const char* at) noexcept {
        uint32_t w;
        std::memcpy(&w, at, 4);
        shares_callee = (w & 1) != 0;
        code_of_function = (w & 2) != 0;
        if ((w & long_form) != 0) {
            uint32_t more[2];
            std::memcpy(more, at + 4, 8);
            instr = static_cast<int32_t>(more[0]);
            extra = static_cast<uint16_t>(more[1]);
            stacktop = static_cast<int>(more[1] >> 16) - 1;
            entered = (w & entered_bit) != 0;
            return at + 12;
        }
        entered = false;
        extra = static_cast<uint16_t>((w >> 3) & 15);
        stacktop = static_cast<int>((w >> 7) & 511) - 1;
        instr = static_cast<int32_t>(w >> 16) - 1;
        return at + 4;
    }
};
constexpr int max_packed_stacktop = UINT16_MAX - 1;

// A frame of a packed form does not keep again those of its first max_same words that are
// the words the frame it called holds at the same index (what a call passes down: self, a
// context, a callback, each frame of a chain holds again): its `same` bits, in a byte
// before its words in the tasklet's packed form (when any frame has some). They are the
// tasklet's, not its shape's: words that are equal by chance (a small int) would split the
// tasklets blocked in the same frames among shapes.
constexpr size_t max_same = 8;

void put_word(char* at, PyObject* w) noexcept {
    std::memcpy(at, &w, sizeof(w));
}

// A frame's kept words (`kept` of them) into the packed form at `out`, but for those its
// `same` bits name (its callee's); returns the end of what it wrote.
char* put_words(char* out, PyObject* const* slots, size_t kept, unsigned same) noexcept {
    size_t k = 0;
    for (; same != 0; ++k, same >>= 1)  // (its bits are below `kept`)
        if ((same & 1) == 0) {
            std::memcpy(out, &slots[k], sizeof(PyObject*));
            out += sizeof(PyObject*);
        }
    std::memcpy(out, &slots[k], (kept - k) * sizeof(PyObject*));
    return out + (kept - k) * sizeof(PyObject*);
}

// Reads the kept words of a packed form's frames (at `in`, each frame's `same` byte
// before its words if `sames`) from the innermost out: the inverse of put_words.
class word_reader {
 public:
    word_reader(const char* in, bool sames) noexcept : in_(in), sames_(sames) {}
    // The next frame's first words, up to its last `same` one, into `first` (each that its
    // `same` bits name is `callee`'s at the same index: the frame read before); returns how
    // many. Its other kept words follow in the packed form as they are (rest()).
    size_t next(PyObject** first, PyObject* const* callee) noexcept {
        size_t k = 0;
        if (!sames_) return k;
        for (unsigned same = static_cast<unsigned char>(*in_++); same != 0; ++k, same >>= 1) {
            if ((same & 1) != 0) {
                first[k] = callee[k];
            } else {
                std::memcpy(&first[k], in_, sizeof(PyObject*));
                in_ += sizeof(PyObject*);
            }
        }
        return k;
    }
    // The frame's kept words after those next() wrote (unaligned), and past n of them.
    const char* rest() const noexcept { return in_; }
    PyObject* rest_word(size_t i) const noexcept {
        PyObject* w;
        std::memcpy(&w, in_ + i * sizeof(PyObject*), sizeof(w));
        return w;
    }
    void skip(size_t n) noexcept { in_ += n * sizeof(PyObject*); }
    // After the kept words of a frame that was `entered`: its entry frame.
    _PyInterpreterFrame* entry() noexcept {
        _PyInterpreterFrame* e;
        std::memcpy(&e, in_, sizeof(e));
        in_ += sizeof(e);
        return e;
    }

 private:
    const char* in_;
    bool sames_;
};

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
        at_ = pf_.get_head(at_);
        if (!pf_.shares_callee) {
            std::memcpy(&func_, at_, sizeof(PyObject*));
            if (!pf_.code_of_function)
                std::memcpy(&code_, at_ + sizeof(PyObject*), sizeof(PyObject*));
            else if (s_->replaced != nullptr && s_->replaced[index_] != nullptr)
                code_ = s_->replaced[index_];
            else
                code_ = function_code_word(func_);
        }
        at_ += pf_.words() * sizeof(PyObject*);
        ++index_;
        return true;
    }
    const packed_frame& frame() const noexcept { return pf_; }
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
    packed_frame pf_;
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

// Room for n elements in a buffer that only grows (null if there is no memory for it).
template <class T>
T* room(T*& buf, size_t& cap, size_t n) noexcept {
    if (n > cap) {
        const size_t want = std::max(n, 2 * cap);
        void* p = std::realloc(buf, want * sizeof(T));
        if (p == nullptr) return nullptr;
        buf = static_cast<T*>(p);
        cap = want;
    }
    return buf;
}

char* scratch(size_t n) noexcept {
    return room(g_scratch, g_scratch_cap, n);
}

// What pack() finds of each frame before it knows how many bytes the packed form takes.
struct frame_note {
    uint32_t kept;               // its kept words
    uint32_t same;               // its `same` bits
    _PyInterpreterFrame* entry;  // the entry frame it was called through, or null
};
frame_note* g_notes = nullptr;
size_t g_notes_cap = 0;

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
        return r.frame().code_of_function && !r.frame().shares_callee &&
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

// Where a copied-stack tasklet's C stack is while it is suspended (`core`: its core
// tasklet): in place, or in the copy of its slice.
cpy::c_slice_place c_stack_place(const slp::detail::tasklet_impl* core) noexcept {
    if (core == nullptr || !core->slice_in_heap) return {};
    return {core->x->slice.lo, core->x->slice.saved, core->x->slice.saved_size};
}

// Is `f` (read where the C stack is: `where`) an eval-loop entry frame of its own (3.12+:
// each entry from C pushes one on the C stack), rather than a frame of the data stack?
bool is_entry_frame(_PyInterpreterFrame* f, const cpy::c_slice_place& where) noexcept {
    return cpy::thread_share::has_entry_frames && f != nullptr && cpy::enters_eval(where.at(f));
}

// A packed form's core tasklet, on versions whose entry frames it shows (else none).
template <bool Kept>
struct core_word {
    void set(const slp::detail::tasklet_impl*) noexcept {}
    const slp::detail::tasklet_impl* get() const noexcept { return nullptr; }
};
template <>
struct core_word<true> {
    const slp::detail::tasklet_impl* core;
    void set(const slp::detail::tasklet_impl* c) noexcept { core = c; }
    const slp::detail::tasklet_impl* get() const noexcept { return core; }
};

// The packed form: this, then the kept words of each frame from the innermost out (each
// frame's `same` byte before them, if `sames`; after them, if it was entered from C, its
// entry frame), up to its end (python_state::saved_size_); the rest of each frame is in
// its shape. The entry frames stay on the tasklet's C stack, which shows them when the
// frames are read unpacked aside (their copies while it is suspended are made then; in the
// region, they link to them as they ran).
struct packed_head {
    _PyInterpreterFrame* below;  // the outermost frame's previous (not in the region)
    uintptr_t shape_sames;       // its frame_shape*, + 1 if each frame has a `same` byte
    // Its core tasklet, whose C stack shows its entry frames (versions that have them).
    [[no_unique_address]] core_word<cpy::thread_share::has_entry_frames> core;
    frame_shape* shape() const noexcept {
        return reinterpret_cast<frame_shape*>(shape_sames & ~uintptr_t{1});
    }
    bool sames() const noexcept { return (shape_sames & 1) != 0; }
    void set(frame_shape* s, bool sames) noexcept {
        shape_sames = reinterpret_cast<uintptr_t>(s) | (sames ? 1 : 0);
    }
    const char* words() const noexcept { return reinterpret_cast<const char*>(this + 1); }
};
static_assert(alignof(frame_shape) > 1);

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

// Which of frame f's first kept words (`kept` of them) are the words its callee (packed
// right before it, `callee_kept` words kept; null: none) holds at the same index:
// its `same` bits.
// (And how many they are, in *count.)
unsigned same_as_callee(_PyInterpreterFrame* f, size_t kept, _PyInterpreterFrame* callee,
                        size_t callee_kept, size_t* count) noexcept {
    *count = 0;
    if (callee == nullptr) return 0;
    PyObject* const* const mine = cpy::slots(f);
    PyObject* const* const its = cpy::slots(callee);
    const size_t n = std::min({kept, callee_kept, max_same});
    unsigned same = 0;
    for (size_t k = 0; k < n; ++k)
        if (mine[k] == its[k]) {
            same |= 1u << k;
            ++*count;
        }
    return same;
}

// Frame f's head in its packed form's shape (`callee`: the frame packed before it).
packed_frame head_of(const _PyInterpreterFrame* f, const _PyInterpreterFrame* callee) noexcept {
    packed_frame pf;
    const cpy::frame_position pos = cpy::position_of(f);
    pf.instr = pos.instr;
    pf.extra = pos.extra;
    pf.stacktop = cpy::stack_top(f);
    pf.shares_callee = shares_words(f, callee);
    pf.code_of_function = !pf.shares_callee && code_of_function(f);
    return pf;
}

template <class T>
T* moved(T* p, const char* lo, const char* hi, ptrdiff_t delta) noexcept {
    const char* q = reinterpret_cast<const char*>(p);
    return q >= lo && q < hi ? reinterpret_cast<T*>(const_cast<char*>(q) + delta) : p;
}

// The frames of the packed form at `head`, unpacked in the exact layout down from `end`
// (where the innermost one ends) and linked as if they were `delta` bytes away (Moved);
// returns the innermost one (as linked).
template <bool Moved>
_PyInterpreterFrame* unpack_frames(const packed_head* head, char* end, ptrdiff_t delta) noexcept {
    constexpr bool entries = cpy::thread_share::has_entry_frames;
    word_reader in(head->words(), head->sames());
    _PyInterpreterFrame* top = head->below;
    _PyInterpreterFrame* callee = nullptr;  // the frame unpacked before
    _PyInterpreterFrame* link = nullptr;    // ... if its previous is the next one (entries)
    for (shape_reader r(head->shape()); r.next();) {
        const packed_frame& pf = r.frame();
        PyCodeObject* const code = r.code();
        auto* f =
            reinterpret_cast<_PyInterpreterFrame*>(end - frame_words(code) * sizeof(PyObject*));
        cpy::init_unpacked(f, r.func_word(), r.code_word(), pf.position(), pf.stacktop);
        if constexpr (Moved) cpy::frame_moved(f, delta);
        f->previous = head->below;
        PyObject** const slots = cpy::slots(f);
        const size_t kept = kept_words(code, pf.stacktop);
        const size_t k = in.next(slots, callee != nullptr ? cpy::slots(callee) : nullptr);
        std::memcpy(&slots[k], in.rest(), (kept - k) * sizeof(PyObject*));
        in.skip(kept - k);
        auto* const linked =
            Moved ? reinterpret_cast<_PyInterpreterFrame*>(reinterpret_cast<char*>(f) + delta) : f;
        if (callee == nullptr)
            top = linked;
        else if (!entries)
            callee->previous = linked;
        else if (link != nullptr)
            link->previous = linked;
        if constexpr (entries) {
            link = f;
            if (pf.entered) {
                f->previous = in.entry();
                link = nullptr;
            }
        }
        callee = f;
        end = reinterpret_cast<char*>(f);
    }
    return top;
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
    if (share_.c_stack_moved(c_stack_place(region_->occupant_core))) f_.exposed = true;
}

bool python_state::evict() noexcept {
    // Packing is for a tasklet that waits: one that is runnable (a crowd taking turns
    // through fewer shared stacks) runs again soon, and its frames move as they are, one
    // copy each way. (Packed frames are no chain to read: their entry frames are shown
    // when they are unpacked aside, if ever.)
    const slp::detail::tasklet_impl* core = region_->occupant_core;
    const bool runnable = core != nullptr && core->in_ring;
    if (!runnable && pack()) return true;
    c_stack_leaves();
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
        share_.set_frame(unpack_to(lo, lo));
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
// value stack up to stacktop; of its first words those that are not the words the frame
// it called holds at the same index: its `same` bits), and in its shape (shared with the
// tasklets blocked in the same frames at the same places) its function and code (once for a run of
// frames of one function and code, as a recursion has them), where it is in its code, its stacktop
// and what cpy::position_of() keeps; the rest is derived: globals and builtins are its function's,
// f_locals and frame_obj are null, owner is the thread, previous is the next frame out,
// and the frames lie end to end from the region's first slot (datastack_top_ is the
// innermost frame's end), each linked to the next one out directly or through the entry
// frame on the C stack that a call from C into it pushed (3.12+), which the packed form
// names. Frames that do not fit this (a frame object, an f_locals dict, a generator's or
// an overflow chunk's frame linked to the region) are saved exactly.
bool python_state::pack() noexcept {
    _PyStackChunk* c = region_->chunk;
    if (datastack_chunk_ != c) return false;
    auto* const first = reinterpret_cast<char*>(&c->data[1]);
    auto* end = reinterpret_cast<char*>(datastack_top_);
    size_t bytes = sizeof(packed_head);
    size_t shape_bytes = 0;  // written to g_scratch as the frames are looked at
    uint32_t frames = 0;
    _PyInterpreterFrame* f = share_.frame();
    _PyInterpreterFrame* callee = nullptr;
    size_t callee_kept = 0;
    bool sames = false;
    const cpy::c_slice_place where = c_stack_place(region_->occupant_core);
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
        frame_note* const note = room(g_notes, g_notes_cap, frames + 1);
        char* const shape = scratch(shape_bytes + packed_frame::max_bytes);
        if (note == nullptr || shape == nullptr) return false;
        const size_t kept = kept_words(code, cpy::stack_top(f));
        size_t n_same;
        const unsigned same = same_as_callee(f, kept, callee, callee_kept, &n_same);
        end = reinterpret_cast<char*>(f);
        // (the outermost frame's previous, entry frame or not, is the packed form's `below`)
        _PyInterpreterFrame* const entry =
            end != first && is_entry_frame(f->previous, where) ? f->previous : nullptr;
        note[frames] = {static_cast<uint32_t>(kept), same, entry};
        bytes += (kept - n_same + (entry != nullptr ? 1 : 0)) * sizeof(PyObject*);
        sames = sames || same != 0;
        packed_frame pf = head_of(f, callee);
        pf.entered = entry != nullptr;
        char* at = pf.put_head(shape + shape_bytes);
        if (pf.words() >= 1) put_word(at, cpy::func_word(f));
        if (pf.words() == 2) put_word(at + sizeof(PyObject*), cpy::code_word(f));
        shape_bytes = static_cast<size_t>(at - shape) + pf.words() * sizeof(PyObject*);
        callee = f;
        callee_kept = kept;
        f = entry != nullptr ? where.at(entry)->previous : f->previous;
    }
    if (sames) bytes += frames;
    const char* lo = reinterpret_cast<char*>(c);
    if (reinterpret_cast<const char*>(f) >= lo &&
        reinterpret_cast<const char*>(f) < lo + data_region_bytes)
        return false;
    if (g_scratch == nullptr) return false;
    frame_shape* kept = f_.shape_kept ? reinterpret_cast<packed_head*>(saved_)->shape() : nullptr;
    f_.shape_kept = false;
    if (!reserve_saved(bytes)) {
        if (kept != nullptr) release_shape(kept);
        return false;
    }
    auto* head = reinterpret_cast<packed_head*>(saved_);
    head->below = f;
    head->core.set(region_->occupant_core);
    auto* out = reinterpret_cast<char*>(head + 1);
    f = share_.frame();
    for (uint32_t i = 0; i < frames; ++i) {
        if (sames) *out++ = static_cast<char>(g_notes[i].same);
        out = put_words(out, cpy::slots(f), g_notes[i].kept, g_notes[i].same);
        f = f->previous;
        if (_PyInterpreterFrame* const e = g_notes[i].entry) {
            put_word(out, reinterpret_cast<PyObject*>(e));
            out += sizeof(PyObject*);
            f = where.at(e)->previous;
        }
    }
    if (kept != nullptr && kept->replaced == nullptr && kept->bytes == shape_bytes &&
        std::memcmp(kept->data(), g_scratch, shape_bytes) == 0) {
        head->set(kept, sames);  // (blocked where it was blocked last time: no lookup)
    } else {
        frame_shape* s = use_shape(shape_bytes);
        if (kept != nullptr) release_shape(kept);
        if (s == nullptr) return false;
        head->set(s, sames);
    }
    saved_size_ = static_cast<uint32_t>(bytes);
    f_.packed = true;
    f_.away = true;
    region_->occupant = nullptr;
    return true;
}

_PyInterpreterFrame* python_state::unpack_to(char* base, char* as) noexcept {
    const auto* head = reinterpret_cast<const packed_head*>(saved_);
    // (datastack_top_ is where the innermost frame ends in the region)
    char* end =
        base + (reinterpret_cast<char*>(datastack_top_) - reinterpret_cast<char*>(region_->chunk));
    return as == base ? unpack_frames<false>(head, end, 0)
                      : unpack_frames<true>(head, end, as - base);
}

void python_state::drop_shape() noexcept {
    release_shape(reinterpret_cast<packed_head*>(saved_)->shape());
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
    // Linked as in the region first: its entry frames are shown as evict() shows them
    // before it moves frames exactly (reading the frames where they are now), then moved.
    char* const region = reinterpret_cast<char*>(region_->chunk);
    share_.set_frame(unpack_to(buf, region));
    cpy::c_slice_place where =
        c_stack_place(reinterpret_cast<const packed_head*>(saved_)->core.get());
    where.frames_lo = reinterpret_cast<std::byte*>(region);
    where.frames_copy = reinterpret_cast<std::byte*>(buf);
    where.frames_size = n;
    if (f_.c_stack_moves && share_.c_stack_moved(where)) f_.exposed = true;
    drop_shape();
    std::free(saved_);
    saved_ = reinterpret_cast<std::byte*>(buf);
    saved_size_ = saved_cap_ = static_cast<uint32_t>(n);
    f_.packed = false;
    relink(region, region + n, buf - region);
}

int python_state::traverse_packed(visitproc visit, void* arg, PyObject** innermost_sp) const {
    const auto* head = reinterpret_cast<const packed_head*>(saved_);
    word_reader in(head->words(), head->sames());
    auto* end = reinterpret_cast<char*>(datastack_top_);  // the innermost frame's, in the region
    // The first words of the frame being read and of the one read before (its callee).
    PyObject* firsts[2][max_same] = {};
    PyObject** first = firsts[0];
    PyObject** callee = firsts[1];
    shape_reader sr(head->shape());
    for (bool innermost = true; sr.next(); innermost = false) {
        // (each frame holds its own references to them, shared words or not)
        if (int r = cpy::visit_word(sr.func_word(), visit, arg)) return r;
        if (int r = cpy::visit_word(sr.code_word(), visit, arg)) return r;
        PyCodeObject* const code = sr.code();
        const int nlocals = code->co_nlocalsplus;
        const size_t kept = kept_words(code, sr.frame().stacktop);
        const size_t k = in.next(first, callee);
        const size_t n_first = std::min(kept, max_same);
        for (size_t i = k; i < n_first; ++i) first[i] = in.rest_word(i - k);
        int depth = sr.frame().stacktop;
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
        for (size_t i = 0; i < static_cast<size_t>(depth); i++)
            if (int r = cpy::visit_word(i < k ? first[i] : in.rest_word(i - k), visit, arg))
                return r;
        in.skip(kept - k);
        if (sr.frame().entered) in.entry();
        std::swap(first, callee);
        end -= frame_words(code) * sizeof(PyObject*);
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
    const frame_shape* shape = reinterpret_cast<const packed_head*>(saved_)->shape();
    *users = shape->users;
    return shape;
}

size_t python_state::away_shape_bytes() const noexcept {
    return f_.packed ? reinterpret_cast<const packed_head*>(saved_)->shape()->bytes : 0;
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

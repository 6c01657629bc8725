// datastack.cpp — keep CPython's frame data-stack chunks from thrashing.
//
// A tasklet starts with a small root chunk of its own (python_state::root_chunk_bytes)
// so that a blocked tasklet costs little memory. Frames that do not fit go to a chunk
// CPython allocates (16 KiB, through the object arena allocator: mmap) and frees again
// as soon as the first frame in it returns — so a tasklet whose depth goes back and
// forth across its root chunk's end would map and unmap memory on every call. The
// module therefore wraps the arena allocator: blocks of exactly the data-stack chunk
// size go to and come from a small cache; every other size (pymalloc's arenas) passes
// straight through to the allocator that was installed before.
#include <vector>

#include "common.hpp"

namespace slpy {

namespace {

constexpr size_t chunk_size = 16 * 1024;  // CPython 3.11's DATA_STACK_CHUNK_SIZE
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

}  // namespace

void install_chunk_cache() noexcept {
    if (g_cache != nullptr) return;
    g_cache = new (std::nothrow) std::vector<void*>();
    if (g_cache == nullptr) return;
    g_cache->reserve(max_cached);
    PyObject_GetArenaAllocator(&g_inner);
    PyObjectArenaAllocator mine = {nullptr, cached_alloc, cached_free};
    PyObject_SetArenaAllocator(&mine);
}

}  // namespace slpy

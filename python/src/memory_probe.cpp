// memory_probe.cpp — stackless._memory_of(t): what a suspended tasklet's memory is made
// of, block by block, so that the memory benchmark can report where each byte of a
// blocked tasklet goes (bench/python/bench_memory.py) and tests can check the layout.
//
// Heap blocks are given as their footprint in glibc's malloc: the usable size plus the
// 8-byte size word in front of each block (what the resident set grows by).
#include <malloc.h>

#include "objects.hpp"
#include "slp/detail/runtime.hpp"

namespace slpy {

namespace {

size_t footprint(const void* block) noexcept {
    return block != nullptr ? malloc_usable_size(const_cast<void*>(block)) + sizeof(size_t) : 0;
}

bool put(PyObject* d, const char* key, size_t v) {
    PyObject* o = PyLong_FromSize_t(v);
    const int rc = o != nullptr ? PyDict_SetItemString(d, key, o) : -1;
    Py_XDECREF(o);
    return rc == 0;
}

}  // namespace

// Keys: frames (bytes of its frames in CPython's layout, copied stacks), frames_saved
// (bytes of their copy while away from the region, packed or exact; 0 while in it),
// frames_block (the heap block for that copy, if it has one, also while in the region),
// packed (0/1), frames_shape (while packed: its share of its frames' shape block, the
// block's footprint over the packed tasklets that share it), shape_bytes (the shape's
// own bytes: a packed_frame, and its function and code words unless shared, a frame),
// shape_users (how many share it), c_slice (bytes of its C slice while
// saved, copied stacks), c_slice_block (likewise), core (the core tasklet's heap blocks),
// entry_frames (the heap block that shows its entry frames while its C slice is away
// and its frames are not packed: CPython 3.12+).
PyObject* mod_memory_of(PyObject*, PyObject* arg) {
    if (!PyObject_TypeCheck(arg, &TaskletType)) {
        PyErr_Format(PyExc_TypeError, "_memory_of() takes a tasklet, not %.100s",
                     Py_TYPE(arg)->tp_name);
        return nullptr;
    }
    auto* t = reinterpret_cast<TaskletObject*>(arg);
    if (t->core.is_current()) {
        PyErr_SetString(PyExc_RuntimeError, "_memory_of(): the tasklet is running");
        return nullptr;
    }
    const python_state& st = t->state;
    const slp::detail::tasklet_impl* c = t->core ? t->core.impl() : nullptr;
    const slp::detail::tasklet_extra* x = c != nullptr ? c->x : nullptr;
    const bool sliced = x != nullptr && c->slice_in_heap;
    unsigned shape_users = 0;
    const void* shape = st.away_shape(&shape_users);
    size_t core = footprint(c);
    if (x != nullptr && !c->extra_inline) core += footprint(x);
    PyObject* d = PyDict_New();
    if (d == nullptr) return nullptr;
    if (!put(d, "frames", st.frame_bytes()) || !put(d, "frames_saved", st.away_bytes()) ||
        !put(d, "frames_block", footprint(st.away_block())) ||
        !put(d, "packed", st.away_bytes() != 0 && st.away_packed()) ||
        !put(d, "frames_shape", shape_users != 0 ? footprint(shape) / shape_users : 0) ||
        !put(d, "shape_bytes", st.away_shape_bytes()) || !put(d, "shape_users", shape_users) ||
        !put(d, "c_slice", sliced ? x->slice.saved_size : 0) ||
        !put(d, "c_slice_block",
             x != nullptr && c->kind == slp::stack_kind::copied ? footprint(x->slice.saved) : 0) ||
        !put(d, "core", core) || !put(d, "entry_frames", footprint(st.entries_block()))) {
        Py_DECREF(d);
        return nullptr;
    }
    return d;
}

}  // namespace slpy

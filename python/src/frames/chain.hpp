// chain.hpp — the rebuilt frames (frames.hpp's opaque Chain), shared by rebuild and
// resume.
#pragma once

#include <cstdint>
#include <vector>

#include "python.hpp"

namespace slpy::frames {

enum class FrameState : uint8_t { kPending, kRunning, kDone };

class Chain {
 public:
    // Frames in memory of ours (PyMem), the base first, until resume() places them where
    // the running version evaluates frames (3.13: the thread's data stack); frames[i +
    // 1]->previous is frames[i]. Each holds strong references to its function, code and
    // localsplus[0, stacktop), like a frame on CPython's data stack.
    std::vector<_PyInterpreterFrame*> frames;
    std::vector<FrameState> state;
    // Per frame: the new object of the class call it waits in (strong; its callee is
    // that object's __init__), or null.
    std::vector<PyObject*> init_objects;
    // Per frame: the code unit of its snapshot's site (the call it waits in).
    std::vector<int> sites;
    // Per frame: the running generator whose frame it is (strong; the frame is the
    // object's, never moved or freed by the chain), or null for a frame of the thread.
    std::vector<PyObject*> generators;
    // Per frame: the code unit of its FOR_ITER or SEND when it runs the generator of the
    // frame above (run again once that generator returned), or -1.
    std::vector<int> iterates_at;
    // Per frame: that instruction is a SEND (`yield from`, `await`).
    std::vector<bool> delegates;
    // Per frame: for a FOR_ITER, the code unit it jumps to at the loop's end, or -1.
    std::vector<int> loop_exits;
    PyObject* handled = nullptr;  // strong; None when none
    bool started = false;
    // The innermost frame was preempted at this code unit (it takes no call result; an
    // exception thrown in unwinds from there), or -1.
    int preempted_at = -1;
};

// Allocate an empty frame able to run `code` (specials, locals and the full stack).
_PyInterpreterFrame* allocate_frame(PyCodeObject* code);
// Drop a finished or never-run frame's references; if its frame object escaped (a
// traceback, sys._getframe()), move the frame's data into it as CPython does. Then free
// the memory. The frame must not be the thread's current frame.
void clear_frame(_PyInterpreterFrame* f);

}  // namespace slpy::frames

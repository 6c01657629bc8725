// frame_references.hpp — a running frame of a pickled tasklet pickles as that frame of the
// tasklet (frame_references.cpp); the tasklet's pickling (pickle.cpp) takes part.
#pragma once

#include "objects.hpp"

namespace slpy {

// Add _tasklet_frame_ref, _frame_ref_pending and _tasklet_frame to the module.
bool add_frame_references(PyObject* module) noexcept;

// tasklet.__reduce__: is `t` being pickled as a running frame's tasklet, not pickled
// before that frame? Then true, with TypeError set (a running frame of anything else).
bool refused_as_frame_ref(const TaskletObject* t);

// tasklet.__setstate__: the stand-ins made for `t`'s frames while its state loaded (a
// list of (position, frame object), new reference), or null if none; no longer kept.
PyObject* take_loaded_frames(const TaskletObject* t) noexcept;
// Make them the frame objects of `t`'s rebuilt frames (t->chain). 0, or -1 with
// FrameRestoreError set.
int adopt_loaded_frames(TaskletObject* t, PyObject* loaded);
// tasklet's tp_traverse: the stand-ins kept for `t`.
int visit_loaded_frames(const TaskletObject* t, visitproc visit, void* arg);

// pickle.cpp: where frame object `frame` is among the frames a pickle of `t` would hold:
// a new tuple (position, module, qualname, digest), None (new reference), or null with an
// exception set.
PyObject* locate_tasklet_frame(TaskletObject* t, PyObject* frame);

}  // namespace slpy

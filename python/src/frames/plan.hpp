// plan.hpp — the loader's steps shared by rebuild() (a tasklet's chain of frames) and
// rebuild_generator() (the one frame a generator holds): check a snapshot's header, validate
// one of its frames into a Plan, and make that frame's values and function.
#pragma once

#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "codeinfo.hpp"
#include "python.hpp"
#include "resolve.hpp"

namespace slpy::frames {

// Code flags of the frames that live in an object: generators, coroutines, async
// generators (and generators made coroutines by types.coroutine).
inline constexpr int kGeneratorFlags =
    CO_GENERATOR | CO_COROUTINE | CO_ASYNC_GENERATOR | CO_ITERABLE_COROUTINE;

// Where a snapshot frame waits: in a call (a tasklet's frames), in a FOR_ITER or SEND
// running the generator of the next frame (a tasklet's frame iterating or delegating to a
// running generator), or at a
// yield (a generator's frame; then its code must be a generator's).
enum class SiteKind { kCall, kIteration, kSuspension };

// One validated snapshot frame, ready to build.
struct Plan {
    Resolved fn;
    std::shared_ptr<CodeInfo> info;
    CallSite site;
    PyObject* values = nullptr;       // borrowed from the snapshot
    PyObject* init_object = nullptr;  // borrowed: a class call's new object, or null
    PyObject* generator = nullptr;    // borrowed: the running generator whose frame it is
    std::vector<char> is_null;
    std::string where;
};

// Check the snapshot's header; `handled` and `frames` are borrowed from it. False with
// FrameRestoreError set.
bool check_header(PyObject* snapshot, PyObject*& handled, PyObject*& frames);
// Validate snapshot frame `fr` (see frames.hpp's rebuild()); only the `innermost` frame of
// a call chain may be marked preempted, only the others wait for a class call's __init__. False
// with an exception set.
bool plan_frame(PyObject* fr, Plan& p, SiteKind kind, bool innermost = false);
// The frame's locals and stack as new references (null for NULL slots); a cell is made
// once per snapshot list in `cells` (strong). `ok` false with an exception set on failure.
std::vector<PyObject*> build_slots(const Plan& p, std::unordered_map<PyObject*, PyObject*>& cells,
                                   bool& ok);
// The function the frame runs: the one resolved, unless `fresh` or it is nested (then a new
// one of its code, its closure the free-variable cells of `slots`). New reference or null.
PyObject* function_for(const Plan& p, const std::vector<PyObject*>& slots, bool fresh);
// Make the frame of generator `gen` (made from the plan's code) the plan's: its locals and
// stack `slots` and function `func` (references stolen), waiting after the plan's site.
_PyInterpreterFrame* fill_generator_frame(const Plan& p, PyObject* gen, PyObject* func,
                                          const std::vector<PyObject*>& slots);

}  // namespace slpy::frames

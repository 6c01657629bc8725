// internal.hpp — helpers shared by the frame library's files (not part of its API).
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "bytecode.hpp"
#include "codeinfo.hpp"
#include "frames.hpp"
#include "python.hpp"

namespace slpy::frames {

// The seventh item of a snapshot frame suspended at a preemption point (frames.hpp).
inline constexpr const char* kPreempted = "preempted";

// "qualname (file:line)" of a frame, for messages.
std::string describe(_PyInterpreterFrame* f);

// The code's flags that make a frame impossible to restore (generators, coroutines,
// module and class bodies), or null if it is a plain function's code.
const char* unsupported_code(PyCodeObject* co) noexcept;

// What the caller of a frame resume() is evaluating right now (other than its chain's
// base) waits in: such a frame is an entry frame, but its caller is the next frame of
// the chain, rebuilt to wait at its snapshot's site, with no C code between.
struct DrivenCall {
    int caller_site = -1;             // code unit of the caller's call instruction
    PyObject* init_object = nullptr;  // a class call's new object (borrowed), or null
};
// Is `f` such a frame? Null if not.
const DrivenCall* driven_call(_PyInterpreterFrame* f) noexcept;

// Does the C code of `call` (an instruction that calls_through_c()) run the function of
// `callee`, the frame above its caller, and return that function's result unchanged?
bool passes_result_through(const CCall& call, _PyInterpreterFrame* callee);

// The special method `name` of the type of `self`, bound to `self` as the eval loop
// looks one up (the type's attribute, through its __get__ if it has one): new
// reference, or null with FrameRestoreError (the type has none; naming frame `where`)
// or another exception.
PyObject* bound_special(PyObject* self, const char* name, const std::string& where);

// One frame of a chain being captured: the frame, its code's facts, where it waits.
struct FrameAt {
    _PyInterpreterFrame* frame = nullptr;
    std::shared_ptr<CodeInfo> info;
    CallSite site;
    // A class call waiting for the __init__ of this new object (borrowed), or null.
    PyObject* init_object = nullptr;
    // The generator whose running frame this is (borrowed), or null.
    PyObject* generator = nullptr;
};

// The generator, coroutine or async generator whose frame `f` is, if that frame is
// running (borrowed), or null.
PyObject* running_generator(_PyInterpreterFrame* f) noexcept;

// The seventh item of a snapshot frame that is a running generator's: the tag of
// ("generator", generator object). The generator pickles as one awaiting its frame
// (capture_generator()), which the loader gives it from this snapshot frame.
inline constexpr const char* kGenerator = "generator";

// Is `gen` a generator rebuild_generator() made to await its running frame from a
// tasklet's snapshot, not given one yet?
bool awaits_frame(PyObject* gen) noexcept;
// `gen` (awaits_frame()) gets its frame now: it no longer awaits one; until
// forget_given(), it pickles again as a running generator (its chain has not resumed).
void give_frame(PyObject* gen) noexcept;
void forget_given(PyObject* gen) noexcept;
// Is `gen` still as it awaited its frame (nobody ran it since)?
bool still_awaiting(PyObject* gen) noexcept;
// A generator that awaited its frame and will never run in its tasklet's frames (they go
// before they resumed): close it, which in its awaiting state runs none of its code.
void close_awaiting(PyObject* gen) noexcept;

// Where the function of frame `f` lives (its __module__, or its globals' __name__): new
// reference, or null with UnpicklableFrameError set.
PyObject* module_name(_PyInterpreterFrame* f);
// `head` (a tuple, borrowed) followed by what finds the function of frame `f` again, as a
// snapshot frame names it: module, qualname, digest. New tuple, or null with an exception.
PyObject* with_function_of(PyObject* head, _PyInterpreterFrame* f);

// When `call` is a class call (type_call) that is running `init` (the frame above its
// caller, with `info` its code's facts) as the new object's Python __init__: the new
// object (borrowed), read from the frame's self, which its code never rebinds. Null
// otherwise.
PyObject* initialised_object(const CCall& call, _PyInterpreterFrame* init, const CodeInfo& info);

// The seventh item of a snapshot frame whose callee is a class call's __init__: the tag
// of ("init", new object); the instruction's result is the object once __init__
// returned None.
inline constexpr const char* kInit = "init";

// The unwinder: fills `out` (innermost first) and returns 1 if the chain from
// `innermost` to the frame above `stop` is restorable; 0 with `why` if not; -1 with an
// exception set. See check_restorable() in frames.hpp.
int walk(PyThreadState* ts, _PyInterpreterFrame* innermost, _PyInterpreterFrame* stop,
         Innermost how, std::vector<FrameAt>& out, std::string* why);

// One frame of a snapshot (frames.hpp's format); `memo` (a dict) keeps shared cells shared
// between the frames of one snapshot, as lists of their content. Without a memo (a
// generator's frame) a cell is the cell object itself: pickle keeps it shared with other
// objects pickled along (another generator, a closure).
PyObject* capture_frame(const FrameAt& at, PyObject* memo);
// The snapshot of `frames` (a tuple of captured frames, stolen) with its header.
PyObject* make_snapshot(PyObject* handled_exc, PyObject* frames);

// Raise the library's error type with a formatted message (returns null / -1 helpers).
PyObject* raise_unpicklable(const std::string& msg);
PyObject* raise_restore(const std::string& msg);

}  // namespace slpy::frames

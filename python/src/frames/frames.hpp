// frames.hpp — capture, pickle and resume chains of CPython frames.
//
// The frame library behind pickling of running tasklets. A suspended tasklet's
// Python frames form a chain of _PyInterpreterFrame, linked through `previous`, from the
// innermost one (suspended in a call into C: channel.receive(), schedule(), ...) out to
// the tasklet's base frame. This library
//   (a) decides whether such a chain is restorable and says why not,
//   (b) captures it into a "snapshot": a plain tuple of picklable things,
//   (c) validates a snapshot (perhaps unpickled in another process, perhaps hostile) and
//       rebuilds its frames in memory it owns,
//   (d) resumes the rebuilt frames, innermost first, as if the suspended call had
//       returned a value (or raised), and returns what the base frame returns,
//   (e) lets the owner's tp_traverse see rebuilt frames that have not run yet.
//
// All functions need the GIL. What differs between CPython versions (the frame struct,
// entry frames, the opcodes and the call protocol) is in ../cpython/v3XX/frame_layout.hpp
// and opcodes.hpp; the rest of the library is the same on every version.
//
// Snapshot format (version 1); every part is checked by rebuild():
//   ("slp.frames", 1, (major, minor), magic, handled_exc, frames)
//     magic        importlib.util.MAGIC_NUMBER as an int (bytecode format)
//     handled_exc  the exception being handled at the innermost point (sys.exception()),
//                  or None
//     frames       tuple of frames, the base (outermost) first:
//     (module, qualname, digest, site, values, nulls[, "preempted" | ("init", object) |
//      ("generator", object)])
//       module, qualname  where the function lives (qualname may contain "<locals>":
//                         nested functions are found among their parent's constants)
//       digest            16 bytes, code_digest() of its code (codeinfo.hpp)
//       site              code unit of the call instruction the frame is suspended in
//                         (CALL, CALL_FUNCTION_EX, BINARY_SUBSCR; for a frame whose
//                         callee C code called, a call whose C passes the callee's result
//                         through: CALL_FUNCTION_EX, a bound method or an object with a
//                         Python __call__, a with statement's __enter__/__exit__); or, for
//                         an innermost frame marked "preempted", the instruction at which
//                         the eval breaker ran (a backward jump, RESUME; 3.14: a call's
//                         end too, its saved depth telling it from inside the call): the
//                         frame continues where that instruction goes on; a generator's:
//                         its YIELD_VALUE, or RETURN_GENERATOR before it started; a frame
//                         whose next frame is a running generator's: the FOR_ITER or SEND
//                         (`yield from`, `await`) that runs that generator (the generator
//                         under it on the stack)
//       values            locals, cells and free variables (co_nlocalsplus of them), then
//                         the value stack below the call's operands (the yielded value);
//                         a cell is a list of its content ([] when empty), shared cells
//                         share the list (a generator's: the cell object itself)
//       nulls             tuple of indexes into values that are NULL (unbound locals,
//                         NULL stack entries), increasing
//       ("generator", g)  the frame is the running generator g's: g is an object
//                         capture_generator() reduced as running and rebuild_generator()
//                         made to await this frame (never the base's)
//
// Wiring into the stackless module (tasklet.__reduce__/__setstate__):
//   * base: record, when a tasklet's C entry starts its callable, the thread's
//     current_frame at that moment (`below`); the tasklet's frames are those whose chain
//     ends at a frame with previous == below. For a blocked tasklet, `innermost` is its
//     saved current frame (python_state::top_frame()), `stop` is `below`. For a restored
//     tasklet, `stop` is base_frame(chain)->previous.
//   * pickling: check_restorable() for tasklet.restorable; capture(ts, innermost, stop,
//     the tasklet's handled exception) into the reduce state next to tempval, atomic,
//     the channel it blocks on, ... Not for the current tasklet (its frames run on).
//   * unpickling: rebuild() in __setstate__; keep the Chain in the tasklet
//     (traverse() from its tp_traverse, destroy() from tp_clear/dealloc if never run).
//   * running: the restored tasklet's entry calls resume(chain, value) on its own C
//     stack once it is scheduled: value = what the blocking call returns (receive():
//     the value received; send(), schedule(), schedule_remove(): None, or schedule's
//     retval), or null with the exception set (kill, throw, send_exception).
//   * A tasklet preempted by run(timeout)'s tick (a C signal handler the eval breaker ran)
//     is captured with Innermost::kPreempted: its innermost frame is between two
//     instructions and resume() pushes nothing onto it (`value` is dropped; an exception
//     unwinds from the instruction where the tick ran).

#pragma once

#include <string>

#include "../cpython/version.hpp"

namespace slpy::frames {

inline constexpr int kFormatVersion = 1;

// ---------------------------------------------------------------------------------------
// Setup and errors

// Create the library's exception classes (once per process) and add them to `module`
// (may be null) as attributes "UnpicklableFrameError" and "FrameRestoreError".
// Returns 0, or -1 with an exception set.
int init(PyObject* module);

// pickle.PicklingError subclass: capture() refused a chain (C code between frames, a
// generator frame, an eval hook, ...). The message names the frame (qualname, file:line)
// and, for C code between frames, the C function. Borrowed; valid after init().
PyObject* unpicklable_error() noexcept;
// Subclass of pickle.UnpicklingError and ValueError: rebuild() refused a snapshot
// (another Python version, changed code, corrupted or hostile contents). Borrowed.
PyObject* restore_error() noexcept;

// ---------------------------------------------------------------------------------------
// (a) The unwinder

// How the innermost frame of a chain is suspended: inside a call into C (channel
// receive(), schedule(), ...), or between two instructions (preempted: the eval breaker
// ran the tick of run(timeout) there, in a C signal handler).
enum class Innermost : uint8_t { kInCall, kPreempted };

// Is the chain from `innermost` outwards, up to and including the frame whose `previous`
// is `stop` (that frame is the base), restorable? Conditions: no PEP 523 eval hook is
// installed; every frame is a function frame owned by the thread (no generator or
// coroutine frame, no module or class body); no frame but the base was entered from C
// (3.11's `is_entry`, 3.13's entry frame under it), except frames that resume() itself
// is evaluating and frames whose caller's instruction reached them through C code that
// returns their result unchanged (bytecode.hpp's calls_through_c(): a known
// continuation); a running generator's frame only where the next frame out runs it by
// its FOR_ITER or SEND (bytecode.hpp's drives()); `innermost` is suspended in a call into C
// (bytecode.hpp's calls_c()), or, `how` kPreempted, at a preemption point
// (CodeAnalysis::preemption_point()); the bytecode of every frame can be analysed; `stop` is
// reached (it may be the base's caller, or on 3.13 the entry frame between them). Returns 1 if
// restorable, 0 if not (then `why`, if not null, says which frame and why, naming the C function
// between frames when there is one), -1 with an exception set. `innermost` must be the running
// frame of a thread or the saved top frame of a suspended tasklet: it has no saved stack pointer
// (it is inside a call, or the eval breaker's).
int check_restorable(PyThreadState* ts, _PyInterpreterFrame* innermost, _PyInterpreterFrame* stop,
                     std::string* why, Innermost how = Innermost::kInCall);

// ---------------------------------------------------------------------------------------
// (b) Capture

// Snapshot of the chain check_restorable() describes (see the format above), or null
// with UnpicklableFrameError set when it is not restorable (or another exception on
// failure). `handled_exc` (borrowed, may be null or None) is the tasklet's handled
// exception. Objects are shared with the live frames, not copied: pickle the snapshot
// before the frames run on. `innermost_depth` is the innermost frame's stack depth before
// its CALL if the caller knows it (from a METH_FASTCALL args pointer), else -1; a
// mismatch with the static analysis raises SystemError (a bug guard for tests).
PyObject* capture(PyThreadState* ts, _PyInterpreterFrame* innermost, _PyInterpreterFrame* stop,
                  PyObject* handled_exc, int innermost_depth = -1,
                  Innermost how = Innermost::kInCall);

// ---------------------------------------------------------------------------------------
// (c) Validate and rebuild

// Rebuilt frames, owned by the caller (the tasklet object), not yet resumed.
class Chain;

// Validate `snapshot` and rebuild its frames. Imports each frame's module and looks the
// function up by qualified name, refuses a digest mismatch (the code changed), another
// Python minor version or bytecode magic, an unknown format version, a site that is not a
// reachable call instruction, a value stack whose depth differs from the static analysis,
// a stack value of a type the bytecode would use unchecked (an iterator for FOR_ITER, a
// list for LIST_APPEND, an exception for RERAISE, ...), NULL where NULL is not allowed, a
// cell slot that is not a list of at most one item, and any malformed part. Never
// crashes on any input. Returns a new Chain, or null with an exception set
// (FrameRestoreError for a bad snapshot; ImportError/AttributeError-based failures to
// find a function are reported as FrameRestoreError too, chained).
Chain* rebuild(PyObject* snapshot);

// The handled exception recorded in the snapshot (borrowed, never null: None if none).
PyObject* handled_exception(const Chain* chain) noexcept;
// Number of frames.
int depth(const Chain* chain) noexcept;
// The chain's base (outermost) frame, or null once it finished. To capture a resumed
// chain again (a restored tasklet blocked once more), walk from the innermost frame to
// `stop = base_frame(chain)->previous` (resume() links the base to its caller).
_PyInterpreterFrame* base_frame(const Chain* chain) noexcept;

// ---------------------------------------------------------------------------------------
// (d) Resume

// Run the rebuilt frames to completion on the current thread, innermost first, as if
// the suspended call had returned `value` (borrowed), or, when `value` is null, had
// raised the exception currently set (PyErr_Occurred() must be true). While running,
// the frames are linked above the current frame (tracebacks, sys._getframe() and
// f_back see the whole chain), and the thread's handled exception is the snapshot's;
// it is put back afterwards. Each frame is evaluated by _PyEval_EvalFrameDefault with
// the C stack shallow (one frame at a time); a frame that finished is cleared, and its
// data moves into its frame object if one escaped (a traceback, sys._getframe()).
// Returns the base frame's return value (new reference), or null with its exception
// set. Only once per chain: a second call raises RuntimeError. The chain may be
// captured again while it runs (its frames count as restorable).
// The caller must keep `chain` alive until resume() returns, even if the tasklet
// switches away in between.
PyObject* resume(Chain* chain, PyObject* value);

// ---------------------------------------------------------------------------------------
// (e) Lifetime and GC

// Visit the references held by frames that have not run yet, and the handled exception.
// For the owner's tp_traverse. Frames being evaluated are visited by nobody, as CPython
// does for running frames.
int traverse(const Chain* chain, visitproc visit, void* arg);

// Free the chain. Frames that never ran are cleared (their references dropped). Must
// not be called while resume() of this chain is on some C stack (a suspended tasklet):
// those frames would be in use; they are leaked instead of freed if it happens.
void destroy(Chain* chain) noexcept;

// ---------------------------------------------------------------------------------------
// (f) Generators, coroutines and async generators
//
// Their frame lives in the object, not on the data stack: suspended at a yield (or an
// await), or not started yet (waiting at its RETURN_GENERATOR), it is captured alone,
// in the snapshot format above with one frame whose site is that instruction, and
// rebuilt into a new object of the same code. A running generator's frame inside a
// tasklet's chain is restorable when the next frame out runs it by a for loop (its
// FOR_ITER) or delegates to it (`yield from`, `await`: its SEND), known continuations;
// the tasklet's snapshot carries the frame, and the object pickles as one awaiting it,
// which rebuild() gives it.

// Snapshot of the frame of `gen` (a generator, coroutine or async generator), a new
// reference to None if it finished (no frame), or null with UnpicklableFrameError set if
// it runs on the thread's frames or its bytecode cannot be analysed (TypeError if `gen`
// is none of those). Running inside a suspended tasklet's frames: ("slp.running",
// module, qualname, digest), its function (the tasklet's snapshot carries its frame).
PyObject* capture_generator(PyObject* gen);

// A new generator, coroutine or async generator (as its code says) in the state of
// `snapshot` (one frame, validated as rebuild() does, waiting at a yield or not started),
// with the handled exception of the snapshot as its own; for a running one's capture, a
// new object of its code that awaits its frame from a tasklet's snapshot (finished to
// everyone else until that tasklet resumes it; 3.15: not started). The object is made by calling a
// copy of its function (positional and keyword-only parameters defaulting to None): a
// tracer sees that call. Null with FrameRestoreError (or another exception) set.
PyObject* rebuild_generator(PyObject* snapshot);

// ---------------------------------------------------------------------------------------
// (g) Frame objects of a chain's frames
//
// A frame object of one of a chain's frames (a traceback among the frames' values holds
// one, or sys._getframe() made one) pickles as a reference to that frame: its position in
// the snapshot (the base is 0) and the function it runs. Loading makes a stand-in of that
// function's code (placeholder_frame()), which becomes the frame object of the rebuilt
// frame at that position (adopt_frame_object()): the same object wherever the pickle had
// the original, which shows the frame (its line, locals and callers) and outlives it as
// any frame object does. Frames of running generators are not among them.

// Where frame object `frame` is among the frames check_restorable() describes: a new
// tuple (position, module, qualname, digest) as capture() records that frame, None (new
// reference) if it is not one of them or they are not restorable, or null with an
// exception set.
PyObject* locate_frame(PyThreadState* ts, _PyInterpreterFrame* innermost, _PyInterpreterFrame* stop,
                       Innermost how, PyObject* frame);
// The same among a rebuilt chain's frames, before resume().
PyObject* locate_frame(const Chain* chain, PyObject* frame);

// A stand-in frame object for a snapshot frame of the function (module, qualname, digest)
// finds (checked as rebuild() does): until adopt_frame_object() it looks like a finished
// frame of that code. New reference, or null with FrameRestoreError (or another
// exception) set.
PyObject* placeholder_frame(PyObject* module, PyObject* qualname, PyObject* digest);

// Make `frame`, a stand-in of placeholder_frame() not adopted yet, the frame object of
// the rebuilt chain's frame at `position` (0: the base), which must not have run, must
// have no frame object yet and must run the stand-in's code. 0, or -1 with
// FrameRestoreError set.
int adopt_frame_object(Chain* chain, Py_ssize_t position, PyObject* frame);

// The frame object of the rebuilt chain's frame at `position` (before resume()): the one
// it has, if it runs the function (module, qualname, digest) names, or a new stand-in
// adopted. New reference, or null with FrameRestoreError set.
PyObject* chain_frame_object(Chain* chain, Py_ssize_t position, PyObject* module,
                             PyObject* qualname, PyObject* digest);

// ---------------------------------------------------------------------------------------
// (h) Code found again
//
// A function pickled by value names its code as a snapshot frame does: module,
// qualified name, digest.

// The digest of `code` (16 bytes, codeinfo.hpp). New reference, or null with an
// exception set.
PyObject* digest_of(PyCodeObject* code);

// The code (module, qualname, digest) names and the globals to run it with (strong
// references in *code and *globals), found as a snapshot frame's function is. 0, or -1
// with FrameRestoreError (or another exception) set.
int find_code(PyObject* module, PyObject* qualname, PyObject* digest, PyObject** code,
              PyObject** globals);

}  // namespace slpy::frames

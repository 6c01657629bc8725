// walk.cpp — the unwinder: walk a suspended chain of frames and decide whether it can be
// captured, naming the frame (and the C function) that makes it impossible.
#include <opcode.h>

#include "bytecode.hpp"
#include "frames.hpp"
#include "internal.hpp"

namespace slpy::frames {

namespace {

std::string utf8(PyObject* s) {
    const char* c = s != nullptr && PyUnicode_Check(s) ? PyUnicode_AsUTF8(s) : nullptr;
    if (c == nullptr) {
        PyErr_Clear();
        return "?";
    }
    return c;
}

int op_of(const CodeInfo& info, int unit) {
    if (unit < 0 || unit >= PyBytes_GET_SIZE(info.co_code) / 2) return -1;
    return static_cast<uint8_t>(PyBytes_AS_STRING(info.co_code)[2 * unit]);
}

// A name for the callable a C call was made to, without running Python code.
std::string name_callable(PyObject* obj) {
    if (obj == nullptr) return "?";
    if (PyCFunction_Check(obj)) {
        auto* f = reinterpret_cast<PyCFunctionObject*>(obj);
        std::string name = f->m_ml->ml_name;
        if (f->m_module != nullptr && PyUnicode_Check(f->m_module))
            return utf8(f->m_module) + "." + name;
        if (f->m_self != nullptr && !PyModule_Check(f->m_self))
            return std::string(Py_TYPE(f->m_self)->tp_name) + "." + name;
        return name;
    }
    if (Py_IS_TYPE(obj, &PyMethodDescr_Type)) {
        auto* d = reinterpret_cast<PyMethodDescrObject*>(obj);
        return std::string(d->d_common.d_type->tp_name) + "." + d->d_method->ml_name;
    }
    if (PyType_Check(obj))
        return std::string(reinterpret_cast<PyTypeObject*>(obj)->tp_name) + " (a class call)";
    if (PyFunction_Check(obj))
        return utf8(reinterpret_cast<PyFunctionObject*>(obj)->func_qualname) +
               " (a Python function called through C)";
    return std::string(Py_TYPE(obj)->tp_name) + " object";
}

// What C code frame `g` (which called out of the interpreter) is running.
std::string c_call_of(_PyInterpreterFrame* g) {
    auto info = code_info(frame_code(g));
    if (info == nullptr) {
        PyErr_Clear();
        return "C code";
    }
    auto op_at = [&](int unit) { return op_of(*info, unit); };
    const int index = frame::waiting_call(g, true, op_at, cache_units);
    const int op = op_of(*info, index);
    CallSite site;
    if (info->analysed && calls_c(op) && info->analysis.call_site(index, site) &&
        frame::in_c_call(g, site.depth_before))
        return "C function " + name_callable(reinterpret_cast<PyObject*>(
                                   callee(op, site.arg, frame::stack_base(g), site.depth_before)));
    const std::string name = opname(op_of(*info, frame::last_unit(g)));
    if (name == "FOR_ITER") return "an iterator's __next__ (FOR_ITER)";
    if (name == "BEFORE_WITH") return "a context manager's __enter__ (BEFORE_WITH)";
    if (name == "LOAD_ATTR" || name == "LOAD_METHOD") return "an attribute lookup (" + name + ")";
    return "C code (" + name + ")";
}

}  // namespace

std::string describe(_PyInterpreterFrame* f) {
    PyCodeObject* co = frame_code(f);
    const int unit = frame::last_unit(f);
    const int line = PyCode_Addr2Line(co, unit < 0 ? -1 : unit * 2);
    return utf8(co->co_qualname) + " (" + utf8(co->co_filename) + ":" + std::to_string(line) + ")";
}

const char* unsupported_code(PyCodeObject* co) noexcept {
    if (co->co_flags & (CO_GENERATOR | CO_COROUTINE | CO_ASYNC_GENERATOR | CO_ITERABLE_COROUTINE))
        return "is a generator's or coroutine's frame: it pickles with its generator object "
               "while suspended, never inside a tasklet's chain of frames";
    if (!(co->co_flags & CO_OPTIMIZED)) return "runs a module or class body, not a function";
    return nullptr;
}

int walk(PyThreadState* ts, _PyInterpreterFrame* innermost, _PyInterpreterFrame* stop,
         Innermost how, std::vector<FrameAt>& out, std::string* why) {
    out.clear();
    auto refuse = [&](std::string msg) {
        if (why != nullptr) *why = std::move(msg);
        return 0;
    };
    if (_PyInterpreterState_GetEvalFrameFunc(ts->interp) != _PyEval_EvalFrameDefault)
        return refuse(
            "a PEP 523 frame evaluation hook is installed (a debugger or profiler?): every "
            "frame is entered from C, so no frame chain can be captured");
    // The frame C code called, when the next frame out is the one that called that C.
    _PyInterpreterFrame* called_through_c = nullptr;
    // What the next frame out waits in, when resume() drives the frame it called.
    const DrivenCall* driven = nullptr;
    // The generator whose frame is the one above, when the next frame out iterates it.
    PyObject* iterated = nullptr;
    for (_PyInterpreterFrame *f = innermost, *next = nullptr; f != stop; f = next) {
        const bool first = f == innermost;
        if (f == nullptr)
            return refuse("the base frame is not among the callers of the innermost frame");
        if (frame::c_stack_frame(f))
            return refuse("C code called the frames below it without a Python frame between");
        // A running generator's frame lives in its object: restorable where the next frame
        // out runs it by iterating it (checked there).
        PyObject* gen = running_generator(f);
        if (!frame::owned_by_thread(f) && gen == nullptr)
            return refuse("frame " + describe(f) +
                          " belongs to a generator or coroutine that is not running in this "
                          "tasklet's frames");
        if (!frame::function_frame(f))
            return refuse("a frame of the interpreter's own (" + utf8(frame_code(f)->co_name) +
                          ", as a class call leaves under __init__) is among the frames: only "
                          "calls between Python functions can be restored");
        if (const char* bad = gen == nullptr ? unsupported_code(frame_code(f)) : nullptr)
            return refuse("frame " + describe(f) + " " + bad);
        if (frame::incomplete(f)) return refuse("frame " + describe(f) + " has not started");
        if (gen != nullptr && first && how == Innermost::kPreempted)
            return refuse("innermost frame " + describe(f) +
                          " was preempted inside a generator's frame: only a generator's "
                          "frame suspended in a call can be restored");
        FrameAt at{f, code_info(frame_code(f)), {}};
        at.generator = gen;
        if (at.info == nullptr) return -1;
        if (!at.info->analysed)
            return refuse("frame " + describe(f) + ": its bytecode cannot be analysed (" +
                          at.info->analysis_error + ")");
        const CodeAnalysis& an = at.info->analysis;
        auto op_at = [&](int unit) { return op_of(*at.info, unit); };
        // Inside a call into C, the frame's instruction is the call itself (FOR_ITER too).
        const bool in_c = (first && how == Innermost::kInCall) || called_through_c != nullptr ||
                          iterated != nullptr;
        const int index = driven != nullptr
                              ? driven->caller_site
                              : frame::waiting_call(f, in_c || first, op_at, cache_units);
        const int op = op_of(*at.info, index);
        if (first && how == Innermost::kPreempted) {
            // Between two instructions: the eval breaker ran at the last one.
            const int unit = frame::last_unit(f);
            if (!an.preemption_point(unit, at.site))
                return refuse("innermost frame " + describe(f) + " was preempted at " +
                              opname(op_of(*at.info, unit)) +
                              ", not between two instructions (a backward jump or a "
                              "function's start): after a call, its frame does not show "
                              "whether the call returned");
            const int have = frame::saved_depth(f);
            if (have != -1 && have != at.site.kept)
                return refuse("innermost frame " + describe(f) + ": its stack depth " +
                              std::to_string(have) + " is not the " + std::to_string(at.site.kept) +
                              " the bytecode analysis expects");
        } else if (first) {
            // Suspended inside a call into C.
            if (!calls_c(op) || !an.call_site(index, at.site))
                return refuse("innermost frame " + describe(f) + " is suspended at " +
                              opname(op_of(*at.info, frame::last_unit(f))) + ", not in a call");
            if (!frame::in_c_call(f, at.site.depth_before))
                return refuse("innermost frame " + describe(f) + " is not inside a call");
        } else if (iterated != nullptr) {
            // Its FOR_ITER or SEND runs the generator whose frame is above (through the
            // generator's C code, or 3.12+'s specializations that push the generator's
            // frame): a known continuation. What the generator yields is FOR_ITER's next
            // value, or SEND's result (`yield from` and `await` yield it in turn); its
            // return ends the loop, or is SEND's result in place of the delegate.
            const bool send = sends(op);
            // The generator's slot: under SEND's value; 3.15: under the NULL index too.
            const int below = (frame::kIterationIndex ? 2 : 1) + (send ? 1 : 0);
            bool known =
                drives(op) && an.iteration_site(index, at.site) && at.site.depth_before >= below;
            if (known) {
                const int have = frame::saved_depth(f);
                // (SEND's specialization moved the value sent into the generator's frame.)
                known = (have == -1 || have == at.site.depth_before ||
                         (send && have == at.site.depth_before - 1)) &&
                        cpy::slot_object(frame::stack_base(f)[at.site.depth_before - below]) ==
                            iterated;
            }
            if (!known)
                return refuse("frame " + describe(out.back().frame) +
                              " belongs to a running generator that " + describe(f) +
                              " does not run by a for loop, `yield from` or `await` (" +
                              opname(op_of(*at.info, frame::last_unit(f))) +
                              "): only a generator's frame that one of those runs can be "
                              "restored");
        } else if (called_through_c != nullptr) {
            // Its instruction's C code called the frame above: restorable when that C is a
            // known continuation (the callee's result is the instruction's result).
            // A class call whose __init__ it is: the new object is the result once
            // __init__ returned None.
            CCall call;
            const bool known =
                calls_through_c(op) && an.call_site(index, at.site) &&
                frame::in_c_call(f, at.site.depth_before) &&
                c_call(op, at.site.arg, frame::stack_base(f), at.site.depth_before, call) &&
                (passes_result_through(call, called_through_c) ||
                 (at.init_object = initialised_object(call, called_through_c, *out.back().info)) !=
                     nullptr);
            if (!known)
                return refuse("frame " + describe(called_through_c) +
                              " was called from C code, not from Python: " + c_call_of(f) +
                              " called it at " + describe(f));
        } else {
            // A Python-to-Python call: the caller saved its stack without the operands. Or
            // a frame resume() rebuilt, waiting at its snapshot's site, whose callee
            // resume() drives: a Python call, or a known continuation (a class call's
            // __init__ included) as it was captured.
            const bool waits = calls_python(op) || (driven != nullptr && calls_through_c(op));
            if (!waits || !an.call_site(index, at.site))
                return refuse("frame " + describe(f) + " is not waiting for a call (at " +
                              opname(op_of(*at.info, frame::last_unit(f))) + ")");
            if (driven != nullptr) at.init_object = driven->init_object;
            const int have = frame::saved_depth(f);
            if (have != at.site.kept)
                return refuse("frame " + describe(f) + ": its stack depth " + std::to_string(have) +
                              " is not the " + std::to_string(at.site.kept) +
                              " the bytecode analysis expects");
        }
        if (gen != nullptr && at.init_object != nullptr)
            return refuse("frame " + describe(f) +
                          " of a running generator waits for a class call's __init__: not "
                          "restorable");
        out.push_back(std::move(at));
        // The next frame out: the caller, through the C code that called this frame if
        // any (the base's caller, or a frame resume() drives, needs no check); for a
        // generator's frame, the frame that iterates it.
        if (gen != nullptr && (f->previous == stop || frame::caller(f) == stop))
            return refuse("frame " + describe(f) +
                          " of a running generator is the tasklet's first");
        if (f->previous == stop) break;
        next = frame::caller(f);
        called_through_c = nullptr;
        iterated = gen;
        driven = nullptr;
        if (gen != nullptr) {
            if (next == nullptr)
                return refuse("the base frame is not among the callers of the innermost frame");
        } else if (frame::entered_from_c(f) && next != stop &&
                   (driven = driven_call(f)) == nullptr) {
            if (next == nullptr)
                return refuse("the base frame is not among the callers of the innermost frame");
            called_through_c = f;
        }
    }
    if (out.empty()) return refuse("no frames between the innermost frame and the base");
    return 1;
}

int check_restorable(PyThreadState* ts, _PyInterpreterFrame* innermost, _PyInterpreterFrame* stop,
                     std::string* why, Innermost how) {
    std::vector<FrameAt> chain;
    return walk(ts, innermost, stop, how, chain, why);
}

}  // namespace slpy::frames

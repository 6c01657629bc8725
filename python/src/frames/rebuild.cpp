// rebuild.cpp — validate a snapshot (it may come from a corrupted or hostile pickle)
// and rebuild its frames. Every check happens before any frame is built; nothing from the
// snapshot is trusted: types, sizes, offsets, depths and the functions themselves.
#include <unordered_map>

#include "bytecode.hpp"
#include "chain.hpp"
#include "frames.hpp"
#include "internal.hpp"
#include "plan.hpp"

namespace slpy::frames {

namespace {

constexpr Py_ssize_t kMaxFrames = 1 << 20;

std::string str(PyObject* s) {
    const char* c = PyUnicode_Check(s) ? PyUnicode_AsUTF8(s) : nullptr;
    if (c == nullptr) {
        PyErr_Clear();
        return "?";
    }
    return c;
}

bool as_int(PyObject* o, long lo, long hi, long& out) {
    if (!PyLong_CheckExact(o)) return false;
    int overflow = 0;
    out = PyLong_AsLongAndOverflow(o, &overflow);
    if (overflow != 0 || (out == -1 && PyErr_Occurred())) {
        PyErr_Clear();
        return false;
    }
    return out >= lo && out <= hi;
}

// Why `v` does not meet `req` (what the bytecode will assume of it), or null if it does.
const char* violation(PyObject* v, uint16_t req, int units) {
    if ((req & kReqIter) && !PyIter_Check(v)) return "an iterator";
    if ((req & kReqList) && !PyList_Check(v)) return "a list";
    if ((req & kReqSet) && !PySet_Check(v)) return "a set";
    if ((req & kReqDict) && !PyDict_Check(v)) return "a dict";
    if ((req & kReqExc) && !PyExceptionInstance_Check(v)) return "an exception";
    if ((req & kReqExcOrNone) && v != Py_None && !PyExceptionInstance_Check(v))
        return "an exception or None";
    long lasti = 0;
    if ((req & kReqLasti) && !as_int(v, -1, units - 1, lasti)) return "an instruction index";
    if ((req & kReqTuple) && !PyTuple_Check(v)) return "a tuple";
    if ((req & kReqCode) && !PyCode_Check(v)) return "a code object";
    if ((req & kReqFunction) && !PyFunction_Check(v)) return "a function";
    long index = 0;
    // (A tuple's or str's _tp_iteritem reads before its items at a negative index.)
    if ((req & (kReqSeqIndex | kReqSendIndex)) && !as_int(v, 0, PY_SSIZE_T_MAX >> 3, index))
        return "an index (an int of at least 0)";
    if (req & kReqCellTuple)
        for (Py_ssize_t i = 0; i < PyTuple_GET_SIZE(v); ++i)
            if (!PyCell_Check(PyTuple_GET_ITEM(v, i))) return "a tuple of cells";
    if (req & kReqExcList)
        for (Py_ssize_t i = 0; i < PyList_GET_SIZE(v); ++i) {
            PyObject* e = PyList_GET_ITEM(v, i);
            if (e != Py_None && !PyExceptionInstance_Check(e)) return "a list of exceptions";
        }
    return nullptr;
}

}  // namespace

bool check_header(PyObject* s, PyObject*& handled, PyObject*& frames) {
    if (!PyTuple_CheckExact(s) || PyTuple_GET_SIZE(s) != 6 ||
        !PyUnicode_Check(PyTuple_GET_ITEM(s, 0)) ||
        PyUnicode_CompareWithASCIIString(PyTuple_GET_ITEM(s, 0), "slp.frames") != 0) {
        raise_restore("not a frame snapshot");
        return false;
    }
    long version = 0;
    if (!as_int(PyTuple_GET_ITEM(s, 1), kFormatVersion, kFormatVersion, version)) {
        raise_restore("unsupported frame snapshot format (this library reads format " +
                      std::to_string(kFormatVersion) + ")");
        return false;
    }
    PyObject* pyver = PyTuple_GET_ITEM(s, 2);
    long major = 0, minor = 0;
    if (!PyTuple_CheckExact(pyver) || PyTuple_GET_SIZE(pyver) != 2 ||
        !as_int(PyTuple_GET_ITEM(pyver, 0), 0, 1000, major) ||
        !as_int(PyTuple_GET_ITEM(pyver, 1), 0, 1000, minor)) {
        raise_restore("malformed Python version in frame snapshot");
        return false;
    }
    if (major != PY_MAJOR_VERSION || minor != PY_MINOR_VERSION) {
        raise_restore("frames pickled under Python " + std::to_string(major) + "." +
                      std::to_string(minor) + " cannot be restored under Python " +
                      std::to_string(PY_MAJOR_VERSION) + "." + std::to_string(PY_MINOR_VERSION));
        return false;
    }
    long magic = 0;
    if (!as_int(PyTuple_GET_ITEM(s, 3), 0, 0x7FFFFFFF, magic) ||
        magic != PyImport_GetMagicNumber()) {
        raise_restore(
            "frames pickled with another bytecode format (magic number) than this "
            "Python's " +
            std::to_string(PyImport_GetMagicNumber()));
        return false;
    }
    handled = PyTuple_GET_ITEM(s, 4);
    if (handled != Py_None && !PyExceptionInstance_Check(handled)) {
        raise_restore("the handled exception of a frame snapshot is not an exception");
        return false;
    }
    frames = PyTuple_GET_ITEM(s, 5);
    if (!PyTuple_CheckExact(frames) || PyTuple_GET_SIZE(frames) < 1 ||
        PyTuple_GET_SIZE(frames) > kMaxFrames) {
        raise_restore("a frame snapshot needs a tuple of 1 to " + std::to_string(kMaxFrames) +
                      " frames");
        return false;
    }
    return true;
}

namespace {

// The slot under 3.15's iteration index `i` (NULL: the slot holds an iterator, or for
// SEND a coroutine too; an int: an object the eval loop iterates by that index), which the
// eval loop reads unchecked.
bool sequence_under_index(const Plan& p, Py_ssize_t i, bool index_null, bool send) {
    const auto below = static_cast<size_t>(i - 1);
    PyObject* seq = PyTuple_GET_ITEM(p.values, i - 1);
    bool ok =
        below >= static_cast<size_t>(reinterpret_cast<PyCodeObject*>(p.fn.code)->co_nlocalsplus) &&
        !p.is_null[below];
    if (ok && index_null) ok = PyIter_Check(seq) || (send && PyCoro_CheckExact(seq));
    if (ok && !index_null) ok = frame::iterated_by_index(seq);
    if (!ok)
        raise_restore("frame " + p.where + ": stack slot under an iteration index must be " +
                      (!index_null ? "what the eval loop iterates by index (a list, tuple, str or "
                                     "bytes)"
                       : send      ? "an iterator or a coroutine"
                                   : "an iterator"));
    return ok;
}

// The slot (an index into the frame's values) of the operand whose special method the
// frame's call instruction leaves under its result (special_call()), or -1.
Py_ssize_t special_operand(const Plan& p) {
    if (p.site.preempted() || p.site.kept < 1 || special_call(p.site.op).leaves == nullptr)
        return -1;
    return reinterpret_cast<PyCodeObject*>(p.fn.code)->co_nlocalsplus + p.site.kept - 1;
}

// Is `c` a tuple (tag, object) with the tag `tag`?
bool tagged_pair(PyObject* c, const char* tag) {
    return PyTuple_CheckExact(c) && PyTuple_GET_SIZE(c) == 2 &&
           PyUnicode_CheckExact(PyTuple_GET_ITEM(c, 0)) &&
           PyUnicode_CompareWithASCIIString(PyTuple_GET_ITEM(c, 0), tag) == 0;
}

// A call chain's frame's seventh item: "preempted" on the innermost frame, ("init",
// object) on a frame with a callee, or ("generator", object) on a running generator's
// frame. Sets `preempted`, `p.init_object` or `p.generator`.
bool plan_continuation(PyObject* fr, Plan& p, SiteKind kind, bool innermost, bool& preempted) {
    preempted = false;
    if (PyTuple_GET_SIZE(fr) == 6) return true;
    PyObject* c = PyTuple_GET_ITEM(fr, 6);
    if (kind != SiteKind::kSuspension && tagged_pair(c, kGenerator)) {
        p.generator = PyTuple_GET_ITEM(c, 1);
        return true;
    }
    if (kind == SiteKind::kCall && innermost && PyUnicode_CheckExact(c) &&
        PyUnicode_CompareWithASCIIString(c, kPreempted) == 0) {
        preempted = true;
        return true;
    }
    if (kind == SiteKind::kCall && !innermost && PyTuple_CheckExact(c) &&
        PyTuple_GET_SIZE(c) == 2 && PyUnicode_CheckExact(PyTuple_GET_ITEM(c, 0)) &&
        PyUnicode_CompareWithASCIIString(PyTuple_GET_ITEM(c, 0), kInit) == 0) {
        p.init_object = PyTuple_GET_ITEM(c, 1);
        return true;
    }
    raise_restore(
        "a snapshot frame's seventh item is neither \"preempted\" (on the innermost frame) "
        "nor (\"init\", object) (on a frame with a callee) nor (\"generator\", object)");
    return false;
}

}  // namespace

bool plan_frame(PyObject* fr, Plan& p, SiteKind kind, bool innermost) {
    if (!PyTuple_CheckExact(fr) || PyTuple_GET_SIZE(fr) < 6 || PyTuple_GET_SIZE(fr) > 7) {
        raise_restore("a snapshot frame is not a 6-tuple");
        return false;
    }
    bool preempted = false;
    if (!plan_continuation(fr, p, kind, innermost, preempted)) return false;
    PyObject* module = PyTuple_GET_ITEM(fr, 0);
    PyObject* qualname = PyTuple_GET_ITEM(fr, 1);
    PyObject* digest = PyTuple_GET_ITEM(fr, 2);
    PyObject* site = PyTuple_GET_ITEM(fr, 3);
    PyObject* values = PyTuple_GET_ITEM(fr, 4);
    PyObject* nulls = PyTuple_GET_ITEM(fr, 5);
    if (!PyUnicode_CheckExact(module) || !PyUnicode_CheckExact(qualname) ||
        !PyBytes_CheckExact(digest) || PyBytes_GET_SIZE(digest) != 16 ||
        !PyTuple_CheckExact(values) || !PyTuple_CheckExact(nulls)) {
        raise_restore("a snapshot frame has parts of the wrong type");
        return false;
    }
    p.where = str(module) + "." + str(qualname);
    if (resolve(module, qualname, digest, p.fn) < 0) return false;
    auto* co = reinterpret_cast<PyCodeObject*>(p.fn.code);
    if (kind == SiteKind::kSuspension || p.generator != nullptr) {
        if (!(co->co_flags & kGeneratorFlags)) {
            raise_restore("frame " + p.where +
                          " is not a generator's, coroutine's or async generator's");
            return false;
        }
        // A running generator's frame goes into the object unpickled for it, which awaits
        // it (made for this code, not given a frame yet).
        if (p.generator != nullptr &&
            (!awaits_frame(p.generator) || frame_code(frame::generator_frame(p.generator)) != co)) {
            raise_restore("frame " + p.where +
                          ": its generator is not one unpickled to await this frame (a "
                          "running generator is the tasklet's own: it copies only through "
                          "pickle)");
            return false;
        }
    } else if (const char* bad = unsupported_code(co)) {
        raise_restore("frame " + p.where + " " + bad);
        return false;
    }
    p.info = code_info(co);
    if (p.info == nullptr) return false;
    if (!p.info->analysed) {
        raise_restore("frame " + p.where + ": bytecode cannot be analysed (" +
                      p.info->analysis_error + ")");
        return false;
    }
    long index = 0;
    const CodeAnalysis& an = p.info->analysis;
    const bool read = as_int(site, 0, an.units() - 1, index);
    const int at = static_cast<int>(index);
    if (!read || !(preempted                      ? an.preemption_point(at, p.site)
                   : kind == SiteKind::kCall      ? an.call_site(at, p.site)
                   : kind == SiteKind::kIteration ? an.iteration_site(at, p.site)
                                                  : an.suspension_site(at, p.site))) {
        raise_restore("frame " + p.where + ": its instruction offset is not " +
                      (preempted                      ? "a preemption point"
                       : kind == SiteKind::kCall      ? "a call instruction"
                       : kind == SiteKind::kIteration ? "a for loop's FOR_ITER or a SEND"
                                                      : "a yield") +
                      " of the code");
        return false;
    }
    const int nlocals = co->co_nlocalsplus;
    const Py_ssize_t n = nlocals + p.site.kept;
    if (PyTuple_GET_SIZE(values) != n) {
        raise_restore("frame " + p.where + ": " + std::to_string(PyTuple_GET_SIZE(values)) +
                      " locals and stack values, the code needs " + std::to_string(n) +
                      " there (stack depth " + std::to_string(p.site.kept) + ")");
        return false;
    }
    p.values = values;
    p.is_null.assign(static_cast<size_t>(n), 0);
    long prev = -1;
    for (Py_ssize_t k = 0; k < PyTuple_GET_SIZE(nulls); ++k) {
        long i = 0;
        if (!as_int(PyTuple_GET_ITEM(nulls, k), prev + 1, n - 1, i)) {
            raise_restore("frame " + p.where + ": malformed list of NULL slots");
            return false;
        }
        p.is_null[static_cast<size_t>(i)] = 1;
        prev = i;
    }
    const char* kinds = PyBytes_AS_STRING(co->co_localspluskinds);
    for (Py_ssize_t i = 0; i < n; ++i) {
        PyObject* v = PyTuple_GET_ITEM(values, i);
        const bool null = p.is_null[static_cast<size_t>(i)] != 0;
        if (i < nlocals) {
            const bool as_list = PyList_CheckExact(v) && PyList_GET_SIZE(v) <= 1;
            const bool as_cell = kind == SiteKind::kSuspension && Py_IS_TYPE(v, &PyCell_Type);
            if ((static_cast<uint8_t>(kinds[i]) & (CO_FAST_CELL | CO_FAST_FREE)) &&
                (null || !(as_list || as_cell))) {
                raise_restore("frame " + p.where + ": cell variable " + std::to_string(i) +
                              (kind == SiteKind::kCall ? " is not a list of at most one item"
                                                       : " is not a cell"));
                return false;
            }
            if (null && p.info->analysis.local_required(p.site, static_cast<int>(i))) {
                raise_restore("frame " + p.where + ": local variable " + std::to_string(i) +
                              " is unbound, but the code reads it there without checking");
                return false;
            }
            continue;
        }
        const int pos = static_cast<int>(i - nlocals);
        const uint16_t req = p.info->analysis.requirement(p.site, pos);
        if ((req & (kReqSeqIndex | kReqSendIndex)) &&
            !sequence_under_index(p, i, null, !(req & kReqSeqIndex)))
            return false;
        if (null) {
            if (req & kReqNonNull) {
                raise_restore("frame " + p.where + ": stack slot " + std::to_string(pos) +
                              " cannot be NULL");
                return false;
            }
            continue;
        }
        if (const char* need = violation(v, req, p.info->analysis.units())) {
            raise_restore("frame " + p.where + ": stack slot " + std::to_string(pos) + " must be " +
                          need + ", not " + Py_TYPE(v)->tp_name);
            return false;
        }
    }
    if (special_operand(p) >= 0 && p.is_null[static_cast<size_t>(special_operand(p))]) {
        raise_restore("frame " + p.where + ": the operand of its " + opname(p.site.op) +
                      " cannot be NULL");
        return false;
    }
    return true;
}

std::vector<PyObject*> build_slots(const Plan& p, std::unordered_map<PyObject*, PyObject*>& cells,
                                   bool& ok) {
    auto* co = reinterpret_cast<PyCodeObject*>(p.fn.code);
    const int nlocals = co->co_nlocalsplus;
    const char* kinds = PyBytes_AS_STRING(co->co_localspluskinds);
    std::vector<PyObject*> slots(static_cast<size_t>(PyTuple_GET_SIZE(p.values)), nullptr);
    ok = false;
    for (size_t i = 0; i < slots.size(); ++i) {
        PyObject* v = PyTuple_GET_ITEM(p.values, static_cast<Py_ssize_t>(i));
        if (p.is_null[i]) continue;
        if (static_cast<int>(i) < nlocals &&
            (static_cast<uint8_t>(kinds[i]) & (CO_FAST_CELL | CO_FAST_FREE))) {
            if (Py_IS_TYPE(v, &PyCell_Type)) {  // a generator's, shared with what else has it
                slots[i] = Py_NewRef(v);
                continue;
            }
            auto it = cells.find(v);
            if (it == cells.end()) {
                PyObject* cell =
                    PyCell_New(PyList_GET_SIZE(v) == 1 ? PyList_GET_ITEM(v, 0) : nullptr);
                if (cell == nullptr) {
                    for (PyObject* o : slots) Py_XDECREF(o);
                    return {};
                }
                it = cells.emplace(v, cell).first;  // the snapshot keeps `v` alive
            }
            slots[i] = Py_NewRef(it->second);
        } else {
            slots[i] = Py_NewRef(v);
        }
    }
    ok = true;
    return slots;
}

PyObject* function_for(const Plan& p, const std::vector<PyObject*>& slots, bool fresh) {
    auto* co = reinterpret_cast<PyCodeObject*>(p.fn.code);
    if (p.fn.func != nullptr && !fresh) return Py_NewRef(p.fn.func);
    PyObject* func = PyFunction_New(p.fn.code, p.fn.globals);
    if (func == nullptr || co->co_nfreevars == 0) return func;
    const int nlocals = co->co_nlocalsplus;
    PyObject* closure = PyTuple_New(co->co_nfreevars);
    if (closure == nullptr) {
        Py_DECREF(func);
        return nullptr;
    }
    for (int k = 0; k < co->co_nfreevars; ++k) {
        PyObject* cell = slots[static_cast<size_t>(nlocals - co->co_nfreevars + k)];
        PyTuple_SET_ITEM(closure, k, cell != nullptr ? Py_NewRef(cell) : PyCell_New(nullptr));
    }
    const int rc = PyFunction_SetClosure(func, closure);
    Py_DECREF(closure);
    if (rc < 0) Py_CLEAR(func);
    return func;
}

namespace {

// Build a frame from its plan. `cells` maps a snapshot list to the cell made for it, so
// that frames sharing a cell share it again. Returns null with an exception set.
_PyInterpreterFrame* build_frame(Plan& p, std::unordered_map<PyObject*, PyObject*>& cells) {
    auto* co = reinterpret_cast<PyCodeObject*>(p.fn.code);
    const int nlocals = co->co_nlocalsplus;
    bool ok = false;
    std::vector<PyObject*> slots = build_slots(p, cells, ok);
    if (!ok) return nullptr;
    auto drop = [&] {
        for (PyObject* o : slots) Py_XDECREF(o);
        return nullptr;
    };
    if (const Py_ssize_t i = special_operand(p); i >= 0) {
        PyObject*& slot = slots[static_cast<size_t>(i)];
        PyObject* bound = bound_special(slot, special_call(p.site.op).leaves, p.where);
        if (bound == nullptr) return drop();
        Py_SETREF(slot, bound);
    }
    // A nested function: one made from its code, its closure from the free cells.
    PyObject* func = function_for(p, slots, false);
    if (func == nullptr) return drop();
    if (p.generator != nullptr) {
        if (!awaits_frame(p.generator)) {  // (given to an earlier frame of this snapshot)
            Py_DECREF(func);
            raise_restore("frame " + p.where + ": its generator has a frame already");
            return drop();
        }
        // The running generator's frame, in its object: as after the call it waits in.
        _PyInterpreterFrame* f = fill_generator_frame(p, p.generator, func, slots);
        give_frame(p.generator);
        return f;
    }
    _PyInterpreterFrame* f = allocate_frame(co);
    if (f == nullptr) {
        Py_DECREF(func);
        return drop();
    }
    // The function's __code__ may have been replaced meanwhile (imports ran Python code):
    // the frame runs the code that was checked.
    // A preempted frame continues at its resume unit, as after a call ending just before.
    if (p.site.preempted())
        frame::init(f, reinterpret_cast<PyFunctionObject*>(func), co, slots.data(),
                    static_cast<int>(slots.size()), p.site.resume - 1, 0);
    else
        frame::init(f, reinterpret_cast<PyFunctionObject*>(func), co, slots.data(),
                    static_cast<int>(slots.size()), p.site.index, cache_units(p.site.op));
    for (int pos = 0; nlocals + pos < static_cast<int>(slots.size()); ++pos)
        if ((p.info->analysis.requirement(p.site, pos) & kReqTaggedInt) &&
            slots[static_cast<size_t>(nlocals + pos)] != nullptr)
            frame::make_tagged_int(f, nlocals + pos);
    return f;
}

// Frame `i` of a snapshot's planned frames, if a running generator's, is the frame of the
// generator its caller's FOR_ITER iterates (the stack slot under FOR_ITER, or 3.15's
// NULL index) or its caller's SEND delegates to (the slot under SEND's value, and under
// 3.15's index); no other frame is a generator's, the base least of all. False with
// FrameRestoreError set.
bool iterates_its_generator(const std::vector<Plan>& plans, Py_ssize_t i) {
    const Plan& p = plans[static_cast<size_t>(i)];
    if (p.generator == nullptr) return true;
    if (i == 0) {
        raise_restore("frame " + p.where + ": a running generator's frame cannot be the first");
        return false;
    }
    const Plan& outer = plans[static_cast<size_t>(i - 1)];
    // (`kept` has SEND's value taken: the delegate is as far under the top as an iterator.)
    const int below = frame::kIterationIndex ? 2 : 1;
    const Py_ssize_t slot =
        reinterpret_cast<PyCodeObject*>(outer.fn.code)->co_nlocalsplus + outer.site.kept - below;
    if (!drives(outer.site.op) || outer.site.kept < below ||
        outer.is_null[static_cast<size_t>(slot)] ||
        PyTuple_GET_ITEM(outer.values, slot) != p.generator) {
        raise_restore("frame " + p.where + ": its generator is not what frame " + outer.where +
                      " iterates");
        return false;
    }
    return true;
}

}  // namespace

Chain* rebuild(PyObject* snapshot) {
    PyObject *handled = nullptr, *frames = nullptr;
    if (!check_header(snapshot, handled, frames)) return nullptr;
    const Py_ssize_t n = PyTuple_GET_SIZE(frames);
    std::vector<Plan> plans(static_cast<size_t>(n));
    for (Py_ssize_t i = 0; i < n; ++i) {
        // A frame whose next one is a running generator's iterates that generator.
        PyObject* next = i + 1 < n ? PyTuple_GET_ITEM(frames, i + 1) : nullptr;
        const bool iterates = next != nullptr && PyTuple_CheckExact(next) &&
                              PyTuple_GET_SIZE(next) == 7 &&
                              tagged_pair(PyTuple_GET_ITEM(next, 6), kGenerator);
        if (!plan_frame(PyTuple_GET_ITEM(frames, i), plans[static_cast<size_t>(i)],
                        iterates ? SiteKind::kIteration : SiteKind::kCall, i == n - 1))
            return nullptr;
        if (!iterates_its_generator(plans, i)) return nullptr;
    }
    auto* chain = new Chain;
    chain->handled = Py_NewRef(handled);
    const CallSite& innermost = plans.back().site;
    if (innermost.preempted()) chain->preempted_at = innermost.index;
    std::unordered_map<PyObject*, PyObject*> cells;  // strong cell references
    for (Plan& p : plans) {
        _PyInterpreterFrame* f = build_frame(p, cells);
        if (f == nullptr) {
            for (auto& kv : cells) Py_DECREF(kv.second);
            destroy(chain);
            return nullptr;
        }
        f->previous = chain->frames.empty() ? nullptr : chain->frames.back();
        chain->frames.push_back(f);
        chain->state.push_back(FrameState::kPending);
        chain->init_objects.push_back(Py_XNewRef(p.init_object));
        chain->sites.push_back(p.site.index);
        chain->generators.push_back(Py_XNewRef(p.generator));
        chain->iterates_at.push_back(drives(p.site.op) ? p.site.index : -1);
        chain->delegates.push_back(sends(p.site.op));
        // (Where FOR_ITER jumps at the loop's end: 3.15 runs from there, kLoopEndsAtExit.)
        chain->loop_exits.push_back(
            iterates(p.site.op) ? p.site.index + 1 + cache_units(p.site.op) + p.site.arg : -1);
    }
    for (auto& kv : cells) Py_DECREF(kv.second);
    return chain;
}

PyObject* handled_exception(const Chain* chain) noexcept {
    return chain->handled;
}
int depth(const Chain* chain) noexcept {
    return static_cast<int>(chain->frames.size());
}
_PyInterpreterFrame* base_frame(const Chain* chain) noexcept {
    return chain->frames.front();
}

}  // namespace slpy::frames

// generator.cpp — capture and rebuild the frame a generator, coroutine or async generator
// holds.
#include <algorithm>
#include <unordered_map>
#include <vector>

#include "bytecode.hpp"
#include "frames.hpp"
#include "internal.hpp"
#include "plan.hpp"

namespace slpy::frames {

namespace {

bool is_generator(PyObject* o) noexcept {
    return PyGen_CheckExact(o) || PyCoro_CheckExact(o) || PyAsyncGen_CheckExact(o);
}

PyGenObject* as_gen(PyObject* o) noexcept {
    return reinterpret_cast<PyGenObject*>(o);
}

// A copy of the plan's function whose every positional and keyword-only parameter
// defaults to None, so that calling it without arguments makes a fresh object of its code.
PyObject* callable_without_arguments(const Plan& p, const std::vector<PyObject*>& slots) {
    auto* co = reinterpret_cast<PyCodeObject*>(p.fn.code);
    PyObject* func = function_for(p, slots, true);
    if (func == nullptr) return nullptr;
    PyObject* defaults = PyTuple_New(co->co_argcount);
    PyObject* kwdefaults = PyDict_New();
    bool ok = defaults != nullptr && kwdefaults != nullptr;
    // A generator expression's implicit argument `.0` (its iterable) gets an empty tuple:
    // 3.15's iterate it before RETURN_GENERATOR.
    for (int i = 0; ok && i < co->co_argcount; ++i) {
        PyObject* name = PyTuple_GET_ITEM(co->co_localsplusnames, i);
        const bool implicit =
            PyUnicode_Check(name) && PyUnicode_CompareWithASCIIString(name, ".0") == 0;
        PyObject* value = implicit ? PyTuple_New(0) : Py_NewRef(Py_None);
        ok = value != nullptr;
        if (ok) PyTuple_SET_ITEM(defaults, i, value);
    }
    for (int i = 0; ok && i < co->co_kwonlyargcount; ++i)
        ok = PyDict_SetItem(kwdefaults,
                            PyTuple_GET_ITEM(co->co_localsplusnames, co->co_argcount + i),
                            Py_None) == 0;
    ok = ok && PyFunction_SetDefaults(func, defaults) == 0 &&
         PyFunction_SetKwDefaults(func, kwdefaults) == 0;
    Py_XDECREF(defaults);
    Py_XDECREF(kwdefaults);
    if (!ok) Py_CLEAR(func);
    return func;
}

// Is `f` one of the frames the thread runs now (not a suspended tasklet's)?
bool on_running_frames(_PyInterpreterFrame* f) {
    for (_PyInterpreterFrame* g = frame::current(PyThreadState_Get()); g != nullptr;
         g = g->previous)
        if (g == f) return true;
    return false;
}

// The tag of a running generator's reduced frame: ("slp.running", module, qualname,
// digest); a tasklet's snapshot carries the frame itself.
constexpr const char* kRunningTag = "slp.running";

// Generators made to await their running frame (strong references): rebuild() gives one
// its frame from a tasklet's snapshot. One nobody else refers to any more is dropped.
std::vector<PyObject*>& awaiting() {
    static std::vector<PyObject*> gens;
    return gens;
}

void drop_forgotten() {
    std::vector<PyObject*> forgotten;
    auto& gens = awaiting();
    for (size_t i = 0; i < gens.size();) {
        if (Py_REFCNT(gens[i]) == 1) {
            forgotten.push_back(gens[i]);
            gens[i] = gens.back();
            gens.pop_back();
        } else {
            ++i;
        }
    }
    for (PyObject* g : forgotten) {  // (after: finalizers may run)
        close_awaiting(g);
        Py_DECREF(g);
    }
}

// Generators given their frame by a restored tasklet's chain that has not resumed yet
// (borrowed: the chain holds them): they pickle again as running ones.
std::vector<PyObject*>& given() {
    static std::vector<PyObject*> gens;
    return gens;
}

// Capture of a running generator: the frame's function, which the loader makes an
// object of that awaits its frame.
PyObject* capture_running(_PyInterpreterFrame* f) {
    PyObject* tag = Py_BuildValue("(s)", kRunningTag);
    PyObject* capture = tag != nullptr ? with_function_of(tag, f) : nullptr;
    Py_XDECREF(tag);
    return capture;
}

bool is_running_capture(PyObject* snapshot) {
    return PyTuple_CheckExact(snapshot) && PyTuple_GET_SIZE(snapshot) == 4 &&
           PyUnicode_CheckExact(PyTuple_GET_ITEM(snapshot, 0)) &&
           PyUnicode_CompareWithASCIIString(PyTuple_GET_ITEM(snapshot, 0), kRunningTag) == 0;
}

// A new generator of the function a running generator's capture names, awaiting its
// frame: in the version's awaiting state (nothing can resume it; as it goes, it is
// cleared without running its code), its frame as made (no snapshot frame yet).
PyObject* rebuild_running(PyObject* capture) {
    PyObject* module = PyTuple_GET_ITEM(capture, 1);
    PyObject* qualname = PyTuple_GET_ITEM(capture, 2);
    PyObject* digest = PyTuple_GET_ITEM(capture, 3);
    if (!PyUnicode_CheckExact(module) || !PyUnicode_CheckExact(qualname) ||
        !PyBytes_CheckExact(digest) || PyBytes_GET_SIZE(digest) != 16)
        return raise_restore("a running generator's capture has parts of the wrong type");
    Plan p;
    if (resolve(module, qualname, digest, p.fn) < 0) return nullptr;
    auto* co = reinterpret_cast<PyCodeObject*>(p.fn.code);
    const char* m = PyUnicode_AsUTF8(module);
    const char* q = PyUnicode_AsUTF8(qualname);
    if (m == nullptr || q == nullptr) return nullptr;
    p.where = std::string(m) + "." + q;
    if (!(co->co_flags & kGeneratorFlags))
        return raise_restore("frame " + p.where +
                             " is not a generator's, coroutine's or async generator's");
    std::vector<PyObject*> none(static_cast<size_t>(co->co_nlocalsplus), nullptr);
    PyObject* maker = callable_without_arguments(p, none);
    PyObject* gen = maker != nullptr ? PyObject_CallNoArgs(maker) : nullptr;
    Py_XDECREF(maker);
    if (gen == nullptr) return nullptr;
    if (!is_generator(gen) || as_gen(gen)->gi_frame_state != FRAME_CREATED ||
        frame_code(frame::generator_frame(gen)) != co) {
        Py_DECREF(gen);
        return raise_restore("frame " + p.where + ": calling its function made no fresh generator");
    }
    as_gen(gen)->gi_frame_state = frame::kAwaitingFrameState;
    drop_forgotten();
    awaiting().push_back(Py_NewRef(gen));
    return gen;
}

}  // namespace

_PyInterpreterFrame* fill_generator_frame(const Plan& p, PyObject* gen, PyObject* func,
                                          const std::vector<PyObject*>& slots) {
    _PyInterpreterFrame* f = frame::generator_frame(gen);
    const int nlocals = reinterpret_cast<PyCodeObject*>(p.fn.code)->co_nlocalsplus;
    std::vector<char> tagged(slots.size(), 0);  // slots the eval loop reads as tagged ints
    for (int pos = 0; nlocals + pos < static_cast<int>(slots.size()); ++pos)
        tagged[static_cast<size_t>(nlocals + pos)] =
            (p.info->analysis.requirement(p.site, pos) & kReqTaggedInt) &&
            slots[static_cast<size_t>(nlocals + pos)] != nullptr;
    frame::set_generator_frame(f, reinterpret_cast<PyFunctionObject*>(func), slots.data(),
                               static_cast<int>(slots.size()), p.site.index,
                               cache_units(p.site.op));
    for (size_t i = 0; i < tagged.size(); ++i)
        if (tagged[i]) frame::make_tagged_int(f, static_cast<int>(i));
    return f;
}

bool still_awaiting(PyObject* gen) noexcept {
    return as_gen(gen)->gi_frame_state == frame::kAwaitingFrameState;
}

void close_awaiting(PyObject* gen) noexcept {
    PyObject *t = nullptr, *v = nullptr, *tb = nullptr;
    PyErr_Fetch(&t, &v, &tb);
    if (still_awaiting(gen)) {
        PyObject* r = PyObject_CallMethod(gen, "close", nullptr);
        if (r == nullptr) PyErr_WriteUnraisable(gen);
        Py_XDECREF(r);
    }
    PyErr_Restore(t, v, tb);
}

PyObject* running_generator(_PyInterpreterFrame* f) noexcept {
    if (f->owner != FRAME_OWNED_BY_GENERATOR) return nullptr;
    auto* gen = reinterpret_cast<PyGenObject*>(reinterpret_cast<char*>(f) -
                                               offsetof(PyGenObject, gi_iframe));
    return gen->gi_frame_state == FRAME_EXECUTING ? reinterpret_cast<PyObject*>(gen) : nullptr;
}

bool awaits_frame(PyObject* gen) noexcept {
    const auto& gens = awaiting();
    return std::find(gens.begin(), gens.end(), gen) != gens.end();
}

void give_frame(PyObject* gen) noexcept {
    auto& gens = awaiting();
    auto it = std::find(gens.begin(), gens.end(), gen);
    if (it == gens.end()) return;
    gens.erase(it);
    given().push_back(gen);
    Py_DECREF(gen);  // (the caller holds another reference)
}

void forget_given(PyObject* gen) noexcept {
    auto& gens = given();
    auto it = std::find(gens.begin(), gens.end(), gen);
    if (it != gens.end()) gens.erase(it);
}

PyObject* capture_generator(PyObject* gen) {
    if (!is_generator(gen)) {
        PyErr_Format(PyExc_TypeError, "expected a generator, coroutine or async generator, not %s",
                     Py_TYPE(gen)->tp_name);
        return nullptr;
    }
    const int state = as_gen(gen)->gi_frame_state;
    _PyInterpreterFrame* f = frame::generator_frame(gen);
    const auto& restored = given();
    if (std::find(restored.begin(), restored.end(), gen) != restored.end())
        return capture_running(f);  // (in a restored tasklet that has not resumed)
    if (frame::generator_finished(state)) Py_RETURN_NONE;
    if (state == FRAME_EXECUTING) {
        if (on_running_frames(f))
            return raise_unpicklable("cannot pickle " + describe(f) + ": its " +
                                     Py_TYPE(gen)->tp_name + " is running");
        return capture_running(f);  // (in a suspended tasklet's frames)
    }
    FrameAt at{f, code_info(frame_code(f)), {}};
    if (at.info == nullptr) return nullptr;
    if (!at.info->analysed)
        return raise_unpicklable("cannot pickle " + describe(f) +
                                 ": its bytecode cannot be analysed (" + at.info->analysis_error +
                                 ")");
    if (!at.info->analysis.suspension_site(frame::generator_site(f), at.site) ||
        frame::saved_depth(f) != at.site.kept)
        return raise_unpicklable("cannot pickle " + describe(f) +
                                 ": it is not waiting at a yield the bytecode analysis knows");
    PyObject* fr = capture_frame(at, nullptr);
    if (fr == nullptr) return nullptr;
    PyObject* frames = PyTuple_Pack(1, fr);
    Py_DECREF(fr);
    if (frames == nullptr) return nullptr;
    return make_snapshot(as_gen(gen)->gi_exc_state.exc_value, frames);
}

PyObject* rebuild_generator(PyObject* snapshot) {
    if (is_running_capture(snapshot)) return rebuild_running(snapshot);
    PyObject *handled = nullptr, *frames = nullptr;
    if (!check_header(snapshot, handled, frames)) return nullptr;
    if (PyTuple_GET_SIZE(frames) != 1) return raise_restore("a generator's snapshot has one frame");
    Plan p;
    if (!plan_frame(PyTuple_GET_ITEM(frames, 0), p, SiteKind::kSuspension)) return nullptr;
    std::unordered_map<PyObject*, PyObject*> cells;  // strong cell references
    bool ok = false;
    std::vector<PyObject*> slots = build_slots(p, cells, ok);
    PyObject* maker = ok ? callable_without_arguments(p, slots) : nullptr;
    PyObject* gen = maker != nullptr ? PyObject_CallNoArgs(maker) : nullptr;
    for (auto& kv : cells) Py_DECREF(kv.second);
    if (gen != nullptr &&
        (!is_generator(gen) || as_gen(gen)->gi_frame_state != FRAME_CREATED ||
         frame_code(frame::generator_frame(gen)) != reinterpret_cast<PyCodeObject*>(p.fn.code))) {
        Py_CLEAR(gen);
        raise_restore("frame " + p.where + ": calling its function made no fresh generator");
    }
    if (gen == nullptr) {
        Py_XDECREF(maker);
        for (PyObject* o : slots) Py_XDECREF(o);
        return nullptr;
    }
    // The frame runs the function found, or for a nested one the copy (its closure).
    PyObject* func = p.fn.func != nullptr ? Py_NewRef(p.fn.func) : Py_NewRef(maker);
    Py_DECREF(maker);
    fill_generator_frame(p, gen, func, slots);
    as_gen(gen)->gi_frame_state = frame::generator_state(p.site.op, p.site.arg);
    if (handled != Py_None) Py_XSETREF(as_gen(gen)->gi_exc_state.exc_value, Py_NewRef(handled));
    return gen;
}

}  // namespace slpy::frames

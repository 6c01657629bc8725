// generator.cpp — capture and rebuild the frame a generator, coroutine or async generator
// holds.
#include <unordered_map>

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
    for (int i = 0; ok && i < co->co_argcount; ++i)
        PyTuple_SET_ITEM(defaults, i, Py_NewRef(Py_None));
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

}  // namespace

PyObject* capture_generator(PyObject* gen) {
    if (!is_generator(gen)) {
        PyErr_Format(PyExc_TypeError, "expected a generator, coroutine or async generator, not %s",
                     Py_TYPE(gen)->tp_name);
        return nullptr;
    }
    const int state = as_gen(gen)->gi_frame_state;
    if (frame::generator_finished(state)) Py_RETURN_NONE;
    _PyInterpreterFrame* f = frame::generator_frame(gen);
    if (state == FRAME_EXECUTING)
        return raise_unpicklable("cannot pickle " + describe(f) + ": its " + Py_TYPE(gen)->tp_name +
                                 " is running");
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
    as_gen(gen)->gi_frame_state = frame::generator_state(p.site.op, p.site.arg);
    if (handled != Py_None) Py_XSETREF(as_gen(gen)->gi_exc_state.exc_value, Py_NewRef(handled));
    return gen;
}

}  // namespace slpy::frames

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
    auto info = code_info(g->f_code);
    if (info == nullptr) {
        PyErr_Clear();
        return "C code";
    }
    const int unit = last_unit(g);
    int op = op_of(*info, unit);
    int index = unit;
    if (op == PRECALL) {
        index = unit + 1 + cache_units(PRECALL);
        op = op_of(*info, index);
    }
    CallSite site;
    if (info->analysed && g->stacktop == -1 && info->analysis.call_site(index, site) &&
        (op == CALL || op == CALL_FUNCTION_EX)) {
        PyObject** stack = g->localsplus + g->f_code->co_nlocalsplus;
        PyObject* callable = nullptr;
        if (op == CALL) {
            PyObject* self_or_null = stack[site.depth_before - site.arg - 2];
            callable =
                self_or_null != nullptr ? self_or_null : stack[site.depth_before - site.arg - 1];
        } else {
            callable = stack[site.depth_before - 2 - (site.arg & 1)];
        }
        return "C function " + name_callable(callable);
    }
    if (op == FOR_ITER) return "an iterator's __next__ (FOR_ITER)";
    if (op == BEFORE_WITH) return "a context manager's __enter__ (BEFORE_WITH)";
    if (op == LOAD_ATTR || op == LOAD_METHOD)
        return "an attribute lookup (" + std::string(opname(op)) + ")";
    return std::string("C code (") + opname(op) + ")";
}

}  // namespace

std::string describe(_PyInterpreterFrame* f) {
    PyCodeObject* co = f->f_code;
    const int unit = last_unit(f);
    const int line = PyCode_Addr2Line(co, unit < 0 ? -1 : unit * 2);
    return utf8(co->co_qualname) + " (" + utf8(co->co_filename) + ":" + std::to_string(line) + ")";
}

const char* unsupported_code(PyCodeObject* co) noexcept {
    if (co->co_flags & (CO_GENERATOR | CO_COROUTINE | CO_ASYNC_GENERATOR | CO_ITERABLE_COROUTINE))
        return "is a generator or coroutine frame: CPython cannot recreate those";
    if (!(co->co_flags & CO_OPTIMIZED)) return "runs a module or class body, not a function";
    return nullptr;
}

int walk(PyThreadState* ts, _PyInterpreterFrame* innermost, _PyInterpreterFrame* stop,
         std::vector<FrameAt>& out, std::string* why) {
    out.clear();
    auto refuse = [&](std::string msg) {
        if (why != nullptr) *why = std::move(msg);
        return 0;
    };
    if (_PyInterpreterState_GetEvalFrameFunc(ts->interp) != _PyEval_EvalFrameDefault)
        return refuse(
            "a PEP 523 frame evaluation hook is installed (a debugger or profiler?): every "
            "frame is entered from C, so no frame chain can be captured");
    for (_PyInterpreterFrame* f = innermost; f != stop; f = f->previous) {
        const bool first = f == innermost;
        if (f == nullptr)
            return refuse("the base frame is not among the callers of the innermost frame");
        if (f->owner != FRAME_OWNED_BY_THREAD)
            return refuse("frame " + describe(f) +
                          " is a generator or coroutine frame: CPython cannot recreate those");
        if (const char* bad = unsupported_code(f->f_code))
            return refuse("frame " + describe(f) + " " + bad);
        if (_PyFrame_IsIncomplete(f)) return refuse("frame " + describe(f) + " has not started");
        FrameAt at{f, code_info(f->f_code), {}};
        if (at.info == nullptr) return -1;
        if (!at.info->analysed)
            return refuse("frame " + describe(f) + ": its bytecode cannot be analysed (" +
                          at.info->analysis_error + ")");
        const int unit = last_unit(f);
        const CodeAnalysis& an = at.info->analysis;
        bool found = false;
        if (first) {
            // Suspended inside a call into C: stacktop is -1, prev_instr is the CALL, or
            // the PRECALL when a specialized PRECALL made the call itself.
            if (f->stacktop != -1)
                return refuse("innermost frame " + describe(f) + " is not inside a call");
            int index = unit;
            if (op_of(*at.info, unit) == PRECALL) index = unit + 1 + cache_units(PRECALL);
            found = an.call_site(index, at.site) && at.site.op != BINARY_SUBSCR;
            if (!found)
                return refuse("innermost frame " + describe(f) + " is suspended at " +
                              opname(op_of(*at.info, unit)) + ", not in a call");
        } else {
            // A Python-to-Python call: prev_instr is the call's last cache unit.
            for (int op : {CALL, BINARY_SUBSCR}) {
                const int index = unit - cache_units(op);
                if (op_of(*at.info, index) == op && an.call_site(index, at.site)) {
                    found = true;
                    break;
                }
            }
            if (!found)
                return refuse("frame " + describe(f) + " is not waiting for a call (at " +
                              opname(op_of(*at.info, unit)) + ")");
            const int have = f->stacktop - f->f_code->co_nlocalsplus;
            if (have != at.site.kept)
                return refuse("frame " + describe(f) + ": its stack depth " + std::to_string(have) +
                              " is not the " + std::to_string(at.site.kept) +
                              " the bytecode analysis expects");
        }
        out.push_back(std::move(at));
        if (f->is_entry && f->previous != stop && !driven_inner_frame(f)) {
            if (f->previous == nullptr)
                return refuse("the base frame is not among the callers of the innermost frame");
            return refuse("frame " + describe(f) + " was called from C code, not from Python: " +
                          c_call_of(f->previous) + " called it at " + describe(f->previous));
        }
    }
    if (out.empty()) return refuse("no frames between the innermost frame and the base");
    return 1;
}

int check_restorable(PyThreadState* ts, _PyInterpreterFrame* innermost, _PyInterpreterFrame* stop,
                     std::string* why) {
    std::vector<FrameAt> chain;
    return walk(ts, innermost, stop, chain, why);
}

}  // namespace slpy::frames

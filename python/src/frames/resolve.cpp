// resolve.cpp — functions by reference, as pickle does for functions, plus nested code.
#include "resolve.hpp"

#include <cstring>
#include <string>
#include <utility>

#include "codeinfo.hpp"
#include "internal.hpp"

namespace slpy::frames {

namespace {

std::string str(PyObject* s) {
    const char* c = PyUnicode_AsUTF8(s);
    if (c == nullptr) {
        PyErr_Clear();
        return "?";
    }
    return c;
}

bool same_digest(PyObject* code, PyObject* digest, bool& ok) {
    auto info = code_info(reinterpret_cast<PyCodeObject*>(code));
    if (info == nullptr) {
        ok = false;
        return false;
    }
    ok = true;
    return PyBytes_GET_SIZE(info->digest) == PyBytes_GET_SIZE(digest) &&
           memcmp(PyBytes_AS_STRING(info->digest), PyBytes_AS_STRING(digest),
                  static_cast<size_t>(PyBytes_GET_SIZE(digest))) == 0;
}

// Depth-first search of nested code objects for `qualname` with `digest`. Returns the
// code (borrowed) or null; `named` tells whether some code had the name at all.
PyObject* find_nested(PyObject* code, PyObject* qualname, PyObject* digest, bool& named, bool& ok,
                      int depth) {
    if (depth > 50) return nullptr;
    PyObject* consts = reinterpret_cast<PyCodeObject*>(code)->co_consts;
    for (Py_ssize_t i = 0; ok && i < PyTuple_GET_SIZE(consts); ++i) {
        PyObject* c = PyTuple_GET_ITEM(consts, i);
        if (!PyCode_Check(c)) continue;
        PyObject* qn = reinterpret_cast<PyCodeObject*>(c)->co_qualname;
        const int eq = PyUnicode_Compare(qn, qualname);
        if (eq == -1 && PyErr_Occurred()) {
            ok = false;
            return nullptr;
        }
        if (eq == 0) {
            named = true;
            if (same_digest(c, digest, ok)) return c;
        }
        if (PyObject* r = find_nested(c, qualname, digest, named, ok, depth + 1)) return r;
    }
    return nullptr;
}

// The code its loader gives for module `mod` (what the module ran when it was imported),
// cached per module name; `refresh` fetches it again. New reference, or null (no
// exception set) if the module has no loader that gives code.
PyObject* module_code(PyObject* mod, bool refresh) {
    static PyObject* cache = nullptr;  // {module name: code}, kept for good
    if (cache == nullptr && (cache = PyDict_New()) == nullptr) {
        PyErr_Clear();
        return nullptr;
    }
    PyObject* spec = PyObject_GetAttrString(mod, "__spec__");
    if (spec == nullptr) PyErr_Clear();
    PyObject* holder = spec != nullptr && spec != Py_None ? spec : mod;
    PyObject* name =
        PyObject_GetAttrString(holder, spec != nullptr && spec != Py_None ? "name" : "__name__");
    PyObject* loader = PyObject_GetAttrString(
        holder, spec != nullptr && spec != Py_None ? "loader" : "__loader__");
    Py_XDECREF(spec);
    PyObject* code = nullptr;
    if (name != nullptr && loader != nullptr && PyUnicode_Check(name)) {
        code = refresh ? nullptr : Py_XNewRef(PyDict_GetItemWithError(cache, name));
        if (code == nullptr && !PyErr_Occurred()) {
            code = PyObject_CallMethod(loader, "get_code", "O", name);
            if (code != nullptr && (!PyCode_Check(code) || PyDict_SetItem(cache, name, code) < 0))
                Py_CLEAR(code);
        }
    }
    Py_XDECREF(name);
    Py_XDECREF(loader);
    PyErr_Clear();
    return code;
}

// `qualname` with `digest` among the code its loader gives for module `mod`: a function
// that no attribute path reaches any more (a test method replaced, a name rebound, a
// lambda at module level) is still there. 0 with out.code and out.globals set, or -1
// (no exception set).
int resolve_in_module_code(PyObject* mod, PyObject* qualname, PyObject* digest, Resolved& out) {
    for (const bool refresh : {false, true}) {
        PyObject* code = module_code(mod, refresh);
        if (code == nullptr) return -1;
        bool named = false, ok = true;
        PyObject* found = find_nested(code, qualname, digest, named, ok, 0);
        if (found != nullptr) {
            out.code = Py_NewRef(found);
            Py_DECREF(code);
            out.globals = Py_NewRef(PyModule_GetDict(mod));
            return 0;
        }
        Py_DECREF(code);
        if (!ok) {
            PyErr_Clear();
            return -1;
        }
    }
    return -1;
}

}  // namespace

namespace {

// Follow the attribute path of `qualname` in the imported module `mod` (see resolve()).
int resolve_by_path(PyObject* mod, PyObject* module, PyObject* qualname, PyObject* digest,
                    Resolved& out) {
    const std::string where = str(module) + "." + str(qualname);
    Py_INCREF(mod);
    PyObject* dot = PyUnicode_FromString(".");
    PyObject* parts = dot != nullptr ? PyUnicode_Split(qualname, dot, -1) : nullptr;
    Py_XDECREF(dot);
    if (parts == nullptr) {
        Py_DECREF(mod);
        return -1;
    }
    PyObject* obj = mod;  // owned
    Py_ssize_t i = 0;
    const Py_ssize_t n = PyList_GET_SIZE(parts);
    for (; i < n; ++i) {
        PyObject* part = PyList_GET_ITEM(parts, i);
        if (PyUnicode_CompareWithASCIIString(part, "<locals>") == 0) break;
        PyObject* next = PyObject_GetAttr(obj, part);
        Py_DECREF(obj);
        obj = next;
        if (obj == nullptr) {
            Py_DECREF(parts);
            return raise_restore("cannot find the function of frame " + where), -1;
        }
    }
    Py_DECREF(parts);
    if (PyMethod_Check(obj)) Py_SETREF(obj, Py_NewRef(PyMethod_GET_FUNCTION(obj)));
    if (!PyFunction_Check(obj)) {
        const std::string type = Py_TYPE(obj)->tp_name;
        Py_DECREF(obj);
        return raise_restore("the function of frame " + where + " is a " + type +
                             ", not a Python function"),
               -1;
    }
    auto* func = reinterpret_cast<PyFunctionObject*>(obj);
    PyObject* code = func->func_code;
    bool ok = true;
    if (i == n) {
        const bool same = same_digest(code, digest, ok);
        if (!ok || !same) {
            Py_DECREF(obj);
            if (!ok) return -1;
            return raise_restore("the code of " + where +
                                 " changed since the frame was pickled (digest mismatch)"),
                   -1;
        }
        out.code = Py_NewRef(code);
        out.globals = Py_NewRef(func->func_globals);
        out.func = obj;
        return 0;
    }
    bool named = false;
    PyObject* nested = find_nested(code, qualname, digest, named, ok, 0);
    if (nested == nullptr) {
        Py_DECREF(obj);
        if (!ok) return -1;
        return raise_restore(named ? "the code of " + where +
                                         " changed since the frame was pickled (digest mismatch)"
                                   : "cannot find the nested function of frame " + where),
               -1;
    }
    out.code = Py_NewRef(nested);
    out.globals = Py_NewRef(func->func_globals);
    Py_DECREF(obj);
    return 0;
}

}  // namespace

int resolve(PyObject* module, PyObject* qualname, PyObject* digest, Resolved& out) {
    PyObject* mod = PyImport_Import(module);
    if (mod == nullptr)
        return raise_restore("cannot import module of frame " + str(module) + "." + str(qualname)),
               -1;
    int rc = resolve_by_path(mod, module, qualname, digest, out);
    if (rc < 0 && PyModule_Check(mod) && PyErr_ExceptionMatches(restore_error())) {
        PyObject *type, *value, *tb;
        PyErr_Fetch(&type, &value, &tb);
        rc = resolve_in_module_code(mod, qualname, digest, out);
        if (rc < 0) {
            PyErr_Restore(type, value, tb);
        } else {
            Py_XDECREF(type);
            Py_XDECREF(value);
            Py_XDECREF(tb);
        }
    }
    Py_DECREF(mod);
    return rc;
}

PyObject* digest_of(PyCodeObject* code) {
    auto info = code_info(code);
    return info != nullptr ? Py_NewRef(info->digest) : nullptr;
}

int find_code(PyObject* module, PyObject* qualname, PyObject* digest, PyObject** code,
              PyObject** globals) {
    Resolved r;
    if (resolve(module, qualname, digest, r) < 0) return -1;
    *code = std::exchange(r.code, nullptr);
    *globals = std::exchange(r.globals, nullptr);
    return 0;
}

}  // namespace slpy::frames

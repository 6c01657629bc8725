// codeinfo.cpp — code digests and the per-code cache.
#include "codeinfo.hpp"

#include <algorithm>
#include <string>
#include <unordered_map>
#include <vector>

namespace slpy::frames {

namespace {

// Canonical, process-independent encoding of constants and code objects. Python's own
// hash() is salted per process and marshal's output depends on reference counts, so
// neither identifies code across processes.
class Encoder {
 public:
    bool put(PyObject* o);
    std::string out;

 private:
    void tag(char t, const char* data, size_t n) {
        out += t;
        out += std::to_string(n);
        out += ':';
        out.append(data, n);
    }
    bool repr(char t, PyObject* o) {
        PyObject* r = PyObject_Repr(o);
        if (r == nullptr) return false;
        Py_ssize_t n = 0;
        const char* s = PyUnicode_AsUTF8AndSize(r, &n);
        if (s != nullptr) tag(t, s, static_cast<size_t>(n));
        Py_DECREF(r);
        return s != nullptr;
    }
    bool str(PyObject* o) {
        PyObject* b = PyUnicode_AsEncodedString(o, "utf-8", "surrogatepass");
        if (b == nullptr) return false;
        tag('s', PyBytes_AS_STRING(b), static_cast<size_t>(PyBytes_GET_SIZE(b)));
        Py_DECREF(b);
        return true;
    }
    bool code(PyCodeObject* co);
};

bool Encoder::put(PyObject* o) {
    if (o == Py_None) return out += 'N', true;
    if (o == Py_Ellipsis) return out += 'E', true;
    if (o == Py_True) return out += 'T', true;
    if (o == Py_False) return out += 'F', true;
    if (PyLong_CheckExact(o)) return repr('i', o);
    if (PyFloat_CheckExact(o)) return repr('f', o);
    if (PyComplex_CheckExact(o)) return repr('c', o);
    if (PyUnicode_CheckExact(o)) return str(o);
    if (PyBytes_CheckExact(o)) {
        tag('b', PyBytes_AS_STRING(o), static_cast<size_t>(PyBytes_GET_SIZE(o)));
        return true;
    }
    if (PyTuple_CheckExact(o)) {
        const Py_ssize_t n = PyTuple_GET_SIZE(o);
        out += 't' + std::to_string(n) + ':';
        for (Py_ssize_t i = 0; i < n; ++i)
            if (!put(PyTuple_GET_ITEM(o, i))) return false;
        return true;
    }
    if (PyFrozenSet_CheckExact(o)) {
        // Set order depends on the salted string hash: sort the element encodings.
        std::vector<std::string> items;
        PyObject* it = PyObject_GetIter(o);
        if (it == nullptr) return false;
        for (PyObject* x; (x = PyIter_Next(it)) != nullptr;) {
            Encoder e;
            const bool ok = e.put(x);
            Py_DECREF(x);
            if (!ok) {
                Py_DECREF(it);
                return false;
            }
            items.push_back(std::move(e.out));
        }
        Py_DECREF(it);
        if (PyErr_Occurred()) return false;
        std::sort(items.begin(), items.end());
        out += 'z' + std::to_string(items.size()) + ':';
        for (const std::string& s : items) out += s;
        return true;
    }
    if (Py_IS_TYPE(o, &PySlice_Type)) {  // (3.14 folds constant slices: x[1:2])
        auto* sl = reinterpret_cast<PySliceObject*>(o);
        out += 'S';
        return put(sl->start) && put(sl->stop) && put(sl->step);
    }
    if (PyCode_Check(o)) return code(reinterpret_cast<PyCodeObject*>(o));
    PyErr_Format(PyExc_TypeError, "slp frames: unexpected constant of type %.100s in code",
                 Py_TYPE(o)->tp_name);
    return false;
}

bool Encoder::code(PyCodeObject* co) {
    out += 'C';
    for (int v : {co->co_argcount, co->co_posonlyargcount, co->co_kwonlyargcount, co->co_stacksize,
                  co->co_flags, co->co_nlocalsplus})
        out += std::to_string(v) + ',';
    PyObject* bytes = PyCode_GetCode(co);
    if (bytes == nullptr) return false;
    const bool ok = put(bytes);
    Py_DECREF(bytes);
    return ok && put(co->co_consts) && put(co->co_names) && put(co->co_localsplusnames) &&
           put(co->co_localspluskinds) && put(co->co_exceptiontable) && put(co->co_name) &&
           put(co->co_qualname);
}

struct Cache {
    std::unordered_map<PyObject*, std::shared_ptr<CodeInfo>> map;
};
Cache& cache() {
    static Cache* c = new Cache;  // never destroyed: entries are dropped by clear_code_cache
    return *c;
}
constexpr size_t kMaxEntries = 512;

}  // namespace

CodeInfo::~CodeInfo() {
    Py_XDECREF(digest);
    Py_XDECREF(co_code);
    Py_XDECREF(code);
}

PyObject* code_digest(PyCodeObject* code) {
    Encoder e;
    if (!e.put(reinterpret_cast<PyObject*>(code))) return nullptr;
    PyObject* hashlib = PyImport_ImportModule("hashlib");
    if (hashlib == nullptr) return nullptr;
    PyObject* h = PyObject_CallMethod(hashlib, "sha256", "y#", e.out.data(),
                                      static_cast<Py_ssize_t>(e.out.size()));
    Py_DECREF(hashlib);
    if (h == nullptr) return nullptr;
    PyObject* full = PyObject_CallMethod(h, "digest", nullptr);
    Py_DECREF(h);
    if (full == nullptr) return nullptr;
    PyObject* d = PyBytes_FromStringAndSize(PyBytes_AS_STRING(full), 16);
    Py_DECREF(full);
    return d;
}

std::shared_ptr<CodeInfo> code_info(PyCodeObject* code) {
    auto key = reinterpret_cast<PyObject*>(code);
    Cache& c = cache();
    if (auto it = c.map.find(key); it != c.map.end()) return it->second;
    auto info = std::make_shared<CodeInfo>();
    info->code = Py_NewRef(key);
    info->co_code = PyCode_GetCode(code);
    if (info->co_code == nullptr) return nullptr;
    info->digest = code_digest(code);
    if (info->digest == nullptr) return nullptr;
    const auto* bytes = reinterpret_cast<const uint8_t*>(PyBytes_AS_STRING(info->co_code));
    const auto units = static_cast<int>(PyBytes_GET_SIZE(info->co_code) / 2);
    const auto* table =
        reinterpret_cast<const uint8_t*>(PyBytes_AS_STRING(code->co_exceptiontable));
    const auto tlen = static_cast<int>(PyBytes_GET_SIZE(code->co_exceptiontable));
    info->analysed = info->analysis.run(bytes, units, table, tlen, code->co_stacksize,
                                        code->co_nlocalsplus, info->analysis_error);
    if (c.map.size() >= kMaxEntries) c.map.clear();  // entries in use survive via shared_ptr
    c.map.emplace(key, info);
    return info;
}

void clear_code_cache() noexcept {
    cache().map.clear();
}

}  // namespace slpy::frames

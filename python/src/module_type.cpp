// module_type.cpp — the type of the `stackless` module object: a module subclass whose
// attribute lookups the interpreter can specialise, with Stackless's live attributes
// (stackless.current, .runcount, ...) as descriptors of the type.
//
// Why a type of its own: CPython 3.11 specialises `module.name` only on an exact module
// without a module-level __getattr__ (LOAD_ATTR_MODULE); on anything else each lookup
// takes the generic path, which costs a `stackless.schedule()` loop about a tenth of a
// greenlet switch per call. Live per-thread values cannot be plain dictionary entries,
// so they need a type, and on a module subclass the interpreter specialises neither
// dictionary entries nor methods of the type (LOAD_ATTR, which is what `stackless.f()`
// compiles to when `stackless` was imported at module level). It does specialise an
// object slot of the instance (LOAD_ATTR_SLOT: a type-version check and a load) when
// the type's lookup is PyObject_GenericGetAttr. So the attributes that loops look up
// live in slots of the module object, out of its dictionary, and the live attributes
// are getters of the type.
#include "module_type.hpp"

#include <structmember.h>

#include <iterator>

#include "module_api.hpp"

namespace slpy {

namespace {

// The attributes in slots of the module object: what loops look up.
constexpr const char* kSlotNames[] = {"schedule",    "schedule_remove", "getcurrent", "getmain",
                                      "getruncount", "tasklet",         "channel"};
constexpr size_t kSlots = std::size(kSlotNames);

// Stackless's live module attributes: each the result of a METH_NOARGS function of the
// module.
struct LiveAttribute {
    const char* name;
    const char* function;
};
constexpr LiveAttribute kLiveAttributes[] = {{"current", "getcurrent"},
                                             {"main", "getmain"},
                                             {"runcount", "getruncount"},
                                             {"threads", "getthreads"},
                                             {"uncollectables", "getuncollectables"}};

struct StacklessModule {
    PyModuleObject module;
    PyObject* slots[kSlots];
};

StacklessModule* as_stackless(PyObject* o) {
    return reinterpret_cast<StacklessModule*>(o);
}

PyTypeObject StacklessModuleType{};
PyMemberDef slot_members[kSlots + 1] = {};
// The live attributes, then the settable ones (module_api.hpp).
PyGetSetDef live_getset[std::size(kLiveAttributes) + 2] = {};

// Closure: the module's METH_NOARGS builtin function (a reference kept for good), set
// by serve_from_type.
PyObject* get_live(PyObject*, void* closure) {
    auto* f = static_cast<PyObject*>(closure);
    if (f == nullptr) [[unlikely]] {
        PyErr_SetString(PyExc_AttributeError, "stackless is not initialized");
        return nullptr;
    }
    return PyCFunction_GET_FUNCTION(f)(PyCFunction_GET_SELF(f), nullptr);
}

// dir(stackless): the dictionary's names and those the type serves.
PyObject* module_dir(PyObject* self, PyObject*) {
    ref names = ref::steal(PySet_New(PyModule_GetDict(self)));
    if (!names) return nullptr;
    auto add = [&](const char* n) {
        ref s = ref::steal(PyUnicode_FromString(n));
        return s && PySet_Add(names.get(), s.get()) == 0;
    };
    for (size_t i = 0; i < kSlots; i++)
        if (as_stackless(self)->slots[i] != nullptr && !add(kSlotNames[i])) return nullptr;
    for (const LiveAttribute& a : kLiveAttributes)
        if (!add(a.name)) return nullptr;
    if (!add("pickle_with_tracing_state")) return nullptr;
    ref list = ref::steal(PySequence_List(names.get()));
    if (!list || PyList_Sort(list.get()) < 0) return nullptr;
    return list.release();
}

PyMethodDef module_type_methods[] = {
    {"__dir__", module_dir, METH_NOARGS, "The module's names, those its type serves included."},
    {nullptr, nullptr, 0, nullptr}};

int module_traverse(PyObject* self, visitproc visit, void* arg) {
    for (PyObject* o : as_stackless(self)->slots) Py_VISIT(o);
    return PyModule_Type.tp_traverse(self, visit, arg);
}

int module_clear(PyObject* self) {
    for (PyObject*& o : as_stackless(self)->slots) Py_CLEAR(o);
    return PyModule_Type.tp_clear(self);
}

void module_dealloc(PyObject* self) {
    PyObject_GC_UnTrack(self);
    for (PyObject*& o : as_stackless(self)->slots) Py_CLEAR(o);
    PyModule_Type.tp_dealloc(self);
}

bool init_module_type() {
    if (StacklessModuleType.tp_flags & Py_TPFLAGS_READY) return true;
    for (size_t i = 0; i < kSlots; i++)
        slot_members[i] = {
            kSlotNames[i], T_OBJECT_EX,
            static_cast<Py_ssize_t>(offsetof(StacklessModule, slots) + i * sizeof(PyObject*)), 0,
            nullptr};
    for (size_t i = 0; i < std::size(kLiveAttributes); i++)
        live_getset[i] = {kLiveAttributes[i].name, get_live, nullptr, nullptr, nullptr};
    live_getset[std::size(kLiveAttributes)] = {
        "pickle_with_tracing_state", get_pickle_with_tracing_state, set_pickle_with_tracing_state,
        "Do pickled tasklets carry their trace and profile functions? (Stackless's wrapper of "
        "PICKLEFLAGS_PRESERVE_TRACING_STATE.)",
        nullptr};
    StacklessModuleType.tp_name = "stackless.module";
    StacklessModuleType.tp_basicsize = sizeof(StacklessModule);
    StacklessModuleType.tp_base = &PyModule_Type;
    StacklessModuleType.tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC;
    StacklessModuleType.tp_doc =
        "The stackless module: its type serves its live attributes and what loops look up.";
    // What lets the interpreter specialise lookups on it (see the top of this file); a
    // module-level __getattr__ in the dictionary is not consulted.
    StacklessModuleType.tp_getattro = PyObject_GenericGetAttr;
    StacklessModuleType.tp_traverse = module_traverse;
    StacklessModuleType.tp_clear = module_clear;
    StacklessModuleType.tp_dealloc = module_dealloc;
    StacklessModuleType.tp_members = slot_members;
    StacklessModuleType.tp_getset = live_getset;
    StacklessModuleType.tp_methods = module_type_methods;
    return PyType_Ready(&StacklessModuleType) == 0;
}

// The module's __getattr__, kept in its dictionary for a plain copy of the module: on an
// import after `del sys.modules['stackless']`, CPython makes a plain module from a copy
// of this dictionary, which has neither the slots nor the live attributes. `self` is
// always the module stackless_module() made (the function is bound to it); that module
// never calls this (its type's lookup does not consult __getattr__).
PyObject* mod_getattr(PyObject* self, PyObject* name) {
    return PyObject_GetAttr(self, name);
}

PyMethodDef getattr_method[] = {
    {"__getattr__", mod_getattr, METH_O, "A copy of the module gets what the module has."},
    {nullptr, nullptr, 0, nullptr}};

}  // namespace

PyObject* stackless_module(PyModuleDef* def) noexcept {
    if (!init_module_type() || PyModuleDef_Init(def) == nullptr) return nullptr;
    ref name = ref::steal(PyUnicode_FromString(def->m_name));
    if (!name) return nullptr;
    // ModuleType's own construction (the dictionary, __name__), then what PyModule_Create
    // adds: the definition, the functions, the doc.
    ref m = ref::steal(
        PyObject_CallOneArg(reinterpret_cast<PyObject*>(&StacklessModuleType), name.get()));
    if (!m) return nullptr;
    cpy::set_module_def(m.get(), def);
    if (PyModule_AddFunctions(m.get(), def->m_methods) < 0 ||
        PyModule_AddFunctions(m.get(), getattr_method) < 0 ||
        PyModule_SetDocString(m.get(), def->m_doc) < 0)
        return nullptr;
    return m.release();
}

bool serve_from_type(PyObject* m) noexcept {
    // (PyModule_AddFunctions sets attributes: a function named as a slot is in the slot
    // already; PyModule_AddObject puts objects in the dictionary.)
    PyObject* dict = PyModule_GetDict(m);
    for (size_t i = 0; i < kSlots; i++) {
        PyObject* v = PyDict_GetItemString(dict, kSlotNames[i]);
        if (v != nullptr) {
            Py_XSETREF(as_stackless(m)->slots[i], Py_NewRef(v));
            if (PyDict_DelItemString(dict, kSlotNames[i]) < 0) return false;
        }
    }
    for (size_t i = 0; i < std::size(kLiveAttributes); i++) {
        ref f = ref::steal(PyObject_GetAttrString(m, kLiveAttributes[i].function));
        if (!f) return false;
        if (!PyCFunction_Check(f.get()) || PyCFunction_GET_FLAGS(f.get()) != METH_NOARGS) {
            PyErr_Format(PyExc_SystemError, "stackless.%s is no METH_NOARGS function",
                         kLiveAttributes[i].function);
            return false;
        }
        Py_XDECREF(static_cast<PyObject*>(live_getset[i].closure));
        live_getset[i].closure = f.release();
    }
    return true;
}

}  // namespace slpy

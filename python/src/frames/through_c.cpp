// through_c.cpp — the C code between two frames whose effect is known: CPython's own
// call paths that pass a Python function's result through unchanged (a bound method, an
// object with a Python __call__, a special method looked up on a type). A frame called
// so can be restored as if its caller had called it directly.
#include "internal.hpp"

namespace slpy::frames {

namespace {

// The slot `field` CPython gives a class that defines `special` in Python (slot_tp_call,
// slot_tp_init: not exported), read off a class made for the purpose. Null if that
// fails.
template <class Slot>
Slot python_slot(const char* special, Slot PyTypeObject::*field) {
    PyObject* t = PyObject_CallFunction(reinterpret_cast<PyObject*>(&PyType_Type), "s(O){sO}",
                                        "slp_slot_probe", &PyBaseObject_Type, special, Py_None);
    if (t == nullptr) {
        PyErr_Clear();
        return nullptr;
    }
    Slot slot = reinterpret_cast<PyTypeObject*>(t)->*field;
    Py_DECREF(t);
    return slot;
}

ternaryfunc python_call_slot() {
    static ternaryfunc slot = python_slot("__call__", &PyTypeObject::tp_call);
    return slot;
}

initproc python_init_slot() {
    static initproc slot = python_slot("__init__", &PyTypeObject::tp_init);
    return slot;
}

// The vectorcall CPython gives every Python function (_PyFunction_Vectorcall, not
// exported since 3.13), read off a function made for the purpose.
vectorcallfunc python_vectorcall() {
    static vectorcallfunc call = [] {
        vectorcallfunc found = nullptr;
        PyCodeObject* code = PyCode_NewEmpty("slp", "slp_vectorcall_probe", 0);
        PyObject* globals = PyDict_New();
        PyObject* f = code != nullptr && globals != nullptr
                          ? PyFunction_New(reinterpret_cast<PyObject*>(code), globals)
                          : nullptr;
        if (f != nullptr) found = reinterpret_cast<PyFunctionObject*>(f)->vectorcall;
        Py_XDECREF(f);
        Py_XDECREF(globals);
        Py_XDECREF(code);
        PyErr_Clear();
        return found;
    }();
    return call;
}

// Does calling `f` from C run its code in a new frame and return what the code returns?
bool plain_function(PyObject* f, PyFunctionObject* func) {
    return f == reinterpret_cast<PyObject*>(func) && PyFunction_Check(f) &&
           func->vectorcall != nullptr && func->vectorcall == python_vectorcall();
}

// The Python function a class's special method `name` runs, if it is one (borrowed).
PyObject* special_function(PyTypeObject* type, const char* name) {
    PyObject* key = PyUnicode_InternFromString(name);
    if (key == nullptr) {
        PyErr_Clear();
        return nullptr;
    }
    PyObject* f = _PyType_Lookup(type, key);  // borrowed, no exception
    Py_DECREF(key);
    return f != nullptr && PyFunction_Check(f) ? f : nullptr;
}

// Is `word` the object in the first local of `callee` (its self)? Compared as a word: it
// may be nothing else (a word of a slot that no longer holds a reference).
bool callee_self_is(_PyInterpreterFrame* callee, const void* word) {
    PyCodeObject* co = frame_code(callee);
    if (co->co_argcount < 1 || (static_cast<uint8_t>(PyBytes_AS_STRING(co->co_localspluskinds)[0]) &
                                (CO_FAST_CELL | CO_FAST_FREE)))
        return false;
    return cpy::slot_object(cpy::slots(callee)[0]) == word;
}

}  // namespace

PyObject* bound_special(PyObject* self, const char* name, const std::string& where) {
    PyTypeObject* type = Py_TYPE(self);
    PyObject* key = PyUnicode_InternFromString(name);
    if (key == nullptr) return nullptr;
    PyObject* f = _PyType_Lookup(type, key);  // borrowed, no exception
    Py_DECREF(key);
    if (f == nullptr)
        return raise_restore("frame " + where + " needs the " + name + " of its " + type->tp_name +
                             " object, which has none");
    // Held across __get__, which may run code that changes the type.
    Py_INCREF(f);
    descrgetfunc get = Py_TYPE(f)->tp_descr_get;
    if (get == nullptr) return f;
    PyObject* bound = get(f, self, reinterpret_cast<PyObject*>(type));
    Py_DECREF(f);
    return bound;
}

bool passes_result_through(const CCall& call, _PyInterpreterFrame* callee) {
    PyFunctionObject* func = frame_func(callee);
    if (call.special_self != nullptr) {
        if (call.self_is_callees && !callee_self_is(callee, call.special_self)) return false;
        return plain_function(special_function(Py_TYPE(call.special_self), call.special), func);
    }
    PyObject* c = call.callable;
    if (c == nullptr) return false;
    if (PyFunction_Check(c)) return plain_function(c, func);
    if (PyMethod_Check(c)) return plain_function(PyMethod_GET_FUNCTION(c), func);
    // A bound method that lent itself the slot: `c` is its self, and the function it runs
    // is one of self's class (a with statement's __exit__, a method called with **kwargs).
    if (call.lent_slot && !PyType_Check(c) && PyUnicode_Check(func->func_name) &&
        _PyType_Lookup(Py_TYPE(c), func->func_name) == reinterpret_cast<PyObject*>(func) &&
        plain_function(reinterpret_cast<PyObject*>(func), func))
        return true;
    // An instance of a class whose __call__ is a Python function (slot_tp_call calls it
    // with the instance prepended). Not a class: type_call runs __new__ and __init__.
    if (PyType_Check(c)) return false;
    ternaryfunc slot = python_call_slot();
    return slot != nullptr && Py_TYPE(c)->tp_call == slot &&
           plain_function(special_function(Py_TYPE(c), "__call__"), func);
}

PyObject* initialised_object(const CCall& call, _PyInterpreterFrame* init, const CodeInfo& info) {
    PyObject* cls = call.callable;
    if (cls == nullptr || !PyType_Check(cls) ||
        Py_TYPE(cls)->tp_call != PyType_Type.tp_call)  // a metaclass's __call__ is unknown C
        return nullptr;
    // type_call: obj = tp_new(...); then Py_TYPE(obj)->tp_init, slot_tp_init for a Python
    // __init__, which calls it with obj prepended.
    PyCodeObject* co = frame_code(init);
    if (co->co_argcount < 1 || !info.analysed ||
        (static_cast<uint8_t>(PyBytes_AS_STRING(co->co_localspluskinds)[0]) &
         (CO_FAST_CELL | CO_FAST_FREE)) ||
        info.analysis.writes_local(0))
        return nullptr;
    PyObject* obj = cpy::slot_object(cpy::slots(init)[0]);  // (a word of the frame)
    if (obj == nullptr || !PyObject_TypeCheck(obj, reinterpret_cast<PyTypeObject*>(cls)))
        return nullptr;
    PyTypeObject* type = Py_TYPE(obj);
    initproc slot = python_init_slot();
    if (slot == nullptr || type->tp_init != slot) return nullptr;
    PyObject* f = special_function(type, "__init__");
    return f != nullptr && plain_function(f, frame_func(init)) ? obj : nullptr;
}

}  // namespace slpy::frames

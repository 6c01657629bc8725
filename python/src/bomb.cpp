// bomb.cpp — stackless.bomb: an exception carried as a value (type, value, traceback),
// and the `raise` normalization used by throw/send_throw.
#include "errors.hpp"
#include "objects.hpp"

namespace slpy {

namespace {

PyObject* bomb_new(PyTypeObject*, PyObject* args, PyObject* kwds) {
    static const char* kwlist[] = {"type", "value", "traceback", nullptr};
    PyObject *t = nullptr, *v = nullptr, *tb = nullptr;
    if (PyTuple_GET_SIZE(args) == 1 && PyTuple_Check(PyTuple_GET_ITEM(args, 0)))
        args = PyTuple_GET_ITEM(args, 0);
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "|OOO:bomb", const_cast<char**>(kwlist), &t, &v,
                                     &tb))
        return nullptr;
    return make_bomb(t, v, tb);
}

void bomb_dealloc(PyObject* self) {
    auto* b = reinterpret_cast<BombObject*>(self);
    PyObject_GC_UnTrack(self);
    Py_CLEAR(b->type);
    Py_CLEAR(b->value);
    Py_CLEAR(b->traceback);
    Py_TYPE(self)->tp_free(self);
}

int bomb_traverse(PyObject* self, visitproc visit, void* arg) {
    auto* b = reinterpret_cast<BombObject*>(self);
    Py_VISIT(b->type);
    Py_VISIT(b->value);
    Py_VISIT(b->traceback);
    return 0;
}

int bomb_clear(PyObject* self) {
    auto* b = reinterpret_cast<BombObject*>(self);
    Py_CLEAR(b->type);
    Py_CLEAR(b->value);
    Py_CLEAR(b->traceback);
    return 0;
}

PyObject* bomb_raise(PyObject* self, PyObject*) {
    return explode_bomb(self);
}

PyObject* bomb_get(PyObject* o) {
    return Py_NewRef(o != nullptr ? o : Py_None);
}
PyObject* get_type(PyObject* s, void*) {
    return bomb_get(reinterpret_cast<BombObject*>(s)->type);
}
PyObject* get_value(PyObject* s, void*) {
    return bomb_get(reinterpret_cast<BombObject*>(s)->value);
}
PyObject* get_tb(PyObject* s, void*) {
    return bomb_get(reinterpret_cast<BombObject*>(s)->traceback);
}

PyMethodDef bomb_methods[] = {
    {"raise_", bomb_raise, METH_NOARGS, "Raise the exception the bomb carries."},
    {nullptr, nullptr, 0, nullptr}};

PyGetSetDef bomb_getset[] = {{"type", get_type, nullptr, "the exception type", nullptr},
                             {"value", get_value, nullptr, "the exception value", nullptr},
                             {"traceback", get_tb, nullptr, "the traceback", nullptr},
                             {nullptr, nullptr, nullptr, nullptr, nullptr}};

}  // namespace

PyTypeObject BombType{};

bool init_bomb_type() {
    Py_SET_REFCNT(reinterpret_cast<PyObject*>(&BombType), 1);
    BombType.tp_name = "stackless.bomb";
    BombType.tp_basicsize = sizeof(BombObject);
    BombType.tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC;
    BombType.tp_doc =
        "bomb(type=None, value=None, traceback=None): an exception as a value; a tasklet that "
        "receives one from a channel raises it.";
    BombType.tp_new = bomb_new;
    BombType.tp_dealloc = bomb_dealloc;
    BombType.tp_traverse = bomb_traverse;
    BombType.tp_clear = bomb_clear;
    BombType.tp_methods = bomb_methods;
    BombType.tp_getset = bomb_getset;
    return PyType_Ready(&BombType) == 0;
}

PyObject* make_bomb(PyObject* type, PyObject* value, PyObject* tb) {
    auto* b = PyObject_GC_New(BombObject, &BombType);
    if (b == nullptr) return nullptr;
    b->type = Py_XNewRef(type);
    b->value = Py_XNewRef(value);
    b->traceback = Py_XNewRef(tb);
    PyObject_GC_Track(b);
    return reinterpret_cast<PyObject*>(b);
}

PyObject* explode_bomb(PyObject* bomb) {
    auto* b = reinterpret_cast<BombObject*>(bomb);
    PyObject *t, *v, *tb;
    PyObject* none = Py_None;
    if (!exception_triple(b->type != nullptr ? b->type : none, b->value ? b->value : none,
                          b->traceback ? b->traceback : none, &t, &v, &tb))
        return nullptr;
    PyErr_Restore(t, v, tb);
    return nullptr;
}

bool exception_triple(PyObject* exc, PyObject* val, PyObject* tb, PyObject** t, PyObject** v,
                      PyObject** b) {
    *t = *v = *b = nullptr;
    if (tb == Py_None) tb = nullptr;
    if (tb != nullptr && !PyTraceBack_Check(tb)) {
        PyErr_SetString(PyExc_TypeError, "throw() third argument must be a traceback object");
        return false;
    }
    if (PyExceptionClass_Check(exc)) {
        PyObject* inst;
        if (val != Py_None && PyObject_TypeCheck(val, reinterpret_cast<PyTypeObject*>(exc))) {
            inst = Py_NewRef(val);
        } else if (val == Py_None) {
            inst = PyObject_CallNoArgs(exc);
        } else if (PyTuple_Check(val)) {
            inst = PyObject_Call(exc, val, nullptr);
        } else {
            inst = PyObject_CallOneArg(exc, val);
        }
        if (inst == nullptr) return false;
        if (!PyExceptionInstance_Check(inst)) {
            PyErr_Format(PyExc_TypeError,
                         "calling %R should have returned an instance of BaseException, not %s",
                         exc, Py_TYPE(inst)->tp_name);
            Py_DECREF(inst);
            return false;
        }
        *t = Py_NewRef(reinterpret_cast<PyObject*>(Py_TYPE(inst)));
        *v = inst;
    } else if (PyExceptionInstance_Check(exc)) {
        if (val != Py_None) {
            PyErr_SetString(PyExc_TypeError, "instance exception may not have a separate value");
            return false;
        }
        *t = Py_NewRef(reinterpret_cast<PyObject*>(Py_TYPE(exc)));
        *v = Py_NewRef(exc);
        if (tb == nullptr)
            tb = PyException_GetTraceback(exc);
        else
            Py_INCREF(tb);
        *b = tb;
        return true;
    } else {
        PyErr_Format(PyExc_TypeError,
                     "exceptions must be classes or instances deriving from BaseException, not %s",
                     Py_TYPE(exc)->tp_name);
        return false;
    }
    *b = Py_XNewRef(tb);
    return true;
}

}  // namespace slpy

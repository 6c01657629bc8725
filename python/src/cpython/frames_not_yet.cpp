// frames_not_yet.cpp — the frame library's interface (frames/frames.hpp) on a CPython
// whose folder does not port the library yet (it has a file frames-not-yet; the build
// then compiles this instead of frames/). Everything else of the module works there;
// what needs the library — pickling a tasklet that has started, unpickling one, and
// tasklet.restorable — raises the library's own errors, whose message is that file's
// line (SLP_FRAMES_NOT_YET, from the build), never a wrong answer.
#include <string>

#include "../common.hpp"
#include "../frames/frames.hpp"

namespace slpy::frames {

class Chain {};

namespace {

// UnpicklableFrameError, FrameRestoreError (strong, for the life of the process).
PyObject* g_errors[2] = {nullptr, nullptr};
constexpr const char* kNames[2] = {"UnpicklableFrameError", "FrameRestoreError"};

std::string why() {
    return std::string("CPython ") + std::to_string(PY_MAJOR_VERSION) + "." +
           std::to_string(PY_MINOR_VERSION) + ": " + SLP_FRAMES_NOT_YET;
}

// The classes, as the library makes them: subclasses of pickle.PicklingError, and of
// pickle.UnpicklingError and ValueError.
int make_errors(PyObject* module) {
    ref pickle = ref::steal(PyImport_ImportModule("pickle"));
    if (!pickle) return -1;
    ref perr = ref::steal(PyObject_GetAttrString(pickle.get(), "PicklingError"));
    ref uerr = ref::steal(PyObject_GetAttrString(pickle.get(), "UnpicklingError"));
    if (!perr || !uerr) return -1;
    ref bases[2] = {ref::borrow(perr.get()),
                    ref::steal(PyTuple_Pack(2, uerr.get(), PyExc_ValueError))};
    const char* prefix = module != nullptr ? PyModule_GetName(module) : "slp_frames";
    if (!bases[1] || prefix == nullptr) return -1;
    ref made[2];
    for (int i = 0; i < 2; ++i) {
        const std::string name = std::string(prefix) + "." + kNames[i];
        made[i] = ref::steal(PyErr_NewException(name.c_str(), bases[i].get(), nullptr));
        if (!made[i]) return -1;
    }
    for (int i = 0; i < 2; ++i) g_errors[i] = made[i].release();
    return 0;
}

}  // namespace

int init(PyObject* module) {
    if (g_errors[0] == nullptr && make_errors(module) < 0) return -1;
    for (int i = 0; module != nullptr && i < 2; ++i)
        if (PyModule_AddObjectRef(module, kNames[i], g_errors[i]) < 0) return -1;
    return 0;
}

PyObject* unpicklable_error() noexcept {
    return g_errors[0];
}
PyObject* restore_error() noexcept {
    return g_errors[1];
}

int check_restorable(PyThreadState*, _PyInterpreterFrame*, _PyInterpreterFrame*, std::string* out) {
    if (out != nullptr) *out = why();
    return 0;
}

PyObject* capture(PyThreadState*, _PyInterpreterFrame*, _PyInterpreterFrame*, PyObject*, int) {
    PyErr_SetString(g_errors[0], why().c_str());
    return nullptr;
}

Chain* rebuild(PyObject*) {
    PyErr_SetString(g_errors[1], why().c_str());
    return nullptr;
}

PyObject* capture_generator(PyObject*) {
    PyErr_SetString(g_errors[0], why().c_str());
    return nullptr;
}

PyObject* rebuild_generator(PyObject*) {
    PyErr_SetString(g_errors[1], why().c_str());
    return nullptr;
}

// (No Chain is ever made here: the rest is unreachable.)
PyObject* handled_exception(const Chain*) noexcept {
    return Py_None;
}
int depth(const Chain*) noexcept {
    return 0;
}
_PyInterpreterFrame* base_frame(const Chain*) noexcept {
    return nullptr;
}
PyObject* resume(Chain*, PyObject*) {
    PyErr_SetString(g_errors[1], why().c_str());
    return nullptr;
}
int traverse(const Chain*, visitproc, void*) {
    return 0;
}
void destroy(Chain*) noexcept {}

}  // namespace slpy::frames

// version_stamp.cpp — see version_stamp.hpp.
#include "version_stamp.hpp"

#include <string>

#include "frames/frames.hpp"

namespace slpy {

namespace {

struct stamp_fields {
    long major, minor, micro, magic;
};

stamp_fields running() noexcept {
    // Py_Version: the interpreter that runs, not the headers the module was built with.
    return {static_cast<long>((Py_Version >> 24) & 0xFF),
            static_cast<long>((Py_Version >> 16) & 0xFF),
            static_cast<long>((Py_Version >> 8) & 0xFF),
            // The magic's first two bytes: the number CPython's sources name (3495 for
            // 3.11); the other two are always "\r\n".
            PyImport_GetMagicNumber() & 0xFFFF};
}

std::string name_of(const stamp_fields& s) {
    return "CPython " + std::to_string(s.major) + "." + std::to_string(s.minor) + "." +
           std::to_string(s.micro);
}

bool read_field(PyObject* tuple, Py_ssize_t i, long& out) {
    PyObject* v = PyTuple_GET_ITEM(tuple, i);
    if (!PyLong_CheckExact(v)) return false;
    out = PyLong_AsLong(v);
    if (out == -1 && PyErr_Occurred()) {
        PyErr_Clear();
        return false;
    }
    return out >= 0;
}

int refuse(const std::string& msg) noexcept {
    PyErr_SetString(frames::restore_error(), msg.c_str());
    return -1;
}

}  // namespace

PyObject* version_stamp() noexcept {
    const stamp_fields s = running();
    return Py_BuildValue("(llll)", s.major, s.minor, s.micro, s.magic);
}

int check_version_stamp(PyObject* stamp, const char* what) noexcept {
    stamp_fields made{};
    if (!PyTuple_CheckExact(stamp) || PyTuple_GET_SIZE(stamp) != 4 ||
        !read_field(stamp, 0, made.major) || !read_field(stamp, 1, made.minor) ||
        !read_field(stamp, 2, made.micro) || !read_field(stamp, 3, made.magic))
        return refuse(std::string(what) + " state: malformed CPython version stamp");
    const stamp_fields here = running();
    const std::string made_name = name_of(made), here_name = name_of(here);
    if (made.major != here.major || made.minor != here.minor)
        return refuse("this " + std::string(what) + " was pickled under " + made_name +
                      " and cannot be loaded under " + here_name +
                      ": a pickle loads only under the minor version it was made under (" +
                      std::to_string(made.major) + "." + std::to_string(made.minor) + ")");
    if (made.magic != here.magic)
        return refuse("this " + std::string(what) + " was pickled under " + made_name +
                      ", whose bytecode format (magic number " + std::to_string(made.magic) +
                      ") differs from " + here_name + "'s (" + std::to_string(here.magic) +
                      "): it cannot be loaded here");
    return 0;
}

}  // namespace slpy

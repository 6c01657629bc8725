// version_stamp.hpp — the CPython a pickle was made under, recorded in it and checked
// when it is loaded.
//
// A stamp is (major, minor, micro, magic): the running CPython's version and its
// bytecode magic number (the first two bytes of importlib.util.MAGIC_NUMBER, little
// endian: 3495 for 3.11). A pickle loads under
// the same minor version with the same magic number (micro versions that keep the
// bytecode format, say 3.13.5 and 3.13.18); under any other it is refused with an error
// that names both versions, before anything is changed.
#pragma once

#include "common.hpp"

namespace slpy {

// The running CPython's stamp (a new reference), or nullptr with an exception.
PyObject* version_stamp() noexcept;

// 0 if a pickle stamped `stamp` loads here; -1 with FrameRestoreError (an
// UnpicklingError) naming the pickle's CPython and this one. `what` names the pickled
// object in the message ("tasklet").
int check_version_stamp(PyObject* stamp, const char* what) noexcept;

}  // namespace slpy

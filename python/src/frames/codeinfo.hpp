// codeinfo.hpp — per code object facts the frame library needs, computed once and
// cached: the de-optimized bytecode, a digest identifying the code across processes,
// and the stack analysis.
#pragma once

#include <memory>
#include <string>

#include "analysis.hpp"
#include "python.hpp"

namespace slpy::frames {

struct CodeInfo {
    PyObject* code = nullptr;     // strong: the PyCodeObject
    PyObject* co_code = nullptr;  // strong: de-optimized bytecode (bytes)
    PyObject* digest = nullptr;   // strong: 16 bytes, see code_digest()
    bool analysed = false;
    std::string analysis_error;  // why the analysis failed (when !analysed)
    CodeAnalysis analysis;
    ~CodeInfo();
};

// The cached facts of `code`. Returns null with a Python exception set if the digest
// cannot be computed (memory, an unexpected constant type). An analysis failure is not
// an error here: it is reported through `analysed`/`analysis_error`.
std::shared_ptr<CodeInfo> code_info(PyCodeObject* code);

// The digest of a code object: SHA-256 (first 16 bytes) of a canonical encoding of
// everything that decides how its bytecode offsets behave — co_code, constants
// (recursively, nested code included), names, local names and kinds, the exception
// table, flags, argument counts, stack size, name and qualified name — but not its file
// name or line numbers, so moving a file or editing other functions keeps it valid.
// New reference, or null with an exception set.
PyObject* code_digest(PyCodeObject* code);

// Drop every cached entry (tests; a module being unloaded).
void clear_code_cache() noexcept;

}  // namespace slpy::frames

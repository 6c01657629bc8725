// python.hpp — the CPython headers the frame library needs, and the running version's
// frame layout (../cpython/frame_layout.hpp: slpy::cpy::frame, with slpy::cpy's
// frame_code() and frame_func()).
#pragma once

#include "../cpython/frame_layout.hpp"

namespace slpy::frames {
namespace frame = cpy::frame;
using cpy::frame_code;
using cpy::frame_func;
}  // namespace slpy::frames

// python.hpp — the CPython headers the frame library needs, and the running version's
// frame layout (../cpython/frame_layout.hpp: slpy::cpython::frame).
#pragma once

#include "../cpython/frame_layout.hpp"

namespace slpy::frames {
namespace frame = cpython::frame;
}  // namespace slpy::frames

// frame_layout.hpp — the running version's interpreter frames, behind one set of names
// (slpy::cpy::frame): the frame library (../frames) reads and builds frames only
// through it. Each version's v3XX/frame_layout.hpp defines the same functions.
#pragma once

#include "version.hpp"

#include SLP_CPY_HEADER(frame_layout.hpp)

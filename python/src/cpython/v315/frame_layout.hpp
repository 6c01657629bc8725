// v315/frame_layout.hpp — CPython 3.15's interpreter frames for the frame library: as
// 3.14's (stack references, a spilled stack pointer, entry frames owned by the
// interpreter). Its entry frames are told apart from the thread's base frame by
// enters_eval() (v315/chain.hpp), which ../v314/frame_layout.hpp asks.
#pragma once

#include "../v314/frame_layout.hpp"

// interface.hpp (CPython 3.15) — what the module knows of CPython 3.15's internals
// outside the frame library: 3.14's (../v314/), except how a frame chain ends (chain.hpp,
// which ../v314/thread_state.hpp includes from here: the thread's base frame), where a
// module object keeps its definition (module_object.hpp) and an async generator's
// athrow() awaitable its arguments (ag_awaitables.hpp).
// ../README.md lists the differences.
#pragma once

#include "../v314/frame.hpp"
#include "../v314/headers.hpp"
#include "../v314/thread_state.hpp"
#include "../v314/tracing.hpp"
#include "ag_awaitables.hpp"
#include "module_object.hpp"

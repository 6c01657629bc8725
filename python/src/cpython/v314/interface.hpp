// interface.hpp (CPython 3.14) — what the module knows of CPython 3.14's internals
// outside the frame library: the version-neutral interface (namespace slpy::cpy) of
// ../README.md, one header per area.
#pragma once

#include "../ag_awaitables_311.hpp"
#include "frame.hpp"
#include "headers.hpp"
#include "module_object.hpp"
#include "thread_state.hpp"
#include "tracing.hpp"

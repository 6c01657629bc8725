// slp/slp.hpp — everything: tasklets, channels, the scheduler, stacks, contexts.
#pragma once

#include "slp/channel.hpp"
#include "slp/context.hpp"
#include "slp/errors.hpp"
#include "slp/payload.hpp"
#include "slp/scheduler.hpp"
#include "slp/soft.hpp"
#include "slp/stack.hpp"
#include "slp/tasklet.hpp"

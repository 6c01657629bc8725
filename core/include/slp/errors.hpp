// slp/errors.hpp — every error the runtime reports, in one place.
//
// The messages are Stackless's own (Stackless/module/{taskletobject,channelobject,
// scheduling}.c), so the Python binding can map each C++ type to the Python exception
// Stackless raises and keep the text:
//   slp::runtime_error   -> RuntimeError
//   slp::deadlock_error  -> RuntimeError (a runtime_error; message starts "Deadlock")
//   slp::value_error     -> ValueError
//   slp::tasklet_exit    -> TaskletExit
// Every function that reports one of these leaves the scheduler, the channels and the
// tasklets exactly as they were before the call (nothing half-done).
#pragma once

#include <stdexcept>
#include <string>

namespace slp {

// TaskletExit: raised inside a tasklet by tasklet::kill(). It unwinds the tasklet's
// stack (destructors run) and, when it leaves the tasklet's function, ends the tasklet
// silently. Like Python's TaskletExit (a BaseException, not an Exception) it is NOT
// derived from std::exception, so `catch (const std::exception&)` does not swallow a
// kill. A body that catches it with `catch (...)` must rethrow it.
class tasklet_exit {
 public:
    const char* what() const noexcept { return "TaskletExit"; }
};

// Misuse of a tasklet, the scheduler or a channel (Python: RuntimeError).
class runtime_error : public std::runtime_error {
 public:
    using std::runtime_error::runtime_error;
};

// The scheduler cannot run anything: the last runnable tasklet would block, or the main
// tasklet waits on a channel that nobody else can serve. what() starts with "Deadlock".
class deadlock_error : public runtime_error {
 public:
    using runtime_error::runtime_error;
};

// A bad value (Python: ValueError): an action that would block on a closed channel.
class value_error : public std::invalid_argument {
 public:
    using std::invalid_argument::invalid_argument;
};

// The messages, word for word as Stackless has them.
namespace msg {
inline constexpr const char* deadlock = "Deadlock: the last runnable tasklet cannot be blocked.";
// Stackless raises these two (without the "Deadlock: " prefix) when the last other
// tasklet ends while the main tasklet is blocked; slp prefixes them, they are deadlocks.
inline constexpr const char* main_receiving =
    "Deadlock: the main tasklet is receiving without a sender available.";
inline constexpr const char* main_sending =
    "Deadlock: the main tasklet is sending without a receiver available.";
inline constexpr const char* closed_channel = "Send/receive operation on a closed channel";
inline constexpr const char* block_trap = "this tasklet does not like to be blocked.";
inline constexpr const char* remove_blocked = "You cannot remove a blocked tasklet.";
inline constexpr const char* remove_current = "The current tasklet cannot be removed.";
inline constexpr const char* run_blocked = "You cannot run a blocked tasklet";
inline constexpr const char* run_dead = "You cannot run an unbound(dead) tasklet";
inline constexpr const char* throw_dead = "You cannot throw to a dead tasklet";
inline constexpr const char* switch_trap = "switch_trap";
inline constexpr const char* alive = "tasklet is alive";
inline constexpr const char* not_bound = "the tasklet was not bound to a function";
inline constexpr const char* other_thread = "can't switch to a different thread.";
inline constexpr const char* no_thread = "tasklet has no thread";
inline constexpr const char* recursive_channel = "Recursive channel call due to callbacks!";
inline constexpr const char* recursive_schedule = "Recursive scheduler call due to callbacks!";
inline constexpr const char* null_tasklet = "slp: operation on an empty tasklet handle";
}  // namespace msg

// Moving tasklets between threads (slp::bind_thread, slp/scheduler.hpp).
namespace msg {
inline constexpr const char* bind_runnable = "can't (re)bind a runnable tasklet";
inline constexpr const char* bind_c_state = "tasklet has C state on its stack";
}  // namespace msg

}  // namespace slp

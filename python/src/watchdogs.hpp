// watchdogs.hpp — Stackless's watchdog list of a thread, as get_thread_info(thread_id,
// 1 << 31) shows it: item 0 is the interrupt watchdog (the run(timeout) caller whose
// budget runs, which an interrupt resumes) or None; then every tasklet waiting in run(),
// outermost first (the innermost one resumes when nothing else is runnable). One list per
// thread, created by its first run() and changed in place, so a list read once shows
// every later run(). It mirrors the scheduler's own stack of run() callers (core's
// watchdogs) and preemption's interrupt watchdog; nothing reads it but the user.
#pragma once

#include "runtime.hpp"

namespace slpy {

// The running tasklet `me` calls run(): it goes on the list (the list is made on first
// use). False with a Python error set (no memory): run() then fails and changes nothing.
bool watchdog_push(thread_runtime* rt, TaskletObject* me) noexcept;
// me's run() returned: it leaves the list, with the tasklets that called run() after it
// (as in core, they were woken with it). Keeps a pending Python error.
void watchdog_pop(thread_runtime* rt, TaskletObject* me) noexcept;
// Item 0: the interrupt watchdog (`w`), or None (nullptr).
void watchdog_set_interrupt(thread_runtime* rt, TaskletObject* w) noexcept;

}  // namespace slpy

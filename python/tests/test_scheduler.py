"""Module functions: run, schedule, current/main/runcount, callbacks, traps, deadlock."""
import struct
import sys
import threading

import pytest

import stackless
from conftest import run_tasklets


def test_schedule_round_robin():
    order = []

    def f(name):
        for i in range(3):
            order.append((name, i))
            stackless.schedule()

    run_tasklets(lambda: f("a"), lambda: f("b"))
    assert order == [("a", 0), ("b", 0), ("a", 1), ("b", 1), ("a", 2), ("b", 2)]


def test_schedule_returns_retval_or_current():
    got = []

    def f():
        got.append(stackless.schedule() is stackless.current)
        got.append(stackless.schedule(42))

    run_tasklets(f)
    assert got == [True, 42]


def test_pending_throw_is_raised_where_schedule_resumes_the_tasklet():
    caught = []

    def victim():
        i = 0
        try:
            for i in range(10):
                stackless.schedule()
        except ValueError as e:
            caught.append((str(e), i))

    def thrower():
        stackless.schedule()  # the victim waits in its second schedule() now
        v.throw(ValueError("v"), pending=True)
        assert caught == []
        stackless.schedule()

    v = stackless.tasklet(victim)()
    stackless.tasklet(thrower)()
    stackless.run()
    assert caught == [("v", 1)]


def test_schedule_keeps_each_tasklets_handled_exception_and_frames():
    seen = []

    def handler(exc, name):
        try:
            raise exc(name)
        except exc:
            for _ in range(3):
                stackless.schedule()
                seen.append((name, repr(sys.exc_info()[1]), sys._getframe().f_code.co_name))

    run_tasklets(lambda: handler(KeyError, "a"), lambda: handler(IndexError, "b"))
    assert seen == [("a", "KeyError('a')", "handler"), ("b", "IndexError('b')", "handler")] * 3


def test_schedule_remove_pauses_the_caller():
    order = []

    def f():
        order.append("before")
        stackless.schedule_remove()
        order.append("after")

    t = stackless.tasklet(f)()
    t.run()
    assert order == ["before"] and t.paused
    t.insert()
    stackless.run()
    assert order == ["before", "after"]


def test_run_returns_when_only_main_is_left():
    stackless.run()  # nothing to do
    assert stackless.getruncount() == 1


def test_module_attributes():
    assert stackless.current is stackless.getcurrent()
    assert stackless.main is stackless.getmain()
    assert stackless.runcount == 1
    stackless.tasklet(lambda: None)()
    assert stackless.runcount == 2
    stackless.run()
    assert threading.get_ident() in stackless.threads
    with pytest.raises(AttributeError):
        stackless.no_such_thing


def test_exception_in_tasklet_surfaces_in_main():
    def boom():
        raise ZeroDivisionError("tasklet")

    t = stackless.tasklet(boom)()
    with pytest.raises(ZeroDivisionError, match="tasklet") as info:
        stackless.run()
    assert not t.alive
    names = [f.name for f in info.traceback]
    assert "boom" in names


def test_exception_in_tasklet_reaches_main_blocked_on_channel():
    ch = stackless.channel()

    def boom():
        raise KeyError("k")

    stackless.tasklet(boom)()
    with pytest.raises(KeyError):
        ch.receive()
    assert ch.balance == 0


def test_tasklet_exit_ends_tasklet_silently():
    def f():
        raise TaskletExit

    t = stackless.tasklet(f)()
    stackless.run()
    assert not t.alive


def test_deadlock_when_main_blocks_alone():
    ch = stackless.channel()
    with pytest.raises(RuntimeError, match="Deadlock: the last runnable tasklet cannot be blocked."):
        ch.receive()
    assert ch.balance == 0 and stackless.current.is_main


def test_deadlock_when_last_tasklet_ends_while_main_receives():
    ch = stackless.channel()
    stackless.tasklet(lambda: None)()
    with pytest.raises(RuntimeError, match="Deadlock: the main tasklet is receiving without a sender available."):
        ch.receive()


def test_deadlock_when_last_tasklet_ends_while_main_sends():
    ch = stackless.channel()
    stackless.tasklet(lambda: None)()
    with pytest.raises(RuntimeError, match="Deadlock: the main tasklet is sending without a receiver available."):
        ch.send(1)


def test_deadlock_inside_tasklet_raises_there():
    ch = stackless.channel()
    errors = []

    def f():
        try:
            stackless.current.next  # noqa: B018
            ch.receive()
        except RuntimeError as e:
            errors.append(str(e))

    t = stackless.tasklet(f)()
    stackless.current.remove() if False else None
    stackless.run()
    # main was the paused watchdog: run() returned, the tasklet stays blocked
    assert t.blocked
    ch.send(None)


def test_switch_trap_forbids_switching():
    assert stackless.switch_trap(1) == 0
    try:
        stackless.tasklet(lambda: None)()
        with pytest.raises(RuntimeError, match="switch_trap"):
            stackless.schedule()
        with pytest.raises(RuntimeError, match="switch_trap"):
            stackless.run()
    finally:
        assert stackless.switch_trap(-1) == 1
    stackless.run()


def test_schedule_callback_sees_every_switch():
    seen = []

    def cb(prev, nxt):
        seen.append((prev, nxt))

    assert stackless.set_schedule_callback(cb) is None
    assert stackless.get_schedule_callback() is cb
    try:
        t = stackless.tasklet(lambda: None)()
        stackless.run()
    finally:
        assert stackless.set_schedule_callback(None) is cb
    main = stackless.main
    assert seen == [(main, t), (t, main)]


def test_schedule_callback_errors_are_reported_not_raised(monkeypatch):
    reported = []
    monkeypatch.setattr(sys, "unraisablehook", lambda u: reported.append(u.exc_type))

    def cb(prev, nxt):
        raise ValueError("in callback")

    stackless.set_schedule_callback(cb)
    try:
        run_tasklets(lambda: None)
    finally:
        stackless.set_schedule_callback(None)
    assert reported == [ValueError, ValueError]


def test_switch_in_schedule_callback_raises():
    errors = []

    def cb(prev, nxt):
        try:
            stackless.schedule()
        except RuntimeError as e:
            errors.append(str(e))

    stackless.set_schedule_callback(cb)
    try:
        run_tasklets(lambda: None)
    finally:
        stackless.set_schedule_callback(None)
    assert "Recursive scheduler call due to callbacks!" in errors


def test_callbacks_must_be_callable():
    with pytest.raises(TypeError):
        stackless.set_schedule_callback(42)
    with pytest.raises(TypeError):
        stackless.set_channel_callback(42)


def test_enable_softswitch_returns_old_flag():
    old = stackless.enable_softswitch(None)
    assert stackless.enable_softswitch(True) is old
    assert stackless.enable_softswitch(old) is True


def test_get_thread_info_of_this_thread():
    main, current, runcount = stackless.get_thread_info(threading.get_ident())
    assert main is stackless.main and current is stackless.current and runcount == 1
    with pytest.raises(RuntimeError, match="Thread id not found"):  # as Stackless
        stackless.get_thread_info(1)


def test_atomic_context_manager_sets_and_restores():
    assert not stackless.current.atomic
    with stackless.atomic():
        assert stackless.current.atomic
        with stackless.atomic():
            assert stackless.current.atomic
        assert stackless.current.atomic
    assert not stackless.current.atomic


def test_bomb_carries_type_value_traceback():
    try:
        raise ValueError("v")
    except ValueError as e:
        b = stackless.bomb(type(e), e, e.__traceback__)
    assert b.type is ValueError and str(b.value) == "v" and b.traceback is not None
    with pytest.raises(ValueError, match="v"):
        b.raise_()
    assert stackless.bomb().type is None


def test_stack_kind_is_selectable(stack_kind):
    t = stackless.tasklet(lambda: None)
    assert t.stack_kind == stack_kind
    with pytest.raises(ValueError):
        stackless.set_default_stack_kind("soft")


def test_many_tasklets_round_robin():
    # An own stack reserves about 2 MiB at the default recursion limit: a 32-bit CPU's
    # address space (3 to 4 GiB) holds some 1,500 of them.
    n = 2000 if struct.calcsize("P") == 8 else 1000
    count = [0]

    def f():
        for _ in range(3):
            count[0] += 1
            stackless.schedule()

    for _ in range(n):
        stackless.tasklet(f)()
    stackless.run()
    assert count[0] == 3 * n


def test_run_inside_a_tasklet_is_a_nested_watchdog():
    order = []

    def inner():
        order.append("inner")

    def outer():
        stackless.tasklet(inner)()
        stackless.run()
        order.append("outer after run")

    run_tasklets(outer)
    assert order == ["inner", "outer after run"]


def test_throw_to_main_from_a_tasklet_raises_in_run():
    def f():
        stackless.main.throw(KeyError("to main"))

    stackless.tasklet(f)()
    with pytest.raises(KeyError, match="to main"):
        stackless.run()


def test_c_level_recursion_in_a_tasklet_raises_recursion_error():
    class Deep:
        def __init__(self, n):
            self.n = n

        def __repr__(self):
            return "x" + (repr(Deep(self.n - 1)) if self.n else "")

    caught = []

    def f():
        try:
            repr(Deep(100000))
        except RecursionError:
            caught.append(True)

    run_tasklets(f)
    assert caught == [True]


def test_schedule_remove_of_the_last_runnable_while_main_is_blocked_raises_the_deadlock():
    # Stackless raises RuntimeError there; the tasklet ran on, out of the runnables.
    ch = stackless.channel()
    seen = []

    def last():
        try:
            stackless.schedule_remove()
        except RuntimeError as e:
            seen.append(("deadlock" in str(e).lower(), stackless.current.scheduled))
        ch.send(None)
    stackless.tasklet(last)()
    ch.receive()
    stackless.run()
    assert seen == [(True, True)]


def test_a_watchdog_woken_explicitly_wakes_the_watchdogs_nested_in_it():
    done = []

    def waker():
        stackless.main.run()  # main's run() returns
        done.append("waker")

    def runner():
        stackless.tasklet(waker)()
        stackless.run()  # a nested watchdog
        done.append("runner")

    r = stackless.tasklet(runner)()
    stackless.run()
    assert done == [] and r.scheduled  # woken with main, not left paused in its run()
    stackless.run()
    assert done == ["waker", "runner"] and not r.alive

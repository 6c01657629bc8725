"""stackless.tasklet: life cycle, scheduling methods, attributes and their errors."""
import sys
import weakref

import pytest

import stackless
from conftest import run_tasklets


def test_tasklet_call_binds_arguments_and_schedules():
    got = []
    t = stackless.tasklet(lambda *a, **k: got.append((a, k)))(1, 2, x=3)
    assert t.alive and t.scheduled and not t.blocked and not t.paused
    assert stackless.getruncount() == 2
    stackless.run()
    assert got == [((1, 2), {"x": 3})]
    assert not t.alive and not t.scheduled


def test_bind_then_setup_equals_constructor():
    got = []
    t = stackless.tasklet()
    assert t.bind(got.append) is t
    assert t.setup(5) is t
    stackless.run()
    assert got == [5]


def test_bind_with_args_makes_tasklet_paused():
    got = []
    t = stackless.tasklet()
    t.bind(got.append, (7,))
    assert t.alive and t.paused and not t.scheduled
    t.insert()
    stackless.run()
    assert got == [7]


def test_setup_of_alive_tasklet_raises():
    t = stackless.tasklet(lambda: None)()
    with pytest.raises(RuntimeError, match="tasklet is alive"):
        t.setup()
    stackless.run()


def test_setup_of_unbound_tasklet_raises():
    with pytest.raises(RuntimeError, match="the tasklet was not bound to a function"):
        stackless.tasklet().setup()


def test_bind_rejects_non_callable():
    with pytest.raises(TypeError, match="tasklet function must be a callable or None"):
        stackless.tasklet(42)


def test_bind_rejects_bad_args_and_kwargs():
    with pytest.raises(TypeError, match="tasklet args must be a tuple or None"):
        stackless.tasklet().bind(len, [1])
    with pytest.raises(TypeError, match="tasklet kwargs must be a dictionary or None"):
        stackless.tasklet().bind(len, (), [1])


def test_bind_of_scheduled_tasklet_raises():
    t = stackless.tasklet(lambda: None)()
    with pytest.raises(RuntimeError, match="tasklet is scheduled"):
        t.bind(len)
    stackless.run()


def test_bind_of_current_tasklet_raises():
    errors = []

    def f():
        try:
            stackless.current.bind(len)
        except RuntimeError as e:
            errors.append(str(e))

    run_tasklets(f)
    assert errors == ["can't (re)bind the current tasklet"]


def test_unbind_of_main_tasklet_raises():
    main = stackless.main
    with pytest.raises(RuntimeError):
        main.bind(None)


def test_bind_of_started_paused_tasklet_raises():
    def f():
        stackless.schedule_remove()

    t = stackless.tasklet(f)()
    t.run()
    assert t.paused
    with pytest.raises(RuntimeError, match="tasklet has C state on its stack"):
        t.bind(len)
    t.kill()


def test_unbinding_a_paused_restorable_tasklet_ends_its_frames():
    # Stackless drops the frames of such a tasklet (no C state); here they end as a kill
    # ends them, on the tasklet's C stack: their finally blocks run.
    log = []

    def f():
        try:
            stackless.schedule_remove()
            log.append("went on")
        finally:
            log.append("finally")

    t = stackless.tasklet(f)()
    t.run()
    assert t.paused and t.restorable
    t.bind(None)
    assert not t.alive and t.frame is None and log == ["finally"]
    t.bind(f)  # unbound: it binds again
    t.setup()
    stackless.run()
    assert t.paused
    t.insert()
    stackless.run()
    assert log == ["finally", "went on", "finally"]


def test_unbinding_a_paused_tasklet_with_c_state_raises():
    t = stackless.tasklet(sorted)([1, 2], key=lambda x: stackless.schedule_remove())
    t.run()
    assert t.paused and not t.restorable
    with pytest.raises(RuntimeError, match="tasklet has C state on its stack"):
        t.bind(None)
    t.kill()


def test_rebind_after_death_reuses_the_tasklet():
    got = []
    t = stackless.tasklet(got.append)(1)
    stackless.run()
    t.bind(got.append)
    t(2)
    stackless.run()
    assert got == [1, 2]


def test_insert_and_remove():
    t = stackless.tasklet(lambda: None)()
    assert t.remove() is t
    assert t.paused and stackless.getruncount() == 1
    assert t.insert() is t
    assert t.scheduled and stackless.getruncount() == 2
    stackless.run()


def test_remove_of_current_tasklet_raises():
    errors = []

    def f():
        try:
            stackless.current.remove()
        except RuntimeError as e:
            errors.append(str(e))

    run_tasklets(f)
    assert errors == ["The current tasklet cannot be removed."]


def test_remove_of_blocked_tasklet_raises():
    ch = stackless.channel()
    t = stackless.tasklet(ch.receive)()
    stackless.run()
    with pytest.raises(RuntimeError, match="You cannot remove a blocked tasklet."):
        t.remove()
    ch.send(None)


def test_insert_of_blocked_tasklet_raises():
    ch = stackless.channel()
    t = stackless.tasklet(ch.receive)()
    stackless.run()
    with pytest.raises(RuntimeError, match="You cannot run a blocked tasklet"):
        t.insert()
    with pytest.raises(RuntimeError, match="You cannot run a blocked tasklet"):
        t.run()
    ch.send(None)


def test_run_of_dead_tasklet_raises():
    t = stackless.tasklet(lambda: None)()
    stackless.run()
    with pytest.raises(RuntimeError, match=r"You cannot run an unbound\(dead\) tasklet"):
        t.run()
    with pytest.raises(RuntimeError, match=r"You cannot run an unbound\(dead\) tasklet"):
        t.insert()


def test_run_switches_now_and_caller_stays_runnable():
    order = []
    t = stackless.tasklet(lambda: order.append("t"))()
    t.run()
    order.append("main")
    assert order == ["t", "main"]


def test_switch_pauses_the_caller():
    order = []
    main = stackless.current

    def f():
        order.append(("in f", main.paused))
        main.switch()

    t = stackless.tasklet(f)()
    t.switch()
    assert order == [("in f", True)]
    assert t.paused
    t.kill()


def test_kill_of_blocked_tasklet_runs_finally_and_unblocks():
    ch = stackless.channel()
    log = []

    def f():
        try:
            ch.receive()
        except TaskletExit:
            log.append("exit")
            raise
        finally:
            log.append("finally")

    t = stackless.tasklet(f)()
    stackless.run()
    assert t.blocked and ch.balance == -1
    t.kill()
    assert log == ["exit", "finally"]
    assert not t.alive and ch.balance == 0


def test_kill_pending_makes_it_runnable_only():
    ch = stackless.channel()
    log = []

    def f():
        try:
            ch.receive()
        finally:
            log.append("finally")

    t = stackless.tasklet(f)()
    stackless.run()
    t.kill(pending=True)
    assert log == [] and t.scheduled and not t.blocked
    stackless.run()
    assert log == ["finally"] and not t.alive


def test_kill_of_unstarted_tasklet_never_runs_it():
    ran = []
    t = stackless.tasklet(lambda: ran.append(1))()
    t.kill()
    assert not t.alive and ran == []


def test_kill_of_dead_tasklet_does_nothing():
    t = stackless.tasklet(lambda: None)()
    stackless.run()
    t.kill()
    t.kill(pending=True)


def test_kill_of_current_tasklet_raises_tasklet_exit_in_it():
    seen = []

    def f():
        try:
            stackless.current.kill()
        except TaskletExit:
            seen.append("exit")

    run_tasklets(f)
    assert seen == ["exit"]


def test_tasklet_exit_is_a_builtin_system_exit():
    assert TaskletExit is stackless.TaskletExit
    assert issubclass(TaskletExit, SystemExit)


def test_throw_raises_in_the_tasklet():
    ch = stackless.channel()
    caught = []

    def f():
        try:
            ch.receive()
        except KeyError as e:
            caught.append(e.args)

    t = stackless.tasklet(f)()
    stackless.run()
    t.throw(KeyError, KeyError("k"))
    assert caught == [("k",)]


def test_throw_instance_and_pending():
    ch = stackless.channel()
    caught = []

    def f():
        try:
            ch.receive()
        except ValueError as e:
            caught.append(str(e))

    t = stackless.tasklet(f)()
    stackless.run()
    t.throw(ValueError("v"), pending=True)
    assert caught == [] and t.scheduled
    stackless.run()
    assert caught == ["v"]


def test_throw_to_dead_tasklet_raises():
    t = stackless.tasklet(lambda: None)()
    stackless.run()
    with pytest.raises(RuntimeError, match="You cannot throw to a dead tasklet"):
        t.throw(ValueError)


def test_throw_tasklet_exit_to_dead_tasklet_is_fine():
    t = stackless.tasklet(lambda: None)()
    stackless.run()
    t.throw(TaskletExit)


def test_throw_rejects_non_exceptions():
    t = stackless.tasklet(lambda: None)()
    with pytest.raises(TypeError, match="exceptions must be classes or instances"):
        t.throw(42)
    with pytest.raises(TypeError, match="instance exception may not have a separate value"):
        t.throw(ValueError("x"), "y")
    with pytest.raises(TypeError, match="third argument must be a traceback"):
        t.throw(ValueError, None, 5)
    stackless.run()


def test_raise_exception_instantiates_with_args():
    ch = stackless.channel()
    caught = []

    def f():
        try:
            ch.receive()
        except IndexError as e:
            caught.append(e.args)

    t = stackless.tasklet(f)()
    stackless.run()
    t.raise_exception(IndexError, 1, 2)
    assert caught == [(1, 2)]


def test_raise_exception_needs_exception_class():
    t = stackless.tasklet(lambda: None)()
    with pytest.raises(TypeError, match="tasklet.raise_exception needs Exception"):
        t.raise_exception(42)
    stackless.run()


def test_raise_exception_on_dead_tasklet_raises_runtime_error():
    t = stackless.tasklet(lambda: None)()
    stackless.run()
    with pytest.raises(RuntimeError, match="You cannot throw to a dead tasklet"):
        t.raise_exception(ValueError)


def test_set_atomic_returns_old_value_and_checks_type():
    t = stackless.current
    assert t.set_atomic(True) is False
    assert t.atomic
    assert t.set_atomic(False) is True
    with pytest.raises(TypeError, match="set_atomic needs exactly one bool or integer"):
        t.set_atomic("yes")


def test_set_ignore_nesting_returns_old_value_and_checks_type():
    t = stackless.tasklet(lambda: None)
    assert t.set_ignore_nesting(1) is False
    assert t.ignore_nesting
    assert t.set_ignore_nesting(0) is True
    with pytest.raises(TypeError, match="set_ignore_nesting needs exactly one bool or integer"):
        t.set_ignore_nesting(None)


def test_block_trap_attribute():
    t = stackless.tasklet(lambda: None)
    t.block_trap = True
    assert t.block_trap
    with pytest.raises(TypeError, match="block_trap must be set to a bool or integer"):
        t.block_trap = "x"


def test_atomic_is_inherited_by_new_tasklets():
    old = stackless.current.set_atomic(True)
    try:
        assert stackless.tasklet(lambda: None).atomic
    finally:
        stackless.current.set_atomic(old)
    assert not stackless.tasklet(lambda: None).atomic


def test_main_and_current_attributes():
    main = stackless.main
    assert main.is_main and main.is_current and main.alive
    seen = []

    def f():
        me = stackless.current
        seen.append((me.is_main, me.is_current, main.is_current, me is t))

    t = stackless.tasklet(f)()
    stackless.run()
    assert seen == [(False, True, False, True)]


def test_next_and_prev_walk_the_runnables():
    a = stackless.tasklet(lambda: None)()
    b = stackless.tasklet(lambda: None)()
    main = stackless.current
    assert main.next is a and a.next is b and b.next is main
    assert main.prev is b and b.prev is a
    stackless.run()
    assert a.next is None and a.prev is None


def test_thread_id_is_the_creating_thread():
    import threading
    t = stackless.tasklet(lambda: None)
    assert t.thread_id == threading.get_ident()
    assert stackless.main.thread_id == threading.get_ident()


def test_tempval_is_settable():
    t = stackless.tasklet(lambda: None)
    assert t.tempval is None
    t.tempval = 5
    assert t.tempval == 5


def test_frame_of_blocked_tasklet_is_its_innermost_frame():
    ch = stackless.channel()

    def inner():
        ch.receive()

    def outer():
        inner()

    t = stackless.tasklet(outer)()
    stackless.run()
    f = t.frame
    assert f.f_code is inner.__code__
    assert f.f_back.f_code is outer.__code__
    assert f.f_back.f_back is None
    ch.send(None)
    assert t.frame is None


def test_recursion_depth_belongs_to_the_tasklet():
    ch = stackless.channel()
    depths = []

    def rec(n):
        if n == 0:
            depths.append(stackless.current.recursion_depth)
            ch.receive()
            depths.append(stackless.current.recursion_depth)
        else:
            rec(n - 1)

    t = stackless.tasklet(rec)(10)
    stackless.run()
    assert t.recursion_depth == depths[0]
    assert depths[0] >= 11
    ch.send(None)
    assert depths[1] == depths[0]


def test_nesting_level_counts_c_level_entries():
    ch = stackless.channel()
    levels = []

    def direct():
        levels.append(stackless.current.nesting_level)
        ch.receive()

    def through_c():
        list(map(lambda _: direct(), [1]))

    a = stackless.tasklet(direct)()
    b = stackless.tasklet(through_c)()
    stackless.run()
    assert levels == [0, 1]
    assert a.nesting_level == 0 and b.nesting_level == 1
    ch.send(None)
    ch.send(None)


def test_restorable_in_the_trivial_cases():
    t = stackless.tasklet(lambda: None)
    assert t.restorable  # not alive
    t()
    assert t.restorable  # not started
    stackless.run()
    assert t.restorable  # ended


def test_tasklet_is_weak_referenceable():
    t = stackless.tasklet(lambda: None)
    r = weakref.ref(t)
    assert r() is t
    del t
    assert r() is None


def test_tasklet_is_subclassable():
    class My(stackless.tasklet):
        def __init__(self, func, label):
            super().__init__(func)
            self.label = label

    got = []
    t = My(lambda: got.append(stackless.current.label), "mine")()
    assert isinstance(t, stackless.tasklet)
    stackless.run()
    assert got == ["mine"]


def test_unreferenced_runnable_tasklet_still_runs():
    got = []
    stackless.tasklet(got.append)(1)
    import gc
    gc.collect()
    stackless.run()
    assert got == [1]


def test_bind_thread_to_unknown_thread_raises():
    t = stackless.tasklet(lambda: None)
    with pytest.raises(ValueError, match="bad thread"):
        t.bind_thread(123456789)


def test_bind_thread_of_runnable_tasklet_raises():
    import threading
    t = stackless.tasklet(lambda: None)()
    done = []

    def other():
        stackless.getcurrent()
        done.append(threading.get_ident())

    th = threading.Thread(target=other)
    th.start()
    th.join()
    with pytest.raises((RuntimeError, ValueError)):
        t.bind_thread(done[0])
    stackless.run()


def test_bind_thread_to_own_thread_is_a_no_op():
    t = stackless.tasklet(lambda: None)
    t.bind_thread()
    import threading
    t.bind_thread(threading.get_ident())


def test_schedule_remove_leaves_its_value_in_tempval_until_it_returns():
    # Stackless: the value schedule()/schedule_remove() will return waits in the
    # tasklet's tempval; whoever runs meanwhile may replace it, a bomb included.
    got = []

    def body():
        got.append(stackless.schedule_remove(4711))
        got.append(stackless.schedule_remove())
        try:
            stackless.schedule_remove(0)
        except ZeroDivisionError:
            got.append("bomb")
    t = stackless.tasklet(body)()
    t.run()
    assert t.tempval == 4711
    t.run()
    assert got == [4711]
    assert t.tempval is t  # the default: the tasklet itself
    t.tempval = "replaced"
    t.run()
    assert got == [4711, "replaced"]
    try:
        1 / 0
    except ZeroDivisionError:
        t.tempval = stackless.bomb(*sys.exc_info())
    t.run()
    assert got == [4711, "replaced", "bomb"] and not t.alive
    assert t.tempval is None


def test_schedule_of_a_bomb_raises_it():
    try:
        1 / 0
    except ZeroDivisionError:
        b = stackless.bomb(*sys.exc_info())
    with pytest.raises(ZeroDivisionError):
        stackless.schedule(b)  # nothing else runs: it returns (explodes) at once
    assert stackless.schedule(5) == 5 and stackless.schedule() is stackless.current


def test_a_channel_callback_sees_the_value_in_transit_in_the_senders_tempval():
    seen = []
    ch = stackless.channel()
    stackless.tasklet(ch.receive)()
    stackless.set_channel_callback(lambda c, t, sending, will_block: seen.append(t.tempval))
    try:
        ch.send(42)
    finally:
        stackless.set_channel_callback(None)
    assert seen[0] == 42
    assert stackless.current.tempval is None


def test_a_pickled_tempval_that_is_the_tasklet_itself_stays_so():
    import pickle

    def body():
        return stackless.schedule_remove()
    t = stackless.tasklet(body)()
    t.run()
    assert t.tempval is t
    back = pickle.loads(pickle.dumps(t))
    assert back.tempval is back
    back.insert()
    stackless.run()
    t.kill()
    assert not back.alive and not t.alive

"""A paused tasklet holds no reference to itself, as in Stackless: dropping the last
reference to it kills it at once (its finally blocks run), without the cyclic
collector; a runnable or blocked one lives on without any. (Each test runs with both
stack kinds: conftest.py.)"""
import gc
import sys

import pytest

import stackless
from test_crashes import run_child


@pytest.fixture(autouse=True)
def no_collector():
    gc.disable()  # what happens must not depend on a collection
    yield
    gc.enable()


def pauses_itself(log):
    try:
        stackless.schedule_remove()
        log.append("resumed")
    finally:
        log.append("finally")


def test_dropping_a_tasklet_paused_by_schedule_remove_kills_it_at_once():
    log = []
    t = stackless.tasklet(pauses_itself)(log)
    t.run()
    # as many as an object held by one local has (ours, and the argument's where the
    # call counts it: 3.14 lends a local to a call without counting it): none of its own
    held_once = object()
    assert t.paused and sys.getrefcount(t) == sys.getrefcount(held_once)
    del t
    assert log == ["finally"]


def test_dropping_a_tasklet_paused_by_remove_kills_it_at_once():
    log = []

    def runnable():
        try:
            stackless.schedule()
            log.append("resumed")
        finally:
            log.append("finally")

    t = stackless.tasklet(runnable)()
    t.run()
    t.remove()
    del t
    assert log == ["finally"]


def test_a_paused_tasklet_made_runnable_again_lives_without_other_references():
    log = []
    t = stackless.tasklet(pauses_itself)(log)
    t.run()
    t.insert()
    del t
    assert log == []
    stackless.run()
    assert log == ["resumed", "finally"]


def test_a_blocked_or_runnable_tasklet_without_references_lives_on():
    ch = stackless.channel()
    got = []
    stackless.tasklet(lambda: got.append(ch.receive()))()
    stackless.tasklet(lambda: got.append("ran"))()
    stackless.schedule()  # both ran: one is blocked now
    assert got == ["ran"] and ch.balance == -1
    ch.send(5)
    assert got == ["ran", 5]


def test_the_caller_of_switch_is_paused_and_killed_when_dropped():
    log = []

    def switcher():
        try:
            stackless.main.switch()
        finally:
            log.append("finally")

    t = stackless.tasklet(switcher)()
    t.run()  # switches back to main: t is paused
    assert t.paused and log == []
    del t
    assert log == ["finally"]


def test_a_tasklet_that_refuses_to_die_when_dropped_is_kept(stack_kind):
    r = run_child(stack_kind, """
    import gc
    log = []
    def stubborn():
        while True:
            try:
                stackless.schedule_remove()
            except stackless.TaskletExit:
                log.append('refused')
    t = stackless.tasklet(stubborn)()
    t.run()
    del t
    gc.collect()
    print(len(log), sum(1 for o in gc.get_objects() if isinstance(o, stackless.tasklet)
                        and o.alive and o is not stackless.main))
    """)
    assert r.returncode == 0, r.stderr
    assert r.stdout.split() == ["10", "1"]  # ten kills refused, then it lives on, held

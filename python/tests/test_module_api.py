"""Stackless's module API that switches nothing: error handler, pickle flags, debug and
thread queries, __all__ and pickling the module by name."""
import pickle
import threading

import pytest

import stackless


def test_error_handler_gets_the_exception_in_the_ending_tasklet():
    got = []

    def handler(exc, val, tb):
        got.append((exc, str(val), tb is not None, stackless.current is not stackless.main))

    def boom():
        raise ZeroDivisionError("zero")

    assert stackless.set_error_handler(handler) is None
    try:
        stackless.tasklet(boom)()
        stackless.run()  # nothing escapes
    finally:
        assert stackless.set_error_handler(None) is handler
    assert got == [(ZeroDivisionError, "zero", True, True)]


def test_an_error_handler_that_raises_raises_in_the_watchdog():
    def handler(exc, val, tb):
        raise IndexError("from the handler")

    stackless.set_error_handler(handler)
    try:
        stackless.tasklet(lambda: 1 / 0)()
        with pytest.raises(IndexError, match="from the handler"):
            stackless.run()
    finally:
        stackless.set_error_handler(None)


@pytest.mark.parametrize("pending", [False, True])
def test_an_exception_thrown_into_an_unstarted_tasklet_reaches_the_handler_in_it(pending):
    got, ran = [], []

    def handler(exc, val, tb):
        got.append((exc, str(val), stackless.getcurrent()))

    stackless.set_error_handler(handler)
    try:
        t = stackless.tasklet(lambda: ran.append(1))()
        t.throw(ZeroDivisionError, "thrown", pending=pending)
        if pending:
            assert t.alive and t.scheduled and not got
            stackless.run()
    finally:
        stackless.set_error_handler(None)
    assert got == [(ZeroDivisionError, "thrown", t)]
    assert ran == [] and not t.alive


def test_an_exception_thrown_into_an_unstarted_tasklet_without_a_handler_reaches_the_thrower():
    ran = []
    t = stackless.tasklet(lambda: ran.append(1))()
    with pytest.raises(ValueError, match="nobody handles it"):
        t.throw(ValueError, "nobody handles it")
    assert ran == [] and not t.alive


def test_set_error_handler_refuses_what_it_cannot_call():
    with pytest.raises(TypeError):
        stackless.set_error_handler(42)
    assert stackless.set_error_handler(None) is None


def test_pickle_flags_per_thread_from_the_default():
    assert stackless.pickle_flags() == 0
    assert stackless.pickle_flags(5) == 0
    assert stackless.pickle_flags(0xffff, 0) == 5  # mask 0: nothing changes
    assert stackless.pickle_flags(0) == 5
    with pytest.raises(ValueError):
        stackless.pickle_flags(8)
    with pytest.raises(ValueError):
        stackless.pickle_flags(-2)
    old = stackless.pickle_flags_default(1)
    try:
        seen = []
        th = threading.Thread(target=lambda: seen.append(stackless.pickle_flags()))
        th.start()
        th.join()
        assert seen == [1] and stackless.pickle_flags() == 0
    finally:
        stackless.pickle_flags_default(old)


def test_queries_and_star_import():
    assert stackless.getdebug() is False and stackless.debug is False
    assert stackless.getuncollectables() == [] and stackless.uncollectables == []
    assert stackless.getthreads() == stackless.threads
    assert threading.get_ident() in stackless.getthreads()
    names = {}
    exec("from stackless import *", names)
    assert names["stackless"] is stackless
    for n in ("tasklet", "channel", "schedule", "run", "getcurrent", "set_error_handler",
              "pickle_flags", "TaskletExit", "current", "main"):
        assert n in names, n


def test_the_module_pickles_by_name():
    assert pickle.loads(pickle.dumps(stackless)) is stackless


def test_schedule_and_schedule_remove_take_retval_by_keyword():
    got = []

    def body():
        got.append(stackless.schedule(retval="s"))
        got.append(stackless.schedule_remove(retval=None))

    t = stackless.tasklet(body)()
    stackless.run()
    assert got == ["s"] and t.paused
    t.insert()
    stackless.run()
    assert got == ["s", None]
    with pytest.raises(TypeError):
        stackless.schedule(value=1)
    with pytest.raises(TypeError):
        stackless.schedule(1, retval=2)

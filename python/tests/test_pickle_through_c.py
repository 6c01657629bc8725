"""Tasklets whose frames C code called (issue 13): where that C code passes the callee's
result through unchanged — f(*args), an object's Python __call__, a bound method, a with
statement's __enter__ and __exit__ — the tasklet pickles, and restored, the callee's result
completes the caller's instruction. Where the C code does something else with the result
(a class call runs __init__, map() collects), pickling is refused, naming the C code."""
import functools
import operator
import pickle
import sys

import pytest

import stackless

RESULTS = []


def record(item):
    # Not RESULTS.append(...) around a suspension: the list would sit on the value stack
    # and be pickled as a copy.
    RESULTS.append(item)


def callee(a, b):
    got = stackless.schedule_remove("v")
    return (a, got, b)


def star_call():
    record(("star", callee(*[1, 2]), "after"))


class Callable:
    def __call__(self, x):
        return ("called", x, stackless.schedule_remove("c"))

    def method(self, x):
        return ("method", x, stackless.schedule_remove("m"))


def callable_object():
    record(("callable", Callable()(5)))


def bound_star():
    m = Callable().method
    record(("bound", m(*(6,)), m(**{"x": 7})))


class CM:
    def __init__(self, where):
        self.where = where

    def __enter__(self):
        if self.where == "enter":
            return stackless.schedule_remove("entered")
        return self

    def __exit__(self, t, v, tb):
        del tb
        if self.where == "exit":
            record(("exit got", stackless.schedule_remove("exited")))
        return t is KeyError


def with_enter():
    with CM("enter") as got:
        record(("body", got))
    record("done")


def with_exit():
    try:
        with CM("exit"):
            raise KeyError("swallowed by __exit__")
    finally:
        record("finally")
    record("done")


def round_trip(func):
    """Run func as a tasklet up to its first schedule_remove(), pickle it, run it to its
    end; restore the pickle, run that to its end. Returns what the original and the
    restored run recorded after the suspension."""
    del RESULTS[:]
    t = stackless.tasklet(func)()
    t.run()
    assert t.alive and t.restorable
    data = pickle.dumps(t)
    run_out(t)
    original = list(RESULTS)
    del RESULTS[:]
    run_out(pickle.loads(data))
    return original, list(RESULTS)


def run_out(t):
    """Insert a paused tasklet until it ends (it may suspend again)."""
    for _ in range(10):
        if not t.alive:
            return
        t.insert()
        stackless.run()
    raise AssertionError("the tasklet does not end")


@pytest.mark.parametrize("func", [star_call, callable_object, bound_star, with_exit],
                         ids=lambda f: f.__name__)
def test_frames_called_through_c_round_trip(func):
    original, restored = round_trip(func)
    assert restored == original and restored


def test_results_completed_by_the_restored_callee():
    _, restored = round_trip(star_call)
    assert restored == [("star", (1, "v", 2), "after")]
    _, restored = round_trip(with_exit)
    assert restored == [("exit got", "exited"), "finally", "done"]


def test_with_statement_enter_result_is_bound_by_as():
    _, restored = round_trip(with_enter)
    assert restored == [("body", "entered"), "done"]


def test_kill_a_restored_tasklet_unwinds_through_the_c_continuation():
    del RESULTS[:]
    t = stackless.tasklet(with_exit)()
    t.run()
    t2 = pickle.loads(pickle.dumps(t))
    t.kill()
    del RESULTS[:]
    t2.kill()
    # TaskletExit raised in __exit__ goes out through the with statement's handler and
    # the try's finally.
    assert RESULTS == ["finally"] and not t2.alive


class Made:
    def __init__(self, k):
        self.k = k
        self.got = stackless.schedule_remove("made")


class BadInit:
    def __init__(self):
        stackless.schedule_remove()
        return 5


class Rebinds:
    def __init__(self):
        stackless.schedule_remove()
        self = None  # noqa: F841  (type_call keeps the object; the frame does not)


def class_call():
    m = Made(3)
    record((type(m).__name__, m.k, m.got))


def bad_init():
    try:
        BadInit()
    except TypeError as e:
        record(str(e))


def rebinds():
    record(Rebinds())


def mapped(x):
    return stackless.schedule_remove(x)


def map_call():
    record(list(map(mapped, [1])))


@pytest.mark.skipif(sys.version_info >= (3, 13), reason="3.13 specializes class calls: a shim "
                    "frame of the interpreter's, not type_call, runs __init__ once warm")
def test_class_call_waiting_for_init_round_trips():
    original, restored = round_trip(class_call)
    assert restored == original == [("Made", 3, "made")]
    original, restored = round_trip(bad_init)
    assert restored == original == ["__init__() should return None, not 'int'"]


@pytest.mark.parametrize("func, c_code", [(map_call, "C function list"),
                                          (rebinds, "Rebinds")], ids=["map", "rebinds_self"])
def test_c_code_that_uses_the_result_is_refused_by_name(func, c_code):
    t = stackless.tasklet(func)()
    t.run()
    assert not t.restorable
    with pytest.raises(stackless.UnpicklableFrameError, match="called from C code|interpreter's own"):
        pickle.dumps(t)
    with pytest.raises(stackless.UnpicklableFrameError, match=c_code + "|interpreter's own"):
        pickle.dumps(t)
    t.kill()



def through_operator_call(a, b=0):
    got = stackless.schedule_remove("v")
    record(("operator.call", a, got, b))
    return a + b


def test_a_tasklet_started_through_operator_call_pickles():
    # operator.call(f, *args, **kwargs) returns what f returns: the tasklet's result is
    # its base frame's, as if it had called f itself.
    RESULTS.clear()
    t = stackless.tasklet(operator.call)(through_operator_call, 1, b=2)
    t.run()
    assert t.paused and t.restorable
    data = pickle.dumps(t)
    t.kill()
    back = pickle.loads(data)
    back.insert()
    stackless.run()
    assert RESULTS == [("operator.call", 1, "v", 2)] and not back.alive


@pytest.mark.parametrize("args", [(operator.call, through_operator_call, 1),
                                  (functools.partial(through_operator_call, 1),)],
                         ids=["call_of_call", "partial"])
def test_operator_call_of_other_c_code_is_refused(args):
    t = stackless.tasklet(operator.call)(*args)
    t.run()
    assert not t.restorable
    with pytest.raises(pickle.PicklingError, match="not a Python function"):
        pickle.dumps(t)
    t.kill()

"""Tasklets whose frames C code called: where that C code passes the callee's
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
from pickle_support import AsTasklet, run_out

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


class Exits:
    """A context manager whose __exit__ the tests swap between pickling and loading."""
    def __enter__(self):
        return stackless.schedule_remove("entered")

    def __exit__(self, *exc):
        record("first exit")


def second_exit(self, *exc):
    record("second exit")


def with_exits():
    with Exits() as got:
        record(("body", got))


def started(func):
    t = stackless.tasklet(func)()
    t.run()
    assert t.alive and t.restorable
    return t


def snapshot_of(t):
    cls, args, state = t.__reduce__()
    at = next(i for i, x in enumerate(state) if isinstance(x, tuple) and x[:1] == ("slp.frames",))
    return state, at


@pytest.mark.parametrize("replacement",
                         [second_exit, staticmethod(lambda *exc: record("second exit"))],
                         ids=["function", "staticmethod"])
def test_the_restored_with_calls_the_exit_its_class_has_when_loaded(replacement):
    # The original calls the __exit__ it looked up on entering; the restored one the
    # class's __exit__ at load time (3.13 looks it up on the manager's type again: its
    # BEFORE_WITH kept the original's in a C local; 3.11's bound method and 3.14's
    # function pickle by name).
    del RESULTS[:]
    t = started(with_exits)
    data = pickle.dumps(t)
    first = Exits.__exit__
    Exits.__exit__ = replacement
    try:
        run_out(t)
        original = list(RESULTS)
        del RESULTS[:]
        run_out(pickle.loads(data))
        restored = list(RESULTS)
    finally:
        Exits.__exit__ = first
    assert original == [("body", "entered"), "first exit"]
    assert restored == [("body", "entered"), "second exit"]


def test_a_with_whose_manager_lost_its_exit_is_refused_on_load():
    t = started(with_exits)
    data = pickle.dumps(t)
    first = Exits.__exit__
    del Exits.__exit__
    runnable = stackless.getruncount()
    try:
        with pytest.raises((pickle.UnpicklingError, AttributeError), match="__exit__"):
            pickle.loads(data)
    finally:
        Exits.__exit__ = first
    assert stackless.getruncount() == runnable
    t.kill()


@pytest.mark.skipif(sys.version_info[:2] != (3, 13), reason="only 3.13's BEFORE_WITH leaves "
                    "the manager in its slot while __enter__ runs: the loader looks __exit__ "
                    "up on it")
def test_a_bad_manager_slot_of_a_with_entering_is_refused():
    t = started(with_exits)
    state, at = snapshot_of(t)
    t.kill()
    snap = state[at]
    outer = list(snap[5][0])  # with_exits, waiting in BEFORE_WITH; its last slot the manager
    assert type(outer[4][-1]) is Exits

    def load(values, nulls):
        frame = tuple(outer[:4]) + (values, nulls) + tuple(outer[6:])
        bad = list(state)
        bad[at] = snap[:5] + ((frame,) + snap[5][1:],)
        return pickle.loads(pickle.dumps(AsTasklet(tuple(bad))))
    with pytest.raises(stackless.FrameRestoreError, match="__exit__ of its int object"):
        load(outer[4][:-1] + (5,), outer[5])
    with pytest.raises(stackless.FrameRestoreError, match="cannot be NULL"):
        load(outer[4][:-1] + (None,), outer[5] + (len(outer[4]) - 1,))


class StaticEnter:
    """__enter__ and __exit__ bound to nothing: while __enter__ runs, only the with's
    slot names the manager (3.13), and nothing holds it."""
    @staticmethod
    def __enter__():
        return stackless.schedule_remove("static")

    @staticmethod
    def __exit__(*exc):
        record("static exit")


def with_static_enter():
    with StaticEnter() as got:
        record(("body", got))


def test_a_with_whose_enter_is_not_bound_to_the_manager_pickles_or_is_refused():
    # 3.11 and 3.13 refuse (their with calls __enter__ through C, which is known only for
    # a Python method of the manager's class); 3.14 calls it as a plain function.
    del RESULTS[:]
    t = stackless.tasklet(with_static_enter)()
    t.run()
    try:
        data = pickle.dumps(t)
    except pickle.PicklingError as e:
        assert "__enter__" in str(e) and "BEFORE_WITH" in str(e)
        assert sys.version_info[:2] < (3, 14)
        t.kill()
        return
    run_out(t)
    original = list(RESULTS)
    del RESULTS[:]
    run_out(pickle.loads(data))
    assert RESULTS == original == [("body", "static"), "static exit"]


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


# A restored tasklet suspended again while resume() drives a frame that a known
# continuation called: pickled again, the continuation keeps its meaning (the class call
# its new object, not __init__'s None).

def callee_twice(a, b):
    return (a, stackless.schedule_remove("v"), stackless.schedule_remove("w"), b)


def star_call_twice():
    record(("star", callee_twice(*[1, 2])))


class MadeTwice:
    def __init__(self, k):
        self.got = (k, stackless.schedule_remove("i"), stackless.schedule_remove("j"))


def class_call_twice():
    m = MadeTwice(3)
    record((type(m).__name__, m.got))


class ExitsTwice:
    def __enter__(self):
        return self

    def __exit__(self, t, v, tb):
        got = (stackless.schedule_remove("x"), stackless.schedule_remove("y"))
        record(("exit", t.__name__, got))
        return True


def with_exit_twice():
    with ExitsTwice():
        raise KeyError("swallowed")
    record("after the with")


def pickled_twice(func):
    """What func records run straight on from its first suspension, and restored at its
    first suspension, run to its second, restored there and run out."""
    del RESULTS[:]
    t = started(func)
    first = pickle.loads(pickle.dumps(t))
    run_out(t)
    original = list(RESULTS)
    first.insert()
    stackless.run()
    assert first.alive and first.restorable
    second = pickle.loads(pickle.dumps(first))
    first.kill()
    del RESULTS[:]
    run_out(second)
    return original, list(RESULTS)


@pytest.mark.parametrize("func", [
    star_call_twice, with_exit_twice,
    pytest.param(class_call_twice, marks=pytest.mark.skipif(
        sys.version_info >= (3, 13), reason="3.13 specializes class calls (see above)"))],
    ids=lambda f: f.__name__)
def test_a_restored_continuation_suspended_again_pickles_again(func):
    original, restored = pickled_twice(func)
    assert restored == original and restored

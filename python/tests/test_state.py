"""Per-tasklet interpreter state: handled exceptions, contextvars, recursion depth,
trace and profile functions, tracebacks and sys._getframe()."""
import contextvars
import sys
import traceback
import weakref

import stackless
from conftest import run_tasklets


def test_handled_exception_belongs_to_its_tasklet():
    ch = stackless.channel()
    seen = []

    def a():
        try:
            raise KeyError("a")
        except KeyError:
            ch.receive()
            seen.append(("a", sys.exc_info()[0]))

    def b():
        seen.append(("b sees", sys.exc_info()[0]))
        try:
            raise IndexError("b")
        except IndexError:
            ch.send(None)
            seen.append(("b", sys.exc_info()[0]))

    run_tasklets(a, b)
    assert seen == [("b sees", None), ("a", KeyError), ("b", IndexError)]
    assert sys.exc_info() == (None, None, None)


def test_main_handled_exception_survives_switches():
    try:
        raise OSError("main")
    except OSError:
        run_tasklets(lambda: sys.exc_info()[0] is None or (_ for _ in ()).throw(AssertionError))
        assert sys.exc_info()[0] is OSError


var = contextvars.ContextVar("var", default="default")


def test_context_is_shared_with_creator_at_bind():
    var.set("main")
    seen = []
    run_tasklets(lambda: seen.append(var.get()))
    assert seen == ["main"]


def test_context_changes_stay_within_switches():
    ctx_a = contextvars.Context()
    ctx_b = contextvars.Context()
    ch = stackless.channel()
    seen = []

    def a():
        var.set("a")
        ch.receive()
        seen.append(("a", var.get()))

    def b():
        seen.append(("b before", var.get()))
        var.set("b")
        ch.send(None)
        seen.append(("b", var.get()))

    ta = stackless.tasklet()
    tb = stackless.tasklet()
    ctx_a.run(ta.bind, a)
    ctx_b.run(tb.bind, b)
    ta()
    tb()
    stackless.run()
    assert seen == [("b before", "default"), ("a", "a"), ("b", "b")]
    assert var.get() != "a" and var.get() != "b"


def test_recursion_limit_applies_per_tasklet():
    errors = []

    def deep(n):
        return deep(n + 1)

    def f():
        try:
            deep(0)
        except RecursionError:
            errors.append(stackless.current.recursion_depth)

    run_tasklets(f)
    assert errors and errors[0] < 10


def test_trace_function_belongs_to_its_tasklet():
    ch = stackless.channel()
    traced = []

    def tracer(frame, event, arg):
        traced.append((frame.f_code.co_name, event))
        return None

    def traced_tasklet():
        sys.settrace(tracer)
        ch.receive()
        marker_a()
        sys.settrace(None)

    def untraced_tasklet():
        assert sys.gettrace() is None
        marker_b()
        ch.send(None)
        marker_b()

    def marker_a():
        pass

    def marker_b():
        pass

    t = stackless.tasklet(traced_tasklet)()
    stackless.tasklet(untraced_tasklet)()
    stackless.run()
    names = {n for n, _ in traced}
    assert "marker_a" in names
    assert "marker_b" not in names
    assert sys.gettrace() is None
    assert t.trace_function is None


def test_profile_function_belongs_to_its_tasklet():
    ch = stackless.channel()
    calls = []

    def profiler(frame, event, arg):
        if event == "call":
            calls.append(frame.f_code.co_name)

    def marker_a():
        pass

    def marker_b():
        pass

    def a():
        sys.setprofile(profiler)
        ch.receive()
        marker_a()
        sys.setprofile(None)

    def b():
        assert sys.getprofile() is None
        ch.send(None)
        marker_b()

    t = stackless.tasklet(a)()
    stackless.tasklet(b)()
    stackless.run()
    assert "marker_a" in calls and "marker_b" not in calls
    assert sys.getprofile() is None


def call_recorder(names):
    """A trace or profile function that appends the name of every function called."""

    def record(frame, event, arg):
        if event == "call":
            names.append(frame.f_code.co_name)

    return record


def test_switch_inside_a_trace_function_keeps_the_nesting_with_its_tasklet():
    # A tasklet that switches inside its tracer is suspended with the thread state's
    # tracing nesting raised: the other tasklet's tracer must still be called, and the
    # first one's tracer is not entered again for its own calls until it returns.
    ch = stackless.channel()
    seen_a, seen_b = [], []

    def tracer_a(frame, event, arg):
        if event == "call":
            seen_a.append(frame.f_code.co_name)
            if frame.f_code.co_name == "switch_here":
                ch.receive()  # (tracing: its own calls are not traced)
                inner_a()
        return None

    tracer_b = call_recorder(seen_b)

    def switch_here():
        pass

    def inner_a():
        pass

    def after_a():
        pass

    def marker_b():
        pass

    def a():
        sys.settrace(tracer_a)
        switch_here()
        after_a()
        sys.settrace(None)

    def b():
        assert sys.gettrace() is None
        sys.settrace(tracer_b)
        marker_b()
        sys.settrace(None)
        ch.send(None)

    run_tasklets(a, b)
    assert seen_a == ["switch_here", "after_a"]
    assert seen_b == ["marker_b"]
    assert sys.gettrace() is None


def test_trace_function_set_in_a_callee_moves_with_its_tasklet():
    # Set in a function that returned before the switch: the tasklet's frame did not set
    # it itself, and it still goes with the tasklet (and comes back with it).
    ch = stackless.channel()
    traced = []

    tracer = call_recorder(traced)

    def start_tracing():
        sys.settrace(tracer)

    def marker_a():
        pass

    def marker_b():
        pass

    def a():
        start_tracing()
        ch.receive()
        marker_a()
        sys.settrace(None)

    def b():
        assert sys.gettrace() is None
        marker_b()
        ch.send(None)

    run_tasklets(a, b)
    assert "marker_a" in traced and "marker_b" not in traced
    assert sys.gettrace() is None


def test_trace_function_of_an_ended_tasklet_goes_with_it():
    traced = []

    tracer = call_recorder(traced)

    def marker():
        pass

    def a():
        sys.settrace(tracer)
        sys.setprofile(tracer)

    def b():
        assert sys.gettrace() is None and sys.getprofile() is None
        marker()

    run_tasklets(a, b)
    assert "marker" not in traced
    assert sys.gettrace() is None and sys.getprofile() is None


def test_a_switch_inside_a_deep_deallocation_keeps_the_trashcan_with_its_tasklet():
    # The first tasklet blocks in a __del__ ten containers deep in a deallocation (the
    # trashcan's nesting raised); the other one then frees a structure deeper than the
    # trashcan's unwinding level: with its own nesting (0) it is all gone at once.
    ch = stackless.channel()
    freed = []

    class BlocksWhenFreed:
        def __del__(self):
            ch.receive()

    class Probe:
        pass

    def nested(inner, depth):
        x = [inner]
        for _ in range(depth):
            x = [x]
        return x

    def a():
        deep = nested(BlocksWhenFreed(), 10)
        del deep

    def b():
        probe = Probe()
        ref = weakref.ref(probe)
        deep = nested(probe, 500)
        del probe, deep
        freed.append(ref() is None)
        ch.send(None)

    run_tasklets(a, b)
    assert freed == [True]


def test_objects_the_trashcan_deferred_are_freed_by_their_tasklet():
    # A deallocation deep enough for the trashcan to defer the rest (the chain below its
    # unwinding level waits in the thread state's list) switches in a __del__; the other
    # tasklet then frees a container of its own, which would free a deferred chain it found
    # in the thread state. The deferred objects are the first tasklet's: freed there, when
    # its deallocation unwinds.
    ch = stackless.channel()
    freed_in = []

    class Blocks:
        def __del__(self):
            ch.receive()

    class Probe:
        def __del__(self):
            freed_in.append(stackless.getcurrent())

    def a():
        deep = None
        for _ in range(20000):
            deep = [Probe(), deep]
        deep = [Blocks(), deep]  # (a list frees its items last to first: `deep` first)
        del deep

    def b():
        mine = [[]]
        del mine
        ch.send(None)

    ta, _ = run_tasklets(a, b)
    assert len(freed_in) == 20000
    assert set(freed_in) == {ta}


def test_traceback_shows_the_tasklets_frames():
    ch = stackless.channel()
    stacks = []

    def inner():
        stacks.append([f.name for f in traceback.extract_stack()])
        ch.receive()

    def outer():
        inner()

    run_tasklets(outer, lambda: ch.send(None))
    assert stacks[0][-2:] == ["outer", "inner"]
    assert "test_traceback_shows_the_tasklets_frames" not in stacks[0]


def test_getframe_inside_tasklet_shows_its_frames():
    seen = []

    def inner():
        f = sys._getframe()
        seen.append((f.f_code.co_name, f.f_back.f_code.co_name, f.f_back.f_back))

    def outer():
        inner()

    run_tasklets(outer)
    assert seen == [("inner", "outer", None)]


def test_exception_traceback_from_tasklet_includes_its_frames():
    def inner():
        raise ValueError("x")

    def outer():
        inner()

    stackless.tasklet(outer)()
    try:
        stackless.run()
    except ValueError as e:
        names = [f.name for f in traceback.extract_tb(e.__traceback__)]
    assert names[-2:] == ["outer", "inner"]


def test_generators_work_across_switches():
    ch = stackless.channel()
    got = []

    def gen():
        for i in range(3):
            ch.receive()
            yield i

    def consumer():
        for v in gen():
            got.append(v)

    def producer():
        for _ in range(3):
            ch.send(None)

    run_tasklets(consumer, producer)
    assert got == [0, 1, 2]


def test_deep_python_recursion_inside_tasklet():
    def rec(n):
        return 0 if n == 0 else 1 + rec(n - 1)

    got = []
    run_tasklets(lambda: got.append(rec(500)))
    assert got == [500]

"""A tasklet suspended inside a generator or coroutine that another of its frames runs
through `yield from` or `await` (SEND) pickles and resumes there: SEND is a known
continuation, as a for loop's FOR_ITER is (test_pickle_running_generators.py). What the
delegate yields, its frame yields in turn; its return value is the `yield from` or
`await` expression's value; its exception leaves through it. A for loop inside a running
generator over a generator that returns after the restore ends. A coroutine run otherwise
(its send() called) is refused clearly."""
import pickle
import types

import pytest
import stackless
from pickle_support import load_with_frames
from test_pickle_running_generators import run_both

HIGHEST = pickle.HIGHEST_PROTOCOL


def delegate(n, when, returns):
    for i in range(n):
        if i == when:
            stackless.schedule()
        yield i
    if when == n:
        stackless.schedule()  # suspended right before it returns
    return returns


def delegating(n, when):
    got = yield from delegate(n, when, "returned")
    yield got


def loop_over_delegating(n, when):
    return [x for x in delegating(n, when)]


@pytest.mark.parametrize("protocol", range(HIGHEST + 1))
def test_a_tasklet_inside_a_yield_from_resumes_there(stack_kind, protocol):
    first, second = run_both(loop_over_delegating, 6, 3, protocol=protocol)
    assert first == second == [0, 1, 2, 3, 4, 5, "returned"]


def test_the_delegate_returning_after_the_restore_gives_its_value(stack_kind):
    first, second = run_both(loop_over_delegating, 3, 3)
    assert first == second == [0, 1, 2, "returned"]


def test_a_send_the_interpreter_specialized_resumes_too(stack_kind):
    # Warm: 3.12+ specialize SEND to SEND_GEN, which pushes the delegate's frame itself.
    for _ in range(50):
        assert loop_over_delegating(2, -1) == [0, 1, "returned"]
    first, second = run_both(loop_over_delegating, 4, 1)
    assert first == second == [0, 1, 2, 3, "returned"]


def failing_delegate(n):
    yield n
    stackless.schedule()
    raise KeyError(n)


def catching_delegator(n):
    try:
        yield from failing_delegate(n)
    except KeyError as e:
        yield ("caught", e.args)


def over_catching_delegator(n):
    return [x for x in catching_delegator(n)]


def test_an_exception_of_the_delegate_leaves_through_the_yield_from(stack_kind):
    first, second = run_both(over_catching_delegator, 7)
    assert first == second == [7, ("caught", (7,))]


def two_levels(n, when):
    inner = yield from delegating(n, when)
    return inner


def over_two_levels(n, when):
    return [x for x in two_levels(n, when)]


def test_yield_from_through_two_delegating_frames(stack_kind):
    first, second = run_both(over_two_levels, 4, 4)
    assert first == second == [0, 1, 2, 3, "returned"]


async def awaited(n):
    await types.coroutine(delegate)(n, n, None)
    return n * 2


async def awaiting(n):
    doubled = await awaited(n)
    return doubled + 1


@types.coroutine
def drive(coro):
    result = yield from coro
    yield ("result", result)


def over_a_coroutine(n):
    return [x for x in drive(awaiting(n))]


def test_a_tasklet_inside_an_await_chain_resumes_there(stack_kind):
    first, second = run_both(over_a_coroutine, 3)
    assert first == second == [0, 1, 2, ("result", 7)]


def looping_generator(n, when):
    for x in delegate(n, when, None):
        yield x
    yield "loop ended"


def over_looping_generator(n, when):
    return [x for x in looping_generator(n, when)]


def test_a_generators_for_loop_over_a_generator_returning_after_the_restore_ends(stack_kind):
    first, second = run_both(over_looping_generator, 3, 3)
    assert first == second == [0, 1, 2, "loop ended"]


def sends_itself(n):
    coro = awaiting(n)
    try:
        while True:
            coro.send(None)
    except StopIteration as e:
        return e.value


def test_a_coroutine_run_by_its_send_method_is_refused_clearly(stack_kind):
    t = stackless.tasklet(sends_itself)(3)
    t.run()
    try:
        assert not t.restorable
        with pytest.raises(pickle.PicklingError, match="not run by a for loop, `yield from`"):
            pickle.dumps(t)
    finally:
        t.kill()


def quiet_delegate(n):
    yield n
    stackless.schedule(None)  # (its state holds no reference to the tasklet)
    yield n + 1


def quiet_delegating(n):
    yield from quiet_delegate(n)


def over_quiet_delegating(n):
    return [x for x in quiet_delegating(n)]


def test_a_delegating_frame_whose_delegate_is_something_else_does_not_load(stack_kind):
    t = stackless.tasklet(over_quiet_delegating)(5)
    t.run()
    data = pickle.dumps(t.__reduce__())

    def other_delegate(frames):
        gen_frame, delegate_frame = list(frames[-2]), frames[-1]
        values = list(gen_frame[4])
        values[values.index(delegate_frame[6][1])] = iter([1])
        gen_frame[4] = tuple(values)
        return frames[:-2] + [tuple(gen_frame), delegate_frame]

    try:
        load_with_frames(data, lambda frames: frames).kill()  # unchanged, it loads
        with pytest.raises(stackless.FrameRestoreError, match="iterates"):
            load_with_frames(data, other_delegate)
    finally:
        t.kill()

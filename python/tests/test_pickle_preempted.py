"""Tasklets preempted by run(timeout): suspended between two instructions (a
loop's backward jump, a function's entry), they pickle, and restored they continue where
they were interrupted; killed before they run again, the exception comes from there. The
example of Stackless's pickling manual."""
import pickle
import sys

import pytest

import stackless
from pickle_support import lines

RESULTS = []


def record(item):
    RESULTS.append(item)


def count(n):
    total = x = 0
    try:
        while x < n:
            x += 1
            total += x
    except stackless.TaskletExit:
        record(("killed in the loop", 0 < x < n))
        raise
    record(("total", total))


def through_c(n):
    # The preempted loop runs in a frame that f(*args) called.
    f = count
    f(*(n,))
    record("after")


def preempted(func, *args):
    """A tasklet of func(*args), preempted by run(timeout) before it ends (also in a frame
    C code called: ignore_nesting)."""
    t = stackless.tasklet(func)(*args)
    for _ in range(100):
        got = stackless.run(50, ignore_nesting=True)
        if got is t:
            return t
        assert t.alive, "the tasklet ended before it was preempted"
    raise AssertionError("never preempted")


@pytest.mark.parametrize("func", [count, through_c], ids=lambda f: f.__name__)
def test_preempted_tasklet_round_trip_in_process(func):
    del RESULTS[:]
    t = preempted(func, 200000)
    assert t.restorable and not t.scheduled
    data = pickle.dumps(t)
    t.insert()
    stackless.run()
    original = list(RESULTS)
    assert original[0] == ("total", 200000 * 200001 // 2)
    del RESULTS[:]
    t2 = pickle.loads(data)
    t2.insert()
    stackless.run()
    assert RESULTS == original and not t2.alive


def loops(n):
    total = 0
    for i in range(n):  # FOR_ITER and JUMP_BACKWARD
        j = 0
        while j < 3:  # a comparison with its backward jump (3.11 specializes the pair)
            j += 1
            total += i * j
    record(("loops", total))


def test_every_preemption_of_a_loop_pickles_and_resumes():
    # Wherever run(timeout) interrupts (each of the loop's backward jumps), the tasklet
    # is restorable and its copy computes what the original does.
    del RESULTS[:]
    t = stackless.tasklet(loops)(20000)
    copies = []
    while t.alive:
        if stackless.run(30) is t:
            assert t.restorable, t.frame
            if len(copies) < 40:
                copies.append(pickle.dumps(t))
            t.insert()
    original = list(RESULTS)
    assert original == [("loops", 6 * 20000 * 19999 // 2)] and len(copies) >= 10
    for data in copies:
        del RESULTS[:]
        t2 = pickle.loads(data)
        t2.insert()
        stackless.run()
        assert RESULTS == original


def test_restored_tasklet_counts_its_frames_as_recursion_depth_until_it_runs():
    # Stackless's test_miscell TestWatchdog.test_aliveness3: one frame, depth 1.
    t = preempted(count, 200000)
    assert t.recursion_depth == 1
    t2 = pickle.loads(pickle.dumps(t))
    t.kill()
    t2.insert()
    assert t2.alive and t2.scheduled and t2.recursion_depth == 1
    t2.kill()
    assert not t2.alive and t2.recursion_depth == 0
    t3 = pickle.loads(pickle.dumps(preempted(through_c, 200000)))
    assert t3.recursion_depth == 2
    t3.kill()


def test_killed_restored_preempted_tasklet_unwinds_from_where_it_was_interrupted():
    del RESULTS[:]
    t = preempted(count, 200000)
    t2 = pickle.loads(pickle.dumps(t))
    t.kill()
    original = list(RESULTS)
    del RESULTS[:]
    t2.kill()
    assert RESULTS == original and not t2.alive
    if sys.version_info < (3, 13):
        # 3.11's exception table covers the loop's backward jump (3.13's leaves it out).
        assert original == [("killed in the loop", True)]


MANUAL = """
import pickle, sys
import stackless

def count(n):
    total = x = 0
    while x < n:
        x += 1
        total += x
    print("total", total)

if sys.argv[1] == "dump":
    t = stackless.tasklet(count)(300000)
    while stackless.run(100) is not t:
        pass
    with open("t.pickle", "wb") as f:
        pickle.dump(t, f)
    t.insert()
    stackless.run()
else:
    with open("t.pickle", "rb") as f:
        t = pickle.load(f)
    t.insert()
    stackless.run()
    print("alive", t.alive)
"""


def test_preempted_tasklet_resumes_in_another_process(tmp_path, stack_kind):
    # The pickling manual's example: run(timeout) interrupts a tasklet, pickle it, and
    # finish it in another process.
    total = "total %d" % (300000 * 300001 // 2)
    assert lines(tmp_path, MANUAL, "dump", stack_kind=stack_kind) == [total]
    assert lines(tmp_path, MANUAL, "load", stack_kind=stack_kind) == [total, "alive False"]

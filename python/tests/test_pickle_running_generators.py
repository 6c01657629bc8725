"""A tasklet suspended inside a generator that one of its frames runs with a for loop
pickles and resumes there (Stackless's genschedinnertest): the generator's frame is in the
tasklet's snapshot, the generator object pickles as one awaiting that frame, and after
loading it is the running generator of that frame. Its FOR_ITER is a known continuation:
what the generator yields is the loop's next value, its return ends the loop, its
exception leaves through the loop. Other ways of running a generator (next(), list(),
send()) and a generator running on the thread's own frames are refused clearly (`yield
from` and `await`: test_pickle_delegating_generators.py)."""
import copy
import gc
import pickle
import sys

import pytest
import stackless
from pickle_support import lines, load_with_frames

HIGHEST = pickle.HIGHEST_PROTOCOL
RESULTS = []


def roundtrip(obj, protocol=HIGHEST):
    return pickle.loads(pickle.dumps(obj, protocol))


def accumulate(func, *args):
    result = func(*args)
    record(result)  # (RESULTS is looked up after the call: not on the pickled stack)


def record(result):
    RESULTS.append(result)


def inner(n, when):
    for i in range(n):
        if i == when:
            stackless.schedule()
        yield i


def outer(n, when):
    got = []
    for x in inner(n, when):
        got.append(x)
    return got


def run_both(func, *args, protocol=HIGHEST):
    """Run `func(*args)` in a tasklet until it schedules, pickle and load it, then run the
    original and the copy to their ends: both results."""
    del RESULTS[:]
    t = stackless.tasklet(accumulate)(func, *args)
    t.run()
    assert t.alive and not RESULTS
    copy_ = pickle.loads(pickle.dumps(t, protocol))
    stackless.run()
    assert not t.alive and len(RESULTS) == 1
    copy_.insert()
    stackless.run()
    assert not copy_.alive
    return RESULTS[:]


@pytest.mark.parametrize("protocol", range(HIGHEST + 1))
def test_a_tasklet_inside_a_for_loops_generator_resumes_there(stack_kind, protocol):
    first, second = run_both(outer, 20, 13, protocol=protocol)
    assert first == second == list(range(20))


def test_a_loop_the_interpreter_specialized_resumes_too(stack_kind):
    # Warm: 3.12+ specialize the FOR_ITER to FOR_ITER_GEN, which pushes the generator's
    # frame itself (no C between the two frames).
    for _ in range(50):
        assert outer(4, -1) == [0, 1, 2, 3]
    first, second = run_both(outer, 6, 2)
    assert first == second == list(range(6))


def test_the_generator_returning_at_once_ends_the_loop(stack_kind):
    first, second = run_both(outer, 5, 4)
    assert first == second == list(range(5))


def frames_of_the_generator(n):
    for i in range(n):
        if i == 1:
            stackless.schedule()
        yield sys._getframe()


def identity(n):
    g = frames_of_the_generator(n)
    same = []
    for f in g:
        same.append(f is g.gi_frame and f.f_code is frames_of_the_generator.__code__)
        del f  # (a running frame does not pickle)
    return same, g.gi_frame


def test_after_loading_the_generator_is_the_running_one_of_its_frame(stack_kind):
    first, second = run_both(identity, 3)
    assert first == second == ([True, True, True], None)


def fails_after(n):
    for i in range(n):
        if i == 2:
            stackless.schedule()
            raise KeyError(i)
        yield i


def catches(n):
    got = []
    try:
        for x in fails_after(n):
            got.append(x)
    except KeyError as e:
        return got, e.args
    return got, None


def test_an_exception_of_the_generator_leaves_through_the_loop(stack_kind):
    first, second = run_both(catches, 5)
    assert first == second == ([0, 1], (2,))


def deeper(n):
    # The generator's frame calls a function that switches: its frame is in the middle.
    for i in range(n):
        yield callee(i)


def callee(i):
    if i == 1:
        stackless.schedule()
    return i * 10


def nested(n):
    # A generator running a generator: two running generator frames.
    for x in deeper(n):
        yield x + 1


def loop_nested(n):
    got = []
    for x in nested(n):
        got.append(x)
    return got


def test_running_generators_in_the_middle_of_the_chain_resume(stack_kind):
    first, second = run_both(loop_nested, 4)
    assert first == second == [1, 11, 21, 31]


def doubled_after_a_switch(i):
    if i == 1:
        stackless.schedule()
    return i * 2


def over_a_generator_expression(n):
    got = []
    for x in (doubled_after_a_switch(i) for i in range(n)):
        got.append(x)
    return got


def over_a_comprehension(n):
    return [x + 1 for x in inner(n, 2)]


def test_a_comprehension_over_a_running_generator_resumes(stack_kind):
    first, second = run_both(over_a_comprehension, 4)
    assert first == second == [1, 2, 3, 4]


def test_a_generator_expression_resumes(stack_kind):
    # (3.15's generator expressions make their iterator inside, and their handler counts
    # it over the code after the loop too: the analysis leaves that edge out.)
    first, second = run_both(over_a_generator_expression, 4)
    assert first == second == [0, 2, 4, 6]


def doubles(n):
    return (i * 2 for i in range(n))


def test_a_suspended_generator_expression_pickles(stack_kind):
    g = doubles(4)
    assert next(g) == 0
    assert list(pickle.loads(pickle.dumps(g))) == [2, 4, 6]


def shares_a_cell(n):
    count = 0

    def counting():
        nonlocal count
        for i in range(n):
            count += 1
            if i == 1:
                stackless.schedule()
            yield count

    gen = counting()
    del counting  # (a nested function pickles by reference only: not at all)
    seen = []
    for c in gen:
        seen.append((c, count))
    return seen


def test_the_generator_shares_its_cells_with_the_frame_that_runs_it(stack_kind):
    first, second = run_both(shares_a_cell, 3)
    assert first == second == [(1, 1), (2, 2), (3, 3)]


def switches_twice(n):
    for i in range(n):
        stackless.schedule()
        yield i


def plain_loop_twice(n):
    got = []
    for x in switches_twice(n):
        got.append(x)
    return got


def loop_twice_and_record(n):
    got = []
    for x in switches_twice(n):
        got.append(x)
    record(got)


def test_a_restored_tasklet_pickles_again_inside_the_generator(stack_kind):
    del RESULTS[:]
    t = stackless.tasklet(loop_twice_and_record)(3)
    t.run()
    t1 = roundtrip(t)
    t.kill()
    t1.insert()
    stackless.schedule()  # t1 resumed, runs into the generator's next schedule()
    assert t1.alive and not RESULTS
    t2 = roundtrip(t1)
    t1.kill()
    t2.insert()
    stackless.run()
    assert RESULTS == [[0, 1, 2]]


def restored_copy(func, *args):
    """A pickled copy of a tasklet running `func(*args)` until it switches (killed)."""
    del RESULTS[:]
    t = stackless.tasklet(accumulate)(func, *args)
    t.run()
    copy_ = roundtrip(t)
    t.kill()
    return copy_


def test_a_restored_tasklet_pickles_again_before_it_ran(stack_kind):
    t1 = restored_copy(outer, 5, 2)
    t2 = roundtrip(t1)  # its generator, given its frame, not resumed: running again
    for copy_ in (t2, t1):
        copy_.insert()
        stackless.run()
    assert RESULTS == [[0, 1, 2, 3, 4]] * 2


def guarded(n, log):
    try:
        for x in guarded_gen(n, log):
            log.append(x)
    finally:
        log.append("outer finally")


def guarded_gen(n, log):
    try:
        for i in range(n):
            stackless.schedule()
            yield i
    finally:
        log.append("generator finally")


def test_killing_the_restored_tasklet_unwinds_through_the_generator(stack_kind):
    log = []
    t = stackless.tasklet(guarded)(3, log)
    t.run()
    t.kill()
    assert log == ["generator finally", "outer finally"]
    del log[:]
    t = stackless.tasklet(guarded)(3, log)
    t.run()
    # The log list is pickled with the tasklet: the copy's log is the loaded list.
    copy_t, copy_log = roundtrip((t, log))
    t.kill()
    copy_t.kill()
    assert copy_log == ["generator finally", "outer finally"]


def test_a_restored_tasklet_dropped_unrun_leaves_its_generator_finished(stack_kind):
    seen = []
    t = stackless.tasklet(outer)(5, 1)
    t.run()
    data = pickle.dumps(t)
    t.kill()
    old = sys.unraisablehook
    sys.unraisablehook = seen.append
    try:
        t2 = pickle.loads(data)
        # The generator, reached through the snapshot the tasklet keeps until it runs.
        gen = t2.__reduce__()[2][7][5][-1][6][1]
        assert not gen.gi_running
        t2 = None
        gc.collect()
        assert list(gen) == []
        del gen
        gc.collect()
    finally:
        sys.unraisablehook = old
    assert seen == []


def test_a_running_generator_pickled_alone_loads_finished():
    t = stackless.tasklet(outer)(5, 1)
    t.run()
    # The generator is on outer's value stack: the tasklet's snapshot names it.
    running = t.__reduce__()[2][7][5][-1][6][1]
    assert running.gi_running
    alone = roundtrip(running)
    assert alone.__qualname__ == running.__qualname__
    assert not alone.gi_running
    if sys.version_info < (3, 15):
        assert list(alone) == []
    alone.close()  # (3.15: not started, which close() clears without running it)
    assert list(alone) == []
    t.kill()
    assert not running.gi_running


@pytest.mark.skipif(sys.version_info < (3, 15),
                    reason="before 3.15 the awaiting generator is finished to everyone else")
def test_a_generator_run_before_its_tasklet_resumed_it_is_refused(stack_kind):
    t2 = restored_copy(outer, 5, 1)
    gen = t2.__reduce__()[2][7][5][-1][6][1]
    assert next(gen) == 1  # (3.15: it looks not started; it goes on from its call)
    t2.insert()
    with pytest.raises(RuntimeError, match="before its tasklet resumed it"):
        stackless.run()
    assert not RESULTS


def runs_itself():
    yield pickle.dumps(me)


def test_a_generator_running_on_the_threads_frames_is_refused():
    global me
    me = runs_itself()
    with pytest.raises(pickle.PicklingError, match="running"):
        next(me)


def next_in_a_tasklet(n):
    g = inner(n, 1)
    return [next(g), next(g), next(g)]


def send_in_a_tasklet(n):
    g = inner(n, 1)
    next(g)
    return g.send(None)


@pytest.mark.parametrize("func, why", [
    (next_in_a_tasklet, "not run by a for loop"),
    (send_in_a_tasklet, "not run by a for loop"),
])
def test_a_generator_run_otherwise_is_refused_clearly(stack_kind, func, why):
    t = stackless.tasklet(func)(4)
    t.run()
    try:
        assert not t.restorable
        with pytest.raises(pickle.PicklingError, match=why):
            pickle.dumps(t)
    finally:
        t.kill()


def quiet_inner(n):
    for i in range(n):
        if i == 1:
            stackless.schedule(None)  # (its state holds no reference to the tasklet)
        yield i


def quiet_outer(n):
    got = []
    for x in quiet_inner(n):
        got.append(x)
    return got


def test_bad_running_generator_snapshots_are_refused(stack_kind):
    err = stackless.FrameRestoreError
    t = stackless.tasklet(quiet_outer)(5)
    t.run()
    reduced = t.__reduce__()
    data = pickle.dumps(reduced)

    def load(change):
        return load_with_frames(data, change)

    def replace_last(item):
        return lambda frames: frames[:-1] + [item(frames[-1])]

    try:
        load(lambda frames: frames).kill()  # unchanged, it loads
        # An ordinary generator in its place.
        with pytest.raises(err, match="await"):
            load(replace_last(lambda f: f[:6] + (("generator", quiet_inner(5)),)))
        # Not a generator at all.
        with pytest.raises(err, match="await"):
            load(replace_last(lambda f: f[:6] + (("generator", 5),)))
        # The generator's frame without its tag: a generator's frame in a tasklet's chain.
        with pytest.raises(err, match="generator"):
            load(replace_last(lambda f: f[:6]))

        # The frame that runs the generator iterates something else.
        def other_iterator(frames):
            outer_frame = list(frames[-2])
            values = list(outer_frame[4])
            values[values.index(frames[-1][6][1])] = iter([1])
            outer_frame[4] = tuple(values)
            return frames[:-2] + [tuple(outer_frame), frames[-1]]
        with pytest.raises(err, match="iterates"):
            load(other_iterator)
        # The generator's frame twice, or first.
        with pytest.raises(err):
            load(lambda frames: frames + [frames[-1]])
        with pytest.raises(err):
            load(lambda frames: [frames[-1]] + frames)
        # Its frame where the outer frame is not in a for loop.
        with pytest.raises(err):
            load(lambda frames: frames[:-2] + [frames[-1]])
    finally:
        t.kill()


def test_a_copy_of_a_tasklet_inside_a_running_generator_is_refused(stack_kind):
    # copy.copy() would share the running generator between two tasklets: only a pickle
    # makes the tasklet's own.
    t = stackless.tasklet(outer)(4, 2)
    t.run()
    try:
        with pytest.raises(stackless.FrameRestoreError, match="pickle"):
            copy.copy(t)
    finally:
        t.kill()


def test_a_tasklet_inside_a_running_generator_resumes_in_another_process(tmp_path, stack_kind):
    source = """
    import pickle, sys
    import stackless

    GOT = []

    def inner(n, when):
        for i in range(n):
            if i == when:
                stackless.schedule()
            yield i * i

    def sum_loop(n, when):
        total = 0
        for x in inner(n, when):
            total += x
        GOT.append(total)

    if sys.argv[1] == "dump":
        t = stackless.tasklet(sum_loop)(6, 3)
        t.run()
        with open("t.pickle", "wb") as f:
            pickle.dump(t, f)
    else:
        with open("t.pickle", "rb") as f:
            t = pickle.load(f)
        t.insert()
        stackless.run()
        print(GOT)
    """
    lines(tmp_path, source, "dump", stack_kind=stack_kind)
    assert lines(tmp_path, source, "load", stack_kind=stack_kind) == ["[55]"]

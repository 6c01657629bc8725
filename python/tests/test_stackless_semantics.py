"""Attributes whose values Stackless's own suite checks: recursion_depth as Stackless
counts it (also of a tasklet interrupted by run(timeout)), thread_id of a tasklet whose
thread has ended."""
import pickle
import threading

import pytest

import stackless


def test_a_tasklets_first_function_is_at_recursion_depth_one():
    depths = []

    def inner():
        depths.append(stackless.current.recursion_depth)

    ch = stackless.channel()

    def body():
        depths.append(stackless.current.recursion_depth)
        inner()
        ch.receive()

    t = stackless.tasklet(body)()
    assert t.recursion_depth == 0  # not started
    stackless.run()
    assert depths == [1, 2]
    t.kill()
    assert t.recursion_depth == 0


def test_recursion_depth_of_a_tasklet_interrupted_by_run_timeout():
    seen = []

    def spin():
        seen.append(stackless.current.recursion_depth)
        while True:
            pass

    t = stackless.tasklet(spin)()
    assert stackless.run(100) is t
    assert t.paused and t.recursion_depth == seen[0] == 1
    t.kill()


def test_thread_id_is_minus_one_once_the_thread_ended():
    got = {}

    def thread():
        got["done"] = stackless.tasklet(lambda: None)()
        stackless.run()
        got["id"] = got["done"].thread_id

    th = threading.Thread(target=thread)
    th.start()
    th.join()
    assert got["id"] == th.ident
    assert not got["done"].alive and got["done"].thread_id == -1


@pytest.mark.parametrize("blocked", [False, True], ids=["runnable", "blocked"])
def test_a_tasklet_given_up_at_its_threads_end_has_no_thread_until_killed(blocked):
    ch = stackless.channel()
    keep_going = [True]

    def stubborn():
        while keep_going[0]:
            try:
                ch.receive() if blocked else stackless.main.run()
            except stackless.TaskletExit:
                pass

    t = stackless.tasklet().bind(stubborn, ())

    def thread():
        t.bind_thread()
        t.run()

    th = threading.Thread(target=thread)
    th.start()
    th.join()
    keep_going[0] = False
    assert (t.alive, t.thread_id, t.blocked) == (False, -1, blocked)
    assert ch.balance == 0  # nothing waits on the channel for it
    # Its frames are stuck on the C stack of the thread that ended: neither pickled (a
    # dead tasklet's pickle would lose them) nor unbound.
    assert not t.restorable
    with pytest.raises(stackless.UnpicklableFrameError, match="given up"):
        pickle.dumps(t)
    with pytest.raises(RuntimeError, match="C state"):
        t.bind(None)
    with pytest.raises(RuntimeError, match="C state"):
        t.bind_thread()
    with pytest.raises(RuntimeError, match="tasklet has no thread"):
        t.throw(stackless.TaskletExit, pending=True)
    t.kill(pending=True)
    assert (t.blocked, t.scheduled, t.alive, t.next) == (False, False, False, None)
    t.remove()
    t.kill()

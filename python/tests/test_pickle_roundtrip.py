"""Pickling running tasklets through the stackless module: round trips into a
fresh process for tasklets blocked in receive(), send() and schedule()."""
import pickle

import pytest

import stackless
from pickle_support import lines

COMMON = """
import pickle, sys, traceback
import stackless

ch = stackless.channel()

class Res:
    def __enter__(self):
        print('enter')
        return self
    def __exit__(self, t, v, tb):
        print('exit', t.__name__ if t else None)
        return False

def inner(n):
    x = ch.receive()
    if x < 0:
        raise ValueError('neg %d' % x)
    return x * n

def outer():
    total = 0
    try:
        with Res():
            for i in range(3):
                total += inner(i + 1)
                print('got', total)
    except ValueError as e:
        print('caught', e, [f.name for f in traceback.extract_tb(e.__traceback__)])
    finally:
        print('finally', total)
    return total

def dump(obj, name, proto=pickle.HIGHEST_PROTOCOL):
    with open(name, 'wb') as f:
        pickle.dump(obj, f, proto)

def load(name):
    with open(name, 'rb') as f:
        return pickle.load(f)
"""

RECEIVE = COMMON + """
if sys.argv[1] == 'dump':
    t = stackless.tasklet(outer)()
    stackless.run()
    ch.send(10)
    print(t.blocked, t.restorable)
    for p in range(pickle.HIGHEST_PROTOCOL + 1):
        dump((t, ch), 'p%d' % p, p)
    t.kill()
elif sys.argv[1] == 'load':
    t, ch = load(sys.argv[2])
    print(t.alive, t.blocked, ch.balance, t.restorable)
    ch.send(int(sys.argv[3]))
    if len(sys.argv) > 4:
        dump((t, ch), sys.argv[4])
        t.kill()
    while t.blocked:
        ch.send(int(sys.argv[3]))
    print('done', t.alive)
"""


def test_receive_round_trip_all_protocols(tmp_path, stack_kind):
    out = lines(tmp_path, RECEIVE, "dump", stack_kind=stack_kind)
    assert out == ["enter", "got 10", "True True", "exit TaskletExit", "finally 10"]
    for p in range(pickle.HIGHEST_PROTOCOL + 1):
        out = lines(tmp_path, RECEIVE, "load", "p%d" % p, 7, stack_kind=stack_kind)
        # returns propagate (7*2, 7*3), the loop goes on, `with` and finally run
        assert out == ["True True -1 True", "got 24", "got 45", "exit None", "finally 45",
                       "done False"], p


def test_exception_propagates_with_traceback(tmp_path, stack_kind):
    lines(tmp_path, RECEIVE, "dump", stack_kind=stack_kind)
    out = lines(tmp_path, RECEIVE, "load", "p2", -3, stack_kind=stack_kind)
    assert out == ["True True -1 True", "exit ValueError",
                   "caught neg -3 ['outer', 'inner']", "finally 10", "done False"]


def test_restored_tasklet_pickles_again(tmp_path, stack_kind):
    lines(tmp_path, RECEIVE, "dump", stack_kind=stack_kind)
    out = lines(tmp_path, RECEIVE, "load", "p3", 1, "again", stack_kind=stack_kind)
    assert out == ["True True -1 True", "got 12", "exit TaskletExit", "finally 12",
                   "done False"]
    out = lines(tmp_path, RECEIVE, "load", "again", 2, stack_kind=stack_kind)
    assert out == ["True True -1 True", "got 18", "exit None", "finally 18", "done False"]


SEND_EXC = COMMON + """
if sys.argv[1] == 'dump':
    t = stackless.tasklet(outer)()
    stackless.run()
    dump((t, ch), 'p')
    t.kill()
else:
    t, ch = load('p')
    ch.send_exception(ValueError, 'remote')
    print('done', t.alive)
"""


def test_send_exception_into_restored(tmp_path, stack_kind):
    lines(tmp_path, SEND_EXC, "dump", stack_kind=stack_kind)
    out = lines(tmp_path, SEND_EXC, "load", stack_kind=stack_kind)
    assert out == ["exit ValueError", "caught remote ['outer', 'inner']", "finally 0",
                   "done False"]


SEND = """
import pickle, sys
import stackless

ch = stackless.channel()

def producer(n):
    for i in range(n):
        ch.send(i * i)
    ch.send(None)
    print('producer done')

if sys.argv[1] == 'dump':
    t = stackless.tasklet(producer)(5)
    stackless.run()
    a = ch.receive()
    b = ch.receive()
    stackless.run()   # the producer blocks in send(4)
    print(a, b, ch.balance, t.blocked)
    data = pickle.dumps(t)
    with open('p', 'wb') as f:
        f.write(data)
    t.kill()
else:
    with open('p', 'rb') as f:
        t = pickle.load(f)
    print(t.blocked, t.restorable)
    ch = t.__reduce__()[2][10][0]   # the channel it is blocked on (unpickled with it)
    print(ch.balance)
    got = []
    while True:
        v = ch.receive()
        if v is None:
            break
        got.append(v)
    print(got)
    stackless.run()
"""


def test_send_round_trip(tmp_path, stack_kind):
    assert lines(tmp_path, SEND, "dump", stack_kind=stack_kind) == ["0 1 1 True"]
    out = lines(tmp_path, SEND, "load", stack_kind=stack_kind)
    assert out == ["True True", "1", "[4, 9, 16]", "producer done"]


SCHEDULE = """
import pickle, sys
import stackless

def work(n, name):
    acc = []
    i = 0
    while i < n:
        acc.append(i)
        r = stackless.schedule(('tick', i))
        assert r == ('tick', i), r
        i += 1
    print(name, acc)
    return acc

if sys.argv[1] == 'dump':
    a = stackless.tasklet(work)(6, 'a')
    b = stackless.tasklet(work)(3, 'b')
    stackless.schedule()
    stackless.schedule()
    with open('p', 'wb') as f:
        pickle.dump([a, b], f)
    print(a.scheduled, a.restorable)
    a.kill(); b.kill()
else:
    with open('p', 'rb') as f:
        a, b = pickle.load(f)
    print(a.alive, a.scheduled, a.paused)
    a.insert(); b.insert()
    stackless.run()
    print(a.alive, b.alive)
"""


def test_schedule_round_trip(tmp_path, stack_kind):
    assert lines(tmp_path, SCHEDULE, "dump", stack_kind=stack_kind) == ["True True"]
    out = lines(tmp_path, SCHEDULE, "load", stack_kind=stack_kind)
    assert out == ["True False True", "b [0, 1, 2]", "a [0, 1, 2, 3, 4, 5]", "False False"]


NOT_STARTED = """
import pickle, sys
import stackless

def f(a, b=2):
    print('f', a, b)

if sys.argv[1] == 'dump':
    t = stackless.tasklet(f)(1, b=3)
    d = stackless.tasklet(f)
    with open('p', 'wb') as fh:
        pickle.dump((t, d), fh)
    t.kill()
else:
    with open('p', 'rb') as fh:
        t, d = pickle.load(fh)
    print(t.alive, t.scheduled, d.alive)
    t.insert()
    stackless.run()
"""


def test_not_started_and_dead(tmp_path, stack_kind):
    assert lines(tmp_path, NOT_STARTED, "dump", stack_kind=stack_kind) == []
    assert lines(tmp_path, NOT_STARTED, "load", stack_kind=stack_kind) == [
        "True False False", "f 1 3"]


def _blocked():
    ch = stackless.channel()

    def f():
        ch.receive()
    t = stackless.tasklet(f)()
    stackless.run()
    return t, ch


def test_restorable_states():
    t = stackless.tasklet(lambda: None)
    assert t.restorable  # not alive
    t()
    assert t.restorable  # not started
    stackless.run()
    assert t.restorable  # finished
    b, ch = _blocked()
    assert b.restorable
    state = b.__reduce__()
    assert state[0] is stackless.tasklet
    b.kill()
    assert not stackless.main.restorable or stackless.main is stackless.current


def test_in_process_round_trip_and_gc():
    import gc
    b, ch = _blocked()
    data = pickle.dumps((b, ch))
    b.kill()
    b2, ch2 = pickle.loads(data)
    assert b2.blocked and ch2.balance == -1
    ch2.send(1)
    assert not b2.alive
    # an unreachable restored blocked tasklet is collected (killed), no crash
    b3, ch3 = pickle.loads(data)
    del b3, ch3
    gc.collect()


SEEN = []


def _iterate(seq, ch):
    for x in seq:
        got = ch.receive()  # (SEEN.append loaded before it would be pickled with a copy)
        SEEN.append(got + str(x))


@pytest.mark.parametrize("seq", [(1, 2, 3), [1, 2, 3], "abc", b"abc", range(3), {1: 2, 3: 4}],
                         ids=["tuple", "list", "str", "bytes", "range", "dict"])
def test_a_tasklet_iterating_pickles_mid_loop(seq):
    # 3.15 iterates a list, tuple, str or bytes by an index above it on the value stack
    # (str and bytes were refused at load), any other iterable through its iterator.
    ch = stackless.channel()
    t = stackless.tasklet(_iterate)(seq, ch)
    stackless.run()  # blocked in the loop's first receive
    data = pickle.dumps((t, ch))
    t.kill()
    SEEN.clear()
    t2, ch2 = pickle.loads(data)
    while t2.alive:
        ch2.send("b")
    assert SEEN == ["b" + str(x) for x in seq]


def test_channel_settings_round_trip():
    ch = stackless.channel()
    ch.preference = 1
    ch.schedule_all = True
    ch.close()
    c2 = pickle.loads(pickle.dumps(ch))
    assert (c2.preference, c2.schedule_all, c2.closing) == (1, True, True)


GOT = []


def test_channel_alone_restores_its_blocked_tasklets_in_order():
    ch = stackless.channel()
    got = GOT  # a global: a closure's cell would be pickled (copied) with the frames

    def rx(tag):
        v = ch.receive()  # (GOT on the value stack around the call would be copied)
        GOT.append((tag, v))
    ts = [stackless.tasklet(rx)(i) for i in range(3)]
    stackless.run()
    ch.close()
    data = pickle.dumps(ch)
    for t in ts:
        t.kill()
    got.clear()
    c2 = pickle.loads(data)
    assert c2.balance == -3 and c2.closing
    for v in "abc":
        c2.send(v)
    assert got == [(0, "a"), (1, "b"), (2, "c")]


KILLED = """
import pickle, sys
import stackless

def work():
    try:
        while True:
            stackless.schedule()
    except KeyError as e:
        print('caught', repr(e))
    finally:
        print('finally')

if sys.argv[1] == 'dump':
    t = stackless.tasklet(work)()
    stackless.schedule()
    with open('p', 'wb') as f:
        pickle.dump(t, f)
    t.remove()
else:
    with open('p', 'rb') as f:
        a = pickle.load(f)
        f.seek(0)
        b = pickle.load(f)
    a.kill()              # not run since unpickled: its frames run with TaskletExit
    print(a.alive)
    b.throw(KeyError, 'k', None, True)   # pending: runs when scheduled
    print(b.alive)
    stackless.run()
    print(b.alive)
"""


def test_kill_and_throw_restored_before_it_ran(tmp_path, stack_kind):
    lines(tmp_path, KILLED, "dump", stack_kind=stack_kind)
    assert lines(tmp_path, KILLED, "load", stack_kind=stack_kind) == [
        "finally", "False", "True", "caught KeyError('k')", "finally", "False"]


SENT = []


def _sequence_sender(ch, items):
    try:
        n = ch.send_sequence(items)
        SENT.append(("count", n))
    finally:
        SENT.append("finally")


def _receive(ch, k):
    for _ in range(k):
        SENT.append(ch.receive())


def _mid_sequence(items):
    """A tasklet blocked in send_sequence(items) after its first item was received."""
    SENT.clear()
    ch = stackless.channel()
    t = stackless.tasklet(_sequence_sender)(ch, items)
    stackless.tasklet(_receive)(ch, 1)
    stackless.run()
    assert t.blocked and SENT == [items[0]]
    SENT.clear()
    return t, ch


def test_a_tasklet_blocked_in_send_sequence_pickles_and_sends_the_rest():
    t, ch = _mid_sequence([1, 2, 3, 4])
    data = pickle.dumps((t, ch))
    t.kill()
    assert SENT == ["finally"]
    SENT.clear()
    t2, ch2 = pickle.loads(data)
    assert t2.blocked and ch2.balance == 1
    stackless.tasklet(_receive)(ch2, 1)
    stackless.run()
    assert SENT == [2] and t2.blocked
    again = pickle.dumps((t2, ch2))  # restored, in the middle of what was left
    stackless.tasklet(_receive)(ch2, 2)
    stackless.run()
    assert SENT == [2, 3, 4, ("count", 4), "finally"] and not t2.alive
    SENT.clear()
    t3, ch3 = pickle.loads(again)
    stackless.tasklet(_receive)(ch3, 2)
    stackless.run()
    assert SENT == [3, 4, ("count", 4), "finally"] and not t3.alive


def test_a_send_sequence_whose_send_completed_pickles_runnable():
    SENT.clear()
    ch = stackless.channel()
    t = stackless.tasklet(_sequence_sender)(ch, iter(range(5)))
    t.run()  # blocks sending 0
    stackless.tasklet(_receive)(ch, 1).run()  # takes 0, ends: the sender is runnable
    assert SENT == [0] and t.scheduled and not t.blocked
    SENT.clear()
    data = pickle.dumps((t, ch))
    t.kill()
    SENT.clear()
    t2, ch2 = pickle.loads(data)
    assert t2.paused
    data2 = pickle.dumps((t2, ch2))  # restored, not run yet
    t2.insert()
    stackless.tasklet(_receive)(ch2, 4)
    stackless.run()
    assert SENT == [1, 2, 3, 4, ("count", 5), "finally"]
    SENT.clear()
    t3, ch3 = pickle.loads(data2)
    t3.kill()  # killed before it ran: the rest is not sent, its finally runs
    assert SENT == ["finally"] and ch3.balance == 0


def test_a_send_sequence_over_an_unpicklable_iterator_refuses_to_pickle():
    ch = stackless.channel()
    lines_ = open(__file__)  # a file's iterator does not pickle
    t = stackless.tasklet(_sequence_sender)(ch, lines_)
    stackless.run()
    assert t.blocked
    with pytest.raises(TypeError, match="TextIOWrapper"):
        pickle.dumps(t)
    t.kill()
    lines_.close()
    SENT.clear()


def test_malformed_send_sequence_continuations_are_refused():
    t, ch = _mid_sequence([1, 2, 3])
    cls, args, state = t.__reduce__()
    t.kill()
    SENT.clear()
    other = stackless.channel()
    seq = state[11]
    assert seq[0] is ch and seq[2] == 1
    for bad in ("x", (ch, seq[1]), (ch, [1, 2], 1), (5, seq[1], 1), (other, seq[1], 1),
                (ch, seq[1], -1), (ch, seq[1], "1")):
        fresh = stackless.tasklet()
        with pytest.raises(stackless.FrameRestoreError, match="send_sequence"):
            fresh.__setstate__(state[:11] + (bad,))
        assert not fresh.alive
    fresh = stackless.tasklet()
    with pytest.raises(stackless.FrameRestoreError, match="send_sequence"):
        fresh.__setstate__(state[:3] + (1,) + state[4:11] + (seq,))  # not a started tasklet


def test_a_restored_send_sequence_pickles_again_between_two_sends():
    t, ch = _mid_sequence([1, 2, 3, 4])
    data = pickle.dumps((t, ch))
    t.kill()
    SENT.clear()
    t2, ch2 = pickle.loads(data)
    stackless.tasklet(_receive)(ch2, 1).run()  # takes 2: the sender is runnable again
    assert SENT == [2] and t2.scheduled and not t2.blocked
    again = pickle.dumps((t2, ch2))
    t2.kill()
    SENT.clear()
    t3, ch3 = pickle.loads(again)
    t3.insert()
    stackless.tasklet(_receive)(ch3, 2)
    stackless.run()
    assert SENT == [3, 4, ("count", 4), "finally"] and not t3.alive




PAST = []


def _receive_then_schedule(ch):
    PAST.append(ch.receive())  # blocks, and the test's send resumes it
    got = stackless.schedule("retval")  # (PAST.append on the stack would pickle a copy)
    PAST.append(got)


def _send_then_switch(ch, other):
    ch.send("again")  # blocks until the test receives
    other.switch()


def test_a_tasklet_past_its_channel_action_pickles_as_suspended_where_it_is_now():
    # Its channel action is over once it runs again: paused in schedule() it resumes
    # there; switched away from in a C call (tasklet.switch()) after a send it is not
    # restorable (a send it were still in would be).
    import gc
    ch = stackless.channel()
    PAST.clear()
    t = stackless.tasklet(_receive_then_schedule)(ch)
    stackless.run()
    ch.send("sent")  # t takes it, runs on and pauses in schedule()
    assert t.alive and not t.blocked and t.restorable
    gc.collect()  # the collector visits its frames as paused in schedule()
    t2 = pickle.loads(pickle.dumps(t))
    t.kill()
    t2.insert()
    stackless.run()
    assert PAST == ["sent", "retval"]
    other = stackless.tasklet(lambda: None)()
    other.remove()
    t3 = stackless.tasklet(_send_then_switch)(ch, other)
    stackless.run()
    assert ch.receive() == "again"
    stackless.run()  # t3 returns from send() and switches to `other`, which ends
    assert t3.alive and not t3.scheduled and not t3.restorable
    gc.collect()
    t3.kill()

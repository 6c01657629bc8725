"""A tasklet pickle records the CPython it was made under: loading it under another minor
version, or under a micro version with another bytecode magic number, raises an error
naming both versions and changes nothing; a micro version with the same magic loads."""
import importlib.util
import pickle
import sys

import pytest

import stackless

MAGIC = int.from_bytes(importlib.util.MAGIC_NUMBER[:2], "little")
HERE = "CPython %d.%d.%d" % sys.version_info[:3]


class _Fake:
    """Pickles as a tasklet with a given state."""

    def __init__(self, state):
        self.state = state

    def __reduce__(self):
        return (stackless.tasklet, (), self.state)


def _restamped(state, stamp):
    return pickle.dumps(_Fake(state[:2] + (stamp,) + state[3:]))


RECEIVED = []


def _receiver(ch):
    # A global, not a cell: a loaded copy of this frame appends here too.
    RECEIVED.append(ch.receive())


def _blocked():
    ch = stackless.channel()
    del RECEIVED[:]
    t = stackless.tasklet(_receiver)(ch)
    stackless.run()
    assert t.blocked
    return t, ch, RECEIVED


def _state_of(t):
    cls, args, state = t.__reduce__()
    assert cls is stackless.tasklet and args == ()
    return state


def test_stamp_is_the_running_cpython():
    t = stackless.tasklet(lambda: None)
    stamp = _state_of(t)[2]
    assert stamp == sys.version_info[:3] + (MAGIC,)


@pytest.mark.parametrize("minor", [sys.version_info[1] - 1, sys.version_info[1] + 2])
def test_other_minor_version_refused_naming_both(minor):
    t, ch, got = _blocked()
    state = _state_of(t)
    data = _restamped(state, (3, minor, 5, MAGIC))
    before = (stackless.getruncount(), ch.balance, t.blocked, t.alive)
    with pytest.raises(pickle.UnpicklingError) as ei:
        pickle.loads(data)
    assert isinstance(ei.value, stackless.FrameRestoreError)
    msg = str(ei.value)
    assert "pickled under CPython 3.%d.5" % minor in msg, msg
    assert "loaded under " + HERE in msg, msg
    # Nothing changed: the original still waits on its channel, nothing else runs.
    assert (stackless.getruncount(), ch.balance, t.blocked, t.alive) == before
    ch.send("still here")
    assert got == ["still here"] and not t.alive


def test_not_started_tasklet_is_stamped_too():
    t = stackless.tasklet(print)(1)
    state = _state_of(t)
    with pytest.raises(stackless.FrameRestoreError, match="pickled under CPython 3.99.0"):
        pickle.loads(_restamped(state, (3, 99, 0, MAGIC)))
    t.kill()


def _record(x):
    RECEIVED.append(x)


def test_same_minor_other_micro_same_magic_loads():
    stamp = sys.version_info[:2] + (sys.version_info[2] + 7, MAGIC)
    # A running tasklet: its frames are restored, blocked on (a copy of) its channel.
    t, ch, got = _blocked()
    loaded = pickle.loads(_restamped(_state_of(t), stamp))
    assert loaded.blocked and loaded.restorable and loaded is not t
    loaded.kill()
    t.kill()
    # One not started yet: it loads and runs.
    del RECEIVED[:]
    fresh = stackless.tasklet(_record)("ran")
    fresh.remove()
    again = pickle.loads(_restamped(_state_of(fresh), stamp))
    fresh.kill()
    again.insert()
    stackless.run()
    assert RECEIVED == ["ran"] and not again.alive


def test_same_minor_other_magic_refused():
    t, ch, got = _blocked()
    state = _state_of(t)
    with pytest.raises(stackless.FrameRestoreError) as ei:
        pickle.loads(_restamped(state, sys.version_info[:2] + (0, MAGIC + 1)))
    msg = str(ei.value)
    assert "magic number %d" % (MAGIC + 1) in msg and "(%d)" % MAGIC in msg, msg
    assert HERE in msg and "CPython %d.%d.0" % sys.version_info[:2] in msg, msg
    assert t.blocked and ch.balance == -1
    t.kill()


@pytest.mark.parametrize("stamp", [(3, 11), (3, 11, 2, "x"), (3, -1, 0, 1), ("3", 11, 2, 1),
                                   (3, 11, 2, 2**70)])
def test_malformed_stamp_refused(stamp):
    t, ch, got = _blocked()
    with pytest.raises(stackless.FrameRestoreError, match="malformed CPython version stamp"):
        pickle.loads(_restamped(_state_of(t), stamp))
    t.kill()


def test_channel_with_a_stale_tasklet_refused():
    t, ch, got = _blocked()
    state = _state_of(t)
    data = pickle.dumps((ch, _Fake(state[:2] + ((3, 99, 1, MAGIC),) + state[3:])))
    with pytest.raises(stackless.FrameRestoreError, match="3.99.1"):
        pickle.loads(data)
    assert t.blocked and ch.balance == -1
    t.kill()

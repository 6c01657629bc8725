"""What cannot be pickled or unpickled, through the stackless module: the
errors come from the frame library and name the frame (and the C function)."""
import functools
import pickle

import pytest

import stackless
from pickle_support import AsTasklet, run_phase


def _start(f, *args):
    t = stackless.tasklet(f)(*args)
    stackless.run()
    return t


def test_c_code_between_frames_names_frame_and_function():
    ch = stackless.channel()

    def cb(x):
        return ch.receive()

    def viamap():
        return list(map(cb, [1]))
    t = _start(viamap)
    assert t.blocked and not t.restorable
    with pytest.raises(pickle.PicklingError) as ei:
        pickle.dumps(t)
    msg = str(ei.value)
    assert "cb" in msg and "viamap" in msg and "C function list" in msg
    assert isinstance(ei.value, stackless.UnpicklableFrameError)
    t.kill()


def test_not_in_a_call():
    ch = stackless.channel()

    def it():
        for _ in ch:
            pass
    t = _start(it)
    assert not t.restorable
    with pytest.raises(pickle.PicklingError, match="FOR_ITER"):
        pickle.dumps(t)
    t.kill()


def test_callable_not_a_python_function():
    ch = stackless.channel()

    def plain(a):
        ch.receive()
    t = _start(functools.partial(plain, 1))
    assert not t.restorable
    with pytest.raises(pickle.PicklingError, match="not a Python function"):
        pickle.dumps(t)
    t.kill()


def test_current_tasklet():
    seen = []

    def f():
        try:
            pickle.dumps(stackless.current)
        except pickle.PicklingError as e:
            seen.append(str(e))
        seen.append(stackless.current.restorable)
    _start(f)
    assert seen == ["the current tasklet cannot be pickled (its frames run on)", False]
    with pytest.raises(pickle.PicklingError, match="current tasklet"):
        pickle.dumps(stackless.main)


def _blocked_state():
    ch = stackless.channel()

    def f():
        ch.receive()
    t = _start(f)
    cls, args, state = t.__reduce__()
    t.kill()
    return cls, args, state


def test_other_python_version_refused():
    cls, args, state = _blocked_state()
    snap = state[7]
    assert snap[0] == "slp.frames"
    bad = list(state)
    bad[7] = snap[:2] + ((3, 12),) + snap[3:]
    with pytest.raises(pickle.UnpicklingError) as ei:
        pickle.loads(pickle.dumps(AsTasklet(tuple(bad))))
    assert isinstance(ei.value, stackless.FrameRestoreError)
    assert "3.12" in str(ei.value) or "version" in str(ei.value)


CHANGED = """
import pickle, sys
import stackless
ch = stackless.channel()
def f():
    x = ch.receive()
    print('resumed', x)
if sys.argv[1] == 'dump':
    t = stackless.tasklet(f)()
    stackless.run()
    with open('p', 'wb') as fh:
        pickle.dump(t, fh)
    t.kill()
else:
    try:
        with open('p', 'rb') as fh:
            pickle.load(fh)
        print('loaded')
    except pickle.UnpicklingError as e:
        print(type(e).__name__, 'digest' in str(e) or 'changed' in str(e))
"""


def test_changed_code_refused(tmp_path, stack_kind):
    run_phase(tmp_path, CHANGED, "dump", stack_kind=stack_kind)
    # The file edited: its code no longer has the pickled f (a name rebound in the same
    # file would still find it there).
    edited = CHANGED.replace("print('resumed', x)", "print('changed code', x)")
    out = run_phase(tmp_path, edited, "changed", stack_kind=stack_kind).stdout.split()
    assert out == ["FrameRestoreError", "True"]
    out = run_phase(tmp_path, CHANGED, "same", stack_kind=stack_kind).stdout.split()
    assert out == ["loaded"]


def test_malformed_states_refused():
    cls, args, state = _blocked_state()
    for bad in ((), ("x",) + state[1:], state[:3], state[:10] + ((None, 5, None, None),),
                state[:10] + ((1, -1, None, None),)):
        with pytest.raises((pickle.UnpicklingError, ValueError, TypeError)):
            pickle.loads(pickle.dumps(AsTasklet(bad)))


@pytest.mark.parametrize("how", ["kill", "throw"])
def test_pending_exception_refuses_to_pickle(how):
    ch = stackless.channel()
    seen = []

    def waiter():
        try:
            ch.receive()
        except BaseException as e:
            seen.append(type(e).__name__)
            raise
    t = _start(waiter)
    assert t.restorable
    if how == "kill":
        t.kill(pending=True)
    else:
        t.throw(ValueError, "later", None, pending=True)
    assert not t.restorable
    with pytest.raises(pickle.PicklingError, match="pending exception"):
        pickle.dumps(t)
    try:
        stackless.run()  # the pending exception is delivered: nothing was lost
    except ValueError:
        pass
    assert seen == ["TaskletExit" if how == "kill" else "ValueError"]
    assert not t.alive

"""What runs inside a workflow's tasklet: wait(), effect(), and the function the tasklet
starts in. Their frames are part of every stored workflow (a stored frame names its
function and a digest of its code), so changing this file makes the workflows stored
before the change incompatible: keep it small and stable.

The step that runs the tasklet (step.py) sets the thread's `current` step: the channel
the tasklet waits on, the effects it buffers, its outcome. Nothing of the step is kept in
the tasklet's frames, which hold only the channel while they wait.
"""
import pickle
import threading

import stackless

MAX_ARGS = 8


class _Current(threading.local):
    step = None


current = _Current()


def _step(what):
    step = current.step
    if step is None:
        raise RuntimeError("stackless_durable.%s() called outside a workflow" % what)
    if step.discarding:
        # A copy of the tasklet being thrown away runs its `finally` blocks: nothing
        # they do may count (the step committed already, or will run again).
        raise stackless.TaskletExit
    return step


def _waiting_for(name):
    if not isinstance(name, str):
        raise TypeError("wait(name): name must be a str, not %s" % type(name).__name__)
    step = _step("wait")
    step.waiting = name
    return step.channel


def wait(name):
    """Block the workflow until the event `name` is sent to it (app.send_event) and
    return its value. The workflow is stored in Redis while it waits."""
    return _waiting_for(name).receive()


def effect(kind, *values):
    """Record `values` under `kind` (app.effects(kind)), exactly once: the record is
    committed with the step that made it, or not at all."""
    if not isinstance(kind, str):
        raise TypeError("effect(kind, ...): kind must be a str, not %s" % type(kind).__name__)
    _step("effect").effects.append((kind, pickle.dumps(values, pickle.HIGHEST_PROTOCOL)))


def _call(fn, a):
    # One call per arity: a call with *args goes through C, and a frame called from C
    # cannot be pickled; a plain call keeps every frame in the interpreter.
    n = len(a)
    if n == 0:
        return fn()
    if n == 1:
        return fn(a[0])
    if n == 2:
        return fn(a[0], a[1])
    if n == 3:
        return fn(a[0], a[1], a[2])
    if n == 4:
        return fn(a[0], a[1], a[2], a[3])
    if n == 5:
        return fn(a[0], a[1], a[2], a[3], a[4])
    if n == 6:
        return fn(a[0], a[1], a[2], a[3], a[4], a[5])
    if n == 7:
        return fn(a[0], a[1], a[2], a[3], a[4], a[5], a[6])
    return fn(a[0], a[1], a[2], a[3], a[4], a[5], a[6], a[7])


def entry(fn, args):
    """The workflow tasklet's function: run the workflow, keep its outcome."""
    try:
        result = _call(fn, args)
    except Exception as exc:
        _step("finish").outcome = ("failed", exc)
    else:
        _step("finish").outcome = ("done", result)

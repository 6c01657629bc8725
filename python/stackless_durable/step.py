"""One step of a workflow, as a worker runs it: load the stored tasklet (or start the
workflow), hand it its event, run it to its next wait() or its end, and commit the new
state, the consumed event and the step's effects in one script. While the next event is
there already, the same tasklet goes on (each step committed on its own).

Nothing the tasklet does reaches Redis except through the commit: a run of a step that
loses the race (the version moved on) or dies leaves no trace, and its copy of the
tasklet is thrown away with its `finally` blocks silenced.
"""
import pickle

import stackless

from . import workflow
from .signing import Incompatible

# Steps one task runs in a row before it leaves the rest to another task.
MAX_STEPS_PER_TASK = 100


class _Step:
    """What one step of the tasklet did (workflow.current.step while it runs)."""

    def __init__(self, channel):
        self.channel = channel
        self.waiting = None
        self.effects = []
        self.outcome = None
        self.discarding = False


def _discard(tasklet, channel):
    if tasklet.alive:
        step = _Step(channel)
        step.discarding = True
        workflow.current.step = step
        try:
            tasklet.kill()
        finally:
            workflow.current.step = None


def _run(tasklet, channel, value, has_value):
    """Run the tasklet until it waits or ends; what it did."""
    step = _Step(channel)
    workflow.current.step = step
    try:
        if has_value:
            channel.send(value)
        while tasklet.alive and tasklet.scheduled and not tasklet.blocked:
            stackless.run()
    finally:
        workflow.current.step = None
    if step.outcome is None and (not tasklet.alive or step.waiting is None
                                 or channel.balance >= 0):
        step.outcome = ("failed", RuntimeError(
            "the workflow blocked outside stackless_durable.wait(), or its tasklet was "
            "killed: a workflow is one tasklet that waits only in wait()"))
    return step


def _result_blob(codec, outcome):
    status, value = outcome
    try:
        return codec.dumps(value)
    except Exception as exc:  # an unpicklable result or exception
        if status == "done":
            return codec.dumps(TypeError("the workflow's result cannot be pickled: %r" % exc))
        return codec.dumps(RuntimeError("%s: %s" % (type(value).__name__, value)))


def _commit(store, codec, wid, ver, event, tasklet, channel, step):
    """Commit what the step did; False when another run committed this step first."""
    effects = [(kind, codec.sign(data)) for kind, data in step.effects]
    if step.outcome is None:
        try:
            state = codec.dumps((tasklet, channel))
        except pickle.PicklingError as exc:
            step.outcome = ("failed", exc)
        else:
            return store.commit(wid, ver, event, "waiting", waiting=step.waiting,
                                state=state, effects=effects)
    status = "failed" if step.outcome[0] == "failed" else "done"
    return store.commit(wid, ver, event, status, result=_result_blob(codec, step.outcome),
                        effects=effects)


def _load(store, codec, wid, rec):
    """The live tasklet, its channel, and the event to hand it ((name, signed value) and
    the value), or None when there is nothing to do."""
    if "state" not in rec:  # not started yet (new, or its call was incompatible)
        fn, args = codec.loads(rec["init"], "the workflow's call")
        return stackless.tasklet(workflow.entry)(fn, args), stackless.channel(), (None, None), None
    name = rec["waiting"].decode()
    raw = store.next_event(wid, name)
    if raw is None:
        if rec["status"] == b"incompatible":
            # The right code may be here now: check by loading, without running it.
            _discard(*codec.loads(rec["state"], "the stored tasklet"))
            store.mark(wid, rec["ver"], "waiting", "", only_from="incompatible")
        return None
    value = codec.loads(raw, "event %r" % name)  # first: a loaded tasklet must be discarded
    tasklet, channel = codec.loads(rec["state"], "the stored tasklet")
    return tasklet, channel, (name, raw), value


def run(store, codec, wid):
    """Run the workflow `wid` as far as its events allow (the Celery task's body).
    True when it stopped with events left to consume (run it again in a new task)."""
    rec = store.load(wid)
    if rec is None or rec["status"] in (b"done", b"failed"):
        return
    ver = int(rec["ver"])
    try:
        loaded = _load(store, codec, wid, rec)
    except Incompatible as exc:
        store.mark(wid, ver, "incompatible", str(exc))
        return
    if loaded is None:
        return
    tasklet, channel, event, value = loaded
    try:
        for _ in range(MAX_STEPS_PER_TASK):
            step = _run(tasklet, channel, value, event[0] is not None)
            if not _commit(store, codec, wid, ver, event, tasklet, channel, step):
                return  # another run of this step committed first
            ver += 1
            if step.outcome is not None:
                return
            raw = store.next_event(wid, step.waiting)
            if raw is None:
                return
            event = (step.waiting, raw)
            try:
                value = codec.loads(raw, "event %r" % step.waiting)
            except Incompatible as exc:
                store.mark(wid, ver, "incompatible", str(exc))
                return
        return True  # more events are there: leave them to another task
    finally:
        _discard(tasklet, channel)

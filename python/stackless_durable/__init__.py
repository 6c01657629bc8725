"""Durable workflows on stackless tasklets, Celery and Redis.

A workflow is a plain Python function that waits for outside events (wait()) and records
what it did (effect()). While it waits, its tasklet is pickled, signed and stored in
Redis; a worker that receives the event loads it and lets it continue, with no replay.
Each step, from one wait to the next, commits once: the version check, the consumed
event, the new state and the step's effects go to Redis in one script.

The example and how to run workers: the README's section "Durable workflows".
"""
import collections
import inspect
import time
import uuid

from . import tasks
from .signing import KEY_ENV, Codec, Incompatible
from .store import Store
from .workflow import MAX_ARGS, effect, wait

__all__ = ["App", "Status", "wait", "effect", "Incompatible", "KEY_ENV"]

Status = collections.namedtuple("Status", "state why")
Status.__doc__ = """A workflow's state: 'waiting', 'running', 'done', 'failed' or
'incompatible', and why (what it waits for, what it failed with, why it cannot run)."""


class App:
    """Workflows on the Redis at `redis_url`, which is both Celery's broker and the store.
    Pickles are signed with `key` (str or bytes), else with the environment's
    STACKLESS_DURABLE_KEY; workers need the same key in their environment."""

    def __init__(self, redis_url, key=None):
        self.redis_url = redis_url
        self._codec = Codec(key)
        self._store = Store(redis_url)
        self._celery = None

    def _kick(self, wid):
        if self._celery is None:
            self._celery = tasks.celery_app(self.redis_url)
        tasks.kick(self._celery, wid)

    def workflow(self, fn):
        """Mark `fn` as a workflow (it is returned as it is: stored tasklets name it by
        module and qualified name, so its module must be importable by the workers)."""
        if not inspect.isfunction(fn):
            raise TypeError("a workflow must be a Python function, not %r" % (fn,))
        fn.__stackless_durable_workflow__ = True
        return fn

    def start(self, fn, *args, **kwargs):
        """Start the workflow `fn(*args, **kwargs)`; return its id (a str)."""
        if not getattr(fn, "__stackless_durable_workflow__", False):
            raise TypeError("%r is not a workflow (decorate it with @app.workflow)" % (fn,))
        if fn.__module__ == "__main__":
            raise ValueError("workflow %s is defined in __main__, which workers cannot "
                             "import: put it in a module" % fn.__qualname__)
        bound = inspect.signature(fn).bind(*args, **kwargs)
        bound.apply_defaults()
        if bound.kwargs:
            raise TypeError("workflow %s: keyword-only or **kwargs parameters are not "
                            "supported" % fn.__qualname__)
        if len(bound.args) > MAX_ARGS:
            raise TypeError("workflow %s: at most %d arguments, got %d"
                            % (fn.__qualname__, MAX_ARGS, len(bound.args)))
        init = self._codec.dumps((fn, tuple(bound.args)))
        wid = uuid.uuid4().hex
        self._store.create(wid, init)
        self._kick(wid)
        return wid

    def send_event(self, wid, name, value, event_id=None):
        """Send the event `name` with `value` to the workflow `wid`, from any process, in
        any order. With an `event_id`, sending it again is a no-op. Returns True if the
        event was queued, False if its event_id had been seen."""
        if not isinstance(name, str):
            raise TypeError("event name must be a str, not %s" % type(name).__name__)
        if event_id is not None and not isinstance(event_id, str):
            raise TypeError("event_id must be a str or None")
        r = self._store.send_event(wid, name, self._codec.dumps(value), event_id)
        if r == -1:
            raise KeyError("no workflow %r" % (wid,))
        if r == 1:
            self._kick(wid)
        return r == 1

    def status(self, wid):
        """The workflow's Status(state, why)."""
        rec = self._store.load(wid)
        if rec is None:
            raise KeyError("no workflow %r" % (wid,))
        status = rec["status"].decode()
        why = rec.get("why", b"").decode()
        if status == "new":
            return Status("running", "started, its first step not run yet")
        if status == "waiting":
            name = rec["waiting"].decode()
            if self._store.next_event(wid, name) is not None:
                return Status("running", "event %r arrived; its step is queued or running"
                              % name)
            return Status("waiting", "waiting for event %r" % name)
        if status == "failed":
            try:
                exc = self._codec.loads(rec["result"], "the workflow's exception")
            except Incompatible as err:
                return Status("failed", str(err))
            return Status("failed", "%s: %s" % (type(exc).__name__, exc))
        return Status(status, why)

    def result(self, wid, timeout=None):
        """Wait for the workflow to end; return its result or raise its exception.
        TimeoutError after `timeout` seconds (None: wait as long as it takes)."""
        deadline = None if timeout is None else time.monotonic() + timeout
        pause = 0.005
        while True:
            rec = self._store.load(wid)
            if rec is None:
                raise KeyError("no workflow %r" % (wid,))
            if rec["status"] in (b"done", b"failed"):
                value = self._codec.loads(rec["result"], "the workflow's result")
                if rec["status"] == b"failed":
                    raise value
                return value
            if deadline is not None and time.monotonic() >= deadline:
                raise TimeoutError("workflow %s did not end in %ss: %s: %s"
                                   % ((wid, timeout) + tuple(self.status(wid))))
            time.sleep(pause)
            pause = min(pause * 2, 0.1)

    def effects(self, kind):
        """What effect(kind, *values) recorded, in commit order: a list of tuples."""
        return [self._codec.loads(r, "an effect record") for r in self._store.effects(kind)]

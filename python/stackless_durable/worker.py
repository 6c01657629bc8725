"""`python3 -m stackless_durable worker REDIS_URL [--concurrency N]`: N worker processes,
each a Celery worker on the solo pool (one step at a time, no child pool whose death
Celery would have to notice), kept running by this supervisor, which also sweeps: it
re-kicks the workflows that have work to do and that nothing touched for a while (a
message held by a killed worker comes back only after the broker's visibility timeout;
an incompatible workflow is tried again in case the right code is here now)."""
import signal
import subprocess
import sys
import time

import redis

from . import step, tasks
from .local import die_with_parent
from .signing import Codec
from .store import Store


def _log(msg):
    print("stackless_durable worker:", msg, file=sys.stderr, flush=True)


def run_process(url, name):
    """One worker process: a Celery worker on the solo pool running step tasks."""
    store, codec = Store(url), Codec(None)
    app = tasks.celery_app(url)

    @app.task(name=tasks.STEP_TASK)
    def step_task(wid):
        if step.run(store, codec, wid):
            tasks.kick(app, wid)

    app.worker_main(["worker", "--pool=solo", "--concurrency=1", "--queues=" + tasks.QUEUE, "--hostname=" + name,
                     "--without-gossip", "--without-mingle", "--without-heartbeat",
                     "--loglevel=WARNING"])


class Supervisor:
    def __init__(self, url, concurrency, stall_after, sweep_every):
        Codec(None)  # no key, or a bad URL: say so now, not in every process
        Store(url)
        self.url = url
        self.concurrency = concurrency
        self.stall_after = stall_after
        self.sweep_every = sweep_every
        self.children = [None] * concurrency
        self.stopping = False

    def _spawn(self, i):
        name = "sd%d-%d@%%h" % (i, self.generation)
        self.generation += 1
        # None outlives the supervisor, however it dies.
        return subprocess.Popen([sys.executable, "-m", "stackless_durable", "process",
                                 self.url, "--name", name], preexec_fn=die_with_parent)

    def _keep_children(self):
        for i, child in enumerate(self.children):
            if child is not None and child.poll() is None:
                continue
            if child is not None:
                _log("process %d ended (%s), starting another" % (i, child.returncode))
            self.children[i] = self._spawn(i)

    def _sweep(self, store, app):
        try:
            for wid in store.stalled(self.stall_after):
                tasks.kick(app, wid)
        except (redis.ConnectionError, redis.TimeoutError) as exc:
            _log("sweep skipped: %s" % exc)

    def _stop(self, signum, frame):
        self.stopping = True

    def run(self):
        signal.signal(signal.SIGTERM, self._stop)
        signal.signal(signal.SIGINT, self._stop)
        store, app = Store(self.url), tasks.celery_app(self.url)
        self.generation = 0
        next_sweep = time.monotonic() + self.sweep_every
        try:
            while not self.stopping:
                self._keep_children()
                if time.monotonic() >= next_sweep:
                    self._sweep(store, app)
                    next_sweep = time.monotonic() + self.sweep_every
                time.sleep(0.2)
        finally:
            self._end_children()
        return 0

    def _end_children(self):
        alive = [c for c in self.children if c is not None and c.poll() is None]
        for c in alive:
            c.terminate()  # Celery's warm shutdown: the step in hand finishes
        deadline = time.monotonic() + 10
        for c in alive:
            try:
                c.wait(max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                c.kill()  # safe: the step runs again elsewhere and commits once
                c.wait()

#!/usr/bin/python3
"""stackless_durable: steps per second with 2 workers, and bytes stored per waiting
workflow 5 and 50 frames deep, each against the same workflow kept by hand as a dict
(durable_flows.py: the peer goes through the same Redis store, signing, commit script
and Celery settings; only the state differs: a pickled tasklet or a pickled dict).

Starts its own redis-server (appendonly, fsync every second: Redis's usual durable
setting) on a free loopback port and the workers, and stops them. Prints a table; ratios
are against the peer measured in the same run. Usage:
    PYTHONPATH=build/native/python:python bench_durable.py [--quick]
(run it from the repository root or with stackless_durable importable)
"""
import os
import subprocess
import sys
import tempfile
import time
import uuid

from stackless_durable import tasks
from stackless_durable.local import RedisServer, Workers, die_with_parent, wait_until
from stackless_durable.store import wf_key

HERE = os.path.dirname(os.path.abspath(__file__))
os.environ.setdefault("STACKLESS_DURABLE_KEY", "bench-key")
QUICK = "--quick" in sys.argv
WORKFLOWS = 20 if QUICK else 100
TICKS = 10 if QUICK else 20
REPEATS = 1 if QUICK else 3


def _steps_per_second(app, store, codec, celery, flows, peer):
    """WORKFLOWS workflows of TICKS steps, in rounds: every workflow gets its next event
    and a kick, then the round ends when every one has committed that step. So each step
    loads its workflow from Redis (no event is there before it waits for it), runs, and
    commits; the time includes publishing the kicks, the same for both."""
    if peer:
        wids = [uuid.uuid4().hex for _ in range(WORKFLOWS)]
        for wid in wids:
            flows.peer_create(store, codec, wid, {"left": TICKS, "total": 0})
        task, queue = flows.PEER_TASK, flows.PEER_QUEUE
    else:
        wids = [app.start(flows.ticks, TICKS) for _ in range(WORKFLOWS)]
        wait_until(lambda: all(store.load(w)["status"] == b"waiting" for w in wids), 120, "starts")
        task, queue = tasks.STEP_TASK, tasks.QUEUE
    base = [int(store.load(w)["ver"]) for w in wids]
    t0 = time.perf_counter()
    for i in range(TICKS):
        for wid in wids:
            store.send_event(wid, "tick", codec.dumps(i), None)
        for wid in wids:
            celery.send_task(task, args=[wid], queue=queue)
        wait_until(lambda: all(int(store.load(w)["ver"]) > b + i for w, b in zip(wids, base)),
              600, "the steps")
    elapsed = time.perf_counter() - t0
    want = sum(range(TICKS))
    assert all(codec.loads(store.load(w)["result"], "result") == want for w in wids)
    return WORKFLOWS * TICKS / elapsed


def _bytes(app, store, codec, flows, depth, peer):
    """(bytes of the stored state, Redis memory of the workflow's hash) while waiting."""
    if peer:
        wid = uuid.uuid4().hex
        state = {"waiting": "go", "pending": list(range(1, depth))}
        flows.peer_create(store, codec, wid, state)
    else:
        wid = app.start(flows.deep, depth)
        wait_until(lambda: app.status(wid).state == "waiting", 60, "the deep workflow")
    key = wf_key(wid)
    return store.redis.hstrlen(key, "state"), store.redis.memory_usage(key)


def main():
    sys.path.insert(0, HERE)
    import durable_flows as flows
    import stackless_durable as sd
    from stackless_durable.signing import Codec
    from stackless_durable.store import Store

    tmp = tempfile.mkdtemp(prefix="bench-durable-")
    server = RedisServer(tmp, fsync="everysec")
    url = server.url
    workers = Workers(url, tmp, path=[HERE])
    peers = []
    try:
        with open(os.path.join(tmp, "peers.log"), "ab") as log:
            for i in range(2):
                peers.append(subprocess.Popen(
                    [sys.executable, os.path.join(HERE, "durable_flows.py"), url,
                     "peer%d@%%h" % i], stdout=log, stderr=subprocess.STDOUT,
                    env=workers.env, preexec_fn=die_with_parent))
        app, store, codec = sd.App(url), Store(url), Codec(None)
        celery = tasks.celery_app(url)
        rows = []
        tasklet_rates, peer_rates = [], []
        for _ in range(REPEATS):  # alternating, so both see the same load
            tasklet_rates.append(_steps_per_second(app, store, codec, celery, flows, peer=False))
            peer_rates.append(_steps_per_second(app, store, codec, celery, flows, peer=True))
        rows.append(("steps per second, 2 workers", max(peer_rates), max(tasklet_rates)))
        for depth in (5, 50):
            ts, tm = _bytes(app, store, codec, flows, depth, peer=False)
            ps, pm = _bytes(app, store, codec, flows, depth, peer=True)
            rows.append(("stored state, %d frames deep (bytes)" % depth, ps, ts))
            rows.append(("workflow hash in Redis, %d deep (bytes)" % depth, pm, tm))
        _print(rows)
    finally:
        for p in peers:
            p.terminate()
        workers.stop()
        for p in peers:
            try:
                p.wait(30)
            except subprocess.TimeoutExpired:
                p.kill()
        server.stop()


def _print(rows):
    print("Durable workflows (stackless_durable on Celery and Redis): a pickled tasklet "
          "against the same workflow kept by hand as a dict, same store, signing and commit "
          "script, same run (steps: %d workflows x %d steps, each step loads its workflow, "
          "best of %d)" % (WORKFLOWS, TICKS, REPEATS))
    print("  (ratio: tasklet / by hand; a workflow N frames deep waits under N frames of its "
          "own and 3 of stackless_durable's)")
    print("  %-42s %12s %12s %8s" % ("measure", "by hand", "tasklet", "ratio"))
    for what, peer, tasklet in rows:
        fmt = "%12.0f"
        print("  %-42s " % what + fmt % peer + " " + fmt % tasklet
              + " %7.2fx" % (tasklet / peer))


if __name__ == "__main__":
    main()

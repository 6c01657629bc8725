"""Workflows of bench_durable.py (its workers import this module), and the peer: the
same workflow kept by hand as a dict, stepped by a Celery task through the same store,
signing and commit script (durable_peer_step)."""
import os
import sys

import stackless_durable as sd
from stackless_durable import tasks
from stackless_durable.signing import Codec
from stackless_durable.store import Store, wf_key

app = sd.App(os.environ.get("SD_BENCH_REDIS", "redis://127.0.0.1:1/0"))
PEER_QUEUE = "durable_peer"
PEER_TASK = "durable_peer.step"


@app.workflow
def ticks(count):
    """Wait for `count` 'tick' events; return their sum."""
    total = 0
    for _ in range(count):
        total += sd.wait("tick")
    return total


def _down(n):
    if n > 1:
        return _down(n - 1) + 1
    return sd.wait("go")


@app.workflow
def deep(depth):
    """Wait `depth` frames of its own deep (deep, then _down depth-1 times)."""
    return _down(depth - 1) if depth > 1 else sd.wait("go")


# The peer: ticks(count) by hand.

def peer_create(store, codec, wid, state):
    store.redis.hset(wf_key(wid), mapping={"ver": 0, "status": "waiting", "waiting": "tick",
                                           "state": codec.dumps(state)})


def peer_run(store, codec, wid):
    rec = store.load(wid)
    if rec is None or rec["status"] != b"waiting":
        return
    ver, state = int(rec["ver"]), codec.loads(rec["state"], "the peer's state")
    for _ in range(100):
        raw = store.next_event(wid, "tick")
        if raw is None:
            return
        state["total"] += codec.loads(raw, "event 'tick'")
        state["left"] -= 1
        event = ("tick", raw)
        if state["left"] == 0:
            store.commit(wid, ver, event, "done", result=codec.dumps(state["total"]))
            return
        if not store.commit(wid, ver, event, "waiting", waiting="tick",
                            state=codec.dumps(state)):
            return
        ver += 1


def peer_worker(url, name):
    store, codec = Store(url), Codec(None)
    celery = tasks.celery_app(url)

    @celery.task(name=PEER_TASK)
    def peer_step(wid):
        peer_run(store, codec, wid)

    celery.worker_main(["worker", "--pool=solo", "--concurrency=1", "--queues=" + PEER_QUEUE,
                        "--hostname=" + name, "--without-gossip", "--without-mingle",
                        "--without-heartbeat", "--loglevel=WARNING"])


if __name__ == "__main__":
    peer_worker(sys.argv[1], sys.argv[2])

"""Workers SIGKILLed in the middle of steps, and redis-server killed and restarted: every
workflow ends with the right result and every effect is recorded exactly once."""
import collections
import os
import random
import signal
import threading
import time

import redis

import flows
import stackless_durable as sd
from conftest import LONG, running, wait_until

NAMES = ["a", "b", "c"]


def _events(rng, count, names, dup_share=0.3):
    """(workflow index, name, value, event_id) for every event, shuffled, with retries of
    some (same event_id) mixed in."""
    events = [(n, name, n * 10 + i, "%d-%s" % (n, name))
              for n in range(count) for i, name in enumerate(names)]
    events += rng.sample(events, int(len(events) * dup_share))
    rng.shuffle(events)
    return events


def _check(app, wids, names, kind):
    results = [app.result(wid, timeout=LONG) for wid in wids]
    assert results == [(n, sum(n * 10 + i for i in range(len(names))))
                       for n in range(len(wids))]
    got = collections.Counter(app.effects(kind))
    want = collections.Counter((n, name, n * 10 + i)
                               for n in range(len(wids)) for i, name in enumerate(names))
    assert got == want, "effects missing: %s; more than once: %s" % (
        want - got, {k: c for k, c in got.items() if c > 1})
    assert sorted(app.effects(kind + "-finally")) == [(n,) for n in range(len(wids))]


def _kill_workers(w, times, every, rng, killed):
    """SIGKILL a random worker process `times` times, `every` seconds apart."""
    while len(killed) < times:
        time.sleep(every)
        pids = w.processes()
        if pids:
            pid = rng.choice(pids)
            try:
                os.kill(pid, signal.SIGKILL)
                killed.append(pid)
            except ProcessLookupError:
                pass


def test_hundreds_of_workflows_with_workers_killed(own_server):
    seed = random.randrange(1 << 30)
    print("seed", seed)
    rng = random.Random(seed)
    count = 200
    with running(own_server.url, own_server.dir) as w:
        app = sd.App(own_server.url)
        wids = [app.start(flows.collect, n, NAMES, 1 + n % 7, "many") for n in range(count)]
        wait_until(lambda: len(w.processes()) == 2, LONG, "two worker processes")
        killed = []
        killer = threading.Thread(target=_kill_workers, args=(w, 5, 0.8, rng, killed))
        killer.start()
        for n, name, value, event_id in _events(rng, count, NAMES):
            app.send_event(wids[n], name, value, event_id=event_id)
            time.sleep(0.002)
        killer.join()
        assert len(killed) == 5
        _check(app, wids, NAMES, "many")


def test_a_step_killed_in_its_middle_commits_once(own_server):
    with running(own_server.url, own_server.dir):
        app = sd.App(own_server.url)
        marks = redis.Redis.from_url(own_server.url)
        wid = app.start(flows.slow_step, 7, own_server.url, "test:slow")
        app.send_event(wid, "first", None)
        # >= 1, not == 1: on a loaded machine the sweeper (stall-after 1 s) may hand the
        # step to the second worker before the first has marked it, so both marks can land
        # between two polls.
        wait_until(lambda: marks.llen("test:slow") >= 1, LONG, "the slow step to start")
        os.kill(int(marks.lindex("test:slow", 0)), signal.SIGKILL)
        # the sweeper hands the step to a worker again; it runs to its commit
        wait_until(lambda: app.status(wid).state == "waiting", LONG, "the step to run again")
        # It ran again (more than once when the sweeper, seeing no commit for longer than
        # --stall-after, kicked it while it ran) ...
        assert marks.llen("test:slow") >= 2
        assert app.effects("slow") == [(7,)]  # ... and committed once
        app.send_event(wid, "second", None)
        assert app.result(wid, timeout=LONG) == 7
        assert app.effects("slow") == [(7,)]


def test_redis_killed_and_restarted_loses_nothing_committed(own_server):
    rng = random.Random(1)
    count = 60
    server = own_server
    with running(server.url, server.dir):
        app = sd.App(server.url)
        wids = [app.start(flows.collect, n, NAMES, 3, "restart") for n in range(count)]
        events = _events(rng, count, NAMES, dup_share=0)
        half = len(events) // 2
        for n, name, value, event_id in events[:half]:
            app.send_event(wids[n], name, value, event_id=event_id)
        # some steps committed, others in progress
        wait_until(lambda: len(app.effects("restart")) >= 20, LONG, "steps to commit")
        before = collections.Counter(app.effects("restart"))
        server.kill()  # a crash: no save at shutdown
        server.start()
        app = sd.App(server.url)
        assert collections.Counter(app.effects("restart")) >= before  # nothing committed lost
        # the first half again (retries with their ids: no-ops for what was received)
        for n, name, value, event_id in events:
            app.send_event(wids[n], name, value, event_id=event_id)
        _check(app, wids, NAMES, "restart")

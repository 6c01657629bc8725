"""Workflows of the tests (the workers import this module by name)."""
import os
import time

import redis
import stackless

import stackless_durable as sd

app = sd.App(os.environ.get("SD_TEST_REDIS", "redis://127.0.0.1:1/0"))


@app.workflow
def order(order_id, amount):
    approved = sd.wait("approve")
    sd.effect("ledger", order_id, amount)
    paid = sd.wait("pay")
    return approved and paid


def _descend(depth, names, kind, n):
    """Wait for each event in `names` `depth` frames deep; return their values."""
    if depth > 1:
        return _descend(depth - 1, names, kind, n)
    got = []
    for name in names:
        value = sd.wait(name)
        sd.effect(kind, n, name, value)
        got.append(value)
    return got


@app.workflow
def collect(n, names, depth, kind):
    """Wait for the events `names` in this order (they may arrive in any order),
    recording each as an effect, `depth` frames deep."""
    total = 0
    try:
        values = _descend(depth, names, kind, n)
        total = sum(values)
    finally:
        # Runs also when a copy of the tasklet is thrown away: must not be recorded then.
        sd.effect(kind + "-finally", n)
    return n, total


@app.workflow
def payments(count):
    total = 0
    for _ in range(count):
        total += sd.wait("pay")
    return total


@app.workflow
def fails(message):
    sd.effect("fails", message)
    sd.wait("go")
    raise ValueError(message)


@app.workflow
def slow_step(n, marker_url, marker_key):
    """Records in a plain Redis counter (outside the commit) each time its second step
    starts, with the pid, then takes its time: a step to kill in the middle."""
    sd.wait("first")
    redis.Redis.from_url(marker_url).rpush(marker_key, os.getpid())
    time.sleep(1.5)
    sd.effect("slow", n)
    sd.wait("second")
    return n


@app.workflow
def blocks_elsewhere():
    stackless.channel().receive()


@app.workflow
def pauses_itself():
    stackless.schedule_remove()


@app.workflow
def takes_defaults(a, b=2, c=3):
    return a + b + sd.wait("c") * c

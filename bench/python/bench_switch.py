#!/usr/bin/python3
"""Switch cost of the stackless module against greenlet, asyncio and threads, measured
in one run of one interpreter (Debian's /usr/bin/python3 with python3-greenlet).

Prints Google-Benchmark-style JSON on stdout (each entry's `switch` counter: seconds per
ONE switch, one direction), for bench/report.py. Usage:
    PYTHONPATH=build/native/python bench_switch.py [--quick] > py_switch.json
Every method is timed REPS times and the median is kept.
"""
import asyncio
import collections
import json
import math
import statistics
import sys
import threading
import time

import greenlet
import stackless

QUICK = "--quick" in sys.argv
N = 20_000 if QUICK else 200_000  # round trips (2 switches each) per timing
REPS = 3 if QUICK else 5


def median_time(fn, switches):
    """Median seconds per switch of REPS timings of fn() (which does `switches`)."""
    fn()  # warm up
    samples = []
    for _ in range(REPS):
        t0 = time.perf_counter()
        fn()
        samples.append((time.perf_counter() - t0) / switches)
    return statistics.median(samples)


# ---- greenlet: the raw switch (the reference) -------------------------------------------

def greenlet_raw():
    main = greenlet.getcurrent()

    def child():
        while True:
            main.switch()

    g = greenlet.greenlet(child)
    g.switch()
    switch = g.switch
    for _ in range(N):
        switch()  # there and back: 2 switches
    g.throw(greenlet.GreenletExit)


# ---- stackless ---------------------------------------------------------------------------

def stackless_channel(kind):
    def run():
        old = stackless.set_default_stack_kind(kind)
        ch = stackless.channel()

        def pong(n):
            receive = ch.receive
            for _ in range(n):
                receive()

        def ping(n):
            send = ch.send
            for i in range(n):
                send(i)

        stackless.tasklet(pong)(N)
        stackless.tasklet(ping)(N)
        stackless.set_default_stack_kind(old)
        stackless.run()
    return run


def stackless_schedule(count, kind):
    rounds = max(2, (2 * N) // count)

    def run():
        old = stackless.set_default_stack_kind(kind)

        def spin():
            schedule = stackless.schedule
            for _ in range(rounds):
                schedule()

        for _ in range(count):
            stackless.tasklet(spin)()
        stackless.set_default_stack_kind(old)
        stackless.run()
    return run, rounds * count


# ---- the floor: a ping-pong's Python work without the switches ---------------------------

def call_floor():
    """What the two tasklets of stackless_channel do per switch minus the switch itself:
    one iteration of a Python for-loop and one call of a bound METH_FASTCALL builtin (the
    interpreter's CALL takes the same specialized path as for `ch.send`/`ch.receive`),
    here math.gcd, which returns at once (gcd() is 0, gcd(i) is i). No implementation
    behind this API can switch in less than this."""
    nop = math.gcd

    def pong(n):
        receive = nop
        for _ in range(n):
            receive()

    def ping(n):
        send = nop
        for i in range(n):
            send(i)

    pong(N)
    ping(N)


# ---- a greenlet-based channel written in Python (what users do today) --------------------

class GreenletScheduler:
    """A minimal Stackless-like scheduler and channel on greenlets (prefer receiver)."""

    def __init__(self):
        self.runnable = collections.deque()
        self.main = greenlet.getcurrent()

    def spawn(self, fn, *args):
        g = greenlet.greenlet(lambda: fn(*args), parent=self.main)
        self.runnable.append(g)

    def run(self):
        while self.runnable:
            self.runnable.popleft().switch()

    def block(self):
        if self.runnable:
            return self.runnable.popleft().switch()
        return self.main.switch()


class GreenletChannel:
    def __init__(self, sched):
        self.sched = sched
        self.receivers = collections.deque()
        self.senders = collections.deque()

    def send(self, value):
        if self.receivers:
            r = self.receivers.popleft()
            self.sched.runnable.appendleft(greenlet.getcurrent())
            r.switch(value)  # receiver runs now, the sender right after it
        else:
            self.senders.append((greenlet.getcurrent(), value))
            self.sched.block()

    def receive(self):
        if self.senders:
            s, value = self.senders.popleft()
            self.sched.runnable.append(s)
            return value
        self.receivers.append(greenlet.getcurrent())
        return self.sched.block()


def greenlet_channel():
    sched = GreenletScheduler()
    ch = GreenletChannel(sched)

    def pong(n):
        receive = ch.receive
        for _ in range(n):
            receive()

    def ping(n):
        send = ch.send
        for i in range(n):
            send(i)

    sched.spawn(pong, N)
    sched.spawn(ping, N)
    sched.run()


# ---- asyncio and threads -------------------------------------------------------------------

ASYNC_N = N // 10


def asyncio_queue():
    async def main():
        q1, q2 = asyncio.Queue(), asyncio.Queue()

        async def pong():
            for _ in range(ASYNC_N):
                await q2.put(await q1.get())

        task = asyncio.ensure_future(pong())
        for i in range(ASYNC_N):
            await q1.put(i)
            await q2.get()
        await task

    asyncio.run(main())


THREAD_N = N // 20


def threads_semaphore():
    a, b = threading.Semaphore(0), threading.Semaphore(0)

    def pong():
        for _ in range(THREAD_N):
            a.acquire()
            b.release()

    t = threading.Thread(target=pong)
    t.start()
    for _ in range(THREAD_N):
        a.release()
        b.acquire()
    t.join()


def main():
    results = []

    def record(name, seconds):
        results.append({"name": name, "run_name": name, "run_type": "iteration",
                        "switch": seconds})
        print(f"{name:<44} {seconds * 1e9:10.1f} ns", file=sys.stderr)

    record("PY_greenlet_switch", median_time(greenlet_raw, 2 * N))
    for kind in ("own", "copied"):
        record(f"PY_stackless_channel/{kind}", median_time(stackless_channel(kind), 2 * N))
    record("PY_call_floor", median_time(call_floor, 2 * N))
    for count in (2, 10_000):
        for kind in ("own", "copied"):
            fn, switches = stackless_schedule(count, kind)
            record(f"PY_stackless_schedule/{count}/{kind}", median_time(fn, switches))
    record("PY_greenlet_channel", median_time(greenlet_channel, 2 * N))
    record("PY_asyncio_queue", median_time(asyncio_queue, 2 * ASYNC_N))
    record("PY_threads_semaphore", median_time(threads_semaphore, 2 * THREAD_N))
    json.dump({"context": {"python": sys.version.split()[0],
                           "greenlet": greenlet.__version__},
               "benchmarks": results}, sys.stdout, indent=1)
    print()


if __name__ == "__main__":
    main()

#!/usr/bin/python3
"""Switch cost of the stackless module against greenlet, asyncio and threads, measured
in one run of one interpreter (Debian's /usr/bin/python3 with python3-greenlet).

Prints Google-Benchmark-style JSON on stdout (each entry's `switch` counter: seconds per
ONE switch, one direction), for bench/report.py. Usage:
    PYTHONPATH=build/native/python bench_switch.py [--quick] > py_switch.json
Every method is timed REPS times, all methods in turns, and the median is kept.
"""
import asyncio
import collections
import json
import math
import statistics
import sys
import threading
import time
import types

try:
    import greenlet
except ImportError:  # Debian sid builds no greenlet for CPython 3.13
    greenlet = None
try:
    import stackless
except ImportError:  # a version the module is not ported to: greenlet alone, as a peer
    stackless = None

QUICK = "--quick" in sys.argv
N = 20_000 if QUICK else 200_000  # round trips (2 switches each) per timing
REPS = 3 if QUICK else 5


def median_times(methods):
    """{name: median seconds per switch} of REPS timings of each fn() (which does
    `switches`), taken in turns (one timing of every method per round), so that a load
    that comes and goes on a shared machine falls on all of them alike."""
    for _, fn, _ in methods:
        fn()  # warm up
    samples = {name: [] for name, _, _ in methods}
    for _ in range(REPS):
        for name, fn, switches in methods:
            t0 = time.perf_counter()
            fn()
            samples[name].append((time.perf_counter() - t0) / switches)
    return {name: statistics.median(s) for name, s in samples.items()}


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


# ---- ordinary shapes: the loops users write, each beside its floor -----------------------
#
# Channels and the module are looked up in the loop (a.send(i), stackless.schedule()), and
# a ping-pong uses two channels, one per direction. Each floor is the same loop with every
# switching call replaced by a C method of the same call shape that returns at once, so
# (time - floor) is what the switches add:
#   a.send(i), b.receive()   exact instances of a C type without __dict__, METH_FASTCALL
#                            method descriptors (the interpreter specializes both to
#                            LOAD_METHOD_NO_DICT + PRECALL_NO_KW_METHOD_DESCRIPTOR_FAST):
#                            int.__round__, which returns its int at once with or without
#                            an argument (a non-negative ndigits changes nothing);
#   stackless.schedule()     a METH_FASTCALL function of a module global
#                            (LOAD_METHOD_MODULE + PRECALL_BUILTIN_FAST): math.gcd(),
#                            which returns 0 at once.
# stackless defines a module __getattr__ (for stackless.current, .runcount, ...), and
# CPython 3.11 does not specialize attribute lookups on such a module: a second floor,
# PY_schedule_ordinary_floor_getattr, calls math.gcd through a module that has one too,
# to show how much of the schedule() loop's cost that lookup is.
# The ping-pong runs at the top of its tasklets and DEEP frames below it (a copied-stack
# tasklet's slice grows with the depth). A round trip of the ping-pong is two switches:
# ping's send resumes pong, pong's send blocks and resumes ping, ping's receive takes the
# waiting value without switching.

DEEP = 30


def ping(a, b, n):
    for i in range(n):
        a.send(i)
        b.receive()


def pong(a, b, n):
    for _ in range(n):
        b.send(a.receive())


def at_depth(depth, fn, *args):
    """fn(*args) called `depth` Python frames below the caller."""
    if depth == 0:
        return fn(*args)
    return at_depth(depth - 1, fn, *args)


def run_in_tasklets(kind, *calls):
    """Each (fn, *args) of `calls` in a tasklet of `kind`, all run to their end."""
    old = stackless.set_default_stack_kind(kind)
    for fn, *args in calls:
        stackless.tasklet(fn)(*args)
    stackless.set_default_stack_kind(old)
    stackless.run()


def stackless_pingpong(kind, depth=0):
    def run():
        a, b = stackless.channel(), stackless.channel()
        run_in_tasklets(kind, (at_depth, depth, pong, a, b, N), (at_depth, depth, ping, a, b, N))
    return run


def ping_floor(a, b, n):
    for i in range(n):
        a.__round__(i)
        b.__round__()


def pong_floor(a, b, n):
    for _ in range(n):
        b.__round__(a.__round__())


def pingpong_floor():
    a, b = 0, 1
    pong_floor(a, b, N)
    ping_floor(a, b, N)


def spin(n):
    for _ in range(n):
        stackless.schedule()


def stackless_schedule_module(kind):
    return lambda: run_in_tasklets(kind, (spin, N), (spin, N))


def spin_floor(n):
    for _ in range(n):
        math.gcd()


def no_such_attribute(name):
    raise AttributeError(name)


floor_module = types.ModuleType("floor_module")
floor_module.gcd = math.gcd
floor_module.__getattr__ = no_such_attribute


def spin_floor_getattr(n):
    for _ in range(n):
        floor_module.gcd()


def schedule_floor_getattr():
    spin_floor_getattr(N)
    spin_floor_getattr(N)


def schedule_floor():
    spin_floor(N)
    spin_floor(N)


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

    methods = [("PY_greenlet_switch", greenlet_raw, 2 * N)] if greenlet else []
    if stackless is None:
        if greenlet:
            methods.append(("PY_greenlet_channel", greenlet_channel, 2 * N))
    else:
        methods += stackless_methods()
    for name, seconds in median_times(methods).items():
        record(name, seconds)
    json.dump({"context": {"python": sys.version.split()[0],
                           "greenlet": greenlet.__version__ if greenlet else None},
               "benchmarks": results}, sys.stdout, indent=1)
    print()


def stackless_methods():
    """The module's methods, their floors and the other peers, in the order they run."""
    methods = []
    for kind in ("own", "copied"):
        methods.append((f"PY_stackless_channel/{kind}", stackless_channel(kind), 2 * N))
    methods.append(("PY_call_floor", call_floor, 2 * N))
    for kind in ("own", "copied"):
        methods.append((f"PY_pingpong_ordinary/{kind}", stackless_pingpong(kind), 2 * N))
        methods.append((f"PY_pingpong_ordinary_deep/{kind}", stackless_pingpong(kind, DEEP),
                        2 * N))
    methods.append(("PY_pingpong_ordinary_floor", pingpong_floor, 2 * N))
    for kind in ("own", "copied"):
        methods.append((f"PY_schedule_ordinary/{kind}", stackless_schedule_module(kind), 2 * N))
    methods.append(("PY_schedule_ordinary_floor", schedule_floor, 2 * N))
    methods.append(("PY_schedule_ordinary_floor_getattr", schedule_floor_getattr, 2 * N))
    for count in (2, 10_000):
        for kind in ("own", "copied"):
            fn, switches = stackless_schedule(count, kind)
            methods.append((f"PY_stackless_schedule/{count}/{kind}", fn, switches))
    if greenlet:
        methods.append(("PY_greenlet_channel", greenlet_channel, 2 * N))
    methods += [("PY_asyncio_queue", asyncio_queue, 2 * ASYNC_N),
                ("PY_threads_semaphore", threads_semaphore, 2 * THREAD_N)]
    return methods


if __name__ == "__main__":
    main()

#!/usr/bin/python3
"""Switch cost of the stackless module against greenlet, asyncio and threads, measured
in one run of one interpreter (Debian's /usr/bin/python3 with python3-greenlet).

Prints Google-Benchmark-style JSON on stdout (each entry's `switch` counter: seconds per
ONE switch, one direction), for bench/report.py. Usage:
    PYTHONPATH=build/native/python bench_switch.py [--quick] > py_switch.json
Every method is timed REPS times, all methods in turns, and the fastest timing is kept. A
timing is the CPU time of the thread that runs the method (time.thread_time()), except for
methods that wait for another OS thread (WALL_CLOCK), which take the wall clock: on a shared
machine a wall-clock timing also counts whatever ran while the thread was descheduled.
That is done in PROCESSES processes, one after the other, and each method's median over
them is reported (measure_in_processes()).
"""
import asyncio
import collections
import json
import math
import statistics
import subprocess
import sys
import threading
import time

from math import gcd

try:
    import greenlet
except ImportError:  # (a CPython without greenlet: see scripts/python-on)
    greenlet = None
try:
    import stackless
    from stackless import schedule
except ImportError:  # a version the module is not ported to: greenlet alone, as a peer
    stackless = schedule = None

QUICK = "--quick" in sys.argv
N = 20_000 if QUICK else 200_000  # round trips (2 switches each) per timing
REPS = 3 if QUICK else 5
PROCESSES = 1 if QUICK else 7  # each measures every method; the median of theirs is kept
ONE_PROCESS = "--one-process"  # how a process started by measure_in_processes() is told


# The methods that wait for another OS thread: their time is not all the calling thread's.
WALL_CLOCK = {"PY_threads_semaphore"}


def clock_of(name):
    """The clock a method is timed by: the calling thread's CPU time, so that a timing
    during which the thread was descheduled (other processes on a shared machine, a
    virtual CPU the host gave away) counts only what the method itself ran; the wall
    clock for the methods that wait for another thread."""
    return time.perf_counter if name in WALL_CLOCK else time.thread_time


def fastest_times(methods):
    """{name: fastest seconds per switch} of REPS timings of each fn() (which does
    `switches`), taken in turns (one timing of every method per round), so that a load
    that comes and goes on a shared machine falls on all of them alike. The fastest, not
    the median: what other programs do to a timing (caches, a busy sibling CPU) only ever
    adds to it."""
    for _, fn, _ in methods:
        fn()  # warm up
    samples = {name: [] for name, _, _ in methods}
    for _ in range(REPS):
        for name, fn, switches in methods:
            clock = clock_of(name)
            t0 = clock()
            fn()
            samples[name].append((clock() - t0) / switches)
    return {name: min(s) for name, s in samples.items()}


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
    """schedule() among `count` tasklets of `kind`, `rounds` calls each. A timing includes
    making, starting and ending the tasklets: with 10,000 own-stack tasklets that is most
    of it, since all but the 64 stacks the pool keeps are mapped and unmapped each time."""
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
# The shapes vary what a user's loop may look like: channels looked up in the loop
# (a.send(i)) or their methods bound once (send = a.send), one channel or two (one per
# direction), a payload or None; stackless.schedule() through the module, through a
# global bound by `from stackless import schedule`, or bound to a local. Each has a floor:
# the same loop with every switching call replaced by a C function of the same call shape
# that returns at once, so (time - floor) is what the switches add:
#   ch.send(x), ch.receive()   exact instances of a C type without __dict__, METH_FASTCALL
#                              method descriptors (the interpreter specializes both to
#                              LOAD_METHOD_NO_DICT + PRECALL_NO_KW_METHOD_DESCRIPTOR_FAST):
#                              int.__round__, which returns its int at once with or
#                              without an argument (a non-negative ndigits changes
#                              nothing; the constant 0 stands for None, which it refuses);
#                              bound once, a bound builtin method, as ch.send is;
#   schedule()                 a METH_FASTCALL builtin function: math.gcd(), which returns
#                              0 at once, found the same way (module attribute, global,
#                              local).
# With two channels a round trip is two switches: ping's send resumes pong, pong's send
# blocks and resumes ping, ping's receive takes the waiting value without switching. With
# one channel every action switches (pong's receive blocks, ping's send hands over and
# resumes it). The two-channel ping-pong also runs DEEP frames below the top of its
# tasklets (a copied-stack tasklet's slice grows with the depth).

DEEP = 30


def ping(a, b, n):
    for i in range(n):
        a.send(i)
        b.receive()


def pong(a, b, n):
    for _ in range(n):
        b.send(a.receive())


def ping_none(a, b, n):
    for _ in range(n):
        a.send(None)
        b.receive()


def pong_none(a, b, n):
    for _ in range(n):
        a.receive()
        b.send(None)


def ping_bound(a, b, n):
    send, receive = a.send, b.receive
    for i in range(n):
        send(i)
        receive()


def pong_bound(a, b, n):
    send, receive = b.send, a.receive
    for _ in range(n):
        send(receive())


def ping_one(a, b, n):
    for i in range(n):
        a.send(i)


def pong_one(a, b, n):
    for _ in range(n):
        a.receive()


# (name, ping, pong, channels): pong runs first, so that it waits on its first receive.
PINGPONG_SHAPES = [
    ("PY_pingpong_ordinary", ping, pong, 2),
    ("PY_pingpong_nopayload", ping_none, pong_none, 2),
    ("PY_pingpong_bound", ping_bound, pong_bound, 2),
    ("PY_pingpong_onechannel", ping_one, pong_one, 1),
]


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


def stackless_pingpong(kind, ping_fn=ping, pong_fn=pong, channels=2, depth=0):
    """Round trips of ping_fn/pong_fn in two tasklets of `kind`: 2 switches each with two
    channels, 2 with one (one per action); so N round trips are 2 * N switches."""
    def run():
        a = stackless.channel()
        b = stackless.channel() if channels == 2 else a
        run_in_tasklets(kind, (at_depth, depth, pong_fn, a, b, N),
                        (at_depth, depth, ping_fn, a, b, N))
    return run


def pingpong_floor(ping_fn, pong_fn, channels):
    """The same loops with ints for channels: int.__round__ in place of send/receive."""
    floor_ping = FLOOR_OF[ping_fn]
    floor_pong = FLOOR_OF[pong_fn]

    def run():
        a, b = 0, (1 if channels == 2 else 0)
        floor_pong(a, b, N)
        floor_ping(a, b, N)
    return run


def ping_floor(a, b, n):
    for i in range(n):
        a.__round__(i)
        b.__round__()


def pong_floor(a, b, n):
    for _ in range(n):
        b.__round__(a.__round__())


def ping_none_floor(a, b, n):
    for _ in range(n):
        a.__round__(0)
        b.__round__()


def pong_none_floor(a, b, n):
    for _ in range(n):
        a.__round__()
        b.__round__(0)


def ping_bound_floor(a, b, n):
    send, receive = a.__round__, b.__round__
    for i in range(n):
        send(i)
        receive()


def pong_bound_floor(a, b, n):
    send, receive = b.__round__, a.__round__
    for _ in range(n):
        send(receive())


def ping_one_floor(a, b, n):
    for i in range(n):
        a.__round__(i)


def pong_one_floor(a, b, n):
    for _ in range(n):
        a.__round__()


FLOOR_OF = {ping: ping_floor, pong: pong_floor, ping_none: ping_none_floor,
            pong_none: pong_none_floor, ping_bound: ping_bound_floor,
            pong_bound: pong_bound_floor, ping_one: ping_one_floor, pong_one: pong_one_floor}


def spin(n):
    for _ in range(n):
        stackless.schedule()


def spin_global(n):
    for _ in range(n):
        schedule()


def spin_local(n):
    schedule_local = stackless.schedule
    for _ in range(n):
        schedule_local()


def spin_floor(n):
    for _ in range(n):
        math.gcd()


def spin_global_floor(n):
    for _ in range(n):
        gcd()


def spin_local_floor(n):
    gcd_local = math.gcd
    for _ in range(n):
        gcd_local()


# (name, its floor's name, loop, floor): two tasklets, N schedule() calls each, one switch
# per call. The local one is the main table's "schedule(), 2 tasklets".
SCHEDULE_SHAPES = [
    ("PY_schedule_ordinary", "PY_schedule_ordinary_floor", spin, spin_floor),
    ("PY_schedule_global", "PY_schedule_global_floor", spin_global, spin_global_floor),
    ("PY_stackless_schedule/2", "PY_schedule_bound_floor", spin_local, spin_local_floor),
]


def stackless_schedule_loop(kind, loop):
    return lambda: run_in_tasklets(kind, (loop, N), (loop, N))


def schedule_floor(loop):
    def run():
        loop(N)
        loop(N)
    return run


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


def measure():
    """{name: seconds per switch} of every method, measured in this process."""
    methods = [("PY_greenlet_switch", greenlet_raw, 2 * N)] if greenlet else []
    if stackless is None:
        if greenlet:
            methods.append(("PY_greenlet_channel", greenlet_channel, 2 * N))
    else:
        methods += stackless_methods()
    return fastest_times(methods)


def measure_in_processes():
    """{name: median over PROCESSES processes of each one's measure()}. One process runs at
    one address layout: ASLR loads the module's code at another address in each, and some
    layouts slow one stack kind's code in every timing of that process (branch prediction
    is indexed by code addresses), which no number of repetitions inside it averages out."""
    if PROCESSES == 1:
        return measure()
    args = [sys.executable, __file__, ONE_PROCESS] + (["--quick"] if QUICK else [])
    runs = [json.loads(subprocess.run(args, check=True, stdout=subprocess.PIPE).stdout)
            for _ in range(PROCESSES)]
    return {name: statistics.median(run[name] for run in runs) for name in runs[0]}


def main():
    if ONE_PROCESS in sys.argv:
        json.dump(measure(), sys.stdout)
        return
    results = []

    def record(name, seconds):
        results.append({"name": name, "run_name": name, "run_type": "iteration",
                        "switch": seconds})
        print(f"{name:<44} {seconds * 1e9:10.1f} ns", file=sys.stderr)

    for name, seconds in measure_in_processes().items():
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
    for name, ping_fn, pong_fn, channels in PINGPONG_SHAPES:
        for kind in ("own", "copied"):
            methods.append((f"{name}/{kind}",
                            stackless_pingpong(kind, ping_fn, pong_fn, channels), 2 * N))
        methods.append((f"{name}_floor", pingpong_floor(ping_fn, pong_fn, channels), 2 * N))
    for kind in ("own", "copied"):
        methods.append((f"PY_pingpong_ordinary_deep/{kind}",
                        stackless_pingpong(kind, depth=DEEP), 2 * N))
    for name, floor_name, loop, floor in SCHEDULE_SHAPES:
        for kind in ("own", "copied"):
            methods.append((f"{name}/{kind}", stackless_schedule_loop(kind, loop), 2 * N))
        methods.append((floor_name, schedule_floor(floor), 2 * N))
    for kind in ("own", "copied"):
        fn, switches = stackless_schedule(10_000, kind)
        methods.append((f"PY_stackless_schedule/10000/{kind}", fn, switches))
    if greenlet:
        methods.append(("PY_greenlet_channel", greenlet_channel, 2 * N))
    methods += [("PY_asyncio_queue", asyncio_queue, 2 * ASYNC_N),
                ("PY_threads_semaphore", threads_semaphore, 2 * THREAD_N)]
    return methods


if __name__ == "__main__":
    main()

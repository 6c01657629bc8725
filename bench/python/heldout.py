#!/usr/bin/python3
"""Held-out check: do the switch and memory figures hold for loops and frames the
benchmarks were not tuned on?

Switches: loops users write that bench_switch.py does not measure, each beside its floor
(the same source with every switching call renamed to a C method of the same call shape
that returns at once, as bench_switch.py's floors use int.__round__ and math.gcd) and,
where one exists, its greenlet equivalent (the same loop on bench_switch.py's
Python-written greenlet channel and a greenlet round-robin). For each shape it prints:
  ns/switch      the loop's time over the switches it made (counted with
                 set_schedule_callback / greenlet.settrace in a separate run)
  added          (time - floor) / switches / greenlet switch: what a switch adds to the
                 loop that carries it, held to the switch-added target (0.10)
  plain          time / switches / greenlet switch (the README's channel-row figure)
  vs greenlet    the loop's time over its greenlet equivalent's, per item
Memory: tasklets blocked in frames with closures, keyword arguments, a generator they
iterate, a `for` over a list, D = 5/20/50 frames deep, against greenlets suspended in the
same frames (bench_memory.py's way: resident set growth per tasklet, fresh interpreter per
case), held to the memory targets (0.34/0.5/0.8) and the rule: own frames' bytes + C slice
+ tasklet object + 512 B (copied stacks). "alone": every tasklet in functions compiled
apart (no two share a frame shape); "shared": all in the same functions.

Usage (3.11: PYTHONPATH=build/native/python; 3.13+: scripts/python-on x86_64 3.X):
    heldout.py [--quick] [--only switch|memory] [--shapes WORD,...] [--processes K]
Prints the tables on stdout, progress on stderr. Switch timings are the fastest of
bench_switch.py's REPS in turns, the median over 3 processes (1 with --quick); memory
cases count 10x fewer tasklets with --quick.
"""
import collections
import inspect
import itertools
import json
import math
import operator
import statistics
import subprocess
import sys
import textwrap

import bench_memory
import bench_switch
from bench_switch import (GreenletChannel, GreenletScheduler, fastest_times, greenlet, ping, pong,
                          stackless)

QUICK = "--quick" in sys.argv
N = bench_switch.N  # items (loop iterations) per timing
# Switch timings: the median of PROCESSES processes' (--processes K to choose).
PROCESSES = (int(sys.argv[sys.argv.index("--processes") + 1]) if "--processes" in sys.argv
             else 1 if QUICK else 3)
ONE_PROCESS = "--one-process"  # how a process started by timed_in_processes() is told
ADDED_TARGET = 0.10  # (time - floor) / greenlet switch, every version
MEMORY_TARGETS = {5: 0.34, 20: 0.5, 50: 0.8}  # against a suspended greenlet
KINDS = ("own", "copied")
# --shapes A,B: only the switch shapes whose title contains one of them (and the control
# rows), only the memory shapes named.
SELECTED = (sys.argv[sys.argv.index("--shapes") + 1].split(",") if "--shapes" in sys.argv
            else None)


def selected(title):
    return SELECTED is None or title.startswith("control") or any(w in title for w in SELECTED)


def log(*args):
    print(*args, file=sys.stderr, flush=True)


# ---- floors: the same source, switching calls renamed ----------------------------------

# Payload-free loops: ch.send(x) / ch.receive() on an int (int.__round__: a method
# descriptor of a C type without __dict__, as channel.send is; it takes a non-negative
# int or nothing and returns at once), schedule() by math.gcd.
ROUND = ((".send(", ".__round__("), (".receive()", ".__round__()"),
         ("ch.send\n", "ch.__round__\n"), ("ch.receive\n", "ch.__round__\n"),
         ("stackless.schedule()", "math.gcd()"))
# Loops whose receiver uses what it receives: a deque (append: METH_O, popleft:
# METH_NOARGS, both method descriptors of a C type without __dict__); what they cost
# beyond int.__round__'s two calls is printed beside the table.
DEQUE = ((".send_sequence(", ".extend("), (".send(", ".append("),
         (".receive()", ".popleft()"))


def floor_of(fn, renames):
    """fn compiled again from its source with `renames` applied, in fn's globals."""
    src = textwrap.dedent(inspect.getsource(fn))
    for old, new in renames:
        src = src.replace(old, new)
    ns = {}
    exec(compile(src, f"<floor of {fn.__name__}>", "exec"), fn.__globals__, ns)
    return ns[fn.__name__]


CHUNK = 100  # a deque floor alternates its loops CHUNK items at a time: the queue stays short


# ---- the loops -------------------------------------------------------------------------

class Actor:
    """Channels held as attributes: self.out.send(msg), self.inbox.receive()."""

    def __init__(self, inbox, out):
        self.inbox = inbox
        self.out = out

    def ping(self, n):
        for i in range(n):
            self.out.send(i)
            self.inbox.receive()

    def pong(self, n):
        for _ in range(n):
            self.out.send(self.inbox.receive())


class FloorActor(Actor):
    ping = floor_of(Actor.ping, ROUND)
    pong = floor_of(Actor.pong, ROUND)


def source(out, n):
    for i in range(n):
        out.send(i)


def sink(inp, n):
    for _ in range(n):
        inp.receive()


def send_tuples(ch, n):
    for i in range(n):
        ch.send((i, "tick", i * 2))


def receive_tuples(ch, n):
    total = 0
    for _ in range(n):
        i, kind, value = ch.receive()
        total += value
    return total


def send_dicts(ch, n):
    for i in range(n):
        ch.send({"id": i, "kind": "tick", "value": i * 2})


def receive_dicts(ch, n):
    total = 0
    for _ in range(n):
        msg = ch.receive()
        total += msg["value"]
    return total


def iterate(ch):
    total = 0
    for x in ch:
        total += x
    return total


def send_ints_then_close(ch, n):
    for i in range(n):
        ch.send(i)
    ch.close()


def send_sequence_of(ch, items):
    ch.send_sequence(items)


def receive_ints(ch, n):
    total = 0
    for _ in range(n):
        total += ch.receive()
    return total


def spin(n):
    for _ in range(n):
        stackless.schedule()


class Guard:
    """A context manager written in Python, as most are."""

    def __init__(self):
        self.depth = 0

    def __enter__(self):
        self.depth += 1
        return self

    def __exit__(self, *exc):
        self.depth -= 1
        return False


def ping_guarded(a, b, guard, n):
    for i in range(n):
        with guard:
            a.send(i)
        try:
            b.receive()
        except ValueError:
            break


def pong_guarded(a, b, guard, n):
    for _ in range(n):
        with guard:
            try:
                b.send(a.receive())
            finally:
                guard.depth += 0


def in_with(loop, a, b, guard, n):
    """loop(a, b, n) inside a with statement and a try: its switches happen below both."""
    with guard:
        try:
            loop(a, b, n)
        finally:
            guard.depth += 0


def send_bound(ch, n):
    send = ch.send
    for i in range(n):
        send(i)


def receive_bound(ch, n):
    receive = ch.receive
    for _ in range(n):
        receive()


FLOORS = {fn: floor_of(fn, ROUND) for fn in (
    source, sink, spin, ping_guarded, pong_guarded, ping, pong, send_bound, receive_bound)}
DEQUE_FLOORS = {fn: floor_of(fn, DEQUE) for fn in (
    send_tuples, receive_tuples, send_dicts, receive_dicts, send_sequence_of, receive_ints)}
# What a floor's receiving loop gets in place of range(N)'s ints: ints as large as those
# are on average, allocated where those are (0, a cached small int, would keep the
# receiver's `total += x` small: no int allocated, a cheaper loop than the one measured).
MIDDLE = N // 2
MIDDLE_CHUNK = range(MIDDLE, MIDDLE + CHUNK)
# `for x in ch`: the floor iterates a C iterator (itertools.repeat's tp_iternext, as the
# channel's); the producer's close() is outside its loop.
send_ints_floor = floor_of(source, ROUND)


def chain_of(depth, name, call=""):
    """A function that calls fn(*args) `depth` frames down a chain of `depth` different
    functions, each with 2 arguments and 2 locals (what a handler's call chain looks like;
    bench_switch.py's deep row recurses through one function), each calling the next
    through `call` (operator.call: C code between the frames, as a callback, map() or a C
    decorator puts there; every level is then a C call of the interpreter too)."""
    def next_call(i):
        return f"{call}({name}{i}, fn, args)" if call else f"{name}{i}(fn, args)"
    src = "".join(f"def {name}{i}(fn, args):\n    here = {i}\n    below = here + 1\n"
                  f"    return {next_call(i + 1)}\n" for i in range(depth))
    src += f"def {name}{depth}(fn, args):\n    return fn(*args)\n"
    ns = {"operator": operator}
    exec(compile(src, f"<chain {name}>", "exec"), ns)
    return ns[f"{name}0"]


DEPTH_CHAINS = {d: chain_of(d, f"level{d}_") for d in (10, 30)}
DEPTH_CHAINS[0] = lambda fn, args: fn(*args)
DEPTH_CHAINS["10 via C"] = chain_of(10, "via_c_", "operator.call")


# ---- runners: (stackless(kind), floor, greenlet or None), per shape --------------------
# Each run takes (fn, *args) calls: the first ones start first (they block on their
# first receive).

def in_tasklets(calls):
    def run(kind):
        def go():
            old = stackless.set_default_stack_kind(kind)
            for fn, *args in calls():
                stackless.tasklet(fn)(*args)
            stackless.set_default_stack_kind(old)
            stackless.run()
        return go
    return run


def in_greenlets(calls):
    def go():
        sched = GreenletScheduler()
        for fn, *args in calls(sched):
            sched.spawn(fn, *args)
        sched.run()
    return go


def in_sequence(calls):
    def go():
        for fn, *args in calls():
            fn(*args)
    return go


def in_chunks(calls):
    """The floor's loops CHUNK items at a time, in turns (a deque between them)."""
    def go():
        for _ in range(N // CHUNK):
            for fn, *args in calls():
                fn(*args)
    return go


def stackless_channels(k):
    return [stackless.channel() for _ in range(k)]


def greenlet_channels(sched, k):
    return [GreenletChannel(sched) for _ in range(k)]


def shape_attributes():
    def calls(a, b):
        return [(Actor(a, b).pong, N), (Actor(b, a).ping, N)]
    return (in_tasklets(lambda: calls(*stackless_channels(2))),
            in_sequence(lambda: [(FloorActor(0, 1).pong, N), (FloorActor(1, 0).ping, N)]),
            in_greenlets(lambda s: calls(*greenlet_channels(s, 2))))


def shape_pipeline(k):
    def calls(chs, n=N):
        return ([(sink, chs[-1], n)] + [(pong, chs[i], chs[i + 1], n) for i in range(k - 2)]
                + [(source, chs[0], n)])

    def floor():
        return ([(FLOORS[sink], 0, N)] + [(FLOORS[pong], 0, 0, N)] * (k - 2)
                + [(FLOORS[source], 0, N)])
    return (in_tasklets(lambda: calls(stackless_channels(k - 1))), in_sequence(floor),
            in_greenlets(lambda s: calls(greenlet_channels(s, k - 1))))


def shape_ring(k):
    """k tasklets in a ring of k channels, one token going round: N // k rounds."""
    rounds = N // k

    def calls(chs):
        return ([(pong, chs[i], chs[i + 1], rounds) for i in range(k - 1)]
                + [(ping, chs[0], chs[-1], rounds)])

    def floor():
        return [(FLOORS[pong], 0, 0, rounds)] * (k - 1) + [(FLOORS[ping], 0, 0, rounds)]
    return (in_tasklets(lambda: calls(stackless_channels(k))), in_sequence(floor),
            in_greenlets(lambda s: calls(greenlet_channels(s, k))))


def shape_payload(send_fn, receive_fn):
    def calls(ch, n=N):
        return [(receive_fn, ch, n), (send_fn, ch, n)]
    q = collections.deque()
    return (in_tasklets(lambda: calls(stackless.channel())),
            in_chunks(lambda: [(DEQUE_FLOORS[send_fn], q, CHUNK),
                               (DEQUE_FLOORS[receive_fn], q, CHUNK)]),
            in_greenlets(lambda s: calls(GreenletChannel(s))))


def shape_iterate():
    def calls():
        ch = stackless.channel()
        return [(iterate, ch), (send_ints_then_close, ch, N)]
    return (in_tasklets(calls),
            in_sequence(lambda: [(iterate, itertools.repeat(MIDDLE, N)),
                                 (send_ints_floor, 0, N)]),
            None)


def shape_send_sequence(receiver):
    def calls():
        ch = stackless.channel()
        return [(receiver, ch, N) if receiver is receive_ints else (receiver, ch),
                (send_sequence_of, ch, range(N))]
    if receiver is receive_ints:
        q = collections.deque()
        floor = in_chunks(lambda: [(DEQUE_FLOORS[send_sequence_of], q, MIDDLE_CHUNK),
                                   (DEQUE_FLOORS[receive_ints], q, CHUNK)])
    else:
        floor = in_sequence(lambda: [(iterate, itertools.repeat(MIDDLE, N)),
                                     (DEQUE_FLOORS[send_sequence_of],
                                      collections.deque(maxlen=0), range(N))])
    return in_tasklets(calls), floor, None


class GreenletRoundRobin:
    """schedule() on greenlets: the current one to the back, the first one runs."""

    def __init__(self):
        self.runnable = collections.deque()
        self.main = greenlet.getcurrent()

    def spawn(self, fn, *args):
        self.runnable.append(greenlet.greenlet(lambda: fn(*args), parent=self.main))

    def schedule(self):
        self.runnable.append(greenlet.getcurrent())
        self.runnable.popleft().switch()

    def run(self):
        while self.runnable:
            self.runnable.popleft().switch()


def greenlet_spin(sched, n):
    for _ in range(n):
        sched.schedule()


def shape_schedule(count, depth=0):
    rounds = max(2, (2 * N) // count)
    chain = DEPTH_CHAINS[depth] if depth else None

    def deep(fn, *args):
        return (chain, fn, args) if chain else (fn, *args)

    def greenlets():
        sched = GreenletRoundRobin()
        for _ in range(count):
            sched.spawn(*deep(greenlet_spin, sched, rounds))
        sched.run()
    return (in_tasklets(lambda: [deep(spin, rounds)] * count),
            in_sequence(lambda: [(FLOORS[spin], rounds)] * count), greenlets)


def shape_deep(depth):
    chain = DEPTH_CHAINS[depth]

    def calls(a, b):
        return [(chain, pong, (a, b, N)), (chain, ping, (a, b, N))]
    return (in_tasklets(lambda: calls(*stackless_channels(2))),
            in_sequence(lambda: [(chain, FLOORS[pong], (0, 1, N)),
                                 (chain, FLOORS[ping], (0, 1, N))]),
            in_greenlets(lambda s: calls(*greenlet_channels(s, 2))))


def shape_guarded():
    def calls(a, b):
        return [(pong_guarded, a, b, Guard(), N), (ping_guarded, a, b, Guard(), N)]
    return (in_tasklets(lambda: calls(*stackless_channels(2))),
            in_sequence(lambda: [(FLOORS[pong_guarded], 0, 1, Guard(), N),
                                 (FLOORS[ping_guarded], 0, 1, Guard(), N)]),
            in_greenlets(lambda s: calls(*greenlet_channels(s, 2))))


def shape_in_with():
    def calls(a, b):
        return [(in_with, pong, a, b, Guard(), N), (in_with, ping, a, b, Guard(), N)]
    return (in_tasklets(lambda: calls(*stackless_channels(2))),
            in_sequence(lambda: [(in_with, FLOORS[pong], 0, 1, Guard(), N),
                                 (in_with, FLOORS[ping], 0, 1, Guard(), N)]),
            in_greenlets(lambda s: calls(*greenlet_channels(s, 2))))


def shape_bound_one_channel():
    """bench_switch.py's channel row (a control: this run's figure for it)."""
    def calls(ch):
        return [(receive_bound, ch, N), (send_bound, ch, N)]
    return (in_tasklets(lambda: calls(stackless.channel())),
            in_sequence(lambda: [(FLOORS[receive_bound], 0, N), (FLOORS[send_bound], 0, N)]),
            in_greenlets(lambda s: calls(GreenletChannel(s))))


SHAPES = [
    ("control: bench's ping-pong ordinary", lambda: shape_deep(0)),
    ("control: bench's channel row (bound, 1 ch)", shape_bound_one_channel),
    ("control: bench's schedule() among 2", lambda: shape_schedule(2)),
    ("attributes: self.out.send(i), self.inbox.receive()", shape_attributes),
    ("pipeline of 3 tasklets (2 channels)", lambda: shape_pipeline(3)),
    ("pipeline of 10 tasklets (9 channels)", lambda: shape_pipeline(10)),
    ("pipeline of 20 tasklets (19 channels)", lambda: shape_pipeline(20)),
    ("pipeline of 50 tasklets (49 channels)", lambda: shape_pipeline(50)),
    ("ring of 10 tasklets, one token", lambda: shape_ring(10)),
    ("ring of 20 tasklets, one token", lambda: shape_ring(20)),
    ("ring of 50 tasklets, one token", lambda: shape_ring(50)),
    ("producer sends tuples, consumer unpacks", lambda: shape_payload(send_tuples,
                                                                      receive_tuples)),
    ("producer sends dicts, consumer indexes", lambda: shape_payload(send_dicts,
                                                                     receive_dicts)),
    ("for x in ch (sender: ch.send(i) loop, close)", shape_iterate),
    ("send_sequence(range) -> ch.receive() loop", lambda: shape_send_sequence(receive_ints)),
    ("send_sequence(range) -> for x in ch", lambda: shape_send_sequence(iterate)),
    ("stackless.schedule() among 10 tasklets", lambda: shape_schedule(10)),
    ("stackless.schedule() among 100 tasklets", lambda: shape_schedule(100)),
    ("schedule() among 10, 30 frames deep (chain)", lambda: shape_schedule(10, 30)),
    ("ping-pong 10 frames deep (chain of functions)", lambda: shape_deep(10)),
    ("ping-pong 30 frames deep (chain of functions)", lambda: shape_deep(30)),
    ("ping-pong 10 frames deep, C calls between", lambda: shape_deep("10 via C")),
    ("schedule() among 10, 10 deep, C calls between", lambda: shape_schedule(10, "10 via C")),
    ("ping-pong, each action in with/try", shape_guarded),
    ("ping-pong called inside with+try", shape_in_with),
]


# ---- counting switches ------------------------------------------------------------------

def stackless_switches(fn):
    count = [0]

    def callback(prev, nxt):
        count[0] += 1
    old = stackless.get_schedule_callback()
    stackless.set_schedule_callback(callback)
    try:
        fn()
    finally:
        stackless.set_schedule_callback(old)
    return count[0]


def greenlet_switches(fn):
    count = [0]

    def trace(event, args):
        if event in ("switch", "throw"):
            count[0] += 1
    old = greenlet.settrace(trace)
    try:
        fn()
    finally:
        greenlet.settrace(old)
    return count[0]


def deque_extra():
    """Seconds per item that a deque floor's append + popleft take over int.__round__'s
    two calls (what such a floor differs by)."""
    q = collections.deque()

    def with_deque():
        for _ in range(N // CHUNK):
            for i in range(CHUNK):
                q.append(i)
            for _ in range(CHUNK):
                q.popleft()

    def with_round():
        a = 0
        for _ in range(N // CHUNK):
            for i in range(CHUNK):
                a.__round__(i)
            for _ in range(CHUNK):
                a.__round__()
    t = fastest_times([("deque", with_deque, N), ("round", with_round, N)])
    return t["deque"] - t["round"]


def timed_switches():
    """This process's timings: ({method: seconds per item, or per switch for the greenlet
    reference}, {shape: {kind or "greenlet": switches per item}})."""
    methods = [("greenlet_switch", bench_switch.greenlet_raw, 2 * N)] if greenlet else []
    switches = {}
    for title, make in SHAPES:
        if not selected(title):
            continue
        s_run, floor, g_run = make()
        runs = {kind: s_run(kind) for kind in KINDS}
        switches[title] = {kind: stackless_switches(runs[kind]) / N for kind in KINDS}
        if g_run is not None and greenlet:
            switches[title]["greenlet"] = greenlet_switches(g_run) / N
            methods.append((f"{title}|greenlet", g_run, N))
        for kind in KINDS:
            methods.append((f"{title}|{kind}", runs[kind], N))
        methods.append((f"{title}|floor", floor, N))
        log(f"built: {title}: switches per item "
            + ", ".join(f"{k} {v:.2f}" for k, v in switches[title].items()))
    log(f"timing {len(methods)} loops, {bench_switch.REPS} rounds ...")
    return dict(fastest_times(methods), deque_extra=deque_extra()), switches


def timed_in_processes():
    """timed_switches() in PROCESSES processes (ASLR: each its own code layout), each
    method's median over them (bench_switch.py's way)."""
    if PROCESSES == 1:
        return timed_switches()
    args = [sys.executable, __file__, ONE_PROCESS] + (["--quick"] if QUICK else [])
    if SELECTED:
        args += ["--shapes", ",".join(SELECTED)]
    runs = []
    for k in range(PROCESSES):
        log(f"process {k + 1} of {PROCESSES} ...")
        runs.append(json.loads(subprocess.run(args, check=True, stdout=subprocess.PIPE).stdout))
    times = {name: statistics.median(run[0][name] for run in runs) for name in runs[0][0]}
    return times, runs[0][1]


def measure_switches():
    """(greenlet switch, deque floors' extra, rows): a row is (shape, {kind: (ns/switch,
    added, plain, vs greenlet, switches per item)}, floor seconds per item)."""
    t, switches = timed_in_processes()
    ref = t.get("greenlet_switch")
    rows = []
    for title, _ in SHAPES:
        if not selected(title):
            continue
        floor = t[f"{title}|floor"]
        figures = {}
        for kind in KINDS:
            per_item = t[f"{title}|{kind}"]
            per_switch = per_item / switches[title][kind]
            added = (per_item - floor) / switches[title][kind]
            g = t.get(f"{title}|greenlet")
            figures[kind] = (per_switch, added / ref if ref else None,
                             per_switch / ref if ref else None,
                             per_item / g if g else None, switches[title][kind])
        rows.append((title, figures, floor))
    return ref, t["deque_extra"], rows


def print_switch_table(ref, extra, rows):
    print(f"\n## Switches: Python {sys.version.split()[0]}, greenlet "
          f"{greenlet.__version__ if greenlet else '-'} (switch {ref * 1e9:.1f} ns)"
          if ref else f"\n## Switches: Python {sys.version.split()[0]}, no greenlet")
    print(f"(deque floors: append + popleft take {extra * 1e9:+.1f} ns per item against two"
          " int.__round__ calls)")
    print(f"{'shape':<52} {'kind':<6} {'sw/item':>7} {'ns/sw':>7} {'floor ns/it':>11}"
          f" {'added':>6} {'plain':>6} {'vs gl':>6}  target added<={ADDED_TARGET}")
    for title, figures, floor in rows:
        for kind in KINDS:
            per_switch, added, plain, vs_g, per_item = figures[kind]

            def f(x):
                return f"{x:6.2f}" if x is not None else "     -"
            verdict = "" if added is None else ("holds" if added <= ADDED_TARGET else "MISSES")
            print(f"{title:<52} {kind:<6} {per_item:7.2f} {per_switch * 1e9:7.1f}"
                  f" {floor * 1e9:11.1f} {f(added)} {f(plain)} {f(vs_g)}  {verdict}")
    sys.stdout.flush()


# ---- memory ----------------------------------------------------------------------------

# Each frame: 2 arguments (n, block) and 4 locals (the memory targets' frames), plus what the
# shape adds; frame i calls frame i + 1 until n is 1, the last one blocks.
FRAME_BODIES = {
    "plain": """def f{i}(n, block):
    a = n
    b = a + 1
    c = b + 1
    d = c + 1
    if n > 1:
        return f{j}(n - 1, block)
    return block()
""",
    "closure": """def f{i}(n, block):
    a = n
    b = a + 1
    def add(x):
        return x + a + b
    c = add(1)
    d = c + 1
    if n > 1:
        return f{j}(n - 1, block)
    return block()
""",
    "kwargs": """def f{i}(n, block, *, scale=1, **options):
    a = n * scale
    b = a + 1
    c = b + 1
    d = c + 1
    if n > 1:
        return f{j}(n - 1, block=block, scale=1, label="x")
    return block()
""",
    "generator": """def g{i}(a):
    yield a
    yield a + 1
def f{i}(n, block):
    a = n
    for b in g{i}(a):
        c = b + 1
        d = c + 1
        if n > 1:
            return f{j}(n - 1, block)
        return block()
""",
    "via-C": """def f{i}(n, block):
    a = n
    b = a + 1
    c = b + 1
    d = c + 1
    if n > 1:
        return operator.call(f{j}, n - 1, block)
    return block()
""",
    "for-list": """def f{i}(n, block):
    a = n
    for b in [a, a + 1, a + 2]:
        c = b + 1
        d = c + 1
        if n > 1:
            return f{j}(n - 1, block)
        return block()
""",
}
SHAPE_TEXT = {
    "plain": "2 arguments and 4 locals, nothing more (bench_memory.py's chain/alone: a control)",
    "closure": "each frame makes a closure over 2 of its locals (2 cells, a function)",
    "kwargs": "each frame takes keyword arguments (a keyword-only one, **options)",
    "generator": "each frame iterates a generator, suspended at its first yield",
    "via-C": "plain frames, each calling the next through operator.call (C between frames)",
    "for-list": "each frame is inside `for b in [a, a + 1, a + 2]`",
}

# The frames' source, compiled in the child: once for all tasklets ("shared"), or once
# per tasklet ("alone", as bench_memory.py's alone rows).
SHAPE_CODE = {
    "shared": """
ns = {{}}
exec(compile(SRC, "shared", "exec"), ns)
entry, ARGS = ns["f0"], (depth, block)
""",
    "alone": """
def own(k):
    ns = {{}}
    exec(compile(SRC, f"alone{{k}}", "exec"), ns)
    return ns["f0"]
ENTRIES = [own(k) for k in range(n)]
entry_of, ARGS = ENTRIES.__getitem__, (depth, block)
""",
}

# The heap blocks the user's code makes in the blocked frames (cells, closures,
# generators, keyword dicts, lists and their iterators): a greenlet pays them too, and the
# issue's rule counts frames only. Measured apart, in a copied-stack run of USER_HEAP_N
# tasklets under tracemalloc: the blocks still allocated that the frames' source lines
# made (pymalloc's 16-byte rounding; the blocking call's line is left out: the module's
# own blocks).
USER_HEAP_N = 200
USER_HEAP = bench_memory.PRELUDE + """
import stackless, tracemalloc
stackless.set_default_stack_kind("copied")
ch = stackless.channel()
block = ch.receive
{shape}
tracemalloc.start(1)
for i in range(n):
    stackless.tasklet(entry_of(i))(*ARGS)
stackless.run()
lines = SRC.splitlines()
total = 0
for trace in tracemalloc.take_snapshot().traces:
    frame = trace.traceback[0]
    if (frame.filename == "shared" or frame.filename.startswith("alone")) and \\
            "block()" not in lines[frame.lineno - 1]:
        total += -(-trace.size // 16) * 16 if trace.size <= 512 else trace.size + 8
print(total / n)
"""


def frames_source(kind, depth):
    body = FRAME_BODIES[kind]
    return "import operator\n" + "".join(body.format(i=i, j=i + 1) for i in range(depth))


def measure_memory_case(kind, sharing, depth):
    src = frames_source(kind, depth)
    shape = f"SRC = {src!r}\n" + SHAPE_CODE[sharing].format()
    frames, max_count = (100_000, 10_000) if QUICK else (1_000_000, 100_000)
    count = min(max_count, frames // depth)
    own = min(count, bench_memory.MAX_OWN)
    out = {}
    if bench_memory.HAVE_GREENLET:
        out["greenlet"] = bench_memory.measure(
            bench_memory.CASE_GREENLET.format(shape=shape), count, depth)[0]
    if bench_memory.HAVE_STACKLESS:
        code = bench_memory.CASE_STACKLESS.format(shape=shape)
        per_item, parts = bench_memory.measure(code, count, depth, "copied")
        bench_memory.add_bound(per_item, parts)
        out["copied"] = per_item
        out["parts"] = parts
        out["user_heap"] = bench_memory.measure(USER_HEAP.format(shape=shape), USER_HEAP_N,
                                                depth)[0]
        out["own"] = bench_memory.measure(code, own, depth, "own")[0]
    return out


def measure_memory():
    rows = []
    sharings = ("alone", "shared")
    for kind in FRAME_BODIES:
        if SELECTED and kind not in SELECTED:
            continue
        for sharing in sharings:
            for depth in (5, 20, 50):
                log(f"memory: {kind} {sharing} {depth} ...")
                rows.append((kind, sharing, depth, measure_memory_case(kind, sharing, depth)))
    return rows


def print_memory_table(rows):
    """Held to the targets: copied stacks (the default; the issue's figures are theirs).
    `net`: both sides without the user's heap blocks (which both pay alike)."""
    print(f"\n## Memory per blocked tasklet: Python {sys.version.split()[0]}")
    for kind in FRAME_BODIES:
        print(f"# {kind}: {SHAPE_TEXT[kind]}")
    print(f"{'shape':<10} {'sharing':<7} {'D':>3} {'greenlet':>9} {'copied':>8} {'own':>8}"
          f" {'cp/gl':>6} {'target':>6} {'holds':>5} {'net':>5} {'own/gl':>6}"
          f" | {'frames':>6} {'saved':>6} {'slice':>6} {'object':>6} {'other':>6}"
          f" {'user':>5} {'bound':>6} rule")
    for kind, sharing, depth, m in rows:
        g, cp, own = m.get("greenlet"), m.get("copied"), m.get("own")
        heap = m.get("user_heap", 0)
        target = MEMORY_TARGETS[depth]

        def ratio(a, b):
            return f"{a / b:.2f}" if a and b else "-"
        holds = "-" if not (g and cp) else ("yes" if cp / g <= target else "NO")
        net = ratio(cp and cp - heap, g and g - heap)
        line = (f"{kind:<10} {sharing:<7} {depth:>3} {g or 0:9.0f} {cp or 0:8.0f} {own or 0:8.0f}"
                f" {ratio(cp, g):>6} {target:6.2f} {holds:>5} {net:>5} {ratio(own, g):>6}")
        p = m.get("parts")
        if p:
            bound = p["bound"]
            rule = ("within" if cp <= bound else
                    "within, user's blocks aside" if cp - heap <= bound else "OVER")
            line += (f" | {p['frames']:6.0f} {p['frames_saved']:6.0f} {p['c_slice']:6.0f}"
                     f" {p['object'] + p['core']:6.0f} {p['other']:6.0f} {heap:5.0f}"
                     f" {bound:6.0f} {rule}")
        print(line)
    sys.stdout.flush()


def main():
    only = sys.argv[sys.argv.index("--only") + 1] if "--only" in sys.argv else None
    if stackless is None:
        sys.exit("heldout.py: the stackless module is not importable here")
    if ONE_PROCESS in sys.argv:
        json.dump(timed_switches(), sys.stdout)
        return
    if only in (None, "switch"):
        print_switch_table(*measure_switches())
    if only in (None, "memory"):
        print_memory_table(measure_memory())


if __name__ == "__main__":
    main()

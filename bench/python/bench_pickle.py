#!/usr/bin/python3
"""Pickling a running tasklet: pickle + unpickle + resume round trip of a
tasklet blocked in channel.receive() 9 and 100 frames deep (the seed's recursion), and
the pickle's size, against pickling the same state kept by hand in an object (a class
holding the recursion's levels, resumed by a loop).

Prints Google-Benchmark-style JSON for bench/report.py: the counter `switch` is the
seconds per round trip, `bytes` the pickle's size. Usage:
    PYTHONPATH=build/native/python bench_pickle.py [--quick] > py_pickle.json
"""
import json
import pickle
import sys
import time

import stackless

QUICK = "--quick" in sys.argv
ROUNDS = 200 if QUICK else 2000
REPEATS = 3 if QUICK else 5


def recurs(ch, depth, level=1):
    if level >= depth:
        ch.receive()
    else:
        recurs(ch, depth, level + 1)
    return level


class Recursion:
    """The same state by hand: the levels still to leave, and the channel's value."""

    def __init__(self, depth):
        self.depth = depth
        self.levels = list(range(1, depth + 1))
        self.value = None

    def resume(self, value):
        self.value = value
        last = None
        while self.levels:
            last = self.levels.pop()
        return last


def tasklet_case(depth):
    sys.setrecursionlimit(max(1000, depth * 4))
    ch = stackless.channel()
    t = stackless.tasklet(recurs)(ch, depth)
    stackless.run()
    size = len(pickle.dumps((t, ch), pickle.HIGHEST_PROTOCOL))
    t.kill()

    def round_trip():
        # untimed: a tasklet blocked `depth` frames deep
        c = stackless.channel()
        t = stackless.tasklet(recurs)(c, depth)
        stackless.run()
        t0 = time.perf_counter()
        d = pickle.dumps((t, c), pickle.HIGHEST_PROTOCOL)
        t1 = time.perf_counter()
        t.kill()
        t2 = time.perf_counter()
        t3, c3 = pickle.loads(d)
        c3.send(None)  # resumes it: it runs to its end
        t4 = time.perf_counter()
        assert not t3.alive
        return (t1 - t0) + (t4 - t2)

    return round_trip, size


def explicit_case(depth):
    size = len(pickle.dumps(Recursion(depth), pickle.HIGHEST_PROTOCOL))

    def round_trip():
        s = Recursion(depth)
        t0 = time.perf_counter()
        d = pickle.dumps(s, pickle.HIGHEST_PROTOCOL)
        pickle.loads(d).resume(None)
        return time.perf_counter() - t0

    return round_trip, size


def median_time(fn):
    times = []
    for _ in range(REPEATS):
        total = 0.0
        for _ in range(ROUNDS):
            total += fn()
        times.append(total / ROUNDS)
    times.sort()
    return times[len(times) // 2]


def main():
    results = []
    for depth in (9, 100):
        for kind, case in (("tasklet", tasklet_case), ("explicit", explicit_case)):
            fn, size = case(depth)
            seconds = median_time(fn)
            name = f"PY_pickle_{kind}/{depth}"
            results.append({"name": name, "run_name": name, "run_type": "iteration",
                            "switch": seconds})
            results.append({"name": f"PY_pickle_size_{kind}/{depth}", "bytes": size})
            print(f"{name:<32} {seconds * 1e6:10.1f} us  {size:8d} bytes", file=sys.stderr)
    json.dump({"context": {"python": sys.version.split()[0]}, "benchmarks": results},
              sys.stdout, indent=1)
    print()


if __name__ == "__main__":
    main()

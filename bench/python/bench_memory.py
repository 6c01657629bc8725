#!/usr/bin/python3
"""Memory per blocked tasklet, 100,000 of them five Python frames deep, against the
same number of greenlets suspended five frames deep (Debian's python3-greenlet).

Each case runs in a fresh interpreter; the cost is the growth of the resident set
(RSS, /proc/self/statm) from before the tasklets (greenlets) are made to when all of
them are blocked (suspended), divided by their number. Prints Google-Benchmark-style
JSON with the counter `bytes` (per tasklet) for bench/report.py. Usage:
    PYTHONPATH=build/native/python bench_memory.py [--quick] > py_memory.json
"""
import json
import os
import subprocess
import sys

QUICK = "--quick" in sys.argv
COUNT = 20_000 if QUICK else 100_000
# An own-stack tasklet is two mappings (stack and guard page): Linux's default
# vm.max_map_count (65530) caps how many can exist, so own stacks are measured with fewer.
OWN_COUNT = min(COUNT, 20_000)

CASE_STACKLESS = """
import gc, stackless, sys
def rss():
    with open('/proc/self/statm') as f:
        return int(f.read().split()[1]) * 4096
stackless.set_default_stack_kind(sys.argv[2])
ch = stackless.channel()
def f5(): ch.receive()
def f4(): f5()
def f3(): f4()
def f2(): f3()
def f1(): f2()
n = int(sys.argv[1])
gc.collect(); gc.disable()
before = rss()
for _ in range(n):
    stackless.tasklet(f1)()
stackless.run()
assert ch.balance == -n
after = rss()
print((after - before) / n)
"""

CASE_GREENLET = """
import gc, greenlet, sys
def rss():
    with open('/proc/self/statm') as f:
        return int(f.read().split()[1]) * 4096
main = greenlet.getcurrent()
def f5(): main.switch()
def f4(): f5()
def f3(): f4()
def f2(): f3()
def f1(): f2()
n = int(sys.argv[1])
gc.collect(); gc.disable()
before = rss()
gs = []
for _ in range(n):
    g = greenlet.greenlet(f1)
    g.switch()
    gs.append(g)
after = rss()
print((after - before) / n)
"""


def measure(code, *args):
    out = subprocess.run([sys.executable, "-c", code, *map(str, args)], capture_output=True,
                         text=True, env=dict(os.environ), timeout=600)
    if out.returncode != 0:
        raise RuntimeError(out.stderr)
    return float(out.stdout.strip().splitlines()[-1])


def main():
    results = []

    def record(name, per_item, count):
        results.append({"name": name, "run_name": name, "run_type": "iteration",
                        "bytes": per_item, "count": count})
        print(f"{name:<44} {per_item:10.0f} bytes each ({count})", file=sys.stderr)

    record("PY_mem_greenlet", measure(CASE_GREENLET, COUNT), COUNT)
    record("PY_mem_stackless/copied", measure(CASE_STACKLESS, COUNT, "copied"), COUNT)
    record("PY_mem_stackless/own", measure(CASE_STACKLESS, OWN_COUNT, "own"), OWN_COUNT)
    json.dump({"benchmarks": results}, sys.stdout, indent=1)
    print()


if __name__ == "__main__":
    main()

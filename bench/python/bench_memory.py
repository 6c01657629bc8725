#!/usr/bin/python3
"""Memory per blocked tasklet against a greenlet suspended in the same shape of frames
(Debian's python3-greenlet), for the frame shapes users write:

- `rec/D`: a recursive function D frames deep, each frame with 2 arguments and 4 locals
  (`def frame(n, block): a = ...; b = ...; c = ...; d = ...; return frame(n - 1, block)`),
  the innermost one blocked (channel.receive / main.switch); D in memory_depths.py;
- `chain/D`: the same frames, but D different functions, each calling the next (a
  recursion's frames share their function and code, which a blocked tasklet stores
  once; a chain of calls is what most code blocks in);
- `alone/D`: chain/D, but every tasklet (greenlet) in a chain of functions and code objects
  of its own, so that no other tasklet is blocked in the same frames (what tasklets blocked
  in the same frames share, each of these pays alone); D in memory_depths.py;
- `f1..f5`: five functions without arguments or locals, each calling the next.

Each case runs in a fresh interpreter; the cost is the growth of the resident set
(RSS, /proc/self/statm) from before the tasklets (greenlets) are made to when all of
them are blocked (suspended), divided by their number. Prints the shape of each case on
stderr, and Google-Benchmark-style JSON on stdout with the counter `bytes` (per tasklet)
and the `shape` for bench/report.py. For copied stacks it also prints where the bytes
are (stackless._memory_of: frames, their share of a shape that tasklets blocked in the same
frames share, C slice, tasklet object, the block showing its entry frames, heap blocks;
`parts` in the JSON) and checks them against the bound frames + C slice + tasklet object +
512 bytes. Usage:
    PYTHONPATH=build/native/python bench_memory.py [--quick] > py_memory.json
"""
import importlib.util
import json
import os
import subprocess
import sys

from memory_depths import ALONE_DEPTHS, DEPTHS

QUICK = "--quick" in sys.argv
# Tasklets (greenlets) per case: about 100,000 frames in all for the deep shapes, so
# that the greenlets of the deepest case fit in a few hundred MiB.
FRAMES = 200_000 if QUICK else 1_000_000
MAX_COUNT = 20_000 if QUICK else 100_000
# An own-stack tasklet is two mappings (stack and guard page): Linux's default
# vm.max_map_count (65530) caps how many can exist, so own stacks are measured with fewer.
MAX_OWN = 20_000

# The frames each case blocks in; `block` is the call that blocks, ARGS the entry's, and
# entry_of(i) the function tasklet (greenlet) i starts in (`entry` unless the shape says).
CHAIN = """
ns = {}
for i in range(depth):  # the same body as rec's, one function per frame
    exec(f"def frame{i}(n, block):\\n"
         "    a = n\\n    b = a + 1\\n    c = b + 1\\n    d = c + 1\\n"
         f"    if n > 1:\\n        return frame{i + 1}(n - 1, block)\\n"
         "    return block()\\n", ns)
"""
SHAPES = {
    "f1..f5": """
def f5(): block()
def f4(): f5()
def f3(): f4()
def f2(): f3()
def f1(): f2()
entry, ARGS = f1, ()
""",
    "rec": """
def frame(n, block):
    a = n
    b = a + 1
    c = b + 1
    d = c + 1
    if n > 1:
        return frame(n - 1, block)
    return block()
entry, ARGS = frame, (depth, block)
""",
    "chain": CHAIN + """
entry, ARGS = ns["frame0"], (depth, block)
""",
    "alone": CHAIN + """
import types
def chain_of_its_own(k):  # the chain again, in functions and code objects of its own
    own = {}
    for i in range(depth):
        f = ns[f"frame{i}"]
        own[f.__name__] = types.FunctionType(f.__code__.replace(co_filename=f"alone{k}"), own,
                                             f.__name__)
    return own["frame0"]
ENTRIES = [chain_of_its_own(k) for k in range(n)]
entry_of, ARGS = ENTRIES.__getitem__, (depth, block)
""",
}
SHAPE_TEXT = {
    "f1..f5": "f1()..f5(): 5 frames, each calling the next, no locals",
    "rec": "{depth} frames of one recursive function, each with 2 arguments and 4 locals",
    "chain": "{depth} frames of {depth} different functions, each calling the next, each with"
             " 2 arguments and 4 locals",
    "alone": "{depth} frames of {depth} different functions, each calling the next, each with"
             " 2 arguments and 4 locals, every tasklet in functions of its own (compiled apart:"
             " no two share a frame)",
}

PRELUDE = """
import gc, sys
def rss():
    with open('/proc/self/statm') as f:
        return int(f.read().split()[1]) * 4096
n, depth = int(sys.argv[1]), int(sys.argv[2])
entry_of = lambda i: entry
"""

CASE_STACKLESS = PRELUDE + """
import stackless
stackless.set_default_stack_kind(sys.argv[3])
ch = stackless.channel()
block = ch.receive
{shape}
gc.collect(); gc.disable()
before = rss()
for i in range(n):
    stackless.tasklet(entry_of(i))(*ARGS)
stackless.run()
assert ch.balance == -n
after = rss()
if sys.argv[3] == "copied":  # where the bytes are (stackless._memory_of), for the report
    import json
    parts = [stackless._memory_of(t) | dict(object=-(-sys.getsizeof(t) // 16) * 16)
             for t in stackless._alive_tasklets()]
    print(json.dumps(dict((k, sum(p[k] for p in parts) / n) for k in parts[0])))
print((after - before) / n)
"""

CASE_GREENLET = PRELUDE + """
import greenlet
main = greenlet.getcurrent()
block = main.switch
{shape}
gc.collect(); gc.disable()
before = rss()
gs = []
for i in range(n):
    g = greenlet.greenlet(entry_of(i))
    g.switch(*ARGS)
    gs.append(g)
after = rss()
print((after - before) / n)
"""


def measure(code, *args):
    """Bytes per item, and the parts the case printed before them (or None)."""
    out = subprocess.run([sys.executable, "-c", code, *map(str, args)], capture_output=True,
                         text=True, env=dict(os.environ), timeout=900)
    if out.returncode != 0:
        raise RuntimeError(out.stderr)
    lines = out.stdout.strip().splitlines()
    return float(lines[-1]), json.loads(lines[-2]) if len(lines) > 1 else None


def add_bound(per_item, p):
    """To the parts of a blocked copied-stack tasklet (averages over the tasklets): the
    bytes no part accounts for (`other`), and the issue's bound: its own frames' bytes
    (CPython's layout) + its C slice + its tasklet object (Python and core) + 512."""
    p["other"] = (per_item - p["frames_block"] - p["frames_shape"] - p["c_slice_block"] - p["core"]
                  - p["object"] - p["entry_frames"])
    p["bound"] = p["frames"] + p["c_slice"] + p["object"] + p["core"] + 512


def print_parts(per_item, p):
    other, bound = p["other"], p["bound"]
    print(f"  frames {p['frames']:.0f} B in CPython's layout, saved {p['frames_saved']:.0f} B"
          f" ({p['packed'] * 100:.0f}% packed) in a {p['frames_block']:.0f} B block"
          f" + {p['frames_shape']:.0f} B of a shared shape;"
          f" C slice {p['c_slice']:.0f} B in a {p['c_slice_block']:.0f} B block;"
          f" tasklet object {p['object']:.0f} B + core {p['core']:.0f} B;"
          f" entry frames shown {p['entry_frames']:.0f} B; other {round(other)} B",
          file=sys.stderr)
    print(f"  bound frames + C slice + tasklet + 512 = {bound:.0f} B: cost {per_item:.0f} B"
          f" is {'within' if per_item <= bound else 'OVER'} it by {abs(bound - per_item):.0f} B",
          file=sys.stderr)


# A CPython without greenlet (see scripts/python-on): only the tasklets are measured;
# on a version the module is not ported to, only greenlet (the peer of another version).
# (Imported, not just found: Debian's greenlet package is shared by every CPython, its
# extension is built for some.)


def importable(name):
    try:
        importlib.import_module(name)
    except ImportError:
        return False
    return True


HAVE_GREENLET = importable("greenlet")
HAVE_STACKLESS = importable("stackless")


def cases():
    """(name suffix, shape key, depth): the old shape keeps the old names."""
    yield "", "f1..f5", 5
    for key in ("rec", "chain"):
        for d in DEPTHS:
            yield f"/{key}/{d}", key, d
    for d in ALONE_DEPTHS:
        yield f"/alone/{d}", "alone", d


def main():
    results = []

    def record(name, shape, measured, count):
        per_item, parts = measured
        results.append({"name": name, "run_name": name, "run_type": "iteration",
                        "bytes": per_item, "count": count, "shape": shape})
        if parts is not None:
            add_bound(per_item, parts)
            results[-1]["parts"] = parts
        print(f"{name:<44} {per_item:10.0f} bytes each ({count})", file=sys.stderr)
        if parts is not None:
            print_parts(per_item, parts)

    for suffix, key, depth in cases():
        shape = SHAPE_TEXT[key].format(depth=depth)
        print(f"shape: {shape}", file=sys.stderr)
        count = min(MAX_COUNT, FRAMES // depth)
        own = min(count, MAX_OWN)
        g = CASE_GREENLET.format(shape=SHAPES[key])
        s = CASE_STACKLESS.format(shape=SHAPES[key])
        if HAVE_GREENLET:
            record("PY_mem_greenlet" + suffix, shape, measure(g, count, depth), count)
        if HAVE_STACKLESS:
            record("PY_mem_stackless/copied" + suffix, shape,
                   measure(s, count, depth, "copied"), count)
            record("PY_mem_stackless/own" + suffix, shape, measure(s, own, depth, "own"), own)
    json.dump({"benchmarks": results}, sys.stdout, indent=1)
    print()


if __name__ == "__main__":
    main()

#!/usr/bin/python3
"""Turn Google Benchmark JSON into the README's latency table (and ratios).

Usage: report.py RESULTS.json [MORE.json ...] [VERSION:PY.json ...] [--not-ported VERSION]
                 [--markdown] [--chart OUT.svg]

Several result files (slp_bench's, and the Python benchmarks' from bench/python/) are
merged into one table. Python results of another CPython than the host's (3.11) are given
as VERSION:FILE (3.14:py_switch_3.14.json): their rows form the Python groups again, one
set per version, after the host's. --not-ported VERSION names a version the module does
not build for yet (it gets a line saying so).

Every benchmark reports the counter `switch`: seconds per ONE switch (one direction).
Rows are grouped, and each group names the peer its ratios are taken against, measured
in the same run; absolute times on a shared machine are noise, ratios are the result.
"""
import json
import re
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent / "python"))
from memory_depths import ALONE_DEPTHS, DEPTHS as MEMORY_DEPTHS  # noqa: E402

DEEP_FRAMES = 30  # bench/python/bench_switch.py's DEEP

# (group title, reference benchmark, [benchmarks in display order])
GROUPS = [
    ("Raw context switch (arch layer)", "BM_boost_fcontext",
     ["BM_slp_jump", "BM_boost_fcontext", "BM_slp_ontop", "BM_boost_ontop", "BM_ucontext",
      "BM_slp_switch/0", "BM_slp_switch/1024", "BM_slp_switch/8192", "BM_slp_switch/65536"]),
    ("Tasklets and channels (core, C++): one switch, against a raw slp_jump", "BM_raw_slp_jump",
     ["BM_raw_slp_jump", "BM_hard_switch/own_stack", "BM_hard_switch/copied_stack",
      "BM_hard_switch_10k/own_stack", "BM_hard_switch_10k/copied_stack",
      "BM_pingpong/own_stack", "BM_pingpong/copied_stack", "BM_boost_fiber_pingpong",
      "BM_thread_cv_handoff", "BM_create_run_finish/own_stack",
      "BM_create_run_finish/copied_stack"]),
    ("Soft tasklets (core, C++: coroutines, no stack): against schedule() on own stacks",
     "BM_hard_switch/own_stack",
     ["BM_hard_switch/own_stack", "BM_soft_switch", "BM_soft_switch_10k", "BM_pingpong/soft",
      "BM_pingpong/mixed", "BM_create_run_finish/soft"]),
    ("Python (CPython 3.11): stackless against greenlet, asyncio, threads", "PY_greenlet_switch",
     ["PY_greenlet_switch", "PY_stackless_channel/own", "PY_stackless_channel/copied",
      "PY_call_floor", "PY_stackless_schedule/2/own", "PY_stackless_schedule/2/copied",
      "PY_stackless_schedule/10000/own", "PY_stackless_schedule/10000/copied",
      "PY_greenlet_channel", "PY_asyncio_queue", "PY_threads_semaphore"]),
    ("Python: the loops users write, each beside its floor (the same loop, C no-ops in "
     "place of the switching calls)", "PY_greenlet_switch",
     ["PY_greenlet_switch"]
     + [f"{shape}/{kind}" for shape in ("PY_pingpong_ordinary", "PY_pingpong_ordinary_deep")
        for kind in ("own", "copied")] + ["PY_pingpong_ordinary_floor"]
     + [n for shape in ("PY_pingpong_nopayload", "PY_pingpong_bound", "PY_pingpong_onechannel")
        for n in (f"{shape}/own", f"{shape}/copied", f"{shape}_floor")]
     + ["PY_schedule_ordinary/own", "PY_schedule_ordinary/copied", "PY_schedule_ordinary_floor",
        "PY_schedule_global/own", "PY_schedule_global/copied", "PY_schedule_global_floor",
        "PY_schedule_bound_floor"]),
    ("Python: pickle + unpickle + resume of a blocked tasklet (time per round trip)",
     "PY_pickle_explicit/9",
     ["PY_pickle_explicit/9", "PY_pickle_tasklet/9", "PY_pickle_explicit/100",
      "PY_pickle_tasklet/100"]),
]

# Memory rows (counter `bytes`: per blocked tasklet), with their reference; the
# recursive shape of bench_memory.py at these depths, with their targets (copied stacks
# against a suspended greenlet).
MEMORY_TARGETS = {5: 0.34, 20: 0.5, 50: 0.8}
MEMORY_SHAPES = {
    "rec": "{d} frames deep, each with 2 arguments and 4 locals",
    "chain": "{d} frames deep, {d} different functions, each with 2 arguments and 4 locals",
    "alone": "{d} frames deep, {d} different functions, each with 2 arguments and 4 locals,"
             " every tasklet in functions of its own",
}
# The depths each shape is measured at (bench_memory.py's).
SHAPE_DEPTHS = {"rec": MEMORY_DEPTHS, "chain": MEMORY_DEPTHS, "alone": ALONE_DEPTHS}
MEMORY_GROUPS = [
    ("Core: memory per blocked tasklet (RSS delta / count)",
     "BM_memory_per_blocked_tasklet/own_stack",
     ["BM_memory_per_blocked_tasklet/own_stack", "BM_memory_per_blocked_tasklet/copied_stack",
      "BM_memory_per_blocked_tasklet/soft"]),
    ("Python: memory per blocked tasklet, f1()..f5(): 5 frames, no locals", "PY_mem_greenlet",
     ["PY_mem_greenlet", "PY_mem_stackless/copied", "PY_mem_stackless/own"]),
] + [
    (f"Python: memory per blocked tasklet, {MEMORY_SHAPES[key].format(d=d)}",
     f"PY_mem_greenlet/{key}/{d}",
     [f"PY_mem_greenlet/{key}/{d}", f"PY_mem_stackless/copied/{key}/{d}",
      f"PY_mem_stackless/own/{key}/{d}"])
    for key in MEMORY_SHAPES for d in SHAPE_DEPTHS[key]
] + [
    ("Python: pickle size of a blocked tasklet", "PY_pickle_size_explicit/9",
     ["PY_pickle_size_explicit/9", "PY_pickle_size_tasklet/9", "PY_pickle_size_explicit/100",
      "PY_pickle_size_tasklet/100"]),
]

# Benchmarks of other projects (drawn in another colour than slp's).
PEERS = {"PY_call_floor", "PY_pingpong_ordinary_floor", "PY_pingpong_nopayload_floor",
         "PY_pingpong_bound_floor", "PY_pingpong_onechannel_floor", "PY_schedule_ordinary_floor",
         "PY_schedule_global_floor", "PY_schedule_bound_floor", "BM_boost_fiber_pingpong", "BM_thread_cv_handoff", "PY_pickle_explicit/9", "PY_pickle_explicit/100", "BM_boost_fcontext", "BM_boost_ontop", "BM_ucontext", "PY_greenlet_switch", "PY_greenlet_channel",
         "PY_asyncio_queue", "PY_threads_semaphore"}

LABELS = {
    "BM_raw_slp_jump": "raw slp_jump (reference)",
    "BM_hard_switch/own_stack": "schedule(), 2 tasklets, own stack",
    "BM_hard_switch/copied_stack": "schedule(), 2 tasklets, copied stack",
    "BM_hard_switch_10k/own_stack": "schedule(), 10,000 tasklets, own",
    "BM_hard_switch_10k/copied_stack": "schedule(), 10,000 tasklets, copied",
    "BM_pingpong/own_stack": "channel ping-pong, own stack",
    "BM_pingpong/copied_stack": "channel ping-pong, copied stack",
    "BM_boost_fiber_pingpong": "Boost.Fiber channel ping-pong",
    "BM_thread_cv_handoff": "std::thread + condition variable",
    "BM_create_run_finish/own_stack": "create+run+finish, own (per tasklet)",
    "BM_create_run_finish/copied_stack": "create+run+finish, copied (per tasklet)",
    "BM_memory_per_blocked_tasklet/own_stack": "blocked tasklet, own stack",
    "BM_memory_per_blocked_tasklet/copied_stack": "blocked tasklet, copied stack",
    "BM_memory_per_blocked_tasklet/soft": "blocked soft tasklet (1,000,000)",
    "BM_soft_switch": "async_schedule(), 2 soft tasklets",
    "BM_soft_switch_10k": "async_schedule(), 10,000 soft",
    "BM_pingpong/soft": "channel ping-pong, soft",
    "BM_pingpong/mixed": "channel ping-pong, soft + own stack",
    "BM_create_run_finish/soft": "create+run+finish, soft (per tasklet)",
    "BM_slp_jump": "slp_jump (own stack)",
    "BM_boost_fcontext": "Boost.Context jump_fcontext",
    "BM_slp_ontop": "slp_ontop (own stack, fn on top)",
    "BM_boost_ontop": "Boost.Context ontop_fcontext",
    "BM_ucontext": "glibc swapcontext",
    "BM_slp_switch/0": "slp_switch, 0 B live stack",
    "BM_slp_switch/1024": "slp_switch, 1 KiB live stack",
    "BM_slp_switch/8192": "slp_switch, 8 KiB live stack",
    "BM_slp_switch/65536": "slp_switch, 64 KiB live stack",
    "PY_greenlet_switch": "greenlet g.switch()",
    "PY_stackless_channel/own": "stackless channel, own stacks",
    "PY_stackless_channel/copied": "stackless channel, copied stacks",
    "PY_stackless_schedule/2/own": "schedule(), 2 tasklets, own",
    "PY_stackless_schedule/2/copied": "schedule(), 2 tasklets, copied",
    "PY_stackless_schedule/10000/own": "schedule(), 10,000 tasklets, own",
    "PY_stackless_schedule/10000/copied": "schedule(), 10,000 tasklets, copied",
    "PY_call_floor": "floor: loop + C call, no switch",
    "PY_pingpong_ordinary/own": "a.send(i); b.receive(), own",
    "PY_pingpong_ordinary/copied": "a.send(i); b.receive(), copied",
    "PY_pingpong_ordinary_deep/own": f"the same {DEEP_FRAMES} frames deep, own",
    "PY_pingpong_ordinary_deep/copied": f"the same {DEEP_FRAMES} frames deep, copied",
    "PY_pingpong_ordinary_floor": "floor: same loop, C no-op methods",
    "PY_pingpong_nopayload/own": "a.send(None); b.receive(), own",
    "PY_pingpong_nopayload/copied": "a.send(None); b.receive(), copied",
    "PY_pingpong_nopayload_floor": "floor: same loop, C no-op methods",
    "PY_pingpong_bound/own": "send(i); receive(), bound, own",
    "PY_pingpong_bound/copied": "send(i); receive(), bound, copied",
    "PY_pingpong_bound_floor": "floor: same loop, C no-op methods",
    "PY_pingpong_onechannel/own": "ch.send(i) | ch.receive(), own",
    "PY_pingpong_onechannel/copied": "ch.send(i) | ch.receive(), copied",
    "PY_pingpong_onechannel_floor": "floor: same loop, C no-op methods",
    "PY_schedule_ordinary/own": "stackless.schedule(), 2 tasklets, own",
    "PY_schedule_ordinary/copied": "stackless.schedule(), 2, copied",
    "PY_schedule_ordinary_floor": "floor: same loop, math.gcd()",
    "PY_schedule_global/own": "schedule() as a global, own",
    "PY_schedule_global/copied": "schedule() as a global, copied",
    "PY_schedule_global_floor": "floor: same loop, gcd()",
    "PY_schedule_bound_floor": "floor of schedule(), 2: local gcd",
    "PY_greenlet_channel": "greenlet channel in Python",
    "PY_asyncio_queue": "asyncio.Queue ping-pong",
    "PY_threads_semaphore": "threads, Semaphore ping-pong",
    "PY_mem_greenlet": "greenlet, suspended",
    "PY_mem_stackless/copied": "stackless, copied stacks",
    "PY_mem_stackless/own": "stackless, own stacks",
    **{f"PY_mem_greenlet/{k}/{d}": "greenlet, suspended"
       for k in MEMORY_SHAPES for d in MEMORY_DEPTHS},
    **{f"PY_mem_stackless/copied/{k}/{d}": "stackless, copied stacks"
       for k in MEMORY_SHAPES for d in MEMORY_DEPTHS},
    **{f"PY_mem_stackless/own/{k}/{d}": "stackless, own stacks"
       for k in MEMORY_SHAPES for d in MEMORY_DEPTHS},
    "PY_pickle_explicit/9": "same state by hand (a class), 9 levels",
    "PY_pickle_tasklet/9": "tasklet, 9 frames deep",
    "PY_pickle_explicit/100": "same state by hand (a class), 100 levels",
    "PY_pickle_tasklet/100": "tasklet, 100 frames deep",
    "PY_pickle_size_explicit/9": "same state by hand, 9 levels",
    "PY_pickle_size_tasklet/9": "tasklet, 9 frames deep",
    "PY_pickle_size_explicit/100": "same state by hand, 100 levels",
    "PY_pickle_size_tasklet/100": "tasklet, 100 frames deep",
}


HOST_PYTHON = "3.11"  # the host's rows carry no version suffix


def at(name, version):
    """A Python benchmark's name in the results of CPython `version`."""
    return name if version == HOST_PYTHON else f"{name}@{version}"


def python_versions(values):
    """The other CPythons with results in `values`, in version order."""
    found = {n.rpartition("@")[2] for n in values if "@" in n}
    return sorted(found, key=lambda v: tuple(map(int, v.split("."))))


def greenlet_peer(values, version, ref="PY_greenlet_switch"):
    """(name, the version it was measured on) of the greenlet figure `ref` the rows of
    `version` are compared with: greenlet in the same interpreter, or else (a CPython
    without greenlet: see scripts/python-on) greenlet on the next version measured in the
    same run."""
    versions = [version] + [v for v in python_versions(values) + [HOST_PYTHON]
                            if tuple(map(int, v.split("."))) > tuple(map(int, version.split(".")))]
    for v in versions:
        if at(ref, v) in values:
            return at(ref, v), v
    return at(ref, version), version


def versioned_groups(groups, values, version):
    """The Python groups of `groups` again for CPython `version`: names suffixed, the
    greenlet reference taken from greenlet_peer when the version has none of its own."""
    out = []
    for title, ref, names in groups:
        if not ref.startswith("PY_"):
            continue
        vref = at(ref, version)
        note = ""
        if "greenlet" in ref:
            vref, peer_version = greenlet_peer(values, version, ref)
            if peer_version != version:
                note = (f"; no greenlet for CPython {version} here, so the "
                        f"peer is greenlet on CPython {peer_version}, same run")
        vnames = [vref if n == ref else at(n, version) for n in names]
        title = re.sub(r" \(CPython [0-9.]+\)", "", title)
        out.append((f"CPython {version} — {title}{note}", vref, vnames))
    return out


def all_groups(groups, values):
    """`groups`, then their Python groups once per other CPython measured."""
    out = list(groups)
    for v in python_versions(values):
        out += versioned_groups(groups, values, v)
    return out


def label(name, among=""):
    """A row's label; its CPython version is named when it is not that of its group
    (`among`, one of the group's names)."""
    base, _, version = name.partition("@")
    text = LABELS.get(base, base)
    if version == among.partition("@")[2]:
        return text
    return f"{text} (CPython {version or HOST_PYTHON})"


def base_name(b):
    """The benchmark's name without Google Benchmark's run options (/iterations:1,
    /real_time), which the tables do not care about."""
    name = b.get("run_name", b["name"])
    return re.sub(r"/(iterations:\d+|real_time)", "", name)


def per_switch_ns(results):
    """name -> ns per switch; with repetitions, the median."""
    out = {}
    for b in results["benchmarks"]:
        name = base_name(b)
        if b.get("run_type") == "aggregate" and b.get("aggregate_name") != "median":
            continue
        if "switch" in b:
            ns = b["switch"] * 1e9
        elif name.startswith("BM_create_run_finish"):  # one tasklet's life per iteration
            ns = b["cpu_time"] * {"ns": 1, "us": 1e3, "ms": 1e6, "s": 1e9}[b["time_unit"]]
        else:
            continue
        if b.get("run_type") == "aggregate" or name not in out:
            out[name] = ns
    return out


def per_item_bytes(results):
    """name -> bytes per item (memory benchmarks; with repetitions, the median)."""
    out = {}
    for b in results["benchmarks"]:
        if b.get("run_type") == "aggregate" and b.get("aggregate_name") != "median":
            continue
        value = b.get("bytes", b.get("bytes_per_tasklet"))
        if value is not None:
            out[base_name(b)] = value
    return out


def fmt_ns(ns):
    return f"{ns / 1000:.2f} µs" if ns >= 1000 else f"{ns:.1f} ns"


def memory_parts(results):
    """name -> where a blocked tasklet's bytes are (bench_memory.py's `parts`)."""
    return {b["name"]: b["parts"] for b in results["benchmarks"] if "parts" in b}


def fmt_parts(per_item, p):
    return (f"  = frames {p['frames_block']:.0f} (packed from {p['frames']:.0f})"
            f" + their shape {p['frames_shape']:.0f} + C slice {p['c_slice_block']:.0f} + tasklet object {p['object']:.0f}"
            f" + core {p['core']:.0f} + entry frames {p.get('entry_frames', 0):.0f}"
            f" + other {round(p['other'])};"
            f" bound frames + C slice + tasklet + 512 = {p['bound']:.0f}"
            f" ({'met' if per_item <= p['bound'] else 'NOT met'})")


def fmt_bytes(b):
    return f"{b:.0f}"


def grouped_table(groups, values, column, fmt, markdown):
    """One block per group present in `values`: each row's value (shown by `fmt`) and
    its ratio to the group's reference, measured in the same run."""
    lines = []
    for title, ref, names in groups:
        present = [n for n in names if n in values]
        # (A group of peers alone — greenlet measured on a version the module is not
        # ported to — compares nothing.)
        if not any(n != ref and n.partition("@")[0] not in PEERS for n in present):
            continue
        ref_value = values.get(ref)
        ref_label = label(ref, present[-1])
        if markdown:
            lines += [f"**{title}** (ratio against {ref_label}, same run)", "",
                      f"| method | {column} | ratio |", "|---|---:|---:|"]
        else:
            lines += [f"{title} — ratio against {ref_label}, same run",
                      f"  {'method':<36} {column:>12} {'ratio':>8}"]
        for n in present:
            ratio = f"{values[n] / ref_value:.2f}x" if ref_value else "-"
            text = label(n, present[-1])
            if markdown:
                lines.append(f"| {text} | {fmt(values[n])} | {ratio} |")
            else:
                lines.append(f"  {text:<36} {fmt(values[n]):>12} {ratio:>8}")
        lines.append("")
    return "\n".join(lines)


def memory_table(sizes, markdown):
    return grouped_table(all_groups(MEMORY_GROUPS, sizes), sizes, "bytes each", fmt_bytes,
                         markdown)


def table(times, markdown):
    return grouped_table(all_groups(GROUPS, times), times, "one switch", fmt_ns, markdown)


def chart(times, path):
    """One horizontal bar per method, log scale: switch cost at a glance; the C++ rows,
    then the Python rows of each CPython measured (host first), each part by cost."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    def chart_label(n):
        if not n.startswith("PY_"):
            return "C++: " + label(n)
        base, _, version = n.partition("@")
        return f"Python {version or HOST_PYTHON}: " + LABELS.get(base, base)

    # Switches only, each method once (a group's reference may appear in another group;
    # BM_raw_slp_jump is the same routine as the arch table's BM_slp_jump).
    names = dict.fromkeys(n for title, _, group in all_groups(GROUPS, times)
                          if "pickle" not in title for n in group)
    sections = ["C++", HOST_PYTHON] + python_versions(times)

    def section(n):
        if not n.startswith("PY_"):
            return 0
        return sections.index(n.partition("@")[2] or HOST_PYTHON)

    def peer(n):
        return n.partition("@")[0] in PEERS or n.startswith("PY_greenlet")

    # (Versions with peers alone, the module not ported there, are left out.)
    measured = {section(n) for n in names if n in times and not peer(n)}
    rows = [(chart_label(n), times[n], peer(n), section(n)) for n in names
            if n in times and not n.startswith("BM_create_run_finish") and n != "BM_raw_slp_jump"
            and section(n) in measured]
    rows.sort(key=lambda r: (r[3], r[1]))
    colors = {False: "#1b9e77", True: "#d95f02"}  # slp, peer
    fig, ax = plt.subplots(figsize=(9, 0.42 * len(rows) + 1.4))
    y = range(len(rows))
    ax.barh(list(y), [r[1] for r in rows], color=[colors[r[2]] for r in rows])
    ax.set_yticks(list(y), [r[0] for r in rows])
    ax.invert_yaxis()
    ax.set_xscale("log")
    ax.set_xlabel("time of one switch (ns, log scale; shorter is better)")
    for i, r in enumerate(rows):
        ax.text(r[1] * 1.08, i, fmt_ns(r[1]), va="center", fontsize=8)
    ax.set_xlim(right=max(r[1] for r in rows) * 6)
    handles = [plt.Rectangle((0, 0), 1, 1, color=c) for c in colors.values()]
    ax.legend(handles, ["slp", "peer"], loc="upper right", fontsize=8)
    ax.set_title("slp: switch cost, one run (Python rows by CPython version)")
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def cpu_model(path="/proc/cpuinfo"):
    """The CPU the figures come from: model name, family and model, as /proc/cpuinfo
    says (x86; other CPUs: what it has), and how many logical CPUs."""
    fields, count = {}, 0
    try:
        with open(path) as f:
            for line in f:
                key, _, value = line.partition(":")
                key, value = key.strip(), value.strip()
                if key == "processor":
                    count += 1
                fields.setdefault(key, value)
    except OSError:
        return "unknown CPU (no /proc/cpuinfo)"
    name = fields.get("model name") or fields.get("uarch") or fields.get("isa") or "unknown CPU"
    detail = []
    if "cpu family" in fields:
        detail.append(f"family {fields['cpu family']}")
    if "model" in fields:
        detail.append(f"model {fields['model']}")
    detail.append(f"{count} logical CPUs")
    return f"{name} ({', '.join(detail)})"


# The shapes the time targets are measured on (printed beside each target).
SHAPE_JUMP = "ping-pong of two contexts on their own stacks, same loop for both"
SHAPE_PREBOUND = "receive = ch.receive bound once, one channel, 2 tasklets"
SHAPE_PINGPONG = ("a.send(i); b.receive() | b.send(a.receive()), channels looked up in the "
                  "loop, two channels, 2 tasklets; floor: int.__round__ in their place")
SHAPE_MEMORY = "f1()..f5(): 5 frames, each calling the next, no locals (memory per blocked tasklet)"
# What the switch adds to the loop that carries it, (time - floor) / greenlet switch, on
# each shape: (benchmark without its /kind, its floor, what the row says, the shape).
SWITCH_ADDED = [
    ("PY_pingpong_ordinary", "PY_pingpong_ordinary_floor", "ping-pong", SHAPE_PINGPONG),
    ("PY_pingpong_ordinary_deep", "PY_pingpong_ordinary_floor",
     f"ping-pong {DEEP_FRAMES} frames deep", SHAPE_PINGPONG),
    ("PY_pingpong_nopayload", "PY_pingpong_nopayload_floor", "ping-pong, None sent",
     "a.send(None); b.receive() | a.receive(); b.send(None), channels looked up in the loop, "
     "two channels, 2 tasklets; floor: int.__round__ in their place"),
    ("PY_pingpong_bound", "PY_pingpong_bound_floor", "ping-pong, methods bound",
     "send = a.send; receive = b.receive bound once, send(i); receive() | send(receive()), "
     "two channels, 2 tasklets; floor: bound int.__round__ in their place"),
    ("PY_pingpong_onechannel", "PY_pingpong_onechannel_floor", "one channel",
     "ch.send(i) | ch.receive(), the channel looked up in the loop, one channel, "
     "2 tasklets; floor: int.__round__ in their place"),
    ("PY_stackless_channel", "PY_call_floor", "one channel, methods bound",
     SHAPE_PREBOUND + "; floor: a bound math.gcd in their place"),
    ("PY_schedule_ordinary", "PY_schedule_ordinary_floor", "schedule()",
     "stackless.schedule() looked up on the module in the loop, 2 tasklets; floor: "
     "math.gcd() in its place"),
    ("PY_schedule_global", "PY_schedule_global_floor", "schedule(), global",
     "schedule() bound by `from stackless import schedule`, 2 tasklets; floor: gcd() bound "
     "by `from math import gcd`"),
    ("PY_stackless_schedule/2", "PY_schedule_bound_floor", "schedule(), local",
     "schedule = stackless.schedule bound to a local, 2 tasklets; floor: a local math.gcd"),
]


def ratio_target(times, label, num, den, target, shape, floor=None, fmt=".2f"):
    """('label = ratio (target: <= target)', shape) if both figures were measured; with
    `floor`, the ratio is (num - floor) / den: what the switch adds to its loop."""
    if num not in times or den not in times or (floor is not None and floor not in times):
        return None
    value = times[num] - (times[floor] if floor is not None else 0.0)
    goal = f" (target: <= {target})" if target else ""
    return f"{label} = {value / times[den]:{fmt}}{goal}", shape


def python_time_targets(times, version=HOST_PYTHON):
    """The time targets of the Python rows of CPython `version` (the channel switch and
    the switch-added cost of each loop), each against that version's greenlet peer
    (greenlet_peer: on a CPython without greenlet, greenlet on the next version of the same
    run, said in each row); rows of another version than the host's are named by their
    version. Returns (text, shape) pairs, None where a figure was not measured."""
    g, peer_version = greenlet_peer(times, version)
    prefix = "" if version == HOST_PYTHON else f"CPython {version}: "
    whose = "" if peer_version == version else f" on CPython {peer_version}"

    def row(what, name, target, shape, floor=None):
        return ratio_target(times, f"{prefix}{what} / greenlet switch{whose}", at(name, version),
                            g, target, shape, floor=floor and at(floor, version))

    rows = [row(f"stackless channel ({kind})", f"PY_stackless_channel/{kind}", "0.20",
                SHAPE_PREBOUND) for kind in ("own", "copied")]
    floor = at("PY_call_floor", version)
    if g in times and floor in times:
        rows.append((f"{prefix}ping-pong floor without switching / greenlet switch{whose} = "
                     f"{times[floor] / times[g]:.2f} (the channel target 0.20 is out "
                     f"of reach when this exceeds it)", SHAPE_PREBOUND))
    for name, floor, what, shape in SWITCH_ADDED:
        for kind in ("own", "copied"):
            rows.append(row(f"switch-added, {what} ({kind})", f"{name}/{kind}", "0.10", shape,
                            floor=floor))
    return rows


def under_shapes(rows):
    """Lines of (text, shape) `rows` (None: not measured), each shape named once above the
    rows measured on it."""
    lines, last_shape = [], None
    for text, shape in filter(None, rows):
        if shape != last_shape:
            lines.append(f"[measured on: {shape}]")
            last_shape = shape
        lines.append(text)
    return lines


def time_targets(times):
    """The time targets, each under the shape it was measured on (the Python rows: the
    host's CPython)."""
    rows = [ratio_target(times, "slp_jump / jump_fcontext", "BM_slp_jump", "BM_boost_fcontext",
                         "1.00", SHAPE_JUMP),
            ratio_target(times, "slp_ontop / ontop_fcontext", "BM_slp_ontop", "BM_boost_ontop",
                         "1.00", SHAPE_JUMP + ", an identity function on top")]
    rows += python_time_targets(times)
    rows.append(ratio_target(times, "channel ping-pong (own stack) / raw slp_jump",
                             "BM_pingpong/own_stack", "BM_raw_slp_jump", "3",
                             "C++ channel<int>, one send and one receive per round trip, "
                             "2 tasklets", fmt=".1f"))
    rows.append(ratio_target(times, "soft switch / hard switch (own stack)", "BM_soft_switch",
                             "BM_hard_switch/own_stack", "0.33",
                             "C++ schedule() between 2 tasklets, soft against own-stack"))
    return under_shapes(rows)


def version_targets(times, sizes):
    """The Python targets again on each other CPython measured, as time_targets gives
    them for the host's (the channel switch and the switch-added cost, each under its
    shape), then a blocked tasklet at most a third of a suspended greenlet's memory
    (5 frames); each against the greenlet peer of that version."""
    lines = []
    for v in sorted(set(python_versions(times)) | set(python_versions(sizes)),
                    key=lambda v: tuple(map(int, v.split(".")))):
        rows = python_time_targets(times, v)
        gpeer, gversion = greenlet_peer(sizes, v, "PY_mem_greenlet")
        gm = sizes.get(gpeer)
        tm = sizes.get(at("PY_mem_stackless/copied", v))
        if gm and tm:
            whose = "" if gversion == v else f" on CPython {gversion}"
            rows.append((f"CPython {v}: blocked tasklet (copied) / suspended greenlet{whose} "
                         f"memory, f1()..f5() = {tm / gm:.2f} (target: <= 0.33)", SHAPE_MEMORY))
        lines += under_shapes(rows)
    return lines


def memory_targets(sizes, parts, version, only_targets=False):
    """Each frame shape's memory against a suspended greenlet on CPython `version` (its
    greenlet peer: greenlet_peer), with the target of its depth (only the depths that have
    one, if asked), and where the bytes are against the bound when they were measured."""
    lines = []
    prefix = "" if version == HOST_PYTHON else f"CPython {version}: "
    for key in MEMORY_SHAPES:
        for d in SHAPE_DEPTHS[key]:
            target = MEMORY_TARGETS.get(d)
            name = at(f"PY_mem_stackless/copied/{key}/{d}", version)
            gpeer, gversion = greenlet_peer(sizes, version, f"PY_mem_greenlet/{key}/{d}")
            gm, tm = sizes.get(gpeer), sizes.get(name)
            if not (gm and tm) or (only_targets and not target):
                continue
            whose = "" if gversion == version else f" on CPython {gversion}"
            lines.append(f"{prefix}blocked tasklet (copied) / suspended greenlet{whose} memory, "
                         f"{MEMORY_SHAPES[key].format(d=d)} = {tm / gm:.2f} "
                         + (f"(target: <= {target})" if target else "(no target at this depth)"))
            if name in parts:
                lines.append(fmt_parts(tm, parts[name]))
    return lines


def main(argv):
    if len(argv) < 2:
        sys.exit(__doc__)
    files = [a for a in argv[1:] if a.endswith(".json")]
    not_ported = [argv[i + 1] for i, a in enumerate(argv) if a == "--not-ported"]
    results = {"benchmarks": []}
    for path in files:
        version, sep, rest = path.partition(":")
        version, path = (version, rest) if sep and re.fullmatch(r"\d+\.\d+", version) else \
            (HOST_PYTHON, path)
        with open(path) as f:
            for b in json.load(f)["benchmarks"]:
                for key in ("name", "run_name"):
                    if key in b:
                        b[key] = at(b[key], version)
                results["benchmarks"].append(b)
    times = per_switch_ns(results)
    sizes = per_item_bytes(results)
    parts = memory_parts(results)
    if not times:
        sys.exit(f"report.py: no benchmark with a 'switch' counter in {' '.join(files)}")
    print(f"Measured on: {cpu_model()}\n")
    print(table(times, "--markdown" in argv))
    if sizes:
        print(memory_table(sizes, "--markdown" in argv))
    for v in not_ported:
        print(f"CPython {v}: not ported yet (the module does not build for it; "
              f"python/src/cpython/VERSIONS)\n")
    if "--chart" in argv:
        out = argv[argv.index("--chart") + 1]
        chart(times, out)
        print(f"chart: {out}")
    for line in time_targets(times):
        print(line)
    for line in version_targets(times, sizes):
        print(line)
    if "BM_memory_per_blocked_tasklet/soft" in sizes:
        print(f"blocked soft tasklet = "
              f"{sizes['BM_memory_per_blocked_tasklet/soft']:.0f} bytes (target: <= 256)")
    if "BM_memory_per_blocked_tasklet/copied_stack" in sizes:
        print(f"blocked copied-stack tasklet = "
              f"{sizes['BM_memory_per_blocked_tasklet/copied_stack']:.0f} bytes (target: < 1024)")
    gm = sizes.get("PY_mem_greenlet")
    tm = sizes.get("PY_mem_stackless/copied")
    if gm and tm:
        print(f"blocked tasklet (copied) / suspended greenlet memory, f1()..f5() = {tm / gm:.2f} "
              f"(target: <= 0.33)")
    for line in memory_targets(sizes, parts, HOST_PYTHON):
        print(line)
    for v in python_versions(sizes):
        for line in memory_targets(sizes, parts, v, only_targets=True):
            print(line)


if __name__ == "__main__":
    main(sys.argv)

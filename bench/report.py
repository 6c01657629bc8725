#!/usr/bin/python3
"""Turn Google Benchmark JSON into the README's latency table (and ratios).

Usage: report.py RESULTS.json [MORE.json ...] [--markdown] [--chart OUT.svg]

Several result files (slp_bench's, and the Python benchmarks' from bench/python/) are
merged into one table.

Every benchmark reports the counter `switch`: seconds per ONE switch (one direction).
Rows are grouped, and each group names the peer its ratios are taken against, measured
in the same run; absolute times on a shared machine are noise, ratios are the result.
"""
import json
import sys

# (group title, reference benchmark, [benchmarks in display order])
GROUPS = [
    ("Raw context switch (arch layer)", "BM_boost_fcontext",
     ["BM_slp_jump", "BM_boost_fcontext", "BM_ucontext",
      "BM_slp_switch/0", "BM_slp_switch/1024", "BM_slp_switch/8192", "BM_slp_switch/65536"]),
    ("Python (CPython 3.11): stackless against greenlet, asyncio, threads", "PY_greenlet_switch",
     ["PY_greenlet_switch", "PY_stackless_channel/own", "PY_stackless_channel/copied",
      "PY_stackless_schedule/2/own", "PY_stackless_schedule/2/copied",
      "PY_stackless_schedule/10000/own", "PY_stackless_schedule/10000/copied",
      "PY_greenlet_channel", "PY_asyncio_queue", "PY_threads_semaphore"]),
]

# Memory rows (counter `bytes`: per blocked tasklet), with their reference.
MEMORY_GROUPS = [
    ("Python: memory per blocked tasklet, five frames deep", "PY_mem_greenlet",
     ["PY_mem_greenlet", "PY_mem_stackless/copied", "PY_mem_stackless/own"]),
]

# Benchmarks of other projects (drawn in another colour than slp's).
PEERS = {"BM_boost_fcontext", "BM_ucontext", "PY_greenlet_switch", "PY_greenlet_channel",
         "PY_asyncio_queue", "PY_threads_semaphore"}

LABELS = {
    "BM_slp_jump": "slp_jump (own stack)",
    "BM_boost_fcontext": "Boost.Context jump_fcontext",
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
    "PY_greenlet_channel": "greenlet channel in Python",
    "PY_asyncio_queue": "asyncio.Queue ping-pong",
    "PY_threads_semaphore": "threads, Semaphore ping-pong",
    "PY_mem_greenlet": "greenlet, suspended",
    "PY_mem_stackless/copied": "stackless, copied stacks",
    "PY_mem_stackless/own": "stackless, own stacks",
}


def per_switch_ns(results):
    """name -> ns per switch; with repetitions, the median."""
    out = {}
    for b in results["benchmarks"]:
        name = b["run_name"] if "run_name" in b else b["name"]
        if b.get("run_type") == "aggregate" and b.get("aggregate_name") != "median":
            continue
        if "switch" not in b:
            continue
        if b.get("run_type") == "aggregate" or name not in out:
            out[name] = b["switch"] * 1e9
    return out


def per_item_bytes(results):
    """name -> bytes per item (memory benchmarks)."""
    return {b["name"]: b["bytes"] for b in results["benchmarks"] if "bytes" in b}


def memory_table(sizes, markdown):
    lines = []
    for title, ref, names in MEMORY_GROUPS:
        present = [n for n in names if n in sizes]
        if not present:
            continue
        ref_b = sizes.get(ref)
        ref_label = LABELS.get(ref, ref)
        if markdown:
            lines += [f"**{title}** (ratio against {ref_label}, same run)", "",
                      "| method | bytes each | ratio |", "|---|---:|---:|"]
        else:
            lines += [f"{title} — ratio against {ref_label}, same run",
                      f"  {'method':<36} {'bytes each':>12} {'ratio':>8}"]
        for n in present:
            ratio = f"{sizes[n] / ref_b:.2f}x" if ref_b else "-"
            label = LABELS.get(n, n)
            if markdown:
                lines.append(f"| {label} | {sizes[n]:.0f} | {ratio} |")
            else:
                lines.append(f"  {label:<36} {sizes[n]:>12.0f} {ratio:>8}")
        lines.append("")
    return "\n".join(lines)


def fmt_ns(ns):
    return f"{ns / 1000:.2f} µs" if ns >= 1000 else f"{ns:.1f} ns"


def table(times, markdown):
    lines = []
    for title, ref, names in GROUPS:
        present = [n for n in names if n in times]
        if not present:
            continue
        ref_ns = times.get(ref)
        ref_label = LABELS.get(ref, ref)
        if markdown:
            lines += [f"**{title}** (ratio against {ref_label}, same run)", "",
                      "| method | one switch | ratio |", "|---|---:|---:|"]
        else:
            lines += [f"{title} — ratio against {ref_label}, same run",
                      f"  {'method':<36} {'one switch':>12} {'ratio':>8}"]
        for n in present:
            ratio = f"{times[n] / ref_ns:.2f}x" if ref_ns else "-"
            label = LABELS.get(n, n)
            if markdown:
                lines.append(f"| {label} | {fmt_ns(times[n])} | {ratio} |")
            else:
                lines.append(f"  {label:<36} {fmt_ns(times[n]):>12} {ratio:>8}")
        lines.append("")
    return "\n".join(lines)


def chart(times, path):
    """One horizontal bar per method, log scale: switch cost at a glance."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = [(LABELS.get(n, n), times[n], n in PEERS)
            for _, _, names in GROUPS for n in names if n in times]
    rows.sort(key=lambda r: r[1])
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
    ax.set_title("slp: switch cost per method, measured in one run")
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def main(argv):
    if len(argv) < 2:
        sys.exit(__doc__)
    files = [a for a in argv[1:] if a.endswith(".json")]
    results = {"benchmarks": []}
    for path in files:
        with open(path) as f:
            results["benchmarks"] += json.load(f)["benchmarks"]
    times = per_switch_ns(results)
    sizes = per_item_bytes(results)
    if not times:
        sys.exit(f"report.py: no benchmark with a 'switch' counter in {' '.join(files)}")
    print(table(times, "--markdown" in argv))
    if sizes:
        print(memory_table(sizes, "--markdown" in argv))
    if "--chart" in argv:
        out = argv[argv.index("--chart") + 1]
        chart(times, out)
        print(f"chart: {out}")
    if "BM_slp_jump" in times and "BM_boost_fcontext" in times:
        print(f"slp_jump / jump_fcontext = "
              f"{times['BM_slp_jump'] / times['BM_boost_fcontext']:.2f} (target: <= 1.00)")
    g = times.get("PY_greenlet_switch")
    for kind in ("own", "copied"):
        ch = times.get(f"PY_stackless_channel/{kind}")
        if g and ch:
            print(f"stackless channel ({kind}) / greenlet switch = {ch / g:.2f} (target: <= 0.20)")
    gm = sizes.get("PY_mem_greenlet")
    tm = sizes.get("PY_mem_stackless/copied")
    if gm and tm:
        print(f"blocked tasklet (copied) / suspended greenlet memory = {tm / gm:.2f} (target: <= 0.33)")


if __name__ == "__main__":
    main(sys.argv)

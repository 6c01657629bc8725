#!/usr/bin/python3
"""Turn Google Benchmark JSON into the README's latency table (and ratios).

Usage: report.py RESULTS.json [--markdown]

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
]

LABELS = {
    "BM_slp_jump": "slp_jump (own stack)",
    "BM_boost_fcontext": "Boost.Context jump_fcontext",
    "BM_ucontext": "glibc swapcontext",
    "BM_slp_switch/0": "slp_switch, 0 B live stack",
    "BM_slp_switch/1024": "slp_switch, 1 KiB live stack",
    "BM_slp_switch/8192": "slp_switch, 8 KiB live stack",
    "BM_slp_switch/65536": "slp_switch, 64 KiB live stack",
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


def main(argv):
    if len(argv) < 2:
        sys.exit(__doc__)
    with open(argv[1]) as f:
        results = json.load(f)
    times = per_switch_ns(results)
    if not times:
        sys.exit(f"report.py: no benchmark with a 'switch' counter in {argv[1]}")
    print(table(times, "--markdown" in argv))
    if "BM_slp_jump" in times and "BM_boost_fcontext" in times:
        print(f"slp_jump / jump_fcontext = "
              f"{times['BM_slp_jump'] / times['BM_boost_fcontext']:.2f} (target: <= 1.00)")


if __name__ == "__main__":
    main(sys.argv)

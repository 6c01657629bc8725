"""bench/report.py's Targets block: every target row the host's CPython gets, each other
CPython measured gets too, against its greenlet peer (3.13: greenlet on the next version
of the same run, named in each row). Run by ctest (bench_report) with /usr/bin/python3, as
scripts/bench runs report.py."""
import json
import subprocess
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
import report  # noqa: E402

GREENLET = {"3.11": 100.0, "3.14": 50.0, "3.15": 40.0}  # ns per switch; 3.13 has none


def python_times(version, scale):
    """Every Python row the targets read, for one CPython: the slp rows (the channel
    switch among them) 30 + 2*scale ns over their floor of 20 + scale ns (distinct per
    version, so a mix-up shows)."""
    names = {"PY_call_floor": 20.0 + scale}
    for name, floor, _, _ in report.SWITCH_ADDED:
        names[floor] = 20.0 + scale
        for kind in ("own", "copied"):
            names[f"{name}/{kind}"] = 20.0 + scale + 30.0 + 2 * scale
    if version in GREENLET:
        names["PY_greenlet_switch"] = GREENLET[version]
    return {report.at(n, version): v for n, v in names.items()}


SCALES = {"3.11": 0.0, "3.13": 5.0, "3.14": 1.0, "3.15": 2.0}


@pytest.fixture
def times():
    out = {}
    for version, scale in SCALES.items():
        out.update(python_times(version, scale))
    return out


def added(version, peer):
    return f"{(30.0 + 2 * SCALES[version]) / GREENLET[peer]:.2f}"


def test_host_rows_carry_no_version(times):
    lines = report.time_targets(times)
    rows = [line for line in lines if line.startswith("switch-added, schedule() (own)")]
    assert rows == [f"switch-added, schedule() (own) / greenlet switch = {added('3.11', '3.11')}"
                    " (target: <= 0.10)"]
    assert not any("CPython" in line for line in lines)


@pytest.mark.parametrize("version,peer", [("3.13", "3.14"), ("3.14", "3.14"), ("3.15", "3.15")])
def test_every_switch_added_target_on_every_version(times, version, peer):
    lines = report.version_targets(times, {})
    whose = "" if peer == version else f" on CPython {peer}"
    for _, _, what, _ in report.SWITCH_ADDED:
        for kind in ("own", "copied"):
            row = (f"CPython {version}: switch-added, {what} ({kind}) / greenlet switch{whose}"
                   f" = {added(version, peer)} (target: <= 0.10)")
            assert lines.count(row) == 1, row
    channel = f"{(50.0 + 3 * SCALES[version]) / GREENLET[peer]:.2f}"
    assert (f"CPython {version}: stackless channel (own) / greenlet switch{whose} = {channel}"
            " (target: <= 0.20)") in lines


def test_each_version_row_under_its_shape(times):
    lines = report.version_targets(times, {})
    for _, _, what, shape in report.SWITCH_ADDED:
        row = next(i for i, line in enumerate(lines)
                   if line.startswith(f"CPython 3.13: switch-added, {what} (own)"))
        header = next(line for line in reversed(lines[:row]) if line.startswith("[measured on"))
        assert header == f"[measured on: {shape}]"


def test_a_row_without_its_floor_is_left_out(times):
    del times[report.at("PY_schedule_ordinary_floor", "3.13")]
    lines = report.version_targets(times, {})
    assert not any(line.startswith("CPython 3.13: switch-added, schedule() (") for line in lines)
    assert any(line.startswith("CPython 3.14: switch-added, schedule() (") for line in lines)


def test_no_greenlet_peer_no_ratio(times):
    """3.13 is compared with greenlet on a later version of the same run; with none
    measured it gets no ratio (and 3.14, without its own, takes 3.15's)."""
    for version in ("3.14", "3.15"):
        del times[report.at("PY_greenlet_switch", version)]
    lines = report.version_targets(times, {})
    assert not any(line.startswith("CPython 3.13:") for line in lines)
    assert not any(line.startswith("CPython 3.14:") for line in lines)
    times[report.at("PY_greenlet_switch", "3.15")] = GREENLET["3.15"]
    lines = report.version_targets(times, {})
    assert (f"CPython 3.14: switch-added, schedule() (copied) / greenlet switch on CPython 3.15"
            f" = {added('3.14', '3.15')} (target: <= 0.10)") in lines
    assert any(line.startswith("CPython 3.13: switch-added, schedule() (copied) / greenlet "
                               "switch on CPython 3.15") for line in lines)


def test_report_prints_them_from_result_files(tmp_path, times):
    """The whole command, as scripts/bench runs it: VERSION:FILE results."""
    by_version = {}
    for name, value in times.items():
        base, _, version = name.partition("@")
        by_version.setdefault(version or report.HOST_PYTHON, []).append(
            {"name": base, "run_name": base, "switch": value * 1e-9})
    args = []
    for version, benchmarks in by_version.items():
        path = tmp_path / f"py_switch_{version}.json"
        path.write_text(json.dumps({"benchmarks": benchmarks}))
        args.append(str(path) if version == report.HOST_PYTHON else f"{version}:{path}")
    out = subprocess.run([sys.executable, str(Path(report.__file__)), *args],
                         capture_output=True, text=True, check=True).stdout
    for version, peer in (("3.13", " on CPython 3.14"), ("3.14", ""), ("3.15", "")):
        assert (f"CPython {version}: switch-added, ping-pong (own) / greenlet switch{peer} = "
                f"{added(version, peer[-4:] or version)} (target: <= 0.10)") in out
    assert (f"switch-added, ping-pong (own) / greenlet switch = {added('3.11', '3.11')} "
            "(target: <= 0.10)") in out


def test_memory_target_under_its_own_shape(times):
    sizes = {report.at("PY_mem_greenlet", "3.14"): 8000.0,
             report.at("PY_mem_stackless/copied", "3.13"): 2000.0}
    lines = report.version_targets(times, sizes)
    row = lines.index("CPython 3.13: blocked tasklet (copied) / suspended greenlet on CPython "
                      "3.14 memory, f1()..f5() = 0.25 (target: <= 0.33)")
    assert lines[row - 1] == f"[measured on: {report.SHAPE_MEMORY}]"

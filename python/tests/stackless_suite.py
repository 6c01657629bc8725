"""Stackless Python's own unit tests against the built module (a ctest test).

usage: stackless_suite.py PYTHON SITE_DIR SOURCE_DIR

Finds the tests: $STACKLESS_TESTS_DIR (the stackless-unittests folder; its runner
run_stackless_suite.sh beside it, or in SOURCE_DIR/../shared/peer), else
SOURCE_DIR/../shared/peer. Neither: says so and exits 77 (ctest: skipped). Runs the
runner (one process per test file, in a temporary copy of the tests: nothing is written
where they are) and fails on any crashed or hung test file, and on fewer passes than
the agreed floor in stackless_suite_floor.txt beside this file. A test that hangs
because the runner's stub of Stackless's C-API test extension raised NotApplicable in a
helper thread (the thread died before it signalled) is not applicable, not a crash: it
is listed, and does not fail the run.

The runner runs each test's hard-switching variant (NAME_H). Some of those assert a
limit of Stackless's hard switching: an unpickled tasklet cannot run with soft switching
disabled (`assertRaises(RuntimeError, ip.run)`). The module runs it, so they fail; their
soft-switching twins (NAME) run the restored tasklet and check its results. Those twins
run in a second pass and must all pass; the report counts them beside the runner's
line (N passed, M failed, K skipped, E errors, C crashed files), and gives the share of
the applicable test cases that pass: not applicable are only the patched interpreter's
internals, listed in stackless_suite_not_applicable.txt beside this file.
"""
import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path

SKIP = 77
FLOOR_FILE = Path(__file__).with_name("stackless_suite_floor.txt")
NOT_APPLICABLE_FILE = Path(__file__).with_name("stackless_suite_not_applicable.txt")
SUMMARY = re.compile(r"^(\d+) passed, (\d+) failed, (\d+) skipped, (\d+) errors, "
                     r"(\d+) crashed files$")
# How the runner reports a hard-switching variant that expected Stackless's refusal to
# run an unpickled tasklet (the module ran it).
# A test case the runner counts as failed or as an error (a CRASH line is one of its
# errors; an EXIT-CRASH line names a file, not a test case, and is in no count).
NOT_PASSED = re.compile(r"^(?:FAIL|ERROR|CRASH) (\S+)(?: (.*))?$")
# What the runner's stub of Stackless's C-API test extension raises.
STUB_RAISED = "NotApplicable: _teststackless."
HARD_ONLY_REFUSAL = re.compile(r"^FAIL (\S+)_H AssertionError: RuntimeError not raised by run$")


def find_suite(source_dir):
    """(runner, tests folder), or None."""
    peer = Path(source_dir).resolve().parent / "shared" / "peer"
    tests = os.environ.get("STACKLESS_TESTS_DIR")
    if tests:
        tests = Path(tests)
        for runner in (tests.parent / "run_stackless_suite.sh", peer / "run_stackless_suite.sh"):
            if runner.is_file() and (tests / "support.py").is_file():
                return runner, tests
        return None
    runner = peer / "run_stackless_suite.sh"
    tests = peer / "stackless-unittests"
    if runner.is_file() and (tests / "support.py").is_file():
        return runner, tests
    return None


def not_applicable(crash_line, logs):
    """Whether the process behind a CRASH line died of the runner's NotApplicable stub."""
    m = re.search(r"see (\S+\.err)", crash_line)
    if m is None:
        return False
    err = Path(logs) / m.group(1)
    try:
        text = err.read_text(errors="replace")
    except OSError:
        return False
    return "\n" + STUB_RAISED in text and "hang" in crash_line


def run_suite(runner, tests, python, site, logs, **extra):
    """The runner's output lines and its summary match (None: it printed none)."""
    env = dict(os.environ, STACKLESS_TESTS_DIR=str(tests), SLP_LOG_DIR=logs, **extra)
    env.setdefault("SLP_FILE_TIMEOUT", "300")
    out = subprocess.run(["bash", str(runner), python, site], env=env,
                         stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                         stdin=subprocess.DEVNULL)
    lines = out.stdout.strip().splitlines()
    return out.stdout, lines, (SUMMARY.match(lines[-1]) if lines else None)


def soft_twins(lines):
    """The soft-switching twins (test ids) of the hard variants that expected the refusal."""
    return sorted({m.group(1) for m in map(HARD_ONLY_REFUSAL.match, lines) if m})


def run_soft_twins(runner, tests, python, site, twins):
    """Runs the twins alone (SLP_SOFT_VARIANTS=run, SLP_ONLY naming each): how many
    passed, and the runner's lines for those that did not."""
    files = sorted({t.split(".", 1)[0] + ".py" for t in twins})
    only = "^(" + "|".join(re.escape(t) for t in twins) + ")$"
    with tempfile.TemporaryDirectory(prefix="slp-stackless-twins-") as logs:
        _, lines, m = run_suite(runner, tests, python, site, logs, SLP_SOFT_VARIANTS="run",
                                SLP_TESTS=" ".join(files), SLP_ONLY=only)
    if m is None:
        return 0, ["the runner printed no summary line for the soft twins"]
    bad = [ln for ln in lines if ln.startswith(("FAIL ", "ERROR ", "CRASH ", "EXIT-CRASH "))]
    return int(m.group(1)), bad


def not_applicable_prefixes():
    """The test id prefixes of stackless_suite_not_applicable.txt."""
    prefixes = []
    for line in NOT_APPLICABLE_FILE.read_text().splitlines():
        if line.strip() and not line.startswith("#"):
            prefixes.append(line.split("  ", 1)[0].strip())
    return tuple(prefixes)


def count_not_applicable(lines, stub_hangs):
    """How many not-passed test cases are the patched interpreter's internals (the
    runner's crash lines in `stub_hangs` are: the stub's NotApplicable ended a thread)."""
    prefixes = not_applicable_prefixes()
    count = len(stub_hangs)
    for m in map(NOT_PASSED.match, lines):
        if m and m.group(0) in stub_hangs:
            continue
        if m and (m.group(1).startswith(prefixes)
                  or STUB_RAISED in (m.group(2) or "")):
            count += 1
    return count


def floor():
    for line in FLOOR_FILE.read_text().splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            return int(line)
    raise SystemExit(f"no pass count in {FLOOR_FILE}")


def main():
    python, site, source = sys.argv[1:4]
    found = find_suite(source)
    if found is None:
        print("Stackless's own tests not found (neither $STACKLESS_TESTS_DIR nor "
              f"{Path(source).resolve().parent / 'shared' / 'peer'}): skipped")
        return SKIP
    runner, tests = found
    with tempfile.TemporaryDirectory(prefix="slp-stackless-suite-") as logs:
        text, lines, m = run_suite(runner, tests, python, site, logs)
        print(text, end="")
        if m is None:
            print("the runner printed no summary line: failed")
            return 1
        crashes = [ln for ln in lines if ln.startswith(("CRASH ", "EXIT-CRASH "))]
        real = [ln for ln in crashes if not not_applicable(ln, logs)]
    passed = int(m.group(1))
    failed = False
    for ln in crashes:
        if ln not in real:
            print("not applicable (the C-API stub raised NotApplicable in a thread):", ln[:160])
    if real:
        print(f"FAILED: {len(real)} test cases crashed or hung")
        failed = True
    twins = soft_twins(lines)
    twins_passed = 0
    if twins:
        twins_passed, bad = run_soft_twins(runner, tests, python, site, twins)
        print(f"{len(twins)} hard-switching variants expect Stackless's refusal to run an "
              f"unpickled tasklet (the module runs it); their soft-switching twins, which "
              f"run it and check its results: {twins_passed} of {len(twins)} passed")
        for ln in bad:
            print("  " + ln[:200])
        if twins_passed < len(twins):
            print(f"FAILED: {len(twins) - twins_passed} soft-switching twins did not pass")
            failed = True
    applicable = int(m.group(1)) + int(m.group(2)) + int(m.group(4)) \
        - count_not_applicable(lines, [ln for ln in crashes if ln not in real])
    print(f"applicable test cases passed (the soft twins in place of the hard variants that "
          f"expect the refusal): {passed + twins_passed} of {applicable} "
          f"({100 * (passed + twins_passed) / applicable:.1f}%)")
    need = floor()
    if passed < need:
        print(f"FAILED: {passed} passed, fewer than the agreed {need} ({FLOOR_FILE.name})")
        failed = True
    elif passed > need:
        print(f"note: {passed} passed, more than the agreed {need}: raise {FLOOR_FILE.name}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())

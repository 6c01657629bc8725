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
is listed, and does not fail the run. The last line it prints is the runner's:
N passed, M failed, K skipped, E errors, C crashed files.
"""
import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path

SKIP = 77
FLOOR_FILE = Path(__file__).with_name("stackless_suite_floor.txt")
SUMMARY = re.compile(r"^(\d+) passed, (\d+) failed, (\d+) skipped, (\d+) errors, "
                     r"(\d+) crashed files$")


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
    return "\nNotApplicable: _teststackless." in text and "hang" in crash_line


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
        env = dict(os.environ, STACKLESS_TESTS_DIR=str(tests), SLP_LOG_DIR=logs)
        env.setdefault("SLP_FILE_TIMEOUT", "300")
        out = subprocess.run(["bash", str(runner), python, site], env=env,
                             stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                             stdin=subprocess.DEVNULL)
        print(out.stdout, end="")
        lines = out.stdout.strip().splitlines()
        m = SUMMARY.match(lines[-1]) if lines else None
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
    need = floor()
    if passed < need:
        print(f"FAILED: {passed} passed, fewer than the agreed {need} ({FLOOR_FILE.name})")
        failed = True
    elif passed > need:
        print(f"note: {passed} passed, more than the agreed {need}: raise {FLOOR_FILE.name}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())

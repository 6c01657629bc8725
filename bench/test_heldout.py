"""heldout.py runs on the module it is given and counts the switches its loops make: one
shape per loop kind (two tasklets, a pipeline, schedule() among 10, whose N items are 2N
calls), --quick, one process. No timing is checked: only that every row is there, with
the switches per item its loop must make and a verdict."""
import os
import re
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))

# shape word (--shapes) -> switches per item its loop makes (both stack kinds)
EXPECTED = {"attributes": 2.0, "pipeline of 3": 3.0, "among 10 tasklets": 2.0}


def test_rows_count_the_switches_each_loop_makes():
    out = subprocess.run(
        [sys.executable, os.path.join(HERE, "python", "heldout.py"), "--quick", "--only",
         "switch", "--processes", "1", "--shapes", ",".join(EXPECTED)],
        cwd=os.path.join(HERE, "python"), capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stderr
    rows = [line for line in out.stdout.splitlines() if re.search(r"(holds|MISSES)$", line)]
    for word, per_item in EXPECTED.items():
        mine = [r for r in rows if word in r]
        assert len(mine) == 2, (word, out.stdout)  # own and copied
        for r in mine:
            fields = r[52:].split()
            assert fields[0] in ("own", "copied")
            assert abs(float(fields[1]) - per_item) < 0.05, r

"""Mutated pickles of real frame snapshots never crash the interpreter.

Runs fuzz_frames.py: $SLP_FUZZ_FRAMES_COUNT cases (ctest's python_frames_tests sets
100,000: about two minutes on two cores; 10,000 when unset), each worker batch in its
own process so that a crash is seen and counted.
"""
import os
import subprocess
import sys

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))


@pytest.fixture
def stack_kind():
    """Overrides the stackless suite's autouse fixture (no tasklets here)."""
    yield None


def test_mutated_snapshot_pickles_never_crash():
    count = int(os.environ.get("SLP_FUZZ_FRAMES_COUNT", "10000"))
    p = subprocess.run([sys.executable, os.path.join(HERE, "fuzz_frames.py"), "--count",
                        str(count), "--quiet"], capture_output=True, text=True, timeout=1800)
    summary = [line for line in p.stdout.splitlines() if line.startswith("fuzz_frames:")]
    print("\n".join(summary))
    assert p.returncode == 0, p.stdout[-3000:] + p.stderr[-3000:]
    assert summary and " 0 crashes" in summary[-1] and " 0 hangs" in summary[-1]

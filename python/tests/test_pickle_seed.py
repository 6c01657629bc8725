"""The seed's "Pickling Program State" (examples/seed_pickle.py, verbatim): two
processes; the second resumes the tasklet the first pickled."""
import os
import pathlib
import subprocess
import sys

import stackless
from emulation import SLOWDOWN

ROOT = pathlib.Path(__file__).resolve().parents[2]
PROGRAM = ROOT / "examples" / "seed_pickle.py"
ENTER = ["enter level %s%d" % ("  " * n, n) for n in range(1, 10)]
LEAVE = ["leave level %s%d" % ("  " * n, n) for n in range(9, 0, -1)]


def _run(tmp_path, *args):
    env = dict(os.environ)
    env["PYTHONPATH"] = os.path.dirname(os.path.abspath(stackless.__file__))
    return subprocess.run([sys.executable, str(PROGRAM), *args], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=120 * SLOWDOWN)


def test_seed_pickle_two_processes(tmp_path):
    first = _run(tmp_path)
    assert first.returncode == 0, first.stderr
    assert first.stdout == "\n".join(ENTER + ["hi"] + LEAVE) + "\n"
    assert (tmp_path / "tasklet.pickle").exists()
    second = _run(tmp_path, "tasklet.pickle")
    assert second.returncode == 0, second.stderr
    assert second.stdout == "\n".join(LEAVE) + "\n"
    assert first.stderr == second.stderr == ""


def test_seed_pickle_file_is_the_seed_verbatim():
    seed = pathlib.Path("/work/shared/seed/seed_pickle.py")
    if seed.exists():
        assert PROGRAM.read_text() == seed.read_text()

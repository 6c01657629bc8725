"""A running tasklet moves between CPUs: ctest's python_migration runs this file with pytest.

The first process runs on one CPU and pickles; the second, on another CPU, loads and
continues. x86_64 is this machine's CPython 3.11 with the module of this build
(PYTHONPATH); aarch64, arm (32-bit) and s390x (big endian) are Debian's CPython 3.11 for
those CPUs under qemu-user, with the module cross-built from this tree
(scripts/python-on). Checked here:
  * the seed's "Pickling Program State" demo (examples/seed_pickle.py) across CPUs prints
    the seed's lines, line for line;
  * examples/checkpoint_demo.py killed after a checkpoint and restored on another CPU
    finishes with the result of an uninterrupted run;
  * the same tasklet state pickles to the same bytes on every CPU;
  * a pickle the target cannot resume (another CPython minor version, changed code) is
    refused there with a clear Python exception, and nothing runs."""
import os
import platform
import shutil
import subprocess
import sys

import pytest

from python_on_check import PYTHON_ON, SOURCE, gate_supports
EXAMPLES = os.path.join(SOURCE, "examples")
VERSION = "%d.%d" % sys.version_info[:2]

pytestmark = pytest.mark.skipif(platform.machine() != "x86_64" or VERSION != "3.11",
                                reason="the host side is x86_64 CPython 3.11")


@pytest.fixture(autouse=True)
def stack_kind():
    """No tasklets in this process: one run, not one per stack kind."""
    yield "own"


def python(cpu, version=VERSION):
    """The command that runs CPython `version` with the module on `cpu`, and its
    environment: this build's module for the host's 3.11, else scripts/python-on."""
    if cpu == "x86_64" and version == VERSION:
        return [sys.executable], dict(os.environ)
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    return [PYTHON_ON, cpu, version], env


def run(cpu, args, cwd, check=True, version=VERSION):
    cmd, env = python(cpu, version)
    out = subprocess.run(cmd + args, cwd=cwd, env=env, capture_output=True, text=True,
                         timeout=1800)
    if check:
        assert out.returncode == 0, "%s %s: exit %d\n%s" % (cpu, args, out.returncode, out.stderr)
    return out


# The seed's output (/work/shared/seed/README.md, checked against Stackless 3.7.5).
ENTER = ["enter level %s%d" % ("  " * level, level) for level in range(1, 10)]
LEAVE = ["leave level %s%d" % ("  " * level, level) for level in range(9, 0, -1)]


def seed_first(cpu, where, version=VERSION):
    where.mkdir(parents=True, exist_ok=True)
    shutil.copy(os.path.join(EXAMPLES, "seed_pickle.py"), where / "seed_pickle.py")
    out = run(cpu, ["seed_pickle.py"], where, version=version)
    assert out.stdout.splitlines() == ENTER + ["hi"] + LEAVE
    return where / "tasklet.pickle"


SEED_TRIPS = [("x86_64", "aarch64"), ("aarch64", "x86_64"), ("x86_64", "arm"),
              ("x86_64", "s390x"), ("s390x", "x86_64")]


@pytest.mark.parametrize("first,second", SEED_TRIPS, ids=["%s-%s" % t for t in SEED_TRIPS])
def test_seed_pickle_demo_across_cpus(tmp_path, first, second):
    pickled = seed_first(first, tmp_path / first)
    there = tmp_path / second
    there.mkdir(exist_ok=True)
    shutil.copy(os.path.join(EXAMPLES, "seed_pickle.py"), there / "seed_pickle.py")
    shutil.copy(pickled, there / "moved.pickle")
    out = run(second, ["seed_pickle.py", "moved.pickle"], there)
    assert out.stdout.splitlines() == LEAVE


@pytest.mark.skipif(not gate_supports("3.13"),
                    reason="the module does not build for CPython 3.13 yet (riscv64's is 3.13)")
@pytest.mark.skipif(os.geteuid() != 0, reason="x86_64 3.13 runs in a sid root: needs root")
def test_seed_pickle_demo_x86_64_to_riscv64_313(tmp_path):
    pickled = seed_first("x86_64", tmp_path / "x86_64", version="3.13")
    there = tmp_path / "riscv64"
    there.mkdir()
    shutil.copy(os.path.join(EXAMPLES, "seed_pickle.py"), there / "seed_pickle.py")
    shutil.copy(pickled, there / "moved.pickle")
    out = run("riscv64", ["seed_pickle.py", "moved.pickle"], there, version="3.13")
    assert out.stdout.splitlines() == LEAVE


def test_same_state_same_bytes_on_every_cpu(tmp_path):
    """The seed's tasklet, blocked nine frames deep, pickles to the same bytes on a 64-bit
    little-endian, a 32-bit and a big-endian CPU: the pickle holds no pointer size, byte
    order or address."""
    made = {cpu: seed_first(cpu, tmp_path / cpu).read_bytes()
            for cpu in ("x86_64", "aarch64", "arm", "s390x")}
    for cpu, data in made.items():
        assert data == made["x86_64"], "%s's pickle differs from x86_64's at byte %d" % (
            cpu, next(i for i, (a, b) in enumerate(zip(data, made["x86_64"])) if a != b))


def checkpoint_result():
    """What checkpoint_demo.py computes, uninterrupted (its f and N)."""
    return sum((i * i + 7 * i) % 1009 for i in range(3000))


@pytest.mark.parametrize("cpus", [("x86_64", "aarch64"), ("x86_64", "s390x", "x86_64")],
                         ids=["x86_64-aarch64", "x86_64-s390x-x86_64"])
def test_checkpoint_killed_and_restored_on_another_cpu(tmp_path, cpus):
    """Each process but the last is killed (SIGKILL) after its second checkpoint; the next,
    on another CPU, restores the last checkpoint and goes on."""
    shutil.copy(os.path.join(EXAMPLES, "checkpoint_demo.py"), tmp_path / "checkpoint_demo.py")
    rounds = 0
    for cpu in cpus[:-1]:
        out = run(cpu, ["checkpoint_demo.py", "--crash-after", "2"], tmp_path, check=False)
        assert out.returncode == -9, "%s: exit %d\n%s" % (cpu, out.returncode, out.stderr)
        lines = out.stdout.splitlines()
        if rounds:
            assert lines[0] == "restored at round %d" % rounds
            lines = lines[1:]
        assert lines == ["checkpoint at round %d" % (rounds + k) for k in (50, 100)]
        rounds += 100
        assert (tmp_path / "checkpoint.pickle").exists()
    out = run(cpus[-1], ["checkpoint_demo.py"], tmp_path)
    lines = out.stdout.splitlines()
    assert lines[0] == "restored at round %d" % rounds
    assert lines[-1] == "result %d" % checkpoint_result()
    assert not (tmp_path / "checkpoint.pickle").exists()


STALE = r"""
import pickle, sys
import stackless


def worker(n):
    stackless.schedule_remove()
    print('resumed', n)


class Restamped:
    # Pickles as a tasklet with this state: as another CPython makes it.
    def __init__(self, state):
        self.state = state

    def __reduce__(self):
        return (stackless.tasklet, (), self.state)


if sys.argv[1] == 'dump':
    t = stackless.tasklet(worker)(5)
    stackless.run()  # t is paused in schedule_remove(), two frames deep
    cls, args, state = t.__reduce__()
    stamp = state[2]
    stamp = (stamp[0], stamp[1] + int(sys.argv[2])) + stamp[2:]
    with open('stale.pickle', 'wb') as f:
        pickle.dump(Restamped(state[:2] + (stamp,) + state[3:]), f)
else:
    with open('stale.pickle', 'rb') as f:
        data = f.read()
    try:
        t = pickle.loads(data)
    except stackless.FrameRestoreError as e:
        print(type(e).__name__, isinstance(e, pickle.UnpicklingError), e)
        print('runcount', stackless.getruncount())
        sys.exit(0)
    t.insert()
    stackless.run()
"""


@pytest.mark.parametrize("target", ["aarch64", "s390x"])
def test_other_minor_version_refused_on_another_cpu(tmp_path, target):
    (tmp_path / "stale.py").write_text(STALE)
    run("x86_64", ["stale.py", "dump", "2"], tmp_path)
    out = run(target, ["stale.py", "load"], tmp_path)
    lines = out.stdout.splitlines()
    assert lines[0].startswith(
        "FrameRestoreError True this tasklet was pickled under CPython 3.13."), lines
    assert "cannot be loaded under CPython 3.11." in lines[0]
    assert lines[1:] == ["runcount 1"] and "resumed" not in out.stdout


@pytest.mark.parametrize("target", ["aarch64", "arm"])
def test_changed_code_refused_on_another_cpu(tmp_path, target):
    """The target's program differs from the one that pickled (a line of recurs changed):
    loading names the function whose code changed, and no frame runs."""
    pickled = seed_first("x86_64", tmp_path / "x86_64")
    there = tmp_path / target
    there.mkdir()
    program = open(os.path.join(EXAMPLES, "seed_pickle.py")).read()
    changed = program.replace("print('leave level", "print('LEAVE level")
    assert changed != program
    (there / "seed_pickle.py").write_text(changed)
    shutil.copy(pickled, there / "moved.pickle")
    out = run(target, ["seed_pickle.py", "moved.pickle"], there, check=False)
    assert out.returncode == 1 and out.stdout == "", out.stdout
    assert "FrameRestoreError" in out.stderr and "recurs" in out.stderr, out.stderr
    assert "changed since the frame was pickled" in out.stderr, out.stderr

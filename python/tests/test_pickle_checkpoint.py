"""Checkpoints: stackless.checkpoint() snapshots every tasklet of the thread
(runnable, blocked with their channels, paused) into one file; restore_checkpoint()
brings the whole set back in another process. examples/checkpoint_demo.py, SIGKILLed
after a checkpoint, continues from it to the same result."""
import os
import pathlib
import signal
import subprocess
import sys

import stackless
from pickle_support import lines

ROOT = pathlib.Path(__file__).resolve().parents[2]
DEMO = ROOT / "examples" / "checkpoint_demo.py"
EXPECTED = sum((i * i + 7 * i) % 1009 for i in range(3000))


def _run(tmp_path, *args):
    env = dict(os.environ)
    env["PYTHONPATH"] = os.path.dirname(os.path.abspath(stackless.__file__))
    return subprocess.run([sys.executable, str(DEMO), *args], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=300)


def test_demo_uninterrupted(tmp_path):
    out = _run(tmp_path)
    assert out.returncode == 0, out.stderr
    assert out.stdout.splitlines()[-1] == "result %d" % EXPECTED


def test_demo_killed_and_continued(tmp_path):
    out = _run(tmp_path, "--crash-after", "3")
    assert out.returncode == -signal.SIGKILL
    assert out.stdout.splitlines()[-1] == "checkpoint at round 150"
    assert (tmp_path / "checkpoint.pickle").exists()
    out = _run(tmp_path, "--crash-after", "5")  # killed again, from the checkpoint
    assert out.returncode == -signal.SIGKILL
    assert out.stdout.splitlines()[0] == "restored at round 150"
    out = _run(tmp_path)
    assert out.returncode == 0, out.stderr
    got = out.stdout.splitlines()
    assert got[0] == "restored at round 400"
    assert got[-1] == "result %d" % EXPECTED
    assert not (tmp_path / "checkpoint.pickle").exists()


STATES = """
import sys
import stackless

def receiver(ch, log):
    log.append(('r', ch.receive()))
    log.append(('r', ch.receive()))

def sender(ch, log):
    ch.send('from sender')
    log.append('sent')

def spinner(log, n):
    for i in range(n):
        log.append(('s', i))
        stackless.schedule()

def paused(log):
    stackless.schedule_remove()
    log.append('unpaused')

if sys.argv[1] == 'save':
    log = []
    a, b = stackless.channel(), stackless.channel()
    ts = [stackless.tasklet(receiver)(a, log), stackless.tasklet(sender)(b, log),
          stackless.tasklet(spinner)(log, 3), stackless.tasklet(paused)(log),
          stackless.tasklet(spinner)(log, 1)]
    ts[4].remove()  # not started, paused
    stackless.schedule()
    print(sorted(n for n in ('blocked', 'paused', 'scheduled')), a.balance, b.balance,
          [(t.blocked, t.paused) for t in ts])
    print(stackless.checkpoint('ck', (log, a, b, ts[3], ts[4])))
else:
    log, a, b, p, q = stackless.restore_checkpoint('ck')
    print(a.balance, b.balance, stackless.getruncount(), p.paused, q.paused)
    a.send('x')
    print(b.receive())
    stackless.run()
    p.insert(); q.insert()
    a.send('y')
    stackless.run()
    print(log)
"""


def test_checkpoint_all_states(tmp_path, stack_kind):
    out = lines(tmp_path, STATES, "save", stack_kind=stack_kind)
    assert out[1] == "5"
    out = lines(tmp_path, STATES, "load", stack_kind=stack_kind)
    assert out[0] == "-1 1 2 True True"
    assert out[1] == "from sender"
    log = eval(out[2])
    assert log[:1] == [("s", 0)]
    assert ("r", "x") in log and ("r", "y") in log and "sent" in log
    assert "unpaused" in log and log.count(("s", 0)) == 2 and ("s", 2) in log

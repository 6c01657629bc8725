"""Helpers of the test_pickle_* tests: run a script as separate processes of this Python
(pickling in one, unpickling in another), in a temporary directory."""
import os
import subprocess
import sys
import textwrap

import stackless
from emulation import SLOWDOWN


def run_phase(tmp_path, source, *args, stack_kind="copied", check=True, timeout=120,
              extra_env=None):
    """Write `source` to tmp_path/prog.py (once) and run `python3 prog.py *args` there
    with the given default stack kind (and `extra_env` added to the environment).
    Returns the CompletedProcess (text)."""
    prog = tmp_path / "prog.py"
    src = "import stackless\nstackless.set_default_stack_kind(%r)\n" % stack_kind
    src += textwrap.dedent(source)
    if not prog.exists() or prog.read_text() != src:
        prog.write_text(src)
    env = dict(os.environ)
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    env.update(extra_env or {})
    env["PYTHONPATH"] = os.pathsep.join(
        [os.path.dirname(os.path.abspath(stackless.__file__))]
        + [p for p in env.get("PYTHONPATH", "").split(os.pathsep) if p])
    out = subprocess.run([sys.executable, "-X", "faulthandler", str(prog), *map(str, args)],
                         cwd=tmp_path, env=env, capture_output=True, text=True,
                         timeout=timeout * SLOWDOWN)
    if check and out.returncode != 0:
        raise AssertionError("prog.py %s exited with %d\n--- stdout:\n%s--- stderr:\n%s"
                             % (" ".join(map(str, args)), out.returncode, out.stdout,
                                out.stderr))
    return out


def lines(tmp_path, source, *args, **kw):
    return run_phase(tmp_path, source, *args, **kw).stdout.splitlines()


class AsTasklet:
    """Pickles as a tasklet with the given state (a tasklet's reduced state, altered)."""
    def __init__(self, state):
        self.state = state

    def __reduce__(self):
        return (stackless.tasklet, (), self.state)


def run_out(t):
    """Insert a paused tasklet until it ends (it may suspend again)."""
    for _ in range(10):
        if not t.alive:
            return
        t.insert()
        stackless.run()
    raise AssertionError("the tasklet does not end")

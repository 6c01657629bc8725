"""Helpers of the test_pickle_* tests: run a script as separate processes of this Python
(pickling in one, unpickling in another), in a temporary directory."""
import os
import pickle
import subprocess
import sys
import textwrap

import stackless
from emulation import SLOWDOWN, address_space


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


def load_with_frames(data, change):
    """A tasklet from `data` (a pickled tasklet.__reduce__() value) whose snapshot's frames
    are change(list of frames): a fresh copy of the state each time (its generators await
    their frames until __setstate__)."""
    cls, args, state = pickle.loads(data)
    state = list(state)
    snap = list(state[7])
    snap[5] = tuple(change(list(snap[5])))
    state[7] = tuple(snap)
    back = cls(*args)
    back.__setstate__(tuple(state))
    return back


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


# Fuzz programs' subject (program text): keeps_traceback(n) suspends in __exit__ holding
# the traceback of its own running frame (which pickles as that frame of the tasklet).
KEEPS_TRACEBACK = """
class KeepsTraceback:
    def __enter__(self):
        return self

    def __exit__(self, t, v, tb):
        stackless.schedule_remove(tb)
        return tb.tb_frame.f_locals.get("marker") == 1


def keeps_traceback(n):
    marker = 1
    with KeepsTraceback():
        raise KeyError(n)
"""

# Fuzz programs' treatment of whatever loaded (program text; needs random's rng):
# exercise(objects, rng) reads a frame's (or a traceback's frame's) line, locals and
# callers, takes values a channel holds (or not), runs a paused tasklet for a while (or
# not), then kills what is left of it (run_for_a_while).
EXERCISE = """
import types


def run_for_a_while(t, rng, odds):
    # A live tasklet: unless blocked or scheduled, run it for a while (but not one time
    # in `odds`), then kill what is left of it.
    if rng.randrange(odds) and not t.blocked and not t.scheduled:
        t.insert()
        stackless.run(2000)
    if t.alive:
        t.kill()


def exercise(objects, rng):
    for o in objects:
        if isinstance(o, types.TracebackType):
            o = o.tb_frame
        if isinstance(o, types.FrameType):
            o.f_lineno, o.f_locals, o.f_back, o.f_code
        if isinstance(o, stackless.channel) and rng.randrange(2):
            for _ in range(3):
                if o.balance > 0:
                    o.receive()
        if isinstance(o, stackless.tasklet) and o.alive:
            run_for_a_while(o, rng, 2)
"""

# Fuzz programs' mutations of a captured frame `fr` of a snapshot (a list; program text):
# drop_or_insert_value(rng, fr, value) drops one of its stack's values (fr[4]), or inserts
# value() there; random_nulls(rng, fr) marks a few of those values null (fr[5]).
FRAME_MUTATIONS = """
def drop_or_insert_value(rng, fr, value):
    values = list(fr[4])
    if values and rng.randrange(2):
        del values[rng.randrange(len(values))]
    else:
        values.insert(rng.randrange(len(values) + 1), value())
    fr[4] = tuple(values)


def random_nulls(rng, fr):
    n = len(fr[4]) or 1
    fr[5] = tuple(sorted(set(rng.randrange(n) for _ in range(rng.randrange(3)))))
"""

# Fuzz programs' loop (program text; needs gc and pickle): fuzz_cases(count, rng, blobs,
# build, treat, every) runs `count` cases, each either loading one of the pickles `blobs`
# with 1 to 3 of its bytes overwritten, or calling build(rng); it counts what loads and
# what raises, hands what loads to treat(obj), collects garbage every `every` cases and
# prints "ok LOADED ERRORS".
FUZZ_CASES = """
def fuzz_cases(count, rng, blobs, build, treat, every):
    loaded = errors = 0
    for i in range(count):
        try:
            if rng.randrange(2):
                data = bytearray(rng.choice(blobs))
                for _ in range(rng.randrange(1, 4)):
                    data[rng.randrange(len(data))] = rng.randrange(256)
                obj = pickle.loads(bytes(data))
            else:
                obj = build(rng)
            loaded += 1
        except Exception:
            errors += 1
            continue
        treat(obj)
        del obj
        if i % every == 0:
            gc.collect()
    print('ok', loaded, errors)
"""


def run_fuzz(tmp_path, program, seed, stack_kind):
    """Run a fuzz `program` (it takes the number of cases and a seed, and prints "ok
    LOADED ERRORS") in a child whose address space is bounded to 4 GiB, with
    SLP_FUZZ_PICKLE_COUNT cases (default 2,000). Returns (cases, loaded, errors)."""
    count = int(os.environ.get("SLP_FUZZ_PICKLE_COUNT", "2000"))
    out = run_phase(tmp_path, program, count, seed, stack_kind=stack_kind, timeout=600,
                    extra_env=address_space("4G"))
    words = out.stdout.split()
    assert words[:1] == ["ok"], out.stdout
    return count, int(words[1]), int(words[2])


def run_counted_fuzz(tmp_path, program, count_variable, default_count, default_seed):
    """Run a fuzz `program` (it takes the number of cases and a seed, and prints "ok
    LOADED ERRORS") with $`count_variable` cases (default `default_count`) and seed
    $SLP_FUZZ_SEED (default `default_seed`), its address space bounded to 4 GiB; check
    that every case counted and that both outcomes were reached (the mutations bite)."""
    count = int(os.environ.get(count_variable, str(default_count)))
    seed = int(os.environ.get("SLP_FUZZ_SEED", str(default_seed)))
    out = run_phase(tmp_path, program, count, seed, timeout=900, extra_env=address_space("4G"))
    words = out.stdout.split()
    assert words[0] == "ok", out.stdout + out.stderr
    loaded, errors = int(words[1]), int(words[2])
    assert loaded + errors == count
    assert loaded > 0 and errors > 0

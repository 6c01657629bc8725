"""Loading corrupted references to a pickled tasklet's running frames raises and never
crashes: pickles of tasklets whose state holds references (stackless._tasklet_frame) to
their own frames, built from a real suspended tasklet (its __exit__ holds the traceback
of its own frame) with random positions, functions, digests, duplicates, order (inside
the state, or after the tasklet) and states (another tasklet's frames, a state without
frames, a snapshot cut short), in a subprocess. What loads is read (the frame's line,
locals and callers), run and killed. SLP_FUZZ_PICKLE_COUNT sets the number of cases
(default 2,000; the test command sets 300 under emulation)."""
from pickle_support import EXERCISE, KEEPS_TRACEBACK, run_fuzz

FUZZ = """
import gc, pickle, random, resource, sys, types
import stackless

resource.setrlimit(resource.RLIMIT_AS, (4 << 30, 4 << 30))


""" + KEEPS_TRACEBACK + EXERCISE + """

def outer(n):
    return keeps_traceback(n) or n


def other(x):
    stackless.schedule_remove()
    return x


class Ref:
    # Pickles as a reference to frame `position` of `tasklet`.
    def __init__(self, tasklet, position, module, qualname, digest):
        self.args = (None, tasklet, position, module, qualname, digest, None)

    def __reduce__(self):
        return stackless._tasklet_frame, self.args


class Traceback:
    # Pickles as a traceback entry of frame `ref`.
    def __init__(self, ref):
        self.ref = ref

    def __reduce__(self):
        return stackless._traceback, (None, self.ref, 0, 1)


class Tasklet:
    # Pickles as a tasklet with `state`, which may hold Refs to it (set after).
    def __init__(self, state):
        self.state = state

    def __reduce__(self):
        return stackless.tasklet, (), self.state


t = stackless.tasklet(outer)(1)
t.run()
u = stackless.tasklet(other)(2)
u.run()
frames = [stackless._tasklet_frame_ref(u.frame)[1:]]
f = t.frame
while f is not None and stackless._tasklet_frame_ref(f) is not None:
    frames.append(stackless._tasklet_frame_ref(f)[1:])
    f = f.f_back
assert len(frames) == 4, frames


def swapped(x, make):
    # `x` with each traceback (they hold t's running frames) a Traceback of make()'s Ref.
    if isinstance(x, types.TracebackType):
        return Traceback(make())
    if type(x) in (tuple, list):
        return type(x)(swapped(i, make) for i in x)
    return x


state = t.__reduce__()[2]
snap = state[7]
states = [state, u.__reduce__()[2], stackless.tasklet(len).__reduce__()[2],
          state[:7] + (snap[:5] + (snap[5][:1],),) + state[8:]]
modules = sorted({m for _, m, _, _ in frames}) + ["no_such_module_x", "os", ""]
qualnames = sorted({q for _, _, q, _ in frames}) + ["KeepsTraceback.__enter__", "x.<locals>.y"]
digests = sorted({d for _, _, _, d in frames}) + [b"x" * 16, b"", b"\\0" * 17]

count = int(sys.argv[1])
rng = random.Random(int(sys.argv[2]))
loaded = errors = 0
for i in range(count):
    obj = Tasklet(None)

    def make():
        position, module, qualname, digest = rng.choice(frames)
        kind = rng.randrange(6)
        if kind == 0:
            position = rng.choice((-1, 0, 1, 2, 3, 5, 2 ** 31, 2 ** 62))
        elif kind == 1:
            module = rng.choice(modules)
        elif kind == 2:
            qualname = rng.choice(qualnames)
        elif kind == 3:
            digest = rng.choice(digests)
        return Ref(obj, position, module, qualname, digest)

    s = list(swapped(rng.choice(states), make))
    s[8] = [make() for _ in range(rng.choice((0, 0, 1, 2)))]  # loaded before the state
    obj.state = tuple(s)
    after = [make() for _ in range(rng.choice((0, 0, 1)))]
    try:
        data = pickle.dumps((obj, after), rng.choice((0, 2, 4, 5)))
    except Exception:
        continue
    try:
        back = pickle.loads(data)
        loaded += 1
    except Exception:
        errors += 1
        continue
    try:
        t2, after = back
        exercise([t2] + list(after) + (t2.tempval if isinstance(t2.tempval, list) else []), rng)
    except Exception:
        pass
    del back, obj, s, after
    if i % 100 == 0:
        gc.collect()
t.kill()
u.kill()
print("ok", loaded, errors)
"""


def test_corrupted_frame_references_never_crash(tmp_path, stack_kind):
    count, loaded, errors = run_fuzz(tmp_path, FUZZ, 3 if stack_kind == "own" else 4, stack_kind)
    # (a case whose pickle cannot be made counts as neither)
    assert loaded + errors <= count and loaded > 0 and errors > 0

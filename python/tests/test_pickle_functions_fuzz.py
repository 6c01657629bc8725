"""Loading corrupted pickles of functions by value raises and never crashes: byte
mutations of pickles of lambdas, nested and recursive closures (alone, and inside a
blocked tasklet's frames), and structural mutations of their reduced parts handed to
stackless._function and stackless._function_state; whatever loads is called (a function)
or run for a while (a tasklet). SLP_FUZZ_FUNCTION_COUNT sets the number of cases (default
2,000), SLP_FUZZ_SEED the seed. The child's address space is bounded to 4 GiB."""
import pytest

from pickle_support import EXERCISE, FUZZ_CASES, run_counted_fuzz

FUZZ = """
import gc, pickle, random, resource, sys, types
import stackless

resource.setrlimit(resource.RLIMIT_AS, (4 << 30, 4 << 30))


def closures(base):
    count = base

    def bump(k=1, *, times=2):
        nonlocal count
        count += k * times
        return count

    def fact(n):
        return 1 if n <= 1 else n * fact(n - 1)

    def read():
        return count, bump
    return bump, fact, read, lambda x=base: x + count


def in_tasklet(ch, n):
    def step(k):
        if k:
            return step(k - 1) + 1
        return ch.receive() + 0
    return step(n)


def annotated(a: int, *rest: str, k: "x" = 3) -> list:
    return [a, *rest, k]


def seeds():
    fs = list(closures(5)) + [lambda: annotated, closures(1)[0]]
    fs[0].attr = {"x": [1]}
    ch = stackless.channel()
    t = stackless.tasklet(in_tasklet)(ch, 3)
    t.run()
    blobs = [pickle.dumps(o, p) for o in (fs, fs[1], fs[3], (t, ch)) for p in (0, 2, 5)]
    blobs += [pickle._dumps(fs, p) for p in (1, 4)]
    t.kill()
    return blobs, [stackless._reduce_function(f) for f in fs]


""" + EXERCISE + """

def random_value(rng):
    return rng.choice([None, 0, -1, "s", "<locals>", b"b" * 16, (), [], (1,), {}, {"a": 1},
                       types.CellType(1), types.CellType(), (types.CellType(),) * 3,
                       print, seeds, (None,) * 9, "closures.<locals>.bump"])


def mutate(rng, reduced):
    make, args, state, _, _, setter = reduced
    args, state = list(args), list(state)
    how = rng.randrange(4)
    if how == 0:
        args[rng.randrange(3)] = random_value(rng)
    elif how == 1:
        state[rng.randrange(9)] = random_value(rng)
    elif how == 2 and state[5] is not None:
        closure = list(state[5])
        if rng.randrange(2) and closure:
            del closure[rng.randrange(len(closure))]
        else:
            closure.insert(rng.randrange(len(closure) + 1), random_value(rng))
        state[5] = tuple(closure)
    else:
        state = state[:rng.randrange(10)] + [random_value(rng)] * rng.randrange(2)
    f = make(*args)
    setter(f, tuple(state))
    return f


def treat(obj):
    objs = obj if isinstance(obj, (list, tuple)) else [obj]
    for o in objs:
        if isinstance(o, types.FunctionType):
            for call in (lambda: o(), lambda: o(3), lambda: o(2, 1)):
                try:
                    r = call()
                    if isinstance(r, types.FunctionType):
                        r()
                except Exception:
                    pass
    try:
        exercise(objs, rng)
    except Exception:
        pass

""" + FUZZ_CASES + """

rng = random.Random(int(sys.argv[2]))
blobs, reduced = seeds()
fuzz_cases(int(sys.argv[1]), rng, blobs, lambda rng: mutate(rng, rng.choice(reduced)), treat, 200)
"""


@pytest.fixture
def stack_kind():
    """Overrides the suite's autouse fixture: one run is enough."""
    yield None


def test_corrupted_function_pickles_never_crash(tmp_path):
    run_counted_fuzz(tmp_path, FUZZ, 'SLP_FUZZ_FUNCTION_COUNT', 2000, 5)

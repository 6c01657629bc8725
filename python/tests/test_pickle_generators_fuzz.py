"""Loading corrupted generator, coroutine and async generator pickles (and of async
generators' asend/athrow awaitables) raises and never
crashes: byte mutations of their pickles, and structural mutations of their frame
snapshots handed to stackless._generator; whatever loads is then run to its end.
SLP_FUZZ_GENERATOR_COUNT sets the number of cases (default 1,000), SLP_FUZZ_SEED the
seed. The child's address space is bounded to 4 GiB."""
import pytest

from pickle_support import FRAME_MUTATIONS, FUZZ_CASES, run_counted_fuzz

FUZZ = """
import gc, pickle, random, resource, sys, types
import stackless

resource.setrlimit(resource.RLIMIT_AS, (4 << 30, 4 << 30))


def delegate(n):
    for i in range(n):
        got = yield i
        if got:
            n += got
    return n


class Cm:
    def __enter__(self):
        return 1

    def __exit__(self, *exc):
        return False


def gen(a, *rest, k=2):
    total = a
    try:
        raise KeyError(a)
    except KeyError as e:
        total += yield e
    with Cm() as f:
        total += yield f
    for i in range(k):
        total += yield from delegate(i + 2)
    return [total, *rest]


@types.coroutine
def pause(v):
    return (yield v)


async def coro(x):
    y = await pause(x)
    async with Ctx() as c:
        z = await pause(c)
    return x + (y or 0) + (z or 0)


class Ctx:
    async def __aenter__(self):
        return await pause(5)

    async def __aexit__(self, *exc):
        return False


async def agen(n):
    for i in range(n):
        got = yield i
        await pause(got)


def indexed(seq):
    # 3.15 iterates a tuple or str by an index above it, in the for loop and in SEND.
    for x in seq:
        yield x
    return (yield from seq)


def make():
    cell = [0]

    def inner():
        while True:
            cell[0] += 1
            yield cell[0]
    return inner()


def seeds():
    blobs, reduced = [], []

    def take(o):
        blobs.extend(pickle.dumps(o, p) for p in (2, 5))
        reduced.append(stackless._reduce_generator(o)[1])
    g = gen(1, 9)
    take(g)
    next(g)
    for _ in range(4):
        take(g)
        g.send(1)
    c = coro(3)
    take(c)
    c.send(None)
    take(c)
    c.send(1)
    take(c)
    a = agen(3)
    take(a)
    try:
        a.__anext__().send(None)
    except StopIteration:
        pass
    take(a)
    m = make()
    next(m)
    take(m)
    for seq in ((1, 2), "ab"):
        i = indexed(seq)
        next(i)
        take(i)
        next(i)
        next(i)
        take(i)
    done = delegate(0)
    list(done)
    take(done)
    a = agen(3)
    blobs.extend(pickle.dumps(aw, p) for aw in (a.__anext__(), a.asend(None), a.aclose(),
                                                   a.athrow(KeyError(1)))
                 for p in (2, 5))
    return blobs, reduced


def run_out(obj):
    for _ in range(20):
        try:
            if isinstance(obj, types.AsyncGeneratorType):
                obj.__anext__().send(None)
            else:
                obj.send(None) if isinstance(obj, types.CoroutineType) else next(obj)
        except BaseException:
            break
    try:
        obj.close() if not isinstance(obj, types.AsyncGeneratorType) else None
    except BaseException:
        pass

""" + FRAME_MUTATIONS + """

def random_value(rng):
    return rng.choice([None, 0, -1, 1 << 40, "s", b"b", (), [], [1], {}, 1.5, KeyError("x"),
                       iter([]), object(), gen, types.CellType(1), range(3), [None, None]])


def mutate_args(rng, args):
    kind, snap, name, qualname, extra = args
    args = list(args)
    how = rng.randrange(8)
    if how == 0:
        args[rng.randrange(5)] = random_value(rng)
    elif snap is None:
        args[1] = random_value(rng)
    else:
        snap = list(snap)
        frames = list(snap[5])
        fr = list(frames[0])
        if how == 1:
            snap[rng.randrange(6)] = random_value(rng)
        elif how == 2:
            fr[rng.randrange(6)] = random_value(rng)
        elif how == 3:
            fr[3] = fr[3] + rng.choice([-2, -1, 1, 2, 5])
        elif how == 4 and fr[4]:
            values = list(fr[4])
            values[rng.randrange(len(values))] = random_value(rng)
            fr[4] = tuple(values)
        elif how == 5:
            drop_or_insert_value(rng, fr, lambda: random_value(rng))
        elif how == 6:
            random_nulls(rng, fr)
        else:
            frames = frames * 2
        frames[0] = tuple(fr)
        snap[5] = tuple(frames)
        args[1] = tuple(snap)
    return args

""" + FUZZ_CASES + """

def treat(obj):
    if hasattr(obj, "send") or hasattr(obj, "__anext__"):
        run_out(obj)


rng = random.Random(int(sys.argv[2]))
blobs, reduced = seeds()
fuzz_cases(int(sys.argv[1]), rng, blobs,
           lambda rng: stackless._generator(*mutate_args(rng, rng.choice(reduced))), treat, 200)
"""


@pytest.fixture
def stack_kind():
    """Overrides the suite's autouse fixture: no tasklets here, one run is enough."""
    yield None


def test_corrupted_generator_pickles_never_crash(tmp_path):
    run_counted_fuzz(tmp_path, FUZZ, 'SLP_FUZZ_GENERATOR_COUNT', 1000, 3)

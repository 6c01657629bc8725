"""Loading corrupted pickles of tasklets suspended inside running generators (run by a for
loop, `yield from` or `await`) raises and never crashes: byte mutations of their pickles,
and structural mutations of their snapshots (the generator frame's tag and object, the
iterating or delegating frame's stack, frames
swapped, dropped or repeated, placeholders of other code) loaded through __setstate__;
whatever loads is then run for a while and killed. SLP_FUZZ_RUNNING_COUNT sets the number
of cases (default 1,000), SLP_FUZZ_SEED the seed. The child's address space is bounded to
4 GiB."""
import inspect
import os

from emulation import address_space
from pickle_support import EXERCISE, FRAME_MUTATIONS, FUZZ_CASES, run_phase
# The loop the program's generator runs in: the same as that test's (its source).
from test_pickle_running_generators import outer

FUZZ = """
import gc, pickle, random, resource, sys, types
import stackless

resource.setrlimit(resource.RLIMIT_AS, (4 << 30, 4 << 30))


def inner(n, when):
    for i in range(n):
        if i == when:
            stackless.schedule(None)  # (the state then holds no reference to the tasklet)
        yield i


""" + inspect.getsource(outer) + """

def calls(i):
    if i == 1:
        stackless.schedule_remove(None)
    return i


def deeper(n):
    try:
        for i in range(n):
            yield calls(i)
    finally:
        pass


def nested(n):
    for x in deeper(n):
        yield x + 1


def loop_nested(n):
    return [x for x in nested(n)]


def delegate(n, when):
    for i in range(n):
        if i == when:
            stackless.schedule(None)
        yield i
    if when == n:
        stackless.schedule(None)  # right before it returns
    return n


def delegating(n, when):
    got = yield from delegate(n, when)
    yield got


def loop_delegating(n, when):
    return [x for x in delegating(n, when)]


async def awaited(n):
    return await types.coroutine(delegate)(n, n)


@types.coroutine
def drive(n):
    result = yield from awaited(n)
    yield result


def loop_awaiting(n):
    return [x for x in drive(n)]


def seeds():
    blobs, states = [], []
    for func, args in ((outer, (5, 1)), (outer, (3, 2)), (loop_nested, (4,)),
                       (loop_delegating, (4, 1)), (loop_delegating, (3, 3)),
                       (loop_awaiting, (2,))):
        t = stackless.tasklet(func)(*args)
        t.run()
        if t.scheduled and not t.blocked:
            t.remove()
        blobs.extend(pickle.dumps(t, p) for p in (0, 2, 5))
        states.append(pickle.dumps(t.__reduce__(), 5))
        t.kill()
    return blobs, states

""" + FRAME_MUTATIONS + """

def random_value(rng, gens):
    return rng.choice([None, 0, -1, 1 << 40, "s", (), [], [1], {}, KeyError("x"), iter([]),
                       object(), inner(2, 0), iter(range(3)), ("generator", None),
                       ("generator", 1, 2), "generator", ("init", None)] + gens)


def mutate_frames(rng, frames, gens):
    frames = list(frames)
    how = rng.randrange(9)
    i = rng.randrange(len(frames))
    fr = list(frames[i])
    if how == 0 and len(frames) > 1:
        j = rng.randrange(len(frames))
        frames[i], frames[j] = frames[j], frames[i]
        return frames
    if how == 1:
        frames.insert(i, frames[rng.randrange(len(frames))])
        return frames
    if how == 2 and len(frames) > 1:
        del frames[i]
        return frames
    if how == 3:  # the seventh item: tag, object, or none
        if len(fr) == 7 and rng.randrange(2):
            fr.pop()
        else:
            fr[6:] = [rng.choice([("generator", rng.choice(gens + [None, 5])),
                                  random_value(rng, gens)])]
    elif how == 4:
        values = list(fr[4])
        if values:
            values[rng.randrange(len(values))] = random_value(rng, gens)
        fr[4] = tuple(values)
    elif how == 5:
        drop_or_insert_value(rng, fr, lambda: random_value(rng, gens))
    elif how == 6:
        fr[3] = fr[3] + rng.choice([-4, -2, -1, 1, 2, 4])
    elif how == 7:
        random_nulls(rng, fr)
    else:
        fr[rng.randrange(len(fr))] = random_value(rng, gens)
    frames[i] = tuple(fr)
    return frames


def structural(rng, states):
    cls, args, state = pickle.loads(rng.choice(states))  # fresh placeholders
    snap = list(state[7])
    frames = snap[5]
    gens = [fr[6][1] for fr in frames if len(fr) == 7 and isinstance(fr[6], tuple)]
    for _ in range(rng.randrange(1, 3)):
        frames = mutate_frames(rng, frames, gens)
    snap[5] = tuple(frames)
    state = list(state)
    state[7] = tuple(snap)
    t = cls(*args)
    t.__setstate__(tuple(state))
    return t

""" + EXERCISE + FUZZ_CASES + """

def treat(obj):
    try:
        for o in (obj if isinstance(obj, tuple) else (obj,)):
            if isinstance(o, stackless.tasklet) and o.alive:
                run_for_a_while(o, rng, 3)
    except Exception:
        pass


rng = random.Random(int(sys.argv[2]))
blobs, states = seeds()
fuzz_cases(int(sys.argv[1]), rng, blobs, lambda rng: structural(rng, states), treat, 200)
"""


def test_corrupted_running_generator_pickles_never_crash(tmp_path, stack_kind):
    count = int(os.environ.get("SLP_FUZZ_RUNNING_COUNT", "1000"))
    seed = int(os.environ.get("SLP_FUZZ_SEED", "1" if stack_kind == "own" else "2"))
    out = run_phase(tmp_path, FUZZ, count, seed, stack_kind=stack_kind, timeout=900,
                    extra_env=address_space("4G"))
    words = out.stdout.split()
    assert words[0] == "ok" and int(words[1]) + int(words[2]) == count, out.stdout

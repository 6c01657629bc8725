"""Loading corrupted tasklet pickles through the stackless module raises and never
crashes: mutations of a pickled blocked tasklet (with its channel), of one whose
frames C code called (f(*args), __exit__), of one whose __exit__ holds the traceback of
its own running frame (which pickles as that frame of the tasklet), of one preempted by
run(timeout), of ones in the middle of channel.send_sequence() (blocked, and runnable),
and of one with its tracing state, loaded in a subprocess (a loaded traceback's frame is
read: line, locals, callers). SLP_FUZZ_PICKLE_COUNT sets the number of cases (default 2,000; the test
command sets 300 under emulation). The child's address space is bounded to 4 GiB
(RLIMIT_AS, or qemu's guest address space under emulation: emulation.py)."""
from pickle_support import EXERCISE, KEEPS_TRACEBACK, run_fuzz

FUZZ = """
import os, pickle, random, sys, gc, resource
import stackless

# A corrupted length handed to bytes() by the pickle would eat the machine: MemoryError.
resource.setrlimit(resource.RLIMIT_AS, (4 << 30, 4 << 30))

ch = stackless.channel()

def inner(n):
    x = ch.receive()
    return x * n

def outer(a, b):
    total = a
    try:
        for i in range(b):
            total += inner(i)
    finally:
        total += 1
    return total

class CM:
    def __enter__(self):
        return self

    def __exit__(self, t, v, tb):
        del tb  # a traceback does not pickle
        return stackless.schedule_remove(t is KeyError)


def through_c(f, *args):
    # Frames C code called (f(*args), __exit__): known continuations.
    with CM():
        raise KeyError(f(*args))


""" + KEEPS_TRACEBACK + EXERCISE + """

def spin(n):
    x = total = 0
    while x < n:
        x += 1
        total += x
    return total


t = stackless.tasklet(outer)(1, 3)
stackless.run()
seeds = [pickle.dumps((t, ch), p) for p in (0, 2, 4, 5)]
t.kill()
t = stackless.tasklet(through_c)(outer, 1, 0)
t.run()
seeds += [pickle.dumps(t, p) for p in (0, 2, 4, 5)]
t.kill()
# Its __exit__ holds the traceback of its own running frame: alone, and with the traceback
# after the tasklet (both pickle that frame as the tasklet's).
t = stackless.tasklet(keeps_traceback)(3)
t.run()
seeds += [pickle.dumps(x, p) for p in (0, 2, 4, 5) for x in (t, (t, t.tempval))]
t.kill()
# Preempted between two instructions by run(timeout).
t = stackless.tasklet(spin)(10 ** 9)
while stackless.run(50) is not t:
    pass
seeds += [pickle.dumps(t, p) for p in (0, 2, 4, 5)]
t.kill()
# In the middle of send_sequence(): blocked sending its second item, then runnable.
def seq_outer(items):
    return ch.send_sequence(items) + 1
t = stackless.tasklet(seq_outer)([1, 2, 3, 4])
t.run()
ch.receive()
stackless.run()
seeds += [pickle.dumps((t, ch), p) for p in (0, 2, 4, 5)]
ch.receive()
seeds += [pickle.dumps((t, ch), p) for p in (0, 2, 4, 5)]
t.kill()
# With its tracing state (PICKLEFLAGS_PRESERVE_TRACING_STATE).
def quiet_trace(frame, event, arg):
    return None
t = stackless.tasklet(outer)(2, 2)
stackless.run()
t.trace_function = t.profile_function = quiet_trace
stackless.pickle_flags(stackless.PICKLEFLAGS_PRESERVE_TRACING_STATE)
seeds += [pickle.dumps((t, ch), p) for p in (0, 2, 4, 5)]
stackless.pickle_flags(0)
t.kill()
count = int(sys.argv[1])
rng = random.Random(int(sys.argv[2]))
loaded = errors = 0
for i in range(count):
    data = bytearray(rng.choice(seeds))
    how = rng.randrange(4)
    if how == 0:
        for _ in range(rng.randrange(1, 4)):
            data[rng.randrange(len(data))] = rng.randrange(256)
    elif how == 1:
        p = rng.randrange(len(data))
        data[p] = data[p] ^ (1 << rng.randrange(8))
    elif how == 2:
        del data[rng.randrange(len(data)):]
    else:
        a = rng.randrange(len(data))
        b = rng.randrange(len(data))
        data[a:a] = data[b:b + rng.randrange(1, 16)]
    try:
        obj = pickle.loads(bytes(data))
        loaded += 1
    except Exception:
        errors += 1
        continue
    try:
        exercise(obj if isinstance(obj, tuple) else (obj,), rng)
    except Exception:
        pass
    del obj
    if i % 100 == 0:
        gc.collect()
print('ok', loaded, errors)
"""


def test_corrupted_tasklet_pickles_never_crash(tmp_path, stack_kind):
    count, loaded, errors = run_fuzz(tmp_path, FUZZ, 1 if stack_kind == "own" else 2, stack_kind)
    assert loaded + errors == count

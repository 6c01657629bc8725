"""Fuzz the frame loader: mutated pickles of real frame snapshots must raise, never crash.

    /usr/bin/python3 python/tests/fuzz_frames.py [--count N] [--jobs J] [--seed S]

The corpus is real snapshots of the frames_subjects functions in every pickle protocol.
Each case mutates one of them, deterministically from (seed, index): bytes of the pickle
(bit flips, interesting bytes, insertions, deletions, truncation, spliced chunks) or the
snapshot's structure before pickling it again (instruction offsets, stack depths and
values of the wrong type, NULL slots, cells, frames swapped/duplicated/dropped, digests,
names, versions). Then it unpickles the result and resumes it (or throws into it).

Cases run in worker processes, a batch each; a worker records the index of the case it
is on before running it, so when one dies by a signal the parent knows which case
crashed, saves it under --crash-dir, and restarts the batch after it. Exit status 0 and
the line "fuzz_frames: N cases, 0 crashes" mean no case crashed the interpreter.
"""
import argparse
import faulthandler
import os
import pickle
import random
import resource
import signal
import struct
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
FRAMES_TEST = os.path.join(HERE, "..", "frames_test")
sys.path.insert(0, FRAMES_TEST)

SUBJECTS = [("recurs", (9,)), ("deep", (5,)), ("with_try", ()), ("loops", ()),
            ("comprehension", ()), ("build_displays", ()), ("closures", ()),
            ("shared_cells", ()), ("in_except", ()), ("catch_thrown", ()),
            ("traceback_outer", ()), ("twice_outer", ()), ("calls", ()),
            ("unbound_local", (False,)), ("subscript", ()), ("star_call", ()),
            ("callable_object", ()), ("bound_star", ()), ("with_enter", ()),
            ("with_exit", ()), ("with_exit_raised", ()), ("init_call", ())]


def build_corpus():
    """Pickled snapshots of every subject in every protocol (bytes)."""
    import frames_subjects as S
    corpus = []
    for proto in range(pickle.HIGHEST_PROTOCOL + 1):
        S.PROTOCOL = proto
        for name, args in SUBJECTS:
            S.SNAPS.clear()
            try:
                getattr(S, name)(*args)
            except Exception:
                pass
            corpus.extend(S.SNAPS)
    S.PROTOCOL = pickle.HIGHEST_PROTOCOL
    return corpus


# --- mutations ------------------------------------------------------------------------------

INTERESTING = [0, 1, 0x7F, 0x80, 0xFF, 0xFE, 0x40, 0x20, ord("("), ord(")"), ord("."),
               ord("N"), ord("J"), ord("K"), ord("M"), ord("t"), ord("]"), ord("a"),
               ord("e"), ord("R"), ord("c"), ord("\x93"), ord("\x94")]


def mutate_bytes(rng, data):
    b = bytearray(data)
    for _ in range(rng.choice((1, 1, 1, 2, 3, 5))):
        if not b:
            break
        kind = rng.randrange(8)
        i = rng.randrange(len(b))
        if kind == 0:
            b[i] ^= 1 << rng.randrange(8)
        elif kind == 1:
            b[i] = rng.choice(INTERESTING)
        elif kind == 2:
            b[i] = rng.randrange(256)
        elif kind == 3:
            b.insert(i, rng.randrange(256))
        elif kind == 4:
            del b[i:i + rng.randrange(1, 4)]
        elif kind == 5:
            del b[rng.randrange(len(b)):]
        elif kind == 6:
            j = rng.randrange(len(b))
            b[i:i] = b[j:j + rng.randrange(1, 16)]
        else:
            # Small integers in the stream are often offsets, depths and indexes.
            b[i] = (b[i] + rng.choice((-2, -1, 1, 2, 4, 8))) & 0xFF
    return bytes(b)


def random_value(rng):
    import frames_subjects as S
    pool = [None, 0, 1, -1, 2 ** 70, -(2 ** 63), 10 ** 6, 1.5, "s", b"b", (), (1, 2), [],
            [1, 2], [ValueError("v")], [None], {}, {"a": 1}, set(), {1}, frozenset(),
            iter([]), iter([1, 2, 3]), iter(range(5)), enumerate("ab"), iter({"k": 1}),
            ValueError("x"), KeyError("k"), StopIteration(), object(), type, int, S.CM("z"),
            S.CM("z").__exit__, len, range(3), slice(1, 2), [[1]], ("slp.frames",),
            compile("1", "f", "eval")]
    return rng.choice(pool)


def mutate_frame(rng, fr):
    module, qualname, digest, site, values, nulls = fr
    values, nulls = list(values), list(nulls)
    kind = rng.randrange(12)
    if kind == 0:
        site = site + rng.choice((-8, -5, -4, -2, -1, 1, 2, 4, 5, 8, 16))
    elif kind == 1:
        site = rng.choice((0, -1, 2 ** 31, 2 ** 64, rng.randrange(400), "7", None))
    elif kind == 2 and values:
        values[rng.randrange(len(values))] = random_value(rng)
    elif kind == 3:
        if rng.random() < 0.5 or not values:
            values.append(random_value(rng))
        else:
            values.pop(rng.randrange(len(values)))
    elif kind == 4:
        nulls.append(rng.randrange(-2, len(values) + 2))
        if rng.random() < 0.7:
            nulls.sort()
    elif kind == 5 and nulls:
        nulls.pop(rng.randrange(len(nulls)))
    elif kind == 6:
        d = bytearray(digest)
        if d:
            d[rng.randrange(len(d))] ^= 1
        digest = bytes(d) if rng.random() < 0.9 else digest + b"x"
    elif kind == 7:
        qualname = rng.choice(["recurs", "deep", "loops", "CM.__exit__", "nope",
                               "make_counter.<locals>.bump", "loops.<locals>.x",
                               "comprehension.<locals>.<listcomp>", "Seq.__getitem__",
                               "suspend", "<locals>", "", 5])
    elif kind == 8:
        module = rng.choice(["frames_subjects", "os", "no_such_module_x", "", 3, "sys"])
    elif kind == 9 and values:
        # Shuffle the value stack / locals.
        i, j = rng.randrange(len(values)), rng.randrange(len(values))
        values[i], values[j] = values[j], values[i]
    elif kind == 10:
        # Keep the stack depth but drop the bottom item and add one on top.
        if values:
            values.pop(rng.randrange(len(values)))
            values.append(random_value(rng))
    else:
        for i, v in enumerate(values):
            if type(v) is list and rng.random() < 0.5:  # a cell (or a list on the stack)
                values[i] = rng.choice([[1, 2], (), None, [v], []])
    return (module, qualname, digest, site, tuple(values), tuple(nulls))


def mutate_snapshot(rng, snap):
    snap = list(snap)
    frames = list(snap[5])
    kind = rng.randrange(10)
    if kind < 5 and frames:
        i = rng.randrange(len(frames))
        frames[i] = mutate_frame(rng, frames[i])
    elif kind == 5 and len(frames) > 1:
        i, j = rng.randrange(len(frames)), rng.randrange(len(frames))
        frames[i], frames[j] = frames[j], frames[i]
    elif kind == 6 and frames:
        i = rng.randrange(len(frames))
        if rng.random() < 0.5:
            frames.insert(i, frames[i])
        else:
            frames.pop(i)
    elif kind == 7:
        field = rng.randrange(5)
        snap[field] = rng.choice([None, 0, 2, "slp.frames", (3, 12), (3, 11), (2, 7), -1,
                                  3495, 3413, ValueError("h"), 7, (3,)])
    elif kind == 8 and frames:
        frames[rng.randrange(len(frames))] = random_value(rng)
    else:
        snap[4] = random_value(rng)  # the handled exception
    snap[5] = tuple(frames) if rng.random() < 0.97 else frames
    return tuple(snap)


def make_case(corpus, seed, index):
    """(pickle bytes, how, value) for case `index`: deterministic."""
    rng = random.Random(seed * 1_000_003 + index)
    data = corpus[rng.randrange(len(corpus))]
    if rng.random() < 0.55:
        try:
            snap = pickle.loads(data)
            snap = mutate_snapshot(rng, snap)
            if rng.random() < 0.3:
                snap = mutate_snapshot(rng, snap)
            data = pickle.dumps(snap, rng.randrange(pickle.HIGHEST_PROTOCOL + 1))
        except Exception:
            pass
        if rng.random() < 0.15:
            data = mutate_bytes(rng, data)
    else:
        data = mutate_bytes(rng, data)
    how = "throw" if rng.random() < 0.15 else "resume"
    value = rng.choice(["V", 1, None, ValueError("t"), KeyError("t"), [1]])
    return data, how, value


# --- worker -------------------------------------------------------------------------------------

# Under emulation, how long one case may run before the worker's C watchdog ends it, and
# what faulthandler's watchdog (dump_traceback_later) writes when it does.
RUNAWAY_SECONDS = 5
RUNAWAY_MARK = "Timeout (0:00:%02d)!" % RUNAWAY_SECONDS


class Timeout(Exception):
    pass


def _alarm(signum, frame):
    raise Timeout()


def worker(corpus_path, seed, start, stop, progress_path):
    import frames_support
    T = frames_support.load()
    import frames_subjects as S
    with open(corpus_path, "rb") as f:
        corpus = pickle.load(f)
    # A runaway allocation must fail with MemoryError, not take the machine down.
    resource.setrlimit(resource.RLIMIT_AS, (3 << 30, 3 << 30))
    # Under qemu-user the guest's RLIMIT_AS binds nothing (qemu keeps it from itself), and
    # a mutated case that makes one huge allocation in a single C call, which the alarm
    # cannot interrupt, grew a worker to 22 GB until the host's OOM killer took it. There
    # a C watchdog ends a case that runs RUNAWAY_SECONDS (the alarm stops the others at
    # 0.5 s) by ending the worker with its mark on stderr: the parent counts it as a
    # runaway case (neither a crash nor a hang of the module) and goes on after it.
    runaway_guard = os.environ.get("SLP_EMULATED") == "1"
    signal.signal(signal.SIGALRM, _alarm)
    sys.setrecursionlimit(400)
    fd = os.open(progress_path, os.O_WRONLY)
    devnull = open(os.devnull, "w")
    sys.stdout = devnull
    for index in range(start, stop):
        os.pwrite(fd, struct.pack("<q", index), 0)
        data, how, value = make_case(corpus, seed, index)
        S.LOG.clear()
        S.SNAPS.clear()
        try:
            if runaway_guard:
                faulthandler.dump_traceback_later(RUNAWAY_SECONDS, exit=True,
                                                 file=sys.__stderr__)
            signal.setitimer(signal.ITIMER_REAL, 0.5)
            try:
                snap = pickle.loads(data)
                if how == "throw" and isinstance(value, BaseException):
                    T.throw(snap, value)
                else:
                    T.resume(snap, value)
            finally:
                signal.setitimer(signal.ITIMER_REAL, 0)
                if runaway_guard:
                    faulthandler.cancel_dump_traceback_later()
        except BaseException:  # any exception is fine (even the alarm, late)
            pass
    os.pwrite(fd, struct.pack("<q", stop), 0)
    os.close(fd)


# --- parent --------------------------------------------------------------------------------------

def run(count, jobs, seed, batch, crash_dir, verbose):
    import frames_support
    frames_support.load()
    corpus = build_corpus()
    tmp = tempfile.mkdtemp(prefix="fuzz_frames_")
    corpus_path = os.path.join(tmp, "corpus.pickle")
    with open(corpus_path, "wb") as f:
        pickle.dump(corpus, f)
    env = frames_support.child_env()
    pending = [(s, min(s + batch, count)) for s in range(0, count, batch)]
    running = []
    crashes = []
    hangs = []
    worker_errors = []
    runaways = []  # ended by the emulation's runaway guard (see worker())
    started = time.time()
    serial = 0

    def launch(start, stop):
        nonlocal serial
        serial += 1
        progress = os.path.join(tmp, "progress.%d" % serial)
        with open(progress, "wb") as f:
            f.write(struct.pack("<q", start - 1))
        p = subprocess.Popen([sys.executable, os.path.abspath(__file__), "--worker",
                              corpus_path, str(seed), str(start), str(stop), progress],
                             env=env, stderr=subprocess.PIPE, stdout=subprocess.DEVNULL)
        running.append((p, start, stop, progress, time.time()))

    while pending or running:
        while pending and len(running) < jobs:
            launch(*pending.pop(0))
        time.sleep(0.05)
        for item in list(running):
            p, start, stop, progress, t0 = item
            rc = p.poll()
            if rc is None:
                if time.time() - t0 > 600:  # a hang: count it, move on
                    p.kill()
                    rc = p.wait()
                else:
                    continue
            running.remove(item)
            err = p.stderr.read().decode(errors="replace")
            p.stderr.close()
            with open(progress, "rb") as f:
                at = struct.unpack("<q", f.read(8))[0]
            if rc == 0 and at == stop:
                continue
            if rc < 0 and -rc == signal.SIGKILL:
                hangs.append(at)
            elif rc == 1 and RUNAWAY_MARK in err:
                runaways.append(at)
            elif rc > 0:
                # The worker itself failed (a harness error, not a crash of the
                # interpreter): report it and go on after the case.
                worker_errors.append(at)
                if verbose:
                    print("case %d: worker error %d\n%s" % (at, rc, err[-2000:]))
            else:
                crashes.append((at, rc))
                os.makedirs(crash_dir, exist_ok=True)
                case = make_case(corpus, seed, at)
                with open(os.path.join(crash_dir, "crash-%d-%d.pickle" % (seed, at)), "wb") as f:
                    pickle.dump(case, f)
                if verbose:
                    print("case %d: worker exited with %d\n%s" % (at, rc, err[-2000:]))
            if at + 1 < stop:
                pending.insert(0, (at + 1, stop))
    elapsed = time.time() - started
    print("fuzz_frames: %d cases, %d crashes, %d hangs, %d worker errors, %d runaways ended "
          "(emulation), %d corpus snapshots, seed %d, %.1f s"
          % (count, len(crashes), len(hangs), len(worker_errors), len(runaways), len(corpus),
             seed, elapsed))
    for at, rc in crashes:
        print("  crash: case %d (exit %d), saved in %s" % (at, rc, crash_dir))
    return 1 if crashes or worker_errors else 0


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--count", type=int,
                    default=int(os.environ.get("SLP_FUZZ_FRAMES_COUNT", "100000")))
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--seed", type=int, default=int(os.environ.get("SLP_FUZZ_SEED", "1")))
    ap.add_argument("--batch", type=int, default=5000)
    ap.add_argument("--crash-dir", default=os.path.join(tempfile.gettempdir(), "fuzz_frames_crashes"))
    ap.add_argument("--quiet", action="store_true")
    ap.add_argument("--worker", nargs=5)
    a = ap.parse_args()
    if a.worker:
        corpus_path, seed, start, stop, progress = a.worker
        worker(corpus_path, int(seed), int(start), int(stop), progress)
        return 0
    return run(a.count, min(a.jobs, 2), a.seed, a.batch, a.crash_dir, not a.quiet)


if __name__ == "__main__":
    sys.exit(main())

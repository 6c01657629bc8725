"""Deep frames of many blocked tasklets survive intact: values, exceptions, generators,
frame objects, the GC, pickling and kill, while more tasklets than a thread has shared
stacks take turns (copied stacks then move the frames of a blocked tasklet aside and
back), and while a tasklet's depth crosses the end of its root chunk back and forth.
Every test runs with both stack kinds (conftest.py)."""
import functools
import gc
import operator
import pickle
import struct
import sys
import threading

import pytest

import stackless

# How many shared stacks a thread keeps for copied-stack tasklets that wait (core's
# shared_stacks_per_thread): a tasklet that starts while each holds a waiting one moves
# that one's frames aside.
SHARED_STACKS = stackless._shared_stacks_per_thread
CROWD = SHARED_STACKS + 8  # more tasklets than that: blocked tasklets' frames move
# How many shared stacks a thread may map for a crowd of runnable copied-stack tasklets
# (core's max_shared_stacks_per_thread); only a runnable crowd larger than that takes
# turns on shared stacks.
MAX_SHARED_STACKS = stackless._max_shared_stacks_per_thread


def values_of(tag, n):
    return (tag * 1000 + n, f"{tag}:{n}", [tag, n], n * 0.5)


def deep(tag, n, ch, out):
    """n frames of 2 arguments and 4 locals; the innermost receives, each frame checks
    its locals on the way out and adds what it received."""
    a, b, c, d = values_of(tag, n)
    if n > 1:
        r = deep(tag, n - 1, ch, out)
    else:
        r = ch.receive()
    assert (a, b, c, d) == values_of(tag, n), (tag, n)
    out.append((tag, n)) if n == 1 else None
    return r + n


def expected_sum(depth, sent):
    return sent + depth * (depth + 1) // 2


@pytest.mark.parametrize("depth", [1, 5, 20, 50, 120])
def test_many_blocked_deep_tasklets_keep_their_values(depth):
    ch = stackless.channel()
    results = {}
    out = []

    def body(tag):
        results[tag] = deep(tag, depth, ch, out)

    ts = [stackless.tasklet(body)(tag) for tag in range(CROWD)]
    stackless.run()
    assert ch.balance == -CROWD
    gc.collect()  # with every tasklet's frames blocked (most of them moved aside)
    for tag in range(0, CROWD, 3):  # some are looked at through frame objects meanwhile
        f, ns = ts[tag].frame, []
        while f is not None:
            if f.f_code.co_name == "deep":
                assert f.f_locals["b"] == f"{tag}:{f.f_locals['n']}"
                ns.append(f.f_locals["n"])
            f = f.f_back
        assert ns == list(range(1, depth + 1))
    for i in range(CROWD):
        ch.send(100 * i)
    assert sorted(results) == list(range(CROWD))
    # receivers are served in the order they blocked: tag i got 100 * i
    assert results == {t: expected_sum(depth, 100 * t) for t in range(CROWD)}


def test_blocking_again_at_other_depths_crosses_the_root_chunk_back_and_forth():
    # Frames of 400 locals (about 3.3 KiB each): 100 of them pass a copied-stack
    # tasklet's data region (256 KiB), every one an own-stack tasklet's root chunk.
    # Each tasklet blocks at depth 3, then 110, 2, 130 and 1, going deeper by calling
    # and back by returning; other tasklets run between its steps.
    names = [f"v{i}" for i in range(400)]
    src = ("def big(tag, n, plan, ch, log):\n"
           + "".join(f"    {v} = tag * 100000 + n * 1000 + {i}\n" for i, v in enumerate(names))
           + "    while plan:\n"
           + "        if plan[0] == n:\n"
           + "            plan.pop(0)\n"
           + "            log.append((tag, n, ch.receive()))\n"
           + "        elif plan[0] > n:\n"
           + "            big(tag, n + 1, plan, ch, log)\n"
           + "        else:\n"
           + "            break\n"
           + "    for i, v in enumerate((" + ", ".join(names) + ")):\n"
           + "        assert v == tag * 100000 + n * 1000 + i, (tag, n, i)\n"
           + "    return n\n")
    ns = {}
    exec(compile(src, "<big>", "exec"), ns)
    big = ns["big"]
    plan = [3, 110, 2, 130, 1]
    ch = stackless.channel()
    log = []
    tasklets = [stackless.tasklet(big)(tag, 1, list(plan), ch, log) for tag in range(CROWD)]
    stackless.run()
    for step in range(len(plan)):
        assert ch.balance == -CROWD, step
        gc.collect()
        for tag in range(CROWD):
            ch.send(step * 100 + tag)
    assert not any(t.alive for t in tasklets)
    for tag in range(CROWD):
        mine = [(n, got) for t, n, got in log if t == tag]
        assert mine == [(n, s * 100 + tag) for s, n in enumerate(plan)]


class _OnTheValueStack:
    """Held only on a frame's value stack (an operand waiting for a call's result)."""


def test_gc_visits_the_value_stacks_of_frames_moved_aside_exactly(stack_kind):
    # A copied-stack tasklet blocked deeper than its data region (frames of 400 locals:
    # the innermost ones in a chunk above the region) is moved aside exactly, not
    # packed, when the others take its shared stack. The GC then walks its frames in
    # the copy, each frame's value stack up to its top (on 3.14 a pointer into the frame,
    # which moves with it; read unmoved, the walk went past the frame or nowhere).
    names = [f"v{i}" for i in range(400)]
    src = ("def big(n, ch):\n"
           + "".join(f"    {v} = n\n" for v in names)
           + "    if n == 0:\n"
           + "        return ch.receive()\n"
           + "    return (_OnTheValueStack(), big(n - 1, ch))[1]\n")
    ns = {"_OnTheValueStack": _OnTheValueStack}
    exec(compile(src, "<big>", "exec"), ns)
    big = ns["big"]
    # About 330 KiB of frames, past the region (256 KiB), whatever a pointer's size.
    depth = 100 * 8 // struct.calcsize("P")
    ch = stackless.channel()
    ts = [stackless.tasklet(big)(depth, ch) for _ in range(CROWD)]
    stackless.run()
    assert ch.balance == -CROWD
    for t in ts:
        markers = [o for o in gc.get_referents(t) if isinstance(o, _OnTheValueStack)]
        if stack_kind == "copied" and stackless._memory_of(t)["frames_saved"]:
            assert stackless._memory_of(t)["packed"] == 0
        # every frame but the innermost holds one, whether in the region's copy or in
        # the chunk above it
        assert len(markers) == depth, len(markers)
    gc.collect()
    for i in range(CROWD):
        ch.send(i)
    assert not any(t.alive for t in ts)


def test_exception_raised_into_deep_blocked_tasklets_unwinds_every_frame():
    ch = stackless.channel()
    unwound = {}

    def frame(tag, n):
        a, b, c, d = values_of(tag, n)
        try:
            if n > 1:
                return frame(tag, n - 1)
            return ch.receive()
        except ValueError as e:
            assert (a, b, c, d) == values_of(tag, n)
            unwound.setdefault(tag, []).append(n)
            if n == 10:
                return f"caught {e} at {n}"
            raise

    results = {}

    def body(tag):
        results[tag] = frame(tag, 30)

    ts = [stackless.tasklet(body)(tag) for tag in range(CROWD)]
    stackless.run()
    for t in ts:
        t.throw(ValueError("x"))
    assert results == {tag: "caught x at 10" for tag in range(CROWD)}
    assert unwound == {tag: list(range(1, 11)) for tag in range(CROWD)}


def test_kill_of_deep_blocked_tasklets_runs_their_finally_blocks():
    ch = stackless.channel()
    finals = []

    def frame(tag, n):
        a, b, c, d = values_of(tag, n)
        try:
            if n > 1:
                frame(tag, n - 1)
            else:
                ch.receive()
        finally:
            assert (a, b, c, d) == values_of(tag, n)
            finals.append((tag, n))

    ts = [stackless.tasklet(frame)(tag, 25) for tag in range(CROWD)]
    stackless.run()
    for t in reversed(ts):
        t.kill()
    assert not any(t.alive for t in ts)
    assert sorted(finals) == sorted((tag, n) for tag in range(CROWD) for n in range(1, 26))


def test_generators_inside_deep_blocked_tasklets():
    ch = stackless.channel()
    got = {}

    def gen(tag, n):
        a, b = values_of(tag, n)[:2]
        for i in range(3):
            v = ch.receive()  # blocks inside the generator's frame
            assert (a, b) == values_of(tag, n)[:2]
            yield v + i

    def frame(tag, n):
        a, b, c, d = values_of(tag, n)
        if n > 1:
            r = frame(tag, n - 1)
        else:
            r = sum(gen(tag, n))
        assert (a, b, c, d) == values_of(tag, n)
        return r

    def body(tag):
        got[tag] = frame(tag, 15)

    ts = [stackless.tasklet(body)(tag) for tag in range(CROWD)]
    stackless.run()
    for t in ts:  # the innermost frame of each is the generator's; its caller is frame()
        f = t.frame
        while f.f_code.co_name == "receive":
            f = f.f_back
        assert f.f_code.co_name == "gen"
        assert f.f_back.f_code.co_name == "frame" and f.f_back.f_locals["n"] == 1
    for rnd in range(3):
        gc.collect()
        for tag in range(CROWD):
            ch.send(tag)
    assert got == {tag: 3 * tag + 3 for tag in range(CROWD)}


def test_frame_objects_of_blocked_tasklets_read_their_frames():
    ch = stackless.channel()
    kept = []

    def frame(tag, n):
        a, b, c, d = values_of(tag, n)
        if n % 7 == 0:
            kept.append(sys._getframe())  # a frame object made while it runs
        if n > 1:
            return frame(tag, n - 1)
        try:
            raise KeyError(tag)
        except KeyError:
            pass  # a traceback made frame objects too
        return ch.receive()

    ts = [stackless.tasklet(frame)(tag, 30) for tag in range(CROWD)]
    stackless.run()
    gc.collect()
    for tag, t in enumerate(ts):
        # walk the blocked tasklet's frames from the innermost one, by frame objects
        f = t.frame
        ns = []
        while f is not None:
            if f.f_code.co_name == "frame":
                assert f.f_locals["b"] == f"{tag}:{f.f_locals['n']}"
                ns.append(f.f_locals["n"])
            f = f.f_back
        assert ns == list(range(1, 31))
    for f in kept:
        tag, n = f.f_locals["tag"], f.f_locals["n"]
        assert f.f_locals["a"] == tag * 1000 + n
        assert f.f_lineno > 0
    del f
    gc.collect()
    for i in range(CROWD):
        ch.send(i)
    assert not any(t.alive for t in ts)
    # frames that ended keep their last state in their frame objects
    assert all(f.f_locals["c"] == [f.f_locals["tag"], f.f_locals["n"]] for f in kept)


def test_gc_collects_cycles_through_frames_moved_aside():
    import weakref

    class Marker:
        pass

    ch = stackless.channel()
    log = []

    def frame(n, m):
        a = m
        try:
            if n > 1:
                frame(n - 1, m)
            else:
                ch.receive()
        finally:
            log.append(n)

    refs = []
    for _ in range(CROWD):
        m = Marker()
        refs.append(weakref.ref(m))
        stackless.tasklet(frame)(10, m)
    del m
    stackless.run()
    assert ch.balance == -CROWD
    refs.append(weakref.ref(ch))
    del ch
    gc.collect()  # the channel, its blocked tasklets and their markers: one cycle
    assert all(r() is None for r in refs)
    assert sorted(log) == sorted(list(range(1, 11)) * CROWD)


def test_pickle_of_deep_blocked_tasklets_among_a_crowd():
    _PICKLED_RESULTS.clear()
    ch = stackless.channel()
    ts = [stackless.tasklet(_pickled_frame)(tag, 40, ch) for tag in range(CROWD)]
    stackless.run()
    data = pickle.dumps((ts, ch))  # most of them have their frames moved aside now
    for t in ts:
        t.kill()
    assert _PICKLED_RESULTS == {}
    ts2, ch2 = pickle.loads(data)
    assert ch2.balance == -CROWD
    gc.collect()
    for i in range(CROWD):
        ch2.send(i)
    assert not any(t.alive for t in ts2)
    # (each frame checked its locals; which restored tasklet the channel serves first
    # is the unpickling's business)
    assert sorted(_PICKLED_RESULTS) == list(range(CROWD))
    assert sorted(_PICKLED_RESULTS.values()) == [expected_sum(40, i) for i in range(CROWD)]


_PICKLED_RESULTS = {}


def _pickled_frame(tag, n, ch):
    a, b, c, d = values_of(tag, n)
    if n > 1:
        r = _pickled_frame(tag, n - 1, ch)
    else:
        r = ch.receive()
    assert (a, b, c, d) == values_of(tag, n)
    if n == 40:
        _PICKLED_RESULTS[tag] = r + n
    return r + n


def test_deep_blocked_tasklets_in_another_thread():
    errors = []
    results = []

    def thread_main():
        try:
            ch = stackless.channel()
            out = []
            ts = [stackless.tasklet(lambda tag: results.append(deep(tag, 30, ch, out)))(tag)
                  for tag in range(CROWD)]
            stackless.run()
            gc.collect()
            for i in range(CROWD):
                ch.send(i)
            assert not any(t.alive for t in ts)
        except BaseException as e:  # reported in the main thread
            errors.append(e)

    th = threading.Thread(target=thread_main)
    th.start()
    th.join()
    assert not errors, errors
    assert sorted(results) == sorted(expected_sum(30, i) for i in range(CROWD))


# Bytes of a frame in CPython's layout: its specials (_PyInterpreterFrame up to
# localsplus: eight pointers, then an int and two chars padded to a pointer's alignment,
# 72 bytes on 64-bit CPUs, 40 on 32-bit ones; since 3.14 a ninth pointer, the spilled
# stack pointer, where the int was, and 16 bits and two chars) and its localsplus
# (locals, cells, free variables, value stack), a word each.
WORD = struct.calcsize("P")  # 8, or 4 on a 32-bit CPU (armhf)
FRAME_SPECIALS_BYTES = (9 if sys.version_info >= (3, 14) else 8) * WORD + 8


def frame_bytes(code):
    nlocalsplus = code.co_nlocals + len(code.co_cellvars) + len(code.co_freevars)
    return FRAME_SPECIALS_BYTES + (nlocalsplus + code.co_stacksize) * WORD


def test_memory_of_a_blocked_tasklet_is_its_frames_and_a_c_slice_of_fixed_size(stack_kind):
    """Where a blocked tasklet's bytes are (stackless._memory_of): a copied-stack
    tasklet moved aside keeps its frames' bytes (CPython's layout: the sum of its
    frames' sizes; packed: each frame blocked in a Python call its locals' words) in one
    heap block, the rest of its frames (each a head of 4 bytes and, unless it shares its
    callee's, its function's word: their shape) in a block it shares with the tasklets
    blocked in the same frames, and a C slice whose size does not depend on how deep its
    Python frames are."""
    ch = stackless.channel()
    depths = {}

    def body(n):
        deep(n, n, ch, [])

    # more than the shared stacks: the first ones, some of each depth, are moved aside
    for n in (5, 20, 50) * (SHARED_STACKS // 3 + 4):
        depths[stackless.tasklet(body)(n)] = n
    stackless.run()
    mem = {t: stackless._memory_of(t) for t in depths}
    if stack_kind == "own":
        assert all(m["frames"] == m["frames_saved"] == m["c_slice"] == 0 for m in mem.values())
    else:
        deep_code, body_code = deep.__code__, body.__code__
        aside = [t for t in depths if mem[t]["frames_saved"]]
        assert len(aside) >= len(depths) - SHARED_STACKS
        # glibc hands out a free chunk whole when what is left of it would be smaller
        # than its minimum chunk (32 B), so in a used heap a block can be 16 B bigger
        # than asked for: the core tasklet's two blocks may differ by that much each.
        cores = {mem[t]["core"] for t in depths}
        assert max(cores) - min(cores) <= 2 * 16
        # The C slice does not grow with depth. (Its size depends on the C path that
        # blocked: a call CPython has not specialised yet takes more C frames, as does a
        # switch to the main tasklet; so the smallest at each depth is compared.)
        slices = {}
        for t in aside:
            slices.setdefault(depths[t], []).append(mem[t]["c_slice"])
        assert len({min(v) for v in slices.values()}) == 1
        assert all(0 < s < 4096 for v in slices.values() for s in v)
        packed = {}
        for t in aside:
            m = mem[t]
            assert m["packed"] == 1
            assert m["frames"] == frame_bytes(body_code) + depths[t] * frame_bytes(deep_code)
            assert m["frames_saved"] < m["frames"]
            # One heap block each (glibc: 8 bytes in front, 16-byte steps, 32 at least,
            # and up to 16 more when a free chunk is handed out whole).
            assert 0 < m["frames_block"] - m["frames_saved"] <= 32 + 16
            assert 0 < m["c_slice_block"] - m["c_slice"] <= 32 + 16
            packed.setdefault(depths[t], set()).add(m["frames_saved"])
        assert all(len(v) == 1 for v in packed.values())
        per_frame = (packed[50].pop() - packed[20].pop()) / 30
        # A packed frame of a recursion blocked in a Python call: its locals' words, but
        # for the arguments it holds as its callee does (tag, ch, out: passed down), and a
        # byte that says which those are.
        assert per_frame == (deep_code.co_nlocals - 3) * WORD + 1
        # Its shape: a 32-bit head a frame, and the function word of the
        # innermost frame and of the body's (the others are their callee's; each code is
        # its function's); one for the tasklets blocked at the same depth, its block's
        # bytes shared among them.
        for d in (5, 20, 50):
            at_d = [mem[t] for t in aside if depths[t] == d]
            assert {m["shape_users"] for m in at_d} == {len(at_d)}
            assert {m["shape_bytes"] for m in at_d} == {(d + 1) * 4 + 2 * WORD}
            share = at_d[0]["frames_shape"]
            # (its own head: hash, users and bytes, and the codes of a replaced __code__)
            block = at_d[0]["shape_bytes"] + 2 * WORD + 8
            assert block <= share * len(at_d) + len(at_d) <= block + 32 + 16 + len(at_d)
        # Read through t.frame, the frames are unpacked aside: exactly their bytes,
        # behind the chunk's header.
        t = aside[0]
        assert t.frame is not None
        m = stackless._memory_of(t)
        assert m["packed"] == 0 and m["frames"] == mem[t]["frames"]
        assert 0 < m["frames_saved"] - m["frames"] <= 64
    for t in depths:
        t.kill()


def test_entry_frames_of_a_blocked_tasklet_are_shown_without_copying_the_first(stack_kind):
    """While a copied-stack tasklet's C slice is away (CPython 3.12+), each entry frame of
    its chain (one per entry into the eval loop from C, on its C stack) is shown from a
    heap block once its frames are read: the entries at the bottom of its C stack, those
    of a tasklet blocked in Python frames, by their bytes in the copy of its C slice (the
    block holds only where each goes back: 2 words, and a head); an entry further in (a C
    call back into Python) by a copy of its own. Both read right and resume. Until then a
    waiting tasklet's frames are packed, no chain to read, and show none."""
    if stack_kind == "own":
        pytest.skip("own stacks keep their entry frames in place")
    ch = stackless.channel()
    out = []

    def plain():
        deep(1, 5, ch, out)

    def through_c():
        sorted([1], key=lambda v: deep(2, 5, ch, out))

    ts = [stackless.tasklet(f)() for f in (plain, through_c) for _ in range(CROWD)]
    stackless.run()
    mem = {t: stackless._memory_of(t) for t in ts}
    away = {f: [t for t in part if mem[t]["c_slice"]]
            for f, part in ((plain, ts[:CROWD]), (through_c, ts[CROWD:]))}
    assert len(away[plain]) >= CROWD - SHARED_STACKS
    assert len(away[through_c]) >= CROWD - SHARED_STACKS
    for t in away[plain] + away[through_c]:
        assert mem[t]["packed"] == 1 and mem[t]["entry_frames"] == 0
    for t in ts:  # the chain reads right through them, to its end
        codes = []
        f = t.frame
        while f is not None:
            codes.append(f.f_code.co_name)
            f = f.f_back
        assert codes[:5] == ["deep"] * 5 and codes[-1] in ("plain", "through_c")
    shown = {f: [stackless._memory_of(t)["entry_frames"] for t in part]
             for f, part in away.items()}
    if sys.version_info < (3, 12):
        assert set(shown[plain]) == set(shown[through_c]) == {0}
    else:
        assert all(0 < b < FRAME_SPECIALS_BYTES for b in shown[plain])
        assert all(b > FRAME_SPECIALS_BYTES for b in shown[through_c])
    gc.collect()  # visits the chains shown
    for i in range(2 * CROWD):
        ch.send(i)
    assert not any(t.alive for t in ts) and len(out) == 2 * CROWD


@pytest.mark.parametrize("call", ["operator.call", "map", "reduce"])
def test_frames_called_through_c_are_packed_and_read_right(stack_kind, call):
    """A waiting copied-stack tasklet whose frames call each other through C (callbacks,
    map(), functools.reduce, operator.call) has its frames packed, each entry frame between them (CPython
    3.12+: on its C stack) named by the packed form and shown by no copy while it waits.
    Its values, the GC, t.frame / f_back and nesting_level read as they were, and it
    resumes right, whether its frames were read while it waited or not."""
    ch = stackless.channel()
    depth = 6
    through = {
        "operator.call": lambda f, x, y: operator.call(f, x, y),
        "map": lambda f, x, y: list(map(lambda _: f(x, y), [0]))[0],
        "reduce": lambda f, x, y: functools.reduce(lambda _, __: f(x, y), [0], None),
    }[call]
    received = []

    def level(tag, n):
        a, b, c, d = values_of(tag, n)
        if n > 1:
            r = through(level, tag, n - 1)
        else:
            r = ch.receive()
        assert (a, b, c, d) == values_of(tag, n), (tag, n)
        return r

    def body(tag):
        received.append(level(tag, depth))

    ts = [stackless.tasklet(body)(k) for k in range(CROWD)]
    stackless.run()
    if stack_kind == "copied":
        mem = {t: stackless._memory_of(t) for t in ts}
        away = [t for t in ts if mem[t]["frames_saved"]]
        assert len(away) >= CROWD - SHARED_STACKS
        for t in away:
            assert mem[t]["packed"] == 1 and mem[t]["entry_frames"] == 0, mem[t]
    gc.collect()  # visits the packed frames
    for t in ts[::2]:  # read (unpacked aside) while they wait; the others resume packed
        names = []
        f = t.frame
        while f is not None:
            names.append(f.f_code.co_name)
            f = f.f_back
        assert names.count("level") == depth and names[-1] == "body", names
        assert t.nesting_level == depth - 1
    gc.collect()
    for k in range(CROWD):
        ch.send(k)
    assert not any(t.alive for t in ts) and sorted(received) == list(range(CROWD))


def test_memory_of_takes_a_suspended_tasklet():
    with pytest.raises(TypeError):
        stackless._memory_of(object())
    with pytest.raises(RuntimeError):
        stackless._memory_of(stackless.getcurrent())
    fresh = stackless.tasklet(lambda: None)
    assert stackless._memory_of(fresh)["frames_saved"] == 0


def test_a_tasklet_blocked_shallower_than_before_keeps_a_block_of_its_frames_size(stack_kind):
    """A tasklet moved aside blocked 50 frames deep, and then again 5 deep, keeps a
    block the size of its 5 frames, not of the 50."""
    if stack_kind == "own":
        pytest.skip("own stacks keep their frames in place")
    ch = stackless.channel()

    def at(n):
        return at(n - 1) if n > 1 else ch.receive()

    def body():
        at(50)
        at(5)

    ts = [stackless.tasklet(body)() for _ in range(CROWD)]
    stackless.run()
    deep_ = {t: stackless._memory_of(t) for t in ts}
    for _ in ts:  # each returns from 50 deep and blocks 5 deep
        ch.send(None)
    shallow = {t: stackless._memory_of(t) for t in ts}
    # One moved aside 50 deep comes back to its stack, taking it from a tasklet that
    # blocked after it, which comes back later and moves it aside again.
    twice = [t for t in ts if deep_[t]["packed"] and shallow[t]["packed"]]
    assert len(twice) >= CROWD - SHARED_STACKS
    for t in twice:
        assert deep_[t]["packed"] == shallow[t]["packed"] == 1
        assert shallow[t]["frames_saved"] < deep_[t]["frames_saved"] // 4
        assert 0 < shallow[t]["frames_block"] - shallow[t]["frames_saved"] <= 32
    for t in ts:
        t.kill()


# One function of 2 arguments and 4 locals calling `callee` (itself, or another of the
# same shape), blocked at the innermost; each frame adds `tag` to what it returns.
CHAIN_SRC = """
def {name}(n, ch):
    a = b = c = d = n
    if {swap} and n == 3:
        {name}.__code__ = OTHER
    if n > 1:
        return {callee}(n - 1, ch) + {tag!r}
    return ch.receive() + {tag!r}
"""


def chain_function(name, callee, tag, ns, swap=False):
    exec(CHAIN_SRC.format(name=name, callee=callee, tag=tag, swap=swap), ns)
    return ns[name]


def test_frames_of_a_runnable_tasklet_move_unpacked_and_of_a_waiting_one_packed(stack_kind):
    """A crowd of copied-stack tasklets taking turns moves each one's frames aside at
    every switch: as they are while it is runnable (it runs again soon), packed once it
    waits on a channel."""
    if stack_kind == "own":
        pytest.skip("own stacks keep their frames in place")
    depth = 10
    ch = stackless.channel()
    turns = {"left": 2}

    def spin_then_wait(n):
        a, b, c, d = values_of(n, n)
        if n > 1:
            return spin_then_wait(n - 1) + a
        while turns["left"]:
            stackless.schedule()
        return ch.receive() + a

    crowd = MAX_SHARED_STACKS + CROWD
    ts = [stackless.tasklet(spin_then_wait)(depth) for _ in range(crowd)]
    stackless.schedule()  # each ran to its first schedule(): all runnable, some moved aside
    away = [stackless._memory_of(t) for t in ts]
    away = [m for m in away if m["frames_saved"]]
    assert len(away) >= crowd - MAX_SHARED_STACKS
    assert not any(m["packed"] for m in away)
    turns["left"] = 0
    stackless.schedule()  # each leaves its loop and blocks on ch
    assert ch.balance == -crowd
    away = [m for m in map(stackless._memory_of, ts) if m["frames_saved"]]
    assert len(away) >= crowd - MAX_SHARED_STACKS
    assert all(m["packed"] for m in away)
    for i in range(crowd):
        ch.send(i)
    assert not any(t.alive for t in ts)


def test_packed_frames_of_a_recursion_share_their_function_and_code(stack_kind):
    """A packed frame's shape keeps its function's word only when the frame it called has
    another function (and its code's only when that is not its function's __code__): the
    shape of D frames of one recursive function is a head of 4 bytes a frame and one word,
    that of D frames of two functions of the same shape calling each other D words more;
    the frames' own words are the same."""
    if stack_kind == "own":
        pytest.skip("own stacks keep their frames in place")
    depth = 20
    ns = {}
    rec = chain_function("rec", "rec", "", ns)
    alt = chain_function("alt_a", "alt_b", "", ns)
    chain_function("alt_b", "alt_a", "", ns)
    ch = stackless.channel()
    ts = {stackless.tasklet(f)(depth, ch): f for f in (rec, alt) * CROWD}
    stackless.run()
    saved, shapes = {}, {}
    for t, f in ts.items():
        m = stackless._memory_of(t)
        if m["frames_saved"]:
            assert m["packed"] == 1
            saved.setdefault(f, set()).add(m["frames_saved"])
            shapes.setdefault(f, set()).add(m["shape_bytes"])
    assert len(saved[rec]) == len(saved[alt]) == len(shapes[rec]) == len(shapes[alt]) == 1
    assert saved[alt] == saved[rec]
    assert shapes[rec] == {depth * 4 + WORD}
    assert shapes[alt] == {depth * (4 + WORD)}
    for i in range(len(ts)):
        ch.send(str(i))
    assert not any(t.alive for t in ts)


class _Passed:
    """An object a call passes down (or not)."""


def passing(n, ctx, fresh, seen, ch):
    """n frames, each passing `ctx` down to the next (a new one in each frame if `fresh`),
    the innermost blocked; each frame checks on the way out that its locals are its own."""
    if fresh:
        ctx = _Passed()
    mine = _Passed()
    seen.append((ctx, mine))
    r = passing(n - 1, ctx, fresh, seen, ch) if n > 1 else ch.receive()
    assert seen[-n][0] is ctx and seen[-n][1] is mine, n
    return r + 1


def test_packed_frames_keep_what_a_call_passes_down_once(stack_kind):
    """A packed frame does not keep again those of its first words that are the words the
    frame it called holds at the same index (what a call passes down: `ctx`, `fresh`,
    `seen` and `ch` here; `mine` and `n` differ): a chain passing one `ctx` down keeps a
    word a frame less than one making a new `ctx` in each frame. Each frame still holds
    its own reference (the GC visits each), and gets its own values back."""
    if stack_kind == "own":
        pytest.skip("own stacks keep their frames in place")
    depth = 20
    ch = stackless.channel()
    seens = {}
    results = []

    def body(fresh):
        seen = []
        seens[stackless.getcurrent()] = (fresh, seen)
        results.append(passing(depth, _Passed(), fresh, seen, ch))

    ts = [stackless.tasklet(body)(fresh) for fresh in (False, True) * CROWD]
    stackless.run()
    # (which words a tasklet keeps is its own: all share one shape)
    assert len(set(shapes_of(ts).values())) == 1
    saved = {False: set(), True: set()}
    for t in ts:
        fresh, seen = seens[t]
        m = stackless._memory_of(t)
        if m["frames_saved"]:
            assert m["packed"] == 1
            saved[fresh].add(m["frames_saved"])
        # The GC visits each frame's references as it does in the frames' own layout
        # (t.frame unpacks them aside; since 3.14 a borrowed one is not visited).
        packed = gc.get_referents(t)
        assert t.frame is not None
        exact = gc.get_referents(t)
        for ctx, mine in seen:
            assert sum(o is mine for o in packed) == sum(o is mine for o in exact)
            assert sum(o is ctx for o in packed) == sum(o is ctx for o in exact)
        if sys.version_info < (3, 14):  # (one reference a frame that holds it)
            assert sum(o is seen[0][0] for o in packed) == (1 if fresh else depth)
    assert len(saved[False]) == len(saved[True]) == 1
    kept_less = saved[True].pop() - saved[False].pop()
    if sys.version_info < (3, 14):
        assert kept_less == (depth - 1) * WORD
    else:  # (tagged words: an owned and a borrowed reference to ctx are different words)
        assert (depth - 2) * WORD <= kept_less <= (depth - 1) * WORD
    gc.collect()
    for i in range(len(ts)):
        ch.send(i)
    assert results == [i + depth for i in range(len(ts))]


def test_packed_frames_of_many_locals_far_into_their_code(stack_kind):
    """A packed frame's head is 32 bits when its position and value-stack top fit them,
    and three 32-bit words when they do not (600 locals; a call past 65,536 code units
    into the function): such frames pack as well, with their values."""
    if stack_kind == "own":
        pytest.skip("own stacks keep their frames in place")
    stores = 40_000  # of 600 locals, in turn
    last = {k: range(k, stores, 600)[-1] % 7 for k in range(600)}  # each one's, less n
    src = ("def many(n, ch):\n"
           + "".join(f"    v{i % 600} = n + {i % 7}\n" for i in range(stores))
           + "    r = many(n - 1, ch) if n > 1 else ch.receive()\n"
           + f"    assert (v0, v7, v599) == (n + {last[0]}, n + {last[7]}, n + {last[599]}), n\n"
           + "    return r + n\n")
    ns = {}
    exec(compile(src, "<many>", "exec"), ns)
    many = ns["many"]
    assert len(many.__code__.co_code) // 2 > 65_536
    depth = 3
    ch = stackless.channel()
    results = []
    ts = [stackless.tasklet(lambda: results.append(many(depth, ch)))() for _ in range(CROWD)]
    stackless.run()
    shapes = shapes_of(ts)
    assert len(shapes) >= CROWD - SHARED_STACKS
    # (each frame a long head; the innermost one's function word, the others share it;
    # and the lambda's frame, a short head and its function's word)
    assert {b for b, _ in shapes.values()} == {depth * 12 + WORD + 4 + WORD}
    gc.collect()
    for i in range(CROWD):
        ch.send(i)
    assert sorted(results) == [i + depth * (depth + 1) // 2 for i in range(CROWD)]


def test_many_shapes_of_their_own_are_listed_and_leave(stack_kind):
    """Tasklets each blocked in functions of their own (a shape each, many more than the
    shape table's first buckets) share none; each leaves its shape when it runs again
    and blocks elsewhere, and when it ends; all get their values back."""
    if stack_kind == "own":
        pytest.skip("own stacks keep their frames in place")
    ns = {}
    funcs = [chain_function(f"own{i}", f"own{i}", str(i), ns) for i in range(200)]
    ch = stackless.channel()
    results = []

    def body(f):
        results.append(f(5, ch))
        results.append(f(3, ch))

    ts = [stackless.tasklet(body)(f) for f in funcs]
    stackless.run()
    shapes = shapes_of(ts)
    assert len(shapes) >= len(ts) - SHARED_STACKS
    assert {users for _, users in shapes.values()} == {1}
    for i in range(len(ts)):  # each blocks again, 3 deep
        ch.send("a")
    assert {users for _, users in shapes_of(ts).values()} == {1}
    for i in range(len(ts)):
        ch.send("b")
    assert not any(t.alive for t in ts)
    assert sorted(results) == sorted([f"a{str(i) * 5}" for i in range(200)]
                                     + [f"b{str(i) * 3}" for i in range(200)])


def blocked_at(n, ch, where):
    """n frames of deep()'s shape, blocked in one of two places of the innermost."""
    a = b = c = d = n
    if n > 1:
        return blocked_at(n - 1, ch, where) + a
    if where == "here":
        return ch.receive() + b
    return ch.receive() + c


def shapes_of(ts):
    """{tasklet: (shape bytes, users)} of the tasklets whose frames are packed."""
    mems = {t: stackless._memory_of(t) for t in ts}
    return {t: (m["shape_bytes"], m["shape_users"]) for t, m in mems.items() if m["packed"]}


def test_tasklets_blocked_in_the_same_frames_share_one_shape_until_they_run(stack_kind):
    """Tasklets blocked in the same frames at the same places share one shape; blocked
    at another place, another one; a tasklet that runs again leaves its shape, the last
    one to leave it frees it, and every tasklet gets its own values back."""
    if stack_kind == "own":
        pytest.skip("own stacks keep their frames in place")
    ch = stackless.channel()
    results = {}

    def body(i, where):
        results[i] = blocked_at(10, ch, where)

    wheres = ["here", "there"] * CROWD
    ts = [stackless.tasklet(body)(i, w) for i, w in enumerate(wheres)]
    stackless.run()
    shapes = shapes_of(ts)
    assert len(shapes) >= len(ts) - SHARED_STACKS
    for where in ("here", "there"):
        group = [t for t, w in zip(ts, wheres) if w == where and t in shapes]
        assert {shapes[t] for t in group} == {(shapes[group[0]][0], len(group))}
    here = next(t for t, w in zip(ts, wheres) if w == "here" and t in shapes)
    there = next(t for t, w in zip(ts, wheres) if w == "there" and t in shapes)
    assert stackless._memory_of(here)["frames_shape"] != 0
    # (the same frames and functions, another position in the innermost)
    assert shapes[here][0] == shapes[there][0]
    for i in range(CROWD):  # the first half (in blocking order) ends
        ch.send(i)
    left = shapes_of(ts[CROWD:])
    for where in ("here", "there"):
        group = [t for t, w in zip(ts, wheres) if w == where and t in left]
        assert {left[t][1] for t in group} == {len(group)}
    for i in range(CROWD, 2 * CROWD):
        ch.send(i)
    assert not any(t.alive for t in ts)
    n_sum = 10 * 11 // 2
    for i, w in enumerate(wheres):  # each frame added its own n, the innermost b or c (1)
        assert results[i] == i + n_sum - 1 + 1
    # Ended or killed, they left their shapes: a new crowd blocked at the same place
    # counts only itself.
    again = [stackless.tasklet(body)(i, "here") for i in range(CROWD)]
    stackless.run()
    for t in again[: CROWD // 2]:
        t.kill()
    again = again[CROWD // 2:] + [stackless.tasklet(body)(i, "here") for i in range(CROWD)]
    stackless.run()
    shapes = shapes_of(again)
    assert len(shapes) >= len(again) - SHARED_STACKS
    assert {users for _, users in shapes.values()} == {len(shapes)}
    for t in again:
        t.kill()


def test_one_shape_serves_the_tasklets_of_two_threads(stack_kind):
    """The shapes are the process's: tasklets of two threads blocked in the same frames
    share one, and each thread's tasklets leave it when they end in their thread."""
    if stack_kind == "own":
        pytest.skip("own stacks keep their frames in place")
    blocked, done = threading.Event(), threading.Event()
    errors, results = [], []
    theirs = []

    def body(ch):  # (one function for both threads' tasklets)
        results.append(blocked_at(6, ch, "here"))

    def thread_main():
        try:
            ch = stackless.channel()
            theirs.extend(stackless.tasklet(body)(ch) for _ in range(CROWD))
            stackless.run()
            blocked.set()
            done.wait(60)
            for i in range(CROWD):
                ch.send(i)
        except BaseException as e:  # reported in the main thread
            errors.append(e)
            blocked.set()

    ch = stackless.channel()
    ours = [stackless.tasklet(body)(ch) for _ in range(CROWD)]
    stackless.run()
    th = threading.Thread(target=thread_main)
    th.start()
    assert blocked.wait(60)
    both = shapes_of(ours + theirs)
    assert {shape for shape, _ in both.values()} == {next(iter(both.values()))[0]}
    assert {users for _, users in both.values()} == {len(both)}
    assert any(t in both for t in theirs) and any(t in both for t in ours)
    done.set()
    th.join()
    assert not errors, errors
    ours_left = shapes_of(ours)
    assert {users for _, users in ours_left.values()} == {len(ours_left)}
    for i in range(CROWD):
        ch.send(i)
    assert sorted(results) == sorted([i + 6 * 7 // 2 for i in range(CROWD)] * 2)


def test_a_recursion_whose_code_changed_keeps_each_frames_code_when_packed(stack_kind):
    """A function whose __code__ is replaced while it recurses has frames of two codes
    with one function object: packed, each keeps its own code (what runs when it
    resumes, what t.frame shows, what the GC visits)."""
    depth = 8
    ch = stackless.channel()
    results = []

    def body(f):
        results.append(f(depth, ch))

    ts = []
    for _ in range(CROWD):
        other = {}
        chain_function("rec", "rec", "B", other)
        ns = {"OTHER": other["rec"].__code__}
        ts.append(stackless.tasklet(body)(chain_function("rec", "rec", "A", ns, swap=True)))
        del other, ns
    stackless.run()
    assert ch.balance == -CROWD
    if stack_kind == "copied":
        assert sum(stackless._memory_of(t)["packed"] for t in ts) >= CROWD - SHARED_STACKS
    gc.collect()
    tags = []
    f = ts[0].frame
    while f is not None:
        tags.append(f.f_code.co_consts)
        f = f.f_back
    assert [("B" in c, "A" in c) for c in tags[:depth]] == (
        [(True, False)] * 2 + [(False, True)] * (depth - 2))
    for i in range(CROWD):
        ch.send(str(i))
    assert not any(t.alive for t in ts)
    # the two innermost frames ran the new code, the others the old one
    assert sorted(results) == sorted(f"{i}BB" + "A" * (depth - 2) for i in range(CROWD))


def test_frames_packed_before_their_functions_code_is_replaced_keep_their_code(stack_kind):
    """A packed frame whose code is its function's keeps only the function: when the
    function's __code__ is then replaced, the frame still runs (and shows, and the GC
    visits) the code it was called with, and tasklets blocked in the new code get a shape
    of their own (the same bytes no longer mean the same frames)."""
    depth = 8
    ch = stackless.channel()
    results = []
    ns = {}
    rec = chain_function("rec", "rec", "A", ns)
    old_code = rec.__code__
    new_code = chain_function("rec", "rec", "B", {}).__code__

    def body():
        results.append(rec(depth, ch))

    before = [stackless.tasklet(body)() for _ in range(CROWD)]
    stackless.run()
    if stack_kind == "copied":
        assert sum(stackless._memory_of(t)["packed"] for t in before) >= CROWD - SHARED_STACKS
    rec.__code__ = new_code
    del old_code
    gc.collect()
    after = [stackless.tasklet(body)() for _ in range(CROWD)]
    stackless.run()
    assert ch.balance == -2 * CROWD
    if stack_kind == "copied":
        # (the new ones share theirs, with none of the old ones)
        new = [u for u in (stackless._memory_of(t)["shape_users"] for t in after) if u]
        assert new and set(new) == {len(new)}
    for ts, tag in ((before[1:], "A"), (after[1:], "B")):
        f = ts[-1].frame  # (unpacked aside, as the GC and pickling read it)
        codes = []
        while f is not None:
            codes.append(f.f_code)
            f = f.f_back
        assert {tag in c.co_consts for c in codes[:depth]} == {True}
    for i in range(2 * CROWD):
        ch.send(str(i))
    assert not any(t.alive for t in before + after)
    assert sorted(results) == sorted([f"{i}" + "A" * depth for i in range(CROWD)]
                                     + [f"{i}" + "B" * depth for i in range(CROWD, 2 * CROWD)])


def test_frames_entered_from_c_read_right_while_their_stack_is_reused():
    # Tasklets blocked in Python functions that C code called (map()) have an eval-loop
    # entry between their frames; on CPython 3.13 each entry is a frame on the tasklet's C
    # stack, which a copied-stack tasklet gives up to the others while it is suspended.
    # More tasklets than a thread has shared stacks, blocked deep in C recursion, reuse
    # every stack; the GC, t.frame / f_back and nesting_level still read each chain as
    # it was, and every tasklet resumes and finishes.
    ch = stackless.channel()
    done = []

    def inner(x):
        ch.receive()
        return x

    def through_c(i):
        done.append(list(map(inner, [i]))[0])

    def deep(n):
        # C recursion (sorted's key calls back into Python) that overwrites the stack
        return n if n == 0 else sorted([n], key=lambda v: deep(n - 1))[0]

    def blocked_deep():
        deep(30)
        ch.receive()
        done.append("deep")

    half = CROWD // 2
    ts = [stackless.tasklet(through_c)(i) for i in range(half)]
    ts += [stackless.tasklet(blocked_deep)() for _ in range(half)]
    stackless.run()
    assert ch.balance == -2 * half
    gc.collect()  # visits every suspended chain
    for i, t in enumerate(ts[:half]):
        names = []
        f = t.frame
        while f is not None:
            names.append(f.f_code.co_name)
            f = f.f_back
        assert names == ["inner", "through_c"], (i, names)
        assert t.nesting_level == 1
    for _ in range(2 * half):
        ch.send(None)
    assert sorted(done, key=str) == sorted([*range(half), *["deep"] * half], key=str)


def test_a_chain_through_an_entry_frame_reads_right_in_place_moved_and_moved_again(stack_kind):
    # A tasklet blocked in a Python function that C code called (map()) has an eval-loop
    # entry in its chain (CPython 3.12+: a frame on its C stack). A copied-stack tasklet
    # shows that entry by a copy only once another tasklet takes its shared stack (its C
    # slice then moves to the heap), read from where the slice went: the tasklet that
    # takes the stack is one blocked deeper, whose slice, put back first, covers the entry.
    # The chain reads the same with its C stack in place, moved away, and, after it ran and
    # blocked again, in place and moved away again.
    ch, deep_ch = stackless.channel(), stackless.channel()
    copied = stack_kind == "copied"

    def inner(x):
        ch.receive()
        return x

    def through_c():
        return list(map(inner, [1, 2]))

    def blocked_deep(n):
        # C recursion (sorted's key calls back into Python), blocked at the bottom
        if n == 0:
            return deep_ch.receive()
        return sorted([n], key=lambda v: blocked_deep(n - 1))[0]

    def chain_of(t):
        names = []
        f = t.frame
        while f is not None:
            names.append(f.f_code.co_name)
            f = f.f_back
        return names

    def check(t, moved):
        gc.collect()  # visits the suspended chain
        assert chain_of(t) == ["inner", "through_c"] and t.nesting_level == 1
        assert (stackless._memory_of(t)["c_slice"] > 0) == moved

    def take_every_stack_deep_then_return():
        # deep tasklets that take every shared stack (several times over: the stacks are
        # taken in turns), then each resumes and returns
        ds = [stackless.tasklet(blocked_deep)(40) for _ in range(3 * SHARED_STACKS)]
        stackless.run()
        return ds

    ds = take_every_stack_deep_then_return()
    t = stackless.tasklet(through_c)()
    stackless.run()  # t takes a deep tasklet's stack, and blocks
    check(t, moved=False)
    for _ in ds:
        deep_ch.send(None)  # the one of t's stack comes back over t's entry frame
    assert not any(d.alive for d in ds)
    check(t, moved=copied)
    ch.send(None)  # t runs and blocks on map()'s second item
    check(t, moved=False)
    ds = take_every_stack_deep_then_return()
    for _ in ds:
        deep_ch.send(None)
    check(t, moved=copied)
    ch.send(None)
    assert not t.alive

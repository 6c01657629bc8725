"""Generators, coroutines, async generators and coroutine wrappers pickle by value, as in
Stackless: a suspended one's frame through the frame library (validated on load), a
finished one as a finished object of its kind; a tasklet whose frame holds a suspended
generator pickles with it. copy.copy makes a fresh object in the same state."""
import copy
import gc
import pickle
import sys
import types
import warnings

import pytest
import stackless

HIGHEST = pickle.HIGHEST_PROTOCOL


def roundtrip(obj, protocol=HIGHEST):
    return pickle.loads(pickle.dumps(obj, protocol))


def counter(start, *, step=1):
    n = start
    while True:
        got = yield n
        n += step if got is None else got


def test_a_generator_that_has_not_started_pickles():
    g = counter(5, step=2)
    back = roundtrip(g)
    assert back.gi_frame is not None and back.gi_frame.f_lasti == g.gi_frame.f_lasti
    assert [next(back), next(back)] == [5, 7]
    with pytest.raises(TypeError, match="just-started"):
        roundtrip(g).send(1)


@pytest.mark.parametrize("protocol", range(HIGHEST + 1))
def test_a_suspended_generator_continues_where_it_was(protocol):
    g = counter(1)
    assert [next(g), g.send(10)] == [1, 11]
    back = roundtrip(g, protocol)
    assert type(back) is types.GeneratorType and back is not g
    assert (back.__name__, back.__qualname__, back.gi_code) == ("counter", "counter", g.gi_code)
    assert dict(back.gi_frame.f_locals) == dict(g.gi_frame.f_locals)
    assert [back.send(100), next(back)] == [111, 112]
    assert next(g) == 12  # the original goes on on its own


def test_a_finished_generator_stays_finished():
    def once():
        yield 1
    g = once()
    assert list(g) == [1]
    back = roundtrip(g)
    assert back.gi_frame is None and back.__name__ == "once"
    with pytest.raises(StopIteration):
        next(back)


def test_the_exception_a_generator_handles_comes_back():
    def handler():
        try:
            raise KeyError("k")
        except KeyError:
            yield sys.exception() if hasattr(sys, "exception") else sys.exc_info()[1]
            yield sys.exc_info()[1]
        yield sys.exc_info()[1]
    g = handler()
    assert isinstance(next(g), KeyError)
    back = roundtrip(g)
    again = next(back)
    assert isinstance(again, KeyError) and again.args == ("k",)
    assert next(back) is None
    assert sys.exc_info() == (None, None, None)


def delegate():
    yield 1
    yield 2
    return "r"


def delegating():
    r = yield from delegate()
    yield r


def test_yield_from_pickles_the_delegate_with_it():
    g = delegating()
    assert next(g) == 1
    back = roundtrip(g)
    assert back.gi_yieldfrom is not None and back.gi_yieldfrom.__name__ == "delegate"
    assert list(back) == [2, "r"]
    back = roundtrip(g)
    back.close()  # close() reaches the delegate
    assert back.gi_frame is None


def over(seq):
    for x in seq:
        yield x
    return (yield from seq)


@pytest.mark.parametrize("seq", [(1, 2, 3), [1, 2, 3], "abc", b"abc", range(1, 4)],
                         ids=["tuple", "list", "str", "bytes", "range"])
def test_a_generator_iterating_in_for_and_yield_from_continues(seq):
    # 3.15 iterates a list, tuple, str or bytes by an index kept above it on the value stack
    # (for loops and `yield from`), any other iterable through its iterator.
    expected = list(over(seq))
    for steps in range(len(expected)):
        g = over(seq)
        for _ in range(steps + 1):
            next(g)
        assert list(roundtrip(g)) == expected[steps + 1:]


def _frame_values(g):
    make, (kind, snap, name, qualname, extra) = stackless._reduce_generator(g)
    frame = snap[5][0]
    return make, (kind, snap, name, qualname, extra), frame


@pytest.mark.skipif(sys.version_info < (3, 15), reason="3.15's iteration index")
def test_a_yield_from_index_is_checked_with_what_it_indexes():
    # `yield from` a tuple keeps the tuple and an index above it; SEND reads both
    # unchecked: a negative index read before the tuple's items (a crash the fuzz found).
    err = stackless.FrameRestoreError
    g = over((1, 2))
    for _ in range(3):
        next(g)  # (in the yield from, at its first item)
    make, (kind, snap, name, qualname, extra), frame = _frame_values(g)
    values = frame[4]
    seq = max(i for i, v in enumerate(values) if v == (1, 2))
    index = seq + 1
    assert type(values[index]) is int

    def load(new_values, nulls=frame[5]):
        fr = frame[:4] + (tuple(new_values), tuple(nulls))
        return make(kind, snap[:5] + ((fr,),), name, qualname, extra)

    def replaced(i, v):
        return values[:i] + (v,) + values[i + 1:]

    for bad in (-1, -(2 ** 40), "0", 2 ** 62):
        with pytest.raises(err, match="must be an index"):
            load(replaced(index, bad))
    with pytest.raises(err, match="iterates by index"):
        load(replaced(seq, iter((1, 2))))
    with pytest.raises(err, match="iterates by index"):
        load(replaced(seq, bytearray(b"ab")))
    # NULL for the index: SEND sends into an iterator or a coroutine below it.
    with pytest.raises(err, match="an iterator or a coroutine"):
        load(values, sorted(frame[5] + (index,)))
    assert list(load(replaced(seq, "xy"))) == ["y"]
    assert list(load(replaced(seq, iter("xy")), sorted(frame[5] + (index,)))) == ["x", "y"]


def test_nested_generators_keep_their_closure_cells_shared():
    def make():
        shared = 0

        def bump():
            nonlocal shared
            while True:
                shared += 1
                yield shared

        def peek():
            while True:
                yield shared
        return bump(), peek()
    g, peek = make()
    next(g)
    g2, peek2 = roundtrip((g, peek))
    assert next(g2) == 2 and next(peek2) == 2
    assert next(peek) == 1


class Awaitables:
    @types.coroutine
    def pause(self, value):
        got = yield value
        return got

    async def work(self):
        a = await self.pause(1)
        b = await self.pause(2)
        return a + b


def test_a_coroutine_awaiting_pickles_with_what_it_awaits():
    c = Awaitables().work()
    assert c.send(None) == 1
    back = roundtrip(c)
    assert type(back) is types.CoroutineType and back.cr_await is not None
    assert back.send(10) == 2
    with pytest.raises(StopIteration) as stop:
        back.send(5)
    assert stop.value.value == 15
    c.close()


def test_a_coroutine_keeps_its_origin():
    old = sys.get_coroutine_origin_tracking_depth()
    sys.set_coroutine_origin_tracking_depth(3)
    try:
        c = Awaitables().work()
    finally:
        sys.set_coroutine_origin_tracking_depth(old)
    back = roundtrip(c)
    assert back.cr_origin == c.cr_origin and back.cr_origin is not None
    for x in (c, back):
        x.close()


def test_a_finished_coroutine_cannot_be_awaited_again():
    async def done():
        return 1
    c = done()
    with pytest.raises(StopIteration):
        c.send(None)
    back = roundtrip(c)
    with pytest.raises(RuntimeError, match="cannot reuse already awaited coroutine"):
        back.send(None)


def test_a_coroutine_wrapper_pickles_with_its_coroutine():
    c = Awaitables().work()
    w = c.__await__()
    back = roundtrip(w)
    assert type(back) is type(w)
    assert back.send(None) == 1
    c.close()
    back.close()
    with pytest.raises(TypeError, match="not a coroutine wrapper"):
        stackless._reduce_coroutine_wrapper(c)


async def agen():
    yield 100
    yield 200


CALLS = []


def first(ag):
    CALLS.append(("first", id(ag)))


def final(ag):
    CALLS.append(("final", id(ag)))


def anext_value(ag):
    with pytest.raises(StopIteration) as stop:
        ag.__anext__().send(None)
    return stop.value.value


def test_an_async_generator_continues_where_it_was():
    ag = agen()
    assert anext_value(ag) == 100
    back = roundtrip(ag)
    assert type(back) is types.AsyncGeneratorType and back.ag_frame is not None
    assert anext_value(back) == 200
    with pytest.raises(StopAsyncIteration):
        back.__anext__().send(None)


@pytest.mark.parametrize("dump_flags,load_flags,hooks_at_load",
                         [(0, 0, True), (0, 4, False), (4, 0, False), (2, 2, False)])
def test_an_async_generators_hooks_follow_the_pickle_flags(dump_flags, load_flags,
                                                          hooks_at_load):
    calls = CALLS
    del calls[:]
    old_hooks = sys.get_asyncgen_hooks()
    old_flags = stackless.pickle_flags()
    try:
        sys.set_asyncgen_hooks(firstiter=first, finalizer=final)
        ag = agen()
        assert anext_value(ag) == 100
        stackless.pickle_flags(dump_flags)
        p = pickle.dumps(ag)
        stackless.pickle_flags(load_flags)
        del calls[:]
        back = pickle.loads(p)
        assert (("first", id(back)) in calls) == hooks_at_load
        del calls[:]
        anext_value(back)  # hooks not run yet run now
        assert (("first", id(back)) in calls) == (not hooks_at_load and dump_flags != 2)
    finally:
        stackless.pickle_flags(old_flags)
        sys.set_asyncgen_hooks(*old_hooks)
    ident = id(back)
    del back
    gc.collect()  # pytest.raises' tracebacks made cycles
    # Suspended at its yield: the finalizer it has (the hooks', or the pickled one) runs.
    assert ("final", ident) in calls


def test_copy_makes_a_fresh_generator_in_the_same_state():
    g = counter(1)
    next(g)
    c = copy.copy(g)
    assert c is not g and c.gi_code is g.gi_code and c.__name__ is g.__name__
    assert next(c) == 2 and next(g) == 2


def test_a_running_generator_does_not_pickle():
    def selfish():
        yield pickle.dumps(me)
    me = selfish()
    with pytest.raises(pickle.PicklingError, match="running"):
        next(me)


def gen_inner(n):
    for i in range(n):
        yield i


def for_over_generator(ch):
    total = 0
    for x in gen_inner(4):
        if x == 2:
            total += ch.receive()
        total += x
    return total


RESULTS = []


def record_total(ch):
    total = for_over_generator(ch)
    RESULTS.append(total)


def test_a_tasklet_holding_a_suspended_generator_pickles(stack_kind):
    ch = stackless.channel()
    del RESULTS[:]
    t = stackless.tasklet(record_total)(ch)
    stackless.run()
    assert t.blocked
    t2, ch2 = roundtrip((t, ch))
    ch.send(100)
    ch2.send(1000)
    stackless.run()
    assert sorted(RESULTS) == [106, 1006]


def receive_in_generator(ch):
    yield ch.receive()


def test_a_tasklet_inside_a_running_generator_is_refused_clearly(stack_kind):
    ch = stackless.channel()
    t = stackless.tasklet(lambda: list(receive_in_generator(ch)))()
    stackless.run()
    try:
        with pytest.raises(pickle.PicklingError, match="running generator"):
            pickle.dumps(t)
    finally:
        t.kill()


def test_bad_generator_pickles_are_refused():
    err = stackless.FrameRestoreError
    g = counter(1)
    next(g)
    make, (kind, snap, name, qualname, extra) = stackless._reduce_generator(g)
    assert make is stackless._generator
    with pytest.raises(err, match="kind"):
        make(7, snap, name, qualname, extra)
    with pytest.raises(err, match="another kind"):
        make(1, snap, name, qualname, None)
    with pytest.raises(err, match="extra"):
        make(kind, snap, name, qualname, (1, 2))
    with pytest.raises(err, match="not callable"):
        make(2, None, "a", "a", (True, 5))
    frame = list(snap[5][0])
    frame[3] = frame[3] + 1  # not a yield
    with pytest.raises(err, match="not a yield"):
        make(kind, snap[:5] + ((tuple(frame),),), name, qualname, extra)
    with pytest.raises(err, match="one frame"):
        make(kind, snap[:5] + (snap[5] * 2,), name, qualname, extra)
    # A tasklet's frame is not a generator's, and the other way round.
    ch = stackless.channel()
    t = stackless.tasklet(for_over_generator)(ch)
    stackless.run()
    try:
        tsnap = next(x for x in t.__reduce__()[2] if isinstance(x, tuple) and x[:1] == ("slp.frames",))
        with pytest.raises(err, match="not a generator's"):
            make(kind, tsnap[:5] + (tsnap[5][-1:],), name, qualname, extra)
    finally:
        t.kill()
    frame = list(snap[5][0])
    frame[4] = frame[4][:-1]  # a value short
    with pytest.raises(err):
        make(kind, snap[:5] + ((tuple(frame),),), name, qualname, extra)


def test_async_generator_awaitables_pickle_with_their_generator_and_state():
    asend_cls = stackless._wrap.async_generator_asend
    athrow_cls = stackless._wrap.async_generator_athrow

    def state(aw, cls):
        r = cls.__reduce__(aw)
        assert r[0] is cls and type(r[2][0]) is types.AsyncGeneratorType
        return r[2][1:]
    nxt = agen().__anext__()
    back = roundtrip(nxt)
    assert state(back, asend_cls) == (None, 0, False)
    with pytest.raises(StopIteration) as stop:
        back.send(None)
    assert stop.value.value == 100 and state(back, asend_cls) == (None, 2, False)
    back = roundtrip(agen().asend(NotImplemented))
    assert state(back, asend_cls) == (NotImplemented, 0, True)
    with pytest.raises(TypeError):  # a non-None value into a just-started one
        back.send(None)
    a = agen()
    anext_value(a)
    thrown = a.athrow(ZeroDivisionError("z"))
    back = roundtrip(thrown)
    (exc,), st, given = state(back, athrow_cls)
    assert (type(exc), st, given) == (ZeroDivisionError, 0, True)
    with pytest.raises(ZeroDivisionError) as raised:
        back.send(None)
    assert raised.value is exc
    closing = roundtrip(agen().aclose())
    assert state(closing, athrow_cls) == (None, 0, False)


def test_async_generator_awaitables_copy_with_their_generator_and_state():
    a = agen()
    copied = copy.copy(a.__anext__())
    with pytest.raises(StopIteration) as stop:
        copied.send(None)
    assert stop.value.value == 100
    thrown = copy.copy(a.athrow(ZeroDivisionError("z")))
    with pytest.raises(ZeroDivisionError, match="z"):
        thrown.send(None)
    done = a.__anext__()
    with pytest.raises(StopAsyncIteration):
        done.send(None)
    again = copy.copy(done)  # a closed one stays closed
    with pytest.raises(RuntimeError, match="cannot reuse"):
        again.send(None)


def finished_agen():
    a = agen()
    assert [anext_value(a), anext_value(a)] == [100, 200]
    with pytest.raises(StopAsyncIteration):
        a.__anext__().send(None)
    assert a.ag_frame is None
    return a


def outcome(aw):
    try:
        return ("value", aw.send(None))
    except BaseException as e:  # noqa: B036 - what the awaitable raises is the outcome
        return ("raised", type(e), repr(e))


def test_awaitables_keep_what_they_were_made_with_in_every_form():
    # asend's value, __anext__'s none, athrow's arguments in each of its forms (the
    # deprecated (type, value[, traceback]) ones too: 3.15 keeps them apart) and aclose's
    # none. A finished async generator pickles without its frame.
    kinds = (stackless._wrap.async_generator_asend, stackless._wrap.async_generator_athrow)
    a = finished_agen()
    exc = KeyError("k")
    used = a.asend(None)
    assert outcome(used)[:2] == ("raised", StopAsyncIteration)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        made = [a.asend(7), a.__anext__(), a.athrow(exc), a.athrow(KeyError, exc),
                a.athrow(KeyError, exc, None), a.aclose(), used]
        backs = [roundtrip(aw) for aw in made]
    expected = [(7, 0, True), (None, 0, False), ((exc,), 0, True), ((KeyError, exc), 0, True),
                ((KeyError, exc, None), 0, True), (None, 0, False), (None, 2, True)]
    for aw, back, want in zip(made, backs, expected):
        cls = kinds[type(aw).__name__.endswith("athrow")]
        assert type(back) is type(aw)
        assert repr(cls.__reduce__(aw)[2][1:]) == repr(want)
        assert repr(cls.__reduce__(back)[2][1:]) == repr(want)
        assert outcome(back) == outcome(aw)


def test_bad_async_generator_awaitable_pickles_are_refused():
    err = stackless.FrameRestoreError
    aw = agen().__anext__()
    with pytest.raises(err, match="malformed"):
        stackless._set_awaitable_state(aw, (agen(), None, 0, False))  # another generator
    with pytest.raises(err, match="malformed"):
        stackless._set_awaitable_state(aw, (aw.__reduce__()[2][0] if False else None, None, 7, 1))
    with pytest.raises(TypeError):
        stackless._set_awaitable_state(counter(1), (None, None, 0, False))
    with pytest.raises(TypeError):
        stackless._make_asend(counter(1), True, None)
    with pytest.raises(err, match="not a tuple"):
        stackless._make_athrow(agen(), True, 5)
    with pytest.raises(TypeError):
        stackless._reduce_asend(agen().aclose())
    with pytest.raises(err, match="malformed"):
        stackless._wrap.async_generator_asend(agen(), False, None, 3)  # no such state
    with pytest.raises(err, match="malformed"):
        stackless._wrap.async_generator_athrow(agen(), False, None, "closed")

"""Functions whose frames the frame-library tests capture, pickle and resume.

`suspend(base)` plays the stackless call a tasklet blocks in: the first time it runs it
captures the frames from itself out to `base`, pickles them into SNAPS and returns
ORIGINAL; a resumed chain continues as if it had returned the value given to resume().
Everything observable goes to LOG, so that the original run (after the capture) and the
resumed run (in another process) can be compared.
"""
import pickle
import sys

import frames_support

T = frames_support.load()

LOG = []
SNAPS = []
ORIGINAL = "V"
PROTOCOL = pickle.HIGHEST_PROTOCOL


def log(item):
    # Not LOG.append(suspend(...)): the bound method would sit on the value stack and be
    # pickled with a copy of LOG, as pickle does for any list.
    LOG.append(item)


def suspend(base):
    r = T.capture(base)
    if type(r) is tuple and r[:1] == ("slp.frames",):
        SNAPS.append(pickle.dumps(r, PROTOCOL))
        LOG.clear()  # what follows is what a resumed run must repeat
        return ORIGINAL
    return r


# --- the seed's recursion -----------------------------------------------------------------

def recurs(depth, level=1):
    LOG.append("enter %d" % level)
    if level >= depth:
        log(("got", suspend(recurs)))
    if level < depth:
        recurs(depth, level + 1)
    LOG.append("leave %d" % level)
    return level


def deep(n):
    if n == 0:
        return [suspend(deep)]
    r = deep(n - 1)
    r.append(n)
    return r


# --- control flow in outer frames ------------------------------------------------------------

class CM:
    def __init__(self, name):
        self.name = name

    def __enter__(self):
        LOG.append(("enter", self.name))
        return self

    def __exit__(self, t, v, tb):
        LOG.append(("exit", self.name, t.__name__ if t else None))
        return self.name == "swallow"


def leaf_raises(base):
    got = suspend(base)
    raise ValueError("after " + str(got))


def with_try():
    try:
        with CM("a"):
            try:
                leaf_raises(with_try)
            finally:
                LOG.append("finally")
    except ValueError as e:
        LOG.append(("caught", str(e)))
    with CM("swallow"):
        # capture() raises ValueError (its base is not running); CM("swallow") eats it.
        leaf_raises(with_try2_marker)
    return "done"


def with_try2_marker():
    pass


def loops():
    out = []
    for i in range(3):
        for j, x in enumerate(["a", "b"]):
            for k in {"p": 1, "q": 2}:
                for v in [10, 20]:
                    if (i, j, k, v) == (1, 0, "q", 10):
                        out.append(suspend(loops))
                    out.append((i, j, x, k, v))
    LOG.append(len(out))
    return out


def comprehension():
    # The <listcomp> frame (a nested code object) is between: its list and iterator are
    # on its value stack.
    return [suspend(comprehension) if x == 2 else x * 10 for x in range(5)]


def build_displays():
    # Calls in the middle of a list, set, dict display and a string format: partial
    # containers sit on the value stack.
    a = [1, *[2, 3], suspend(build_displays), 4]
    b = {1, *{2}, len(LOG) * 0}
    c = {"k": 1, **{"m": 2}, "s": len("xy")}
    return (a, sorted(b), c, f"{len(a)}-{a[3]!r:>5}")


def make_counter():
    count = 0

    def bump(step):
        nonlocal count
        count += step
        got = suspend(closures)
        count += step
        return (count, got)

    return bump


def closures():
    return make_counter()(5)


def shared_cells():
    total = 1

    def add(n):
        nonlocal total
        total += n
        got = suspend(shared_cells)
        total += n
        return got

    # Keep the nested function out of the locals (a local function is not picklable):
    # it lives on the value stack until the call pops it.
    r = (add, (add := None))[0](10)
    return (r, total)


def in_except():
    try:
        raise KeyError("k")
    except KeyError:
        got = suspend(in_except)
        LOG.append((got, sys.exc_info()[0].__name__))
        raise


def catch_thrown():
    try:
        return ("returned", suspend(catch_thrown))
    except KeyError as e:
        LOG.append(("caught", repr(e)))
        return "handled"


def traceback_outer():
    return traceback_middle() + 1


def traceback_middle():
    return traceback_leaf() + 1


def traceback_leaf():
    got = suspend(traceback_outer)
    return int(got)  # int("V") raises ValueError


def twice_outer():
    return ("outer", twice_middle())


def twice_middle():
    a = suspend(twice_outer)
    LOG.append(("a", a))
    b = suspend(twice_outer)  # in a resumed run this frame is evaluated by the driver
    LOG.append(("b", b))
    return (a, b)


class Seq:
    def __getitem__(self, i):
        if i == 99:
            return suspend(subscript)
        return i


def subscript():
    s = Seq()
    total = 0
    for i in range(100):
        total += 0 if i == 99 else s[i]
    # The same subscript twice: 3.13 calls __getitem__ through C until the instruction
    # has specialized (BINARY_SUBSCR_GETITEM), after its first run.
    for i in (98, 99):
        last = s[i]
    return (total, last)


def kwcall(a, b=2, *, c):
    return (a, b, c)


def calls():
    # f(*args, **kw) and keyword calls around the suspension.
    r = kwcall(1, c=suspend(calls))
    s = kwcall(*[r], **{"c": 3})
    return s


# --- frames that C code called, passing their result through -------------------------------

def star_callee(a, b):
    return (a, suspend(star_call), b)


def star_call():
    # f(*args): CALL_FUNCTION_EX calls through PyObject_Call on 3.11.
    r = star_callee(*[1, 2])
    return [r, "after"]


class Callable:
    def __init__(self, k):
        self.k = k

    def __call__(self, x):
        return (self.k, x, suspend(callable_object))

    def method(self, x):
        return (self.k, x, suspend(bound_star))


def callable_object():
    # An object with a Python __call__: slot_tp_call between the frames.
    c = Callable("k")
    return c(5), "after"


def bound_star():
    # A bound method through f(*args): method_vectorcall between the frames.
    m = Callable("m").method
    return m(*(6,)), "after"


class SuspendingCM:
    def __init__(self, where):
        self.where = where

    def __enter__(self):
        LOG.append("enter")
        if self.where == "enter":
            return suspend(with_enter)  # what `as` binds
        return self

    def __exit__(self, t, v, tb):
        del tb  # a traceback does not pickle
        LOG.append(("exit", t.__name__ if t else None))
        if self.where == "exit":
            log(("exit got", suspend(with_exit)))
        elif self.where == "exit_raised":
            log(("exit got", suspend(with_exit_raised)))
        return t is KeyError


def with_enter():
    with SuspendingCM("enter") as got:
        LOG.append(("body", got))
    return "done"


def with_exit():
    with SuspendingCM("exit"):
        LOG.append("body")
    return "done"


def with_exit_raised():
    try:
        with SuspendingCM("exit_raised"):
            raise KeyError("k")  # __exit__ swallows it
    finally:
        LOG.append("finally")
    return "done"


class InitSuspends:
    def __init__(self, k):
        self.k = k
        self.got = suspend(init_call)


def init_call():
    # A class call (type_call) waiting for __init__: the new object is its result.
    o = InitSuspends(1)
    return (type(o).__name__, o.k, o.got)


def gen_local():
    g = (x for x in range(3))
    next(g)
    return suspend(gen_local), list(g)


def gen_between_helper():
    yield suspend(gen_between)


def gen_between():
    return list(gen_between_helper())


def c_between_helper(x):
    return suspend(c_between)


def c_between():
    return list(map(c_between_helper, [1]))


def sorted_key(x):
    return suspend(sorted_between)


def sorted_between():
    return sorted([1], key=sorted_key)


def unbound_local(flag):
    if flag:
        never = 1  # noqa: F841  (an unbound local: NULL in the frame)
    return suspend(unbound_local)


def hundred(n=100):
    return deep(n - 1)

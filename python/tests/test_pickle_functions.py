"""Functions by value, as Stackless pickles them: a function that pickle cannot save by
reference (a lambda, a nested function, a function whose name was rebound) pickles by
value (its code found again by module, qualified name and digest; its names, defaults,
closure cells, dict and annotations), with the C pickler (pickle.dumps, pickle.dump,
pickle.Pickler) and the Python one (pickle._dumps, pickle._Pickler); a function found by
reference pickles exactly as without the module."""
import copy
import copyreg
import io
import pickle
import types

import _pickle
import pytest
import stackless
from pickle_support import run_phase

PROTOCOLS = range(pickle.HIGHEST_PROTOCOL + 1)
PICKLERS = {"C": (pickle.dumps, pickle.loads), "P": (pickle._dumps, pickle._loads)}


def module_level(a, b=2):
    return a + b


class Holder:
    def method(self):
        return 1

    @staticmethod
    def static():
        return 2


def by_reference_objects():
    big = bytes(range(256)) * 1000  # beyond a frame: written outside the frames
    return [module_level, Holder, Holder.method, Holder.static, len, pickle.loads,
            [module_level, {"f": Holder.static}, (1, 2.5, "x", None, True)], big,
            [Holder() for _ in range(3)], types.SimpleNamespace, copyreg.__newobj__]


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_a_function_found_by_reference_pickles_byte_for_byte_as_before(protocol):
    objs = by_reference_objects()
    ours = [(pickle.dumps(o, protocol), pickle._dumps(o, protocol)) for o in objs]
    f = io.BytesIO()
    pickle.dump(objs, f, protocol)
    assert stackless.pickle_functions_by_value(False) is True
    try:
        assert pickle.dumps is _pickle.dumps and pickle.Pickler is _pickle.Pickler
        theirs = [(pickle.dumps(o, protocol), pickle._dumps(o, protocol)) for o in objs]
        g = io.BytesIO()
        pickle.dump(objs, g, protocol)
    finally:
        assert stackless.pickle_functions_by_value(True) is False
    assert ours == theirs
    assert f.getvalue() == g.getvalue()


def test_the_switch_turns_pickles_own_back_and_on_again():
    f = lambda: 1  # noqa: E731
    assert stackless.pickle_functions_by_value() is True
    stackless.pickle_functions_by_value(False)
    try:
        assert stackless.pickle_functions_by_value() is False
        for dumps in (pickle.dumps, pickle._dumps):
            with pytest.raises((pickle.PicklingError, AttributeError)):
                dumps(f)
    finally:
        stackless.pickle_functions_by_value(True)
    assert pickle.loads(pickle.dumps(f))() == 1
    assert pickle.Pickler.__module__ == "pickle" and pickle.Pickler.__name__ == "Pickler"
    for f in (pickle.dumps, pickle.dump, pickle.Pickler):
        assert pickle.loads(pickle.dumps(f)) is f


@pytest.mark.parametrize("kind", PICKLERS)
@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_a_lambda_pickles_by_value_with_its_names_and_defaults(kind, protocol):
    dumps, loads = PICKLERS[kind]
    f = lambda x, y=3, *, z=4: (x, y, z)  # noqa: E731
    f.__module__ = "somewhere.else"
    f.extra = [1, 2]
    back = loads(dumps(f, protocol))
    assert back is not f and back(1) == (1, 3, 4) and back(1, 2, z=5) == (1, 2, 5)
    assert back.__code__.co_code == f.__code__.co_code
    for attr in ("__name__", "__qualname__", "__module__", "__defaults__", "__kwdefaults__",
                 "__dict__"):
        assert getattr(back, attr) == getattr(f, attr), attr
    assert back.__globals__ is f.__globals__


def test_annotations_and_a_rebound_name_come_back():
    def annotated(a: int, b: "Holder") -> str:
        return str(a)
    annotated.__name__ = "renamed"
    annotated.__qualname__ = "somewhere.renamed"
    back = pickle.loads(pickle.dumps(annotated))
    assert back.__annotations__ == annotated.__annotations__
    assert (back.__name__, back.__qualname__) == ("renamed", "somewhere.renamed")
    assert back(5, None) == "5"


@pytest.mark.parametrize("kind", PICKLERS)
def test_a_recursive_nested_function_refers_to_itself_through_its_cell(kind):
    dumps, loads = PICKLERS[kind]

    def fact(n):
        return 1 if n <= 1 else n * fact(n - 1)
    back = loads(dumps(fact))
    assert back(6) == 720
    assert back.__closure__[0].cell_contents is back


@pytest.mark.parametrize("kind", PICKLERS)
def test_cells_shared_between_closures_stay_shared(kind):
    dumps, loads = PICKLERS[kind]

    def make():
        value = 1

        def get():
            return value

        def put(v):
            nonlocal value
            value = v
        return get, put
    get, put = loads(dumps(make()))
    assert get() == 1
    put(7)
    assert get() == 7
    assert get.__closure__[0] is put.__closure__[0]


RESULTS = []


def record(value):
    RESULTS.append(value)  # a global: the tasklet's frames hold no copy of the list


def test_a_nested_function_in_a_suspended_tasklet_resumes():
    def runner(n):
        def step(k):
            if k:
                return step(k - 1) + 1
            stackless.schedule_remove()
            return 0
        record(step(n))
    RESULTS.clear()
    t = stackless.tasklet(runner)(4)
    stackless.run()
    back = pickle.loads(pickle.dumps(t))
    t.kill()
    back.insert()
    stackless.run()
    assert RESULTS == [4] and not back.alive


def test_copy_of_a_function_is_the_function():
    f = lambda: 1  # noqa: E731
    assert copy.copy(f) is f and copy.deepcopy(f) is f


SWAP = types.SimpleNamespace()


def test_a_picklers_own_reducer_override_and_dispatch_table_keep_working():
    seen = []

    class Mine(pickle.Pickler):
        dispatch_table = {Holder: lambda h: (Holder, ())}

        def reducer_override(self, obj):
            seen.append(obj)
            if obj is SWAP:
                return str, ("swapped",)
            return NotImplemented
    f = io.BytesIO()
    Mine(f).dump([SWAP, Holder()])
    out = pickle.loads(f.getvalue())
    assert out[0] == "swapped" and isinstance(out[1], Holder)
    assert any(isinstance(o, Holder) for o in seen)

    class Plain(_pickle.Pickler):  # a subclass of the C type itself: pickle's behaviour
        pass
    with pytest.raises((pickle.PicklingError, AttributeError)):
        Plain(io.BytesIO()).dump(lambda: 1)

    class Python(pickle._Pickler):
        def reducer_override(self, obj):
            if obj is SWAP:
                return str, ("swapped",)
            return NotImplemented
    g = io.BytesIO()
    Python(g).dump([SWAP, lambda: 5])
    out = pickle.loads(g.getvalue())
    assert out[0] == "swapped" and out[1]() == 5


def test_a_function_whose_globals_are_no_module_is_refused():
    ns = {"__name__": "not_a_module_anywhere"}
    exec("def f():\n    return 1\n", ns)
    with pytest.raises(pickle.PicklingError, match="globals are not the namespace"):
        pickle.dumps(ns["f"])
    with pytest.raises(pickle.PicklingError, match="globals are not the namespace"):
        pickle._dumps(ns["f"])


def reduced(f):
    return stackless._reduce_function(f)


def test_a_changed_or_missing_code_is_a_clear_error_at_load():
    f = lambda: 1  # noqa: E731
    make, (module, qualname, digest), state, _, _, setter = reduced(f)
    with pytest.raises(stackless.FrameRestoreError, match="digest mismatch"):
        make(module, qualname, bytes(16))
    with pytest.raises(stackless.FrameRestoreError, match="cannot find the nested function"):
        make(module, qualname + "x", digest)
    with pytest.raises(stackless.FrameRestoreError, match="cannot import"):
        make("no_such_module_anywhere", qualname, digest)
    with pytest.raises(stackless.FrameRestoreError, match="wrong type"):
        make(module, qualname, digest[:8])


def test_a_malformed_state_is_a_clear_error():
    def outer():
        v = 1
        return lambda: v
    f = outer()
    make, args, state, _, _, setter = reduced(f)
    g = make(*args)
    with pytest.raises(NameError):
        g()  # its cell is empty until the state is set
    bad_closures = [None, (), (1,), [types.CellType(1)], (types.CellType(1),) * 2]
    for closure in bad_closures:
        with pytest.raises(stackless.FrameRestoreError, match="closure"):
            setter(g, state[:5] + (closure,) + state[6:])
    for i, value in [(0, 1), (3, "x"), (4, 5), (6, 3), (7, 3), (8, 3)]:
        with pytest.raises((stackless.FrameRestoreError, TypeError)):
            setter(g, state[:i] + (value,) + state[i + 1:])
    with pytest.raises(stackless.FrameRestoreError):
        setter(g, state[:3])
    with pytest.raises(stackless.FrameRestoreError):
        setter(len, state)
    setter(g, state)
    assert g() == 1


def test_functions_not_found_by_their_path_load_in_another_process(tmp_path):
    # A lambda at module level, a function whose name was rebound, a method replaced
    # since, and a module-level generator expression's generator: found in the code the
    # module's loader gives.
    (tmp_path / "helpers.py").write_text(
        "def f():\n    return 1\n\n\ng = f\n\n\ndef f():\n    return 2\n\n\n"
        "h = lambda: 3\n\n\nclass C:\n    def m(self):\n        return lambda: 4\n\n\n"
        "k = C().m()\nC.m = None\ngen = (x * 2 for x in range(4))\nnext(gen)\n")
    source = """
        import pickle, sys
        sys.path.insert(0, ".")
        import helpers
        if sys.argv[1] == "dump":
            for kind, dumps in (("C", pickle.dumps), ("P", pickle._dumps)):
                with open("p" + kind, "wb") as out:
                    out.write(dumps([helpers.g, helpers.h, helpers.k, helpers.f, helpers.gen]))
        else:
            for kind in "CP":
                fs = pickle.loads(open("p" + kind, "rb").read())
                print([f() for f in fs[:4]], fs[3] is helpers.f, list(fs[4]))
    """
    run_phase(tmp_path, source, "dump")
    assert run_phase(tmp_path, source, "load").stdout.splitlines() == ["[1, 3, 4, 2] True [2, 4, 6]"] * 2


class PicklesInside:
    """Its reduce value holds a pickle of a lambda: pickle.dumps inside pickle.dumps."""
    def __reduce__(self):
        return bytes, (pickle.dumps([1, lambda: 2]),)


class Refuses:
    def __reduce__(self):
        raise ValueError("refused")


def test_dumps_inside_a_reduce_after_an_error_and_with_every_argument():
    inner, f = pickle.loads(pickle.dumps([PicklesInside(), lambda: 3]))
    assert pickle.loads(inner)[1]() == 2 and f() == 3
    with pytest.raises(ValueError, match="refused"):
        pickle.dumps([1, Refuses()])
    big = list(range(100000))  # a pickler that needed a large memo is not kept
    calls = [((big,), {}), (([1, "x"],), {}), (([1, 2],), {"protocol": 2, "fix_imports": False}),
             ((set(),), {"protocol": 0}), ((b"x",), {"protocol": -1}),
             ((pickle.PickleBuffer(b"abc"),), {"protocol": 5, "buffer_callback": lambda b: 0})]
    ours = [pickle.dumps(*a, **k) for a, k in calls]
    stackless.pickle_functions_by_value(False)
    try:
        theirs = [pickle.dumps(*a, **k) for a, k in calls]
    finally:
        stackless.pickle_functions_by_value(True)
    assert ours == theirs
    with pytest.raises(ValueError):
        pickle.dumps(1, protocol=pickle.HIGHEST_PROTOCOL + 1)
    with pytest.raises(TypeError):
        pickle.dumps()


def test_dumps_keeps_nothing_alive():
    import weakref
    for how in ("ok", "error"):
        o = Holder()
        r = weakref.ref(o)
        if how == "ok":
            pickle.dumps([o, lambda: 1])
        else:
            with pytest.raises(ValueError):
                pickle.dumps([o, Refuses()])
        del o
        assert r() is None, how

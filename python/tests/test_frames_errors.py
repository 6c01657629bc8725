"""Refusals of the frame library: what cannot be captured says which
frame and which C function; what cannot be restored raises FrameRestoreError (a
pickle.UnpicklingError and ValueError) and never crashes."""
import os
import pickle
import sys
import textwrap

import pytest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "frames_test"))
import frames_support  # noqa: E402

T = frames_support.load()
import frames_subjects as S  # noqa: E402


@pytest.fixture
def stack_kind():
    """Overrides the stackless suite's autouse fixture (no tasklets here)."""
    yield None


def snapshot_of(name, *args):
    S.SNAPS.clear()
    try:
        getattr(S, name)(*args)
    except Exception:
        pass
    return pickle.loads(S.SNAPS[0])


def with_frame(snap, index, **changes):
    """A copy of `snap` whose frame `index` has some parts replaced."""
    frames = list(snap[5])
    module, qualname, digest, site, values, nulls = frames[index]
    parts = dict(module=module, qualname=qualname, digest=digest, site=site, values=values,
                 nulls=nulls)
    for k, v in changes.items():
        parts[k] = v(parts[k]) if callable(v) else v
    frames[index] = tuple(parts[k] for k in ("module", "qualname", "digest", "site", "values",
                                             "nulls"))
    return snap[:5] + (tuple(frames),)


def code_of(module, qualname):
    """The code object of a snapshot frame's function (nested ones too)."""
    obj = __import__(module)
    parts = qualname.split(".<locals>.")
    for part in parts[0].split("."):
        obj = getattr(obj, part)
    code = obj.__code__
    todo = [code]
    while todo:
        c = todo.pop()
        if c.co_qualname == qualname:
            return c
        todo.extend(k for k in c.co_consts if hasattr(k, "co_qualname"))
    raise AssertionError(qualname)


def stack_index(snap, index, pred):
    """Index into frame `index`'s values of the first value-stack item matching pred."""
    code = code_of(*snap[5][index][:2])
    nlocals = len(code.co_varnames) + len(code.co_cellvars) + len(code.co_freevars)
    values = snap[5][index][4]
    for i in range(nlocals, len(values)):
        if pred(values[i]):
            return i
    raise AssertionError("no such stack item")


def replace_at(i, new):
    return lambda values: values[:i] + (new,) + values[i + 1:]


# --- capture refusals -----------------------------------------------------------------------------

def test_error_classes_are_pickle_errors():
    assert issubclass(T.UnpicklableFrameError, pickle.PicklingError)
    assert issubclass(T.FrameRestoreError, pickle.UnpicklingError)
    assert issubclass(T.FrameRestoreError, ValueError)


def test_c_code_between_frames_is_refused_naming_frame_and_c_function():
    with pytest.raises(T.UnpicklableFrameError) as info:
        S.c_between()
    msg = str(info.value)
    assert "c_between_helper (" in msg and "frames_subjects.py:" in msg
    assert "C function list" in msg and "at c_between (" in msg


def test_c_callback_between_frames_names_the_builtin():
    with pytest.raises(T.UnpicklableFrameError, match=r"sorted_key .*builtins\.sorted"):
        S.sorted_between()


def test_generator_frame_between_is_refused():
    with pytest.raises(T.UnpicklableFrameError, match="gen_between_helper .*generator"):
        S.gen_between()


def test_pep523_eval_hook_is_refused():
    T.set_eval_hook(True)
    try:
        with pytest.raises(T.UnpicklableFrameError, match="PEP 523"):
            S.deep(1)
    finally:
        T.set_eval_hook(False)


def restorable_through_map():
    return list(map(lambda _: T.restorable(restorable_through_map), [1]))[0]


def test_restorable_reports_why_not():
    assert T.restorable(test_restorable_reports_why_not) == (True, "")
    ok, why = restorable_through_map()
    assert ok is False
    assert "restorable_through_map.<locals>.<lambda> (" in why
    assert "called from C code" in why and "C function list" in why


class Made:
    def __init__(self, base):
        self.why = T.restorable(base)


def restorable_in_init():
    # 3.13 runs a Python __init__ of a class call, once the call has specialized, under a
    # shim frame of the interpreter's; 3.11 calls it from C.
    return [Made(restorable_in_init).why for _ in range(3)]


def test_class_call_between_frames_is_known_unless_a_shim_frame_runs_init():
    # type_call is a known continuation (the new object, once __init__ returned None);
    # 3.13's shim frame for a specialized class call is not (yet).
    results = restorable_in_init()
    assert results[0] == (True, "")
    if sys.version_info >= (3, 13):
        assert results[-1][0] is False and "interpreter's own" in results[-1][1]
    else:
        assert all(r == (True, "") for r in results)


class MetaCall(type):
    def __call__(cls, *args):
        return super().__call__(*args)


class MadeByMeta(metaclass=MetaCall):
    def __init__(self, base):
        self.why = T.restorable(base)


def restorable_in_meta_init():
    return MadeByMeta(restorable_in_meta_init).why


def test_class_call_through_a_metaclass_call_is_refused():
    ok, why = restorable_in_meta_init()
    assert ok is False and "called from C code" in why, why


# --- restore refusals ------------------------------------------------------------------------------

def restore_error(snap, match):
    with pytest.raises(T.FrameRestoreError, match=match):
        T.rebuild(snap)


def test_other_python_version_is_refused():
    snap = snapshot_of("deep", 1)
    restore_error(snap[:2] + ((3, 12),) + snap[3:], "pickled under Python 3.12")


def test_other_bytecode_magic_is_refused():
    snap = snapshot_of("deep", 1)
    restore_error(snap[:3] + (snap[3] + 1,) + snap[4:], "magic number")


def test_unknown_format_version_is_refused():
    snap = snapshot_of("deep", 1)
    restore_error(snap[:1] + (2,) + snap[2:], "format")


def test_not_a_snapshot_is_refused():
    for bad in (None, (), ("slp.frames",), ("x", 1, (3, 11), 0, None, ()), [1, 2]):
        restore_error(bad, "snapshot")


def test_missing_function_is_refused():
    snap = snapshot_of("deep", 1)
    restore_error(with_frame(snap, 0, qualname="no_such_function"), "cannot find the function")
    restore_error(with_frame(snap, 0, module="no_such_module_here"), "cannot import")


def test_function_digest_mismatch_is_refused():
    snap = snapshot_of("deep", 1)
    restore_error(with_frame(snap, 0, digest=b"\0" * 16), "changed since the frame was pickled")
    # Another function's frame under this name: same check.
    restore_error(with_frame(snap, 0, qualname="recurs"), "changed")


def test_changed_source_is_refused_in_a_fresh_process(tmp_path):
    src = textwrap.dedent("""
        import frames_subjects as S
        def f():
            x = S.suspend(f)
            return x + '{}'
    """)
    (tmp_path / "mod_changes.py").write_text(src.format("!"))
    sys.path.insert(0, str(tmp_path))
    try:
        import mod_changes
        S.SNAPS.clear()
        assert mod_changes.f() == "V!"
        data = S.SNAPS[0]
    finally:
        sys.path.remove(str(tmp_path))
        sys.modules.pop("mod_changes", None)
    # Moving lines (a comment above) keeps the code: still restorable.
    (tmp_path / "mod_changes.py").write_text("# moved\n\n" + src.format("!"))
    got = frames_support.run_in_child(data, extra_path=str(tmp_path))
    assert got.get("result") == repr("V!"), got
    # Changing the code is refused.
    (tmp_path / "mod_changes.py").write_text(src.format("?"))
    got = frames_support.run_in_child(data, extra_path=str(tmp_path))
    assert got["error"].startswith("FrameRestoreError:") and "changed" in got["error"]


def test_offset_not_at_a_call_instruction_is_refused():
    snap = snapshot_of("deep", 1)
    for delta in (1, 2, -1, -2, 10000):
        restore_error(with_frame(snap, 0, site=lambda s: s + delta), "offset|call instruction")
    restore_error(with_frame(snap, 0, site=-1), "offset|call instruction")
    restore_error(with_frame(snap, 0, site=2 ** 80), "offset|call instruction")


def test_stack_depth_other_than_analysis_is_refused():
    snap = snapshot_of("deep", 1)
    restore_error(with_frame(snap, 0, values=lambda v: v + (None,)), "stack depth")
    restore_error(with_frame(snap, 0, values=lambda v: v[:-1]), "stack depth")


def test_non_iterator_where_for_iter_expects_one_is_refused():
    snap = snapshot_of("loops")
    i = stack_index(snap, 0, lambda v: type(v).__name__.endswith("iterator"))
    restore_error(with_frame(snap, 0, values=replace_at(i, 5)), "must be an iterator")
    # A different iterator type is fine: FOR_ITER only needs an iterator.
    T.rebuild(with_frame(snap, 0, values=replace_at(i, iter([]))))


@pytest.mark.skipif(sys.version_info < (3, 15), reason="3.15's FOR_ITER index")
def test_iteration_index_and_what_it_indexes_are_checked_together():
    # 3.15 iterates a list or tuple by an index above it (a tagged int in the frame, an int
    # in the snapshot), any other iterable by its iterator with NULL above it; FOR_ITER
    # reads the pair unchecked.
    snap = snapshot_of("loops")
    seq = stack_index(snap, 0, lambda v: type(v) is tuple)  # for v in [10, 20]
    index = seq + 1
    assert type(snap[5][0][4][index]) is int
    also_null = lambda nulls: tuple(sorted(nulls + (index,)))  # noqa: E731
    restore_error(with_frame(snap, 0, nulls=also_null), "must be an iterator")
    restore_error(with_frame(snap, 0, values=replace_at(seq, iter([10, 20]))),
                  "iterates by index")
    restore_error(with_frame(snap, 0, values=replace_at(index, "0")), "must be an index")
    # A tuple's items are read at a negative index unchecked: a crash, refused.
    restore_error(with_frame(snap, 0, values=replace_at(index, -1)), "must be an index")
    restore_error(with_frame(snap, 0, values=replace_at(index, 2 ** 62)), "must be an index")
    # The other forms of the pair are fine: an iterator under NULL, a list under an index.
    T.rebuild(with_frame(snap, 0, values=replace_at(seq, iter([10, 20])), nulls=also_null))
    T.rebuild(with_frame(snap, 0, values=replace_at(seq, [10, 20])))
    # So is every other type the eval loop iterates by index, and only those exactly.
    T.rebuild(with_frame(snap, 0, values=replace_at(seq, "ab")))
    T.rebuild(with_frame(snap, 0, values=replace_at(seq, b"ab")))
    restore_error(with_frame(snap, 0, values=replace_at(seq, type("T", (tuple,), {})((1, 2)))),
                  "iterates by index")
    restore_error(with_frame(snap, 0, values=replace_at(seq, bytearray(b"ab"))),
                  "iterates by index")


def test_non_exception_in_an_exception_slot_is_refused():
    # In the except block, the stack keeps the previously handled exception (None here)
    # for POP_EXCEPT; the handled one is the snapshot's.
    snap = snapshot_of("in_except")
    i = stack_index(snap, 0, lambda v: v is None)
    restore_error(with_frame(snap, 0, values=replace_at(i, "boom")), "must be an exception")
    restore_error(snap[:4] + (42,) + snap[5:], "handled exception")


def test_list_being_built_must_stay_a_list():
    snap = snapshot_of("comprehension")
    inner = len(snap[5]) - 2  # the <listcomp> frame, under suspend()
    i = stack_index(snap, inner, lambda v: type(v) is list)
    restore_error(with_frame(snap, inner, values=replace_at(i, (1, 2))), "must be a list")


def test_null_where_the_bytecode_needs_a_value_is_refused():
    snap = snapshot_of("loops")
    i = stack_index(snap, 0, lambda v: type(v).__name__.endswith("iterator"))
    restore_error(with_frame(snap, 0, nulls=(i,)), "cannot be NULL")
    restore_error(with_frame(snap, 0, nulls=(1, 0)), "NULL slots")
    restore_error(with_frame(snap, 0, nulls=(10 ** 6,)), "NULL slots")


def test_unbound_local_read_without_a_check_is_refused():
    # deep(1) reads its argument n after the call (r.append(n)). 3.13's LOAD_FAST does
    # not check for NULL: the loader refuses the snapshot; 3.11's does, and the resumed
    # frame raises.
    snap = with_frame(snapshot_of("deep", 1), 0, nulls=(0,))
    if sys.version_info >= (3, 13):
        restore_error(snap, "local variable 0 is unbound, but the code reads it there")
    else:
        with pytest.raises(UnboundLocalError):
            T.resume(snap, "v")


def test_cell_that_is_not_a_list_is_refused():
    snap = snapshot_of("closures")
    inner = len(snap[5]) - 2  # bump(), with its free variable
    values = snap[5][inner][4]
    i = next(k for k, v in enumerate(values) if type(v) is list)
    restore_error(with_frame(snap, inner, values=replace_at(i, 7)), "cell variable")
    restore_error(with_frame(snap, inner, values=replace_at(i, [1, 2])), "cell variable")


def test_wrong_part_types_are_refused():
    snap = snapshot_of("deep", 1)
    for part, bad in (("module", 5), ("qualname", None), ("digest", "x" * 16),
                      ("digest", b"short"), ("values", [1]), ("nulls", [0])):
        restore_error(with_frame(snap, 0, **{part: bad}), ".")
    restore_error(snap[:5] + (snap[5] + (5,),), "6-tuple")
    restore_error(snap[:5] + ((),), "tuple of 1")


def test_truncated_pickles_raise():
    S.SNAPS.clear()
    S.recurs(3)
    data = S.SNAPS[0]
    for n in range(0, len(data), 7):
        with pytest.raises(Exception):
            T.resume(pickle.loads(data[:n]), "V")

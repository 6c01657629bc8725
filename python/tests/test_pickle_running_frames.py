"""A running frame reached from a pickled tasklet's own state pickles as that frame of the
tasklet (Stackless's testCtx_exit_2/3/4): an exception raised in a `with` body
reaches __exit__, which switches away; its traceback holds the body's frame, one of the
tasklet's own frames. Loaded, that traceback's frame IS the restored frame's frame object:
identity holds, f_lineno and f_locals show the frame, and the exception can be raised again
with its traceback. A running frame of anything else is still refused, and a corrupted
reference is refused on loading."""
import copy
import gc
import pickle
import sys
import traceback

import pytest

import stackless
from pickle_support import lines, run_out

RESULTS = []
KEPT = []  # what __exit__ kept of its arguments, for the tests to pickle along
AFTER = []  # __exit__'s traceback and its caller's frame, once resumed


def record(item):
    RESULTS.append(item)


class Manager:
    def __enter__(self):
        return self

    def __exit__(self, t, v, tb):
        KEPT[:] = [v, tb]
        stackless.schedule_remove("suspended in __exit__")
        caller = sys._getframe(1)
        AFTER[:] = [tb, caller]
        record(("tb frame is the caller", tb.tb_frame is caller))
        record(("its function and place", caller.f_code.co_name, tb.tb_lineno - caller.f_lineno))
        record(("its locals", caller.f_locals.get("marker")))
        try:
            raise v.with_traceback(tb)
        except KeyError as e:
            entries = traceback.extract_tb(e.__traceback__)
            record(("raised again", [(x.name, x.line) for x in entries]))
        return False


def raising_body():
    marker = "a local of the body"
    try:
        with Manager():
            raise KeyError("raised in the body")
    except KeyError as e:
        record(("caught", e.args, marker))


def outer():
    raising_body()


def suspended(func=outer):
    del RESULTS[:], KEPT[:], AFTER[:]
    t = stackless.tasklet(func)()
    t.run()
    assert t.alive and t.restorable
    return t


EXPECTED = [("tb frame is the caller", True),
            ("its function and place", "raising_body", 1),
            ("its locals", "a local of the body"),
            ("raised again", [("__exit__", "raise v.with_traceback(tb)"),
                              ("raising_body", 'raise KeyError("raised in the body")')]),
            ("caught", ("raised in the body",), "a local of the body")]


@pytest.mark.parametrize("protocol", range(pickle.HIGHEST_PROTOCOL + 1))
@pytest.mark.parametrize("dumps", [pickle.dumps, pickle._dumps], ids=["C", "Python"])
def test_a_traceback_of_the_tasklet_s_own_frame_loads_as_the_restored_frame(dumps, protocol):
    t = suspended()
    data = dumps(t, protocol)
    run_out(t)
    assert RESULTS == EXPECTED
    del RESULTS[:]
    run_out(pickle.loads(data))
    assert RESULTS == EXPECTED


def test_a_deep_copy_of_the_tasklet_keeps_the_frame_too():
    t = suspended()
    twin = copy.deepcopy(t)
    t.kill()
    run_out(twin)
    assert RESULTS == EXPECTED


def test_the_frame_is_the_restored_frame_before_and_while_it_runs():
    t = suspended()
    exc, tb = KEPT
    back, back_tb = pickle.loads(pickle.dumps((t, tb)))  # the tasklet first, then the frame
    frame = back_tb.tb_frame
    assert frame is not tb.tb_frame and frame.f_code is raising_body.__code__
    assert frame.f_locals["marker"] == "a local of the body"
    assert back_tb.tb_lineno == tb.tb_lineno and frame.f_lineno == tb.tb_frame.f_lineno
    t.kill()
    assert frame.f_back.f_code is outer.__code__  # its caller, restored too
    caller = frame.f_back
    del AFTER[:]
    run_out(back)
    assert AFTER[0] is back_tb and AFTER[1] is frame and frame.f_back is caller
    assert RESULTS[-1] == EXPECTED[-1]


def test_the_frame_outlives_its_restored_tasklet():
    t = suspended()
    back, back_tb = pickle.loads(pickle.dumps((t, KEPT[1])))
    t.kill()
    run_out(back)
    frame = back_tb.tb_frame
    assert not back.alive and frame.f_code is raising_body.__code__
    assert frame.f_locals["marker"] == "a local of the body"
    assert frame.f_lineno > raising_body.__code__.co_firstlineno


def test_a_restored_tasklet_not_run_yet_pickles_again():
    t = suspended()
    again = pickle.dumps(pickle.loads(pickle.dumps(t)))
    run_out(t)
    del RESULTS[:]
    run_out(pickle.loads(again))
    assert RESULTS == EXPECTED


def keeps_traceback():
    try:
        raise KeyError("caught")
    except KeyError:
        tb = sys.exc_info()[2]
    stackless.schedule_remove("first")
    stackless.schedule_remove("second")
    record(tb.tb_frame is sys._getframe())


def calls_keeps_traceback():
    keeps_traceback()


def test_a_restored_tasklet_suspended_again_pickles_its_frames_again():
    t = suspended(calls_keeps_traceback)
    first = pickle.loads(pickle.dumps(t))
    t.kill()
    first.insert()
    stackless.run()  # up to its second suspension, in the restored frames
    assert first.alive and first.restorable
    second = pickle.loads(pickle.dumps(first))
    first.kill()
    del RESULTS[:]
    run_out(second)
    assert RESULTS == [True]


def own_frame():
    me = sys._getframe()
    stackless.schedule_remove()
    record(me is sys._getframe())


def test_a_frame_holding_its_own_frame_object_gets_it_back():
    t = suspended(own_frame)
    data = pickle.dumps(t)
    t.kill()
    del RESULTS[:]
    run_out(pickle.loads(data))
    assert RESULTS == [True]


def test_across_processes(tmp_path):
    src = """
    import pickle, sys
    sys.path.insert(0, %r)
    import test_pickle_running_frames as T
    if sys.argv[1] == "dump":
        t = T.suspended()
        open("t.pickle", "wb").write(pickle.dumps(t))
    else:
        T.run_out(pickle.loads(open("t.pickle", "rb").read()))
        print(T.RESULTS == T.EXPECTED)
    """ % str(__import__("os").path.dirname(__file__))
    lines(tmp_path, src, "dump")
    assert lines(tmp_path, src, "load") == ["True"]


# ---- what is refused --------------------------------------------------------------------

def test_a_running_frame_pickled_without_its_tasklet_is_refused():
    t = suspended()
    exc, tb = KEPT
    with pytest.raises(TypeError, match="running frame"):
        pickle.dumps(tb)
    with pytest.raises(TypeError, match="running frame"):
        pickle.dumps(t.frame)
    with pytest.raises(TypeError, match="running frame"):
        pickle.dumps((tb, t))  # the frame before its tasklet
    with pytest.raises(TypeError, match="running frame"):
        copy.copy(tb.tb_frame)
    with pytest.raises(TypeError, match="running frame"):
        copy.deepcopy(tb)
    # Nothing is left over: the tasklet itself pickles.
    back = pickle.loads(pickle.dumps(t))
    t.kill()
    run_out(back)
    assert RESULTS == EXPECTED


def holds_other(tb):
    kept = tb  # noqa: F841 (a running frame of another tasklet, in this one's locals)
    stackless.schedule_remove()


def test_a_running_frame_of_another_tasklet_is_refused():
    t = suspended()
    other = stackless.tasklet(holds_other)(KEPT[1])
    other.run()
    with pytest.raises(TypeError, match="running frame"):
        pickle.dumps(other)
    pickle.loads(pickle.dumps((t, other)))  # along with its own tasklet, before it
    other.kill()
    t.kill()


def test_a_running_frame_of_the_current_tasklet_is_refused():
    with pytest.raises(TypeError, match="running frame"):
        pickle.dumps(sys._getframe())


# ---- corrupted references -----------------------------------------------------------------

def reference(position=1):
    """A bare tasklet (as loading makes it), a suspended tasklet's state, and the reference
    to the body's frame among its frames (position 1; the base, outer(), is 0)."""
    t = suspended()
    position_, module, qualname, digest = stackless._tasklet_frame_ref(KEPT[1].tb_frame)[1:]
    assert (position_, qualname) == (1, "raising_body")
    state = t.__reduce__()[2]
    t.kill()
    return stackless.tasklet.__new__(stackless.tasklet), state, [position, module, qualname,
                                                                 digest]


def load_frame(bare, ref):
    return stackless._tasklet_frame(None, bare, *ref, None)


@pytest.mark.parametrize("change, error", [
    (lambda r: r.__setitem__(0, 9), "no such frame"),
    (lambda r: r.__setitem__(0, 0), "other code"),
    (lambda r: r.__setitem__(1, "no_such_module_x"), "cannot import"),
    (lambda r: r.__setitem__(2, "Manager.__exit__"), "digest"),
    (lambda r: r.__setitem__(3, b"x" * 16), "digest"),
    (lambda r: r.__setitem__(3, b"x"), "wrong type"),
], ids=["position", "other frame", "module", "function", "digest", "digest size"])
def test_a_reference_to_no_such_frame_is_refused(change, error):
    bare, state, ref = reference()
    change(ref)
    try:
        stand_in = load_frame(bare, ref)
    except stackless.FrameRestoreError as e:
        assert error in str(e)
        return
    with pytest.raises(stackless.FrameRestoreError, match=error):
        bare.__setstate__(state)
    assert not bare.alive and stand_in.f_back is None
    del bare, stand_in
    gc.collect()


def test_two_frame_objects_for_one_frame_are_refused():
    bare, state, ref = reference()
    load_frame(bare, ref)
    load_frame(bare, ref)
    with pytest.raises(stackless.FrameRestoreError, match="two frame objects"):
        bare.__setstate__(state)


def test_a_failed_load_leaves_the_adopted_frame_a_finished_one():
    # The body's frame adopts its stand-in, then the base's refuses its (other code):
    # the frames are freed, the body's leaving its data to its frame object, linked to
    # the frame object of its caller, the base.
    bare, state, ref = reference()
    body = load_frame(bare, ref)
    load_frame(bare, [0] + ref[1:])
    with pytest.raises(stackless.FrameRestoreError, match="other code"):
        bare.__setstate__(state)
    assert stackless._frame_finished(body) and body.f_locals["marker"] == "a local of the body"
    assert body.f_back.f_code is outer.__code__ and stackless._frame_finished(body.f_back)


def test_frame_objects_of_a_tasklet_without_frames_are_refused():
    bare, state, ref = reference()
    load_frame(bare, ref)
    with pytest.raises(stackless.FrameRestoreError, match="no frames"):
        bare.__setstate__(not_started_state())


def not_started_state():
    u = stackless.tasklet(len)([])
    state = u.__reduce__()[2]
    u.kill()
    return state


def test_references_to_what_is_no_restored_tasklet_are_refused():
    bare, state, ref = reference()
    with pytest.raises(stackless.FrameRestoreError):
        stackless._tasklet_frame(None, "not a tasklet", *ref, None)
    with pytest.raises(stackless.FrameRestoreError):
        stackless._tasklet_frame(None, bare, -1, *ref[1:], None)
    with pytest.raises(stackless.FrameRestoreError, match="alive"):
        stackless._tasklet_frame(None, stackless.getcurrent(), *ref, None)
    with pytest.raises(TypeError, match="copy"):
        stackless._tasklet_frame(1, bare, *ref, None)
    restored = stackless.tasklet.__new__(stackless.tasklet)
    restored.__setstate__(state)
    frame = load_frame(restored, ref)  # rebuilt already: its frame object, made now
    assert load_frame(restored, ref) is frame and frame.f_code is raising_body.__code__
    with pytest.raises(stackless.FrameRestoreError, match="another function"):
        load_frame(restored, ref[:2] + ["raising_body.x", ref[3]])
    restored.kill()

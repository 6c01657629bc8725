"""Frame chains captured, pickled, unpickled in a fresh process and resumed, through the
test-only extension `_slp_frames_test` (no tasklets)."""
import gc
import os
import pickle
import sys
import traceback

import pytest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "frames_test"))
import frames_support  # noqa: E402

T = frames_support.load()
import frames_subjects as S  # noqa: E402


@pytest.fixture
def stack_kind():
    """Overrides the stackless suite's autouse fixture: these tests use no tasklets, so
    they run once, and need no `stackless` module."""
    yield None


def run_subject(name, *args):
    """Run a subject; return (first snapshot, what it did after the capture)."""
    S.SNAPS.clear()
    S.LOG.clear()
    try:
        out = {"result": repr(getattr(S, name)(*args))}
    except Exception as e:
        out = {"error": "%s: %s" % (type(e).__name__, e),
               "tb": [fs.name for fs in traceback.extract_tb(e.__traceback__)]}
    out["log"] = repr(S.LOG)
    assert S.SNAPS, "the subject did not capture"
    return S.SNAPS[0], out


def assert_same_continuation(name, *args, compare_tb=True, **child):
    """The resumed run in a fresh process does what the original did after capture()."""
    snap, orig = run_subject(name, *args)
    got = frames_support.run_in_child(snap, **child)
    assert got["log"] == orig["log"]
    if "result" in orig:
        assert got.get("result") == orig["result"], got
    else:
        assert got.get("error") == orig["error"], got
        if compare_tb:
            # The child's traceback starts in its own <module>, then the restored frames.
            assert got["tb"][1:] == orig["tb"][-(len(got["tb"]) - 1):]
    return got


def test_seed_recursion_nine_levels_resumes_in_fresh_process():
    got = assert_same_continuation("recurs", 9)
    assert got["log"] == repr([("got", "V")] + ["leave %d" % i for i in range(9, 0, -1)])


def test_hundred_frames_resume_in_fresh_process():
    got = assert_same_continuation("hundred")
    assert got["result"] == repr(["V"] + list(range(1, 100)))


@pytest.mark.parametrize("protocol", range(pickle.HIGHEST_PROTOCOL + 1))
def test_every_pickle_protocol_round_trips(protocol):
    S.PROTOCOL = protocol
    try:
        assert_same_continuation("recurs", 4)
    finally:
        S.PROTOCOL = pickle.HIGHEST_PROTOCOL


def test_resume_in_same_process_returns_base_result():
    snap, _ = run_subject("deep", 3)
    assert T.resume(pickle.loads(snap), "X") == ["X", 1, 2, 3]


def test_returns_propagate_with_the_resume_value():
    got = frames_support.run_in_child(run_subject("deep", 4)[0], value=42)
    assert got["result"] == repr([42, 1, 2, 3, 4])


def test_try_except_finally_and_with_in_outer_frames_work():
    got = assert_same_continuation("with_try")
    assert "'finally'" in got["log"] and "('caught', 'after V')" in got["log"]


def test_loops_continue_with_list_range_dict_enumerate_iterators_on_the_stack():
    assert_same_continuation("loops")


def test_comprehension_frame_with_its_list_and_iterator_is_restored():
    assert_same_continuation("comprehension")


def test_partially_built_list_set_dict_and_format_resume():
    assert_same_continuation("build_displays")


def test_closure_frame_keeps_its_free_variable_cell():
    got = assert_same_continuation("closures")
    assert got["result"] == repr((10, "V"))


def test_cells_shared_between_frames_stay_shared():
    got = assert_same_continuation("shared_cells")
    assert got["result"] == repr(("V", 21))


def test_handled_exception_is_restored_and_reraised():
    # A bare `raise` re-raises with the exception's own traceback, which pickle drops.
    got = assert_same_continuation("in_except", compare_tb=False)
    assert got["log"] == repr([("V", "KeyError")])


def test_exception_thrown_into_restored_frames_reaches_outer_handler():
    snap, _ = run_subject("catch_thrown")
    got = frames_support.run_in_child(snap, value=KeyError("boom"), how="throw")
    assert got["result"] == repr("handled")
    assert got["log"] == repr([("caught", "KeyError('boom')")])


def test_exception_propagates_with_full_traceback_through_resumed_frames():
    got = assert_same_continuation("traceback_outer")
    assert got["tb"][1:] == ["traceback_outer", "traceback_middle", "traceback_leaf"]


def test_traceback_frames_outlive_the_resumed_chain():
    snap, _ = run_subject("traceback_outer")
    with pytest.raises(ValueError) as info:
        T.resume(pickle.loads(snap), "not a number")
    frames = [f for f, _ in traceback.walk_tb(info.value.__traceback__)]
    names = [f.f_code.co_name for f in frames]
    assert names[-3:] == ["traceback_outer", "traceback_middle", "traceback_leaf"]
    assert frames[-1].f_locals["got"] == "not a number"  # data moved into the frame object
    assert frames[-1].f_back is frames[-2]


def test_resumed_chain_can_be_captured_and_pickled_again():
    snap, _ = run_subject("twice_outer")
    first = frames_support.run_in_child(snap, value="first")
    assert first["result"] == repr(("outer", ("first", "V")))
    second = frames_support.run_in_child(first["again"], value="second")
    assert second["result"] == repr(("outer", ("first", "second")))
    assert second["log"] == repr([("b", "second")])


def test_python_subscript_call_site_is_restorable():
    assert_same_continuation("subscript")


def test_keyword_and_star_calls_around_the_suspension():
    assert_same_continuation("calls")


@pytest.mark.parametrize("subject", ["star_call", "callable_object", "bound_star", "with_enter",
                                     "with_exit", "with_exit_raised"])
def test_frames_called_through_c_that_passes_the_result_through(subject):
    # f(*args), an object's Python __call__, a bound method through f(*args), a with
    # statement's __enter__ and __exit__ (normal and exceptional exit): the C between the
    # frames is a known continuation; the callee's result completes the instruction.
    got = assert_same_continuation(subject)
    assert "after" in got["result"] or "done" in got["result"]


@pytest.mark.skipif(sys.version_info >= (3, 13), reason="3.13 runs a warm class call's "
                    "__init__ under a shim frame of the interpreter's")
def test_class_call_waiting_for_init_resumes_with_the_new_object():
    got = assert_same_continuation("init_call")
    assert got["result"] == repr(("InitSuspends", 1, "V"))


def test_frames_called_through_c_throw_into_the_callee():
    snap, _ = run_subject("star_call")
    chain = T.rebuild(pickle.loads(snap))
    with pytest.raises(KeyError):
        chain.throw(KeyError("thrown"))


def test_unbound_local_round_trips_as_null():
    assert_same_continuation("unbound_local", False)


@pytest.mark.skipif(sys.version_info[:2] != (3, 11) or
                    not os.path.exists("/root/.pyenv/versions/3.11.7/bin/python3"),
                    reason="needs CPython 3.11 and the second CPython 3.11")
def test_snapshot_moves_between_cpython_3_11_patch_releases():
    snap, orig = run_subject("recurs", 9)
    got = frames_support.run_in_child(snap, python="/root/.pyenv/versions/3.11.7/bin/python3")
    assert got["log"] == orig["log"]


def test_generator_object_in_a_frame_cannot_be_pickled():
    with pytest.raises(TypeError, match="generator"):
        S.gen_local()


def test_resumed_frames_run_under_profile_and_trace_functions():
    # 3.11 sends 'call' when a frame executes RESUME, which a resumed frame never does:
    # profilers see resumed frames return, tracers see them once f_trace is set.
    snap, _ = run_subject("deep", 2)
    events = []

    def hook(frame, event, arg):
        events.append((event, frame.f_code.co_name))
        return hook

    sys.setprofile(hook)
    try:
        assert T.resume(pickle.loads(snap), "p") == ["p", 1, 2]
    finally:
        sys.setprofile(None)
    assert events.count(("return", "deep")) == 3 and ("return", "suspend") in events

    snap, _ = run_subject("deep", 2)
    sys.settrace(hook)
    try:
        assert T.resume(pickle.loads(snap), "t") == ["t", 1, 2]
    finally:
        sys.settrace(None)


def test_resume_twice_is_refused():
    snap, _ = run_subject("deep", 1)
    chain = T.rebuild(pickle.loads(snap))
    assert chain.resume("a") == ["a", 1]
    with pytest.raises(RuntimeError):
        chain.resume("b")


def test_unrun_rebuilt_frames_are_visible_to_gc_and_collected():
    snap, _ = run_subject("deep", 2)
    snapshot = pickle.loads(snap)
    chain = T.rebuild(snapshot)
    del snapshot
    holder = [chain]
    # Make the chain's frames reference the holder: a cycle only tp_traverse can break.
    gc.collect()
    referents = gc.get_referents(chain)
    assert any(getattr(r, "__name__", None) == "deep" for r in referents)
    import weakref

    class Marker:
        pass

    m = Marker()
    m.cycle = holder
    holder.append(m)
    ref = weakref.ref(m)
    snap2 = pickle.loads(run_subject("deep", 1)[0])
    frames = list(snap2[5])
    frame = list(frames[0])
    values = list(frame[4])
    values[0] = m  # deep's argument n becomes the marker (never run)
    frame[4] = tuple(values)
    frames[0] = tuple(frame)
    chain2 = T.rebuild(snap2[:5] + (tuple(frames),))
    m.chain = chain2
    del m, chain2, snap2, frames, frame, values, holder, chain
    gc.collect()
    assert ref() is None

"""Tracebacks pickle with their frames, as in Stackless: a finished frame as a record of
where it was (file, function, line) linked to its callers; a running frame does not
pickle (copy.copy of one is a TypeError)."""
import copy
import inspect
import pickle
import sys
import traceback

import pytest
import stackless  # noqa: F401  (installs the reducers)


def a():
    x = 1
    x // 0


def b():
    return a()


def caught():
    try:
        b()
    except ZeroDivisionError:
        return sys.exc_info()[2]


def test_a_traceback_of_finished_frames_pickles_with_their_places_and_links():
    tb = caught()
    back = pickle.loads(pickle.dumps(tb))
    assert type(back) is type(tb) and back is not tb
    want = [i[1:] for i in inspect.getinnerframes(tb)]
    assert [i[1:] for i in inspect.getinnerframes(back)] == want
    innermost = inspect.getinnerframes(back)[-1].frame
    outer = inspect.getouterframes(innermost)
    assert [f.function for f in outer] == ["a", "b", "caught"]
    want = [i[1:] for i in inspect.getouterframes(inspect.getinnerframes(tb)[-1].frame)]
    assert [i[1:] for i in outer] == want[:3]
    assert "x // 0" in "".join(traceback.format_tb(back))
    assert back.tb_frame.f_code.co_qualname == "caught" and back.tb_lasti == -1


def test_each_entry_keeps_its_line_wherever_its_instruction_was():
    # The original entries' instructions are early in their code (the restored frames'
    # empty code has as many): the lines come from the entries, not from that code.
    def early():
        return {}[0]
    try:
        early()
    except KeyError:
        tb = sys.exc_info()[2].tb_next
    assert tb.tb_lasti < 12
    back = pickle.loads(pickle.dumps(tb))
    assert back.tb_lineno == tb.tb_lineno and back.tb_lasti == -1
    assert [i.lineno for i in inspect.getinnerframes(back)] == \
        [i.lineno for i in inspect.getinnerframes(tb)]


def test_a_running_frame_does_not_pickle():
    with pytest.raises(TypeError, match="running frame"):
        copy.copy(sys._getframe())
    try:
        1 // 0
    except ZeroDivisionError:
        tb = sys.exc_info()[2]
    assert copy.copy(tb).tb_frame is tb.tb_frame  # a shallow copy shares the frame
    with pytest.raises(TypeError, match="running frame"):
        pickle.dumps(tb)


def test_bad_frame_records_are_refused():
    code = compile("", "f", "exec")
    with pytest.raises(ValueError):
        stackless._dead_frame(code, {}, 0, None)
    with pytest.raises(TypeError):
        stackless._dead_frame(code, {}, 1, sys._getframe())
    with pytest.raises(TypeError):
        stackless._dead_frame("code", {}, 1, None)
    with pytest.raises(TypeError):
        stackless._frame_finished(1)

"""The stackless module object: its live attributes (current, main, runcount, threads,
uncollectables) per thread, the attributes loops look up (schedule, tasklet, ...) served
so that CPython specialises their lookup, and everything a module attribute does
(identity, pickling by name, dir, assignment, a copy made on re-import)."""
import dis
import pickle
import sys
import threading

import pytest

import stackless

SERVED = ("schedule", "schedule_remove", "getcurrent", "getmain", "getruncount", "tasklet",
          "channel")
LIVE = ("current", "main", "runcount", "threads", "uncollectables")


def test_live_attributes_follow_the_running_tasklet():
    seen = []

    def body():
        seen.append((stackless.current, stackless.runcount, stackless.getruncount()))

    t = stackless.tasklet(body)()
    assert stackless.current is stackless.main is stackless.getmain()
    assert stackless.runcount == 2
    stackless.run()
    (cur, runcount, expected), = seen
    assert cur is t and runcount == expected
    assert stackless.runcount == 1 and stackless.uncollectables == []
    assert threading.get_ident() in stackless.threads


def test_live_attributes_belong_to_the_thread_that_reads_them():
    seen = []

    def other():
        seen.append((stackless.current, stackless.main, stackless.runcount))

    th = threading.Thread(target=other)
    th.start()
    th.join()
    (cur, main, runcount), = seen
    assert cur is main and main is not stackless.main and runcount == 1


def test_live_attributes_cannot_be_assigned():
    for name in LIVE:
        with pytest.raises(AttributeError):
            setattr(stackless, name, 1)
    assert stackless.current is stackless.getcurrent()


def test_served_attributes_are_the_same_objects_each_time_and_pickle_by_name():
    for name in SERVED:
        value = getattr(stackless, name)
        assert getattr(stackless, name) is value
        assert pickle.loads(pickle.dumps(value)) is value, name
        assert name not in vars(stackless)  # in the object's slots, not its dictionary


def test_dir_and_all_list_what_the_type_serves():
    names = dir(stackless)
    for name in SERVED + LIVE + ("run", "bomb", "checkpoint", "__name__"):
        assert name in names, name
    for name in SERVED + LIVE:
        assert name in stackless.__all__, name
    assert names == sorted(set(names))


def test_a_served_attribute_can_be_replaced_and_restored():
    original = stackless.schedule
    calls = []
    stackless.schedule = lambda *a: calls.append(a)
    try:
        stackless.schedule(1)
        assert calls == [(1,)]
    finally:
        stackless.schedule = original
    assert stackless.schedule is original
    del stackless.schedule
    try:
        with pytest.raises(AttributeError):
            stackless.schedule
    finally:
        stackless.schedule = original
    assert stackless.schedule is original


def test_an_unknown_attribute_raises_attribute_error():
    with pytest.raises(AttributeError, match="no_such_name"):
        stackless.no_such_name
    assert not hasattr(stackless, "no_such_name")


def test_a_copy_made_by_a_reimport_has_everything():
    # CPython makes a plain module from a copy of the dictionary when the module is
    # imported again after its removal from sys.modules.
    original = sys.modules.pop("stackless")
    try:
        import stackless as copy
        assert copy is not original and type(copy) is not type(original)
        for name in SERVED + LIVE:
            assert getattr(copy, name) == getattr(original, name), name
        assert copy.current is original.current
        with pytest.raises(AttributeError):
            copy.no_such_name
    finally:
        sys.modules["stackless"] = original


def spin(n):
    for _ in range(n):
        stackless.schedule()


@pytest.mark.skipif(sys.version_info[:2] != (3, 11), reason="CPython 3.11's specialiser")
def test_the_lookup_of_stackless_schedule_in_a_loop_is_specialised():
    for _ in range(2):
        stackless.tasklet(spin)(200)
    stackless.run()
    ops = [i.opname for i in dis.get_instructions(spin, adaptive=True)
           if i.argval == "schedule"]
    assert ops == ["LOAD_ATTR_SLOT"], ops

"""tasklet.trace_function and profile_function are writable (Stackless's manual,
"debugging"): on the current tasklet they are sys.settrace / sys.setprofile; a
suspended tasklet keeps them until it runs, and traces from then on."""
import ctypes
import pickle
import sys

import pytest
import stackless


def calls_a_function():
    return [1]


@pytest.fixture
def calls():
    if sys.gettrace() or sys.getprofile():
        pytest.skip("a trace or profile function is already active")
    seen = []
    yield seen
    sys.settrace(None)
    sys.setprofile(None)


def test_setting_them_on_the_current_tasklet_is_sys_settrace(calls):
    def tracer(frame, event, arg):
        calls.append(event)
    t = stackless.current
    t.trace_function = tracer
    assert sys.gettrace() is tracer and t.trace_function is tracer
    calls_a_function()
    t.trace_function = None
    assert sys.gettrace() is None and calls
    t.profile_function = tracer
    assert sys.getprofile() is tracer and t.profile_function is tracer
    t.profile_function = None
    assert sys.getprofile() is None


@pytest.mark.parametrize("attr", ["trace_function", "profile_function"])
def test_a_suspended_tasklet_runs_with_what_it_was_given(calls, attr):
    def tracer(frame, event, arg):
        calls.append((frame.f_code.co_name, event))
        return tracer
    seen = {}

    def body():
        stackless.schedule()  # suspended here when its function is set
        seen["sys"] = sys.gettrace() if attr == "trace_function" else sys.getprofile()
        seen["own"] = getattr(stackless.current, attr)

    fresh = stackless.tasklet(body)()
    setattr(fresh, attr, tracer)  # not started yet
    started = stackless.tasklet(body)()
    stackless.schedule()  # both run up to their schedule()
    assert getattr(started, attr) is None
    setattr(started, attr, tracer)
    assert getattr(started, attr) is tracer and getattr(stackless.current, attr) is None
    stackless.run()
    assert seen == {"sys": tracer, "own": tracer}
    assert ("body", "return") in calls
    assert getattr(started, attr) is None and getattr(fresh, attr) is None  # ended
    assert (sys.gettrace() if attr == "trace_function" else sys.getprofile()) is None


def test_a_suspended_tasklet_given_a_profile_function_reports_the_rest_of_its_frames(calls):
    # Its frames' code ran only while nothing was monitored (since 3.12 the events come
    # from instrumented bytecode, which a frame suspended in a call does not revisit):
    # the profile function still sees what they do after it resumes, and their returns.
    def profiler(frame, event, arg):
        calls.append((frame.f_code.co_name, event))

    def only_this_tasklet_runs_me():
        stackless.schedule()  # suspended here when the profile function is set
        return len([1])

    def outer():
        return only_this_tasklet_runs_me() + 1

    t = stackless.tasklet(outer)()
    stackless.schedule()
    t.profile_function = profiler
    stackless.run()
    assert sys.getprofile() is None
    assert ("only_this_tasklet_runs_me", "c_call") in calls  # len()
    assert ("only_this_tasklet_runs_me", "return") in calls
    assert ("outer", "return") in calls
    calls.clear()
    stackless.tasklet(outer)()  # no profile function: nothing reported any more
    stackless.run()
    assert calls == []


def test_taking_a_suspended_tasklets_trace_function_away_again_leaves_nothing_on(calls):
    def tracer(frame, event, arg):
        calls.append((frame.f_code.co_name, event))
        return tracer
    t = stackless.tasklet(lambda: stackless.schedule())()
    stackless.schedule()
    t.trace_function = tracer
    t.trace_function = None
    stackless.run()
    calls_a_function()
    assert calls == []
    assert sys.gettrace() is None


@pytest.mark.parametrize("attr", ["trace_function", "profile_function"])
def test_a_dead_tasklet_refuses_them_and_deleting_them_is_an_error(attr):
    t = stackless.tasklet()
    with pytest.raises(RuntimeError, match="not alive"):
        setattr(t, attr, lambda *a: None)
    with pytest.raises(TypeError):
        delattr(stackless.current, attr)


def test_a_suspended_tasklet_can_be_untraced_again(calls):
    def tracer(frame, event, arg):
        calls.append(event)
        return tracer
    t = stackless.tasklet(lambda: stackless.schedule())()
    t.trace_function = tracer
    t.trace_function = None
    stackless.run()
    assert calls == []


class ThreadState311(ctypes.Structure):
    """The head of CPython 3.11's PyThreadState, up to `cframe` (Include/cpython/pystate.h);
    a _PyCFrame starts with its `uint8_t use_tracing`."""
    _fields_ = [("prev", ctypes.c_void_p), ("next", ctypes.c_void_p),
                ("interp", ctypes.c_void_p), ("initialized", ctypes.c_int),
                ("static", ctypes.c_int), ("recursion_remaining", ctypes.c_int),
                ("recursion_limit", ctypes.c_int), ("recursion_headroom", ctypes.c_int),
                ("tracing", ctypes.c_int), ("tracing_what", ctypes.c_int),
                ("cframe", ctypes.POINTER(ctypes.c_uint8))]


def current_cframe_use_tracing():
    """3.11: what the running eval loop's cframe says of tracing (255: traced, 0: not)."""
    get = ctypes.PYFUNCTYPE(ctypes.POINTER(ThreadState311))(
        ("PyThreadState_Get", ctypes.pythonapi))
    return get().contents.cframe[0]


@pytest.mark.skipif(sys.version_info[:2] != (3, 11), reason="3.11 keeps use_tracing in cframes")
def test_a_tasklet_that_ran_traced_and_was_untraced_while_suspended_runs_untraced(calls):
    def tracer(frame, event, arg):
        calls.append(event)
    seen = []

    def body():
        sys.settrace(tracer)
        seen.append(current_cframe_use_tracing())
        stackless.schedule()  # suspended here, traced, when its function is taken away
        seen.append(current_cframe_use_tracing())
        calls_a_function()

    t = stackless.tasklet(body)()
    stackless.schedule()
    t.trace_function = None
    del calls[:]
    stackless.run()
    assert seen == [255, 0]
    assert calls == []


TRACED = []


def record_call(frame, event, arg):
    if event == "call":
        TRACED.append(("trace", frame.f_code.co_name))


def record_profile(frame, event, arg):
    if event == "call":
        TRACED.append(("profile", frame.f_code.co_name))


def schedules_then_calls():
    stackless.schedule()
    calls_a_function()


@pytest.fixture
def tracing_flag():
    old, old_default = stackless.pickle_flags(), stackless.pickle_flags_default()
    yield
    stackless.pickle_flags(old)
    stackless.pickle_flags_default(old_default)


def test_pickle_with_tracing_state_is_the_flag_of_this_thread_and_the_default(tracing_flag):
    bit = stackless.PICKLEFLAGS_PRESERVE_TRACING_STATE
    stackless.pickle_flags(0)
    stackless.pickle_flags_default(0)
    assert stackless.pickle_with_tracing_state is False
    stackless.pickle_with_tracing_state = True
    assert stackless.pickle_flags() == bit and stackless.pickle_flags_default() == bit
    stackless.pickle_flags(0)
    assert stackless.pickle_with_tracing_state is False
    stackless.pickle_with_tracing_state = 0
    assert stackless.pickle_flags_default() == 0
    assert "pickle_with_tracing_state" in dir(stackless)
    with pytest.raises(AttributeError):
        del stackless.pickle_with_tracing_state


@pytest.mark.parametrize("preserve", [False, True])
def test_a_pickled_tasklet_keeps_its_tracing_state_when_asked(calls, tracing_flag, preserve):
    TRACED.clear()
    t = stackless.tasklet(schedules_then_calls)()
    t.run()
    t.trace_function = record_call
    t.profile_function = record_profile
    stackless.pickle_with_tracing_state = preserve
    data = pickle.dumps(t)
    t.kill()
    TRACED.clear()
    back = pickle.loads(data)
    expected = (record_call, record_profile) if preserve else (None, None)
    assert (back.trace_function, back.profile_function) == expected
    back.insert()
    stackless.run()
    assert TRACED == ([("trace", "calls_a_function"), ("profile", "calls_a_function")]
                      if preserve else [])


def test_malformed_tracing_states_are_refused(tracing_flag):
    t = stackless.tasklet(schedules_then_calls)()
    t.run()
    t.trace_function = record_call
    stackless.pickle_with_tracing_state = True
    cls, args, state = t.__reduce__()
    t.kill()
    assert len(state) == 13 and state[11] is None and state[12] == (record_call, None)
    dead = stackless.tasklet(calls_a_function).__reduce__()[2]  # not alive: mode 0
    for bad in (state[:12] + ((5, None),), state[:12] + ((None,),), state[:12] + ("x",),
                dead[:11] + (None, (record_call, None))):
        fresh = stackless.tasklet()
        with pytest.raises(stackless.FrameRestoreError, match="tracing state"):
            fresh.__setstate__(bad)
        assert not fresh.alive

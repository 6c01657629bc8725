"""get_thread_info(thread_id, flags): Stackless's undocumented flags, which its test suite
reads (bit 30: serial, serial_last_jump, initial_stub; bit 31: the watchdog list), and
the watchdog list itself: [interrupt watchdog or None, every run() caller, outermost
first], one list per thread changed in place."""
import threading

import pytest

import stackless

SERIALS = 1 << 30
WATCHDOGS = 1 << 31


def watchdog_list():
    return stackless.get_thread_info(-1, WATCHDOGS)[3]


def in_new_thread(f):
    out = []

    def body():
        try:
            out.append(("ok", f()))
        except BaseException as e:  # reported in the main thread
            out.append(("error", e))

    th = threading.Thread(target=body)
    th.start()
    th.join()
    kind, value = out[0]
    if kind == "error":
        raise value
    return value


def test_without_flags_the_result_is_the_documented_triple():
    assert stackless.get_thread_info(-1) == (stackless.main, stackless.current, 1)
    assert stackless.get_thread_info(-1, 0) == (stackless.main, stackless.current, 1)


def test_the_serials_are_the_threads_entry_and_there_is_no_stub_object():
    info = stackless.get_thread_info(-1, SERIALS)
    assert info[:3] == (stackless.main, stackless.current, 1)
    serial, last_jump, stub = info[3:]
    assert serial > 0 and last_jump == serial and stub is None

    def other():
        stackless.getcurrent()
        return stackless.get_thread_info(-1, SERIALS)[3:]

    other_serial, other_last, _ = in_new_thread(other)
    assert other_serial not in (0, serial) and other_last == other_serial


def test_a_switch_does_not_change_the_serial_of_the_last_jump():
    before = stackless.get_thread_info(-1, SERIALS)[4]
    seen = []
    stackless.tasklet(lambda: seen.append(stackless.get_thread_info(-1, SERIALS)[4]))()
    stackless.run()
    assert seen == [before] and stackless.get_thread_info(-1, SERIALS)[4] == before


def test_both_flags_append_the_serials_then_the_list():
    stackless.run()  # makes this thread's list
    info = stackless.get_thread_info(-1, SERIALS | WATCHDOGS)
    assert len(info) == 7 and info[6] is watchdog_list() and info[5] is None


def test_the_list_is_none_before_the_threads_first_run_then_one_list_for_good():
    def fresh():
        before = watchdog_list()
        stackless.run()
        first = watchdog_list()
        stackless.tasklet(lambda: None)()
        stackless.run()
        return before, first, watchdog_list()

    before, first, second = in_new_thread(fresh)
    assert before is None and first == [None] and second is first


def test_another_threads_list_and_a_thread_without_runtime():
    ready, done = threading.Event(), threading.Event()
    seen = {}

    def other():
        def inner():
            ready.set()
            done.wait(10)  # its main waits in run() while the main thread looks

        stackless.tasklet(inner)()
        seen["me"] = stackless.current
        stackless.run()

    th = threading.Thread(target=other)
    th.start()
    assert ready.wait(10)
    wl = stackless.get_thread_info(th.ident, WATCHDOGS)[3]
    seen_then = list(wl)
    done.set()
    th.join()
    assert seen_then == [None, seen["me"]]
    assert wl == [None]  # changed in place when that run() returned

    idle = threading.Event()
    quit_ = threading.Event()
    th = threading.Thread(target=lambda: (idle.set(), quit_.wait(10)))
    th.start()
    idle.wait(10)
    try:
        info = stackless.get_thread_info(th.ident, SERIALS | WATCHDOGS)
        assert info[1:] == (info[0], 1, 0, 0, None, None)
    finally:
        quit_.set()
        th.join()


def test_bad_flags_are_clear_errors():
    with pytest.raises(OverflowError):
        stackless.get_thread_info(-1, -1)
    with pytest.raises(TypeError):
        stackless.get_thread_info(-1, "1")
    with pytest.raises(TypeError):
        stackless.get_thread_info(-1, 0, 0)
    assert stackless.get_thread_info(-1, 1) == stackless.get_thread_info(-1)  # reserved bits


def test_nested_runs_stack_up_in_the_one_list_and_leave_it():
    stackless.run()
    wl = watchdog_list()
    seen = []
    tasklets = {}

    def inner():
        seen.append(list(wl))

    def outer():
        tasklets["inner"] = stackless.tasklet(inner)()
        stackless.run()
        seen.append(list(wl))

    tasklets["outer"] = stackless.tasklet(outer)()
    stackless.run()
    assert seen == [[None, stackless.main, tasklets["outer"]], [None, stackless.main]]
    assert wl == [None] and watchdog_list() is wl


def test_the_interrupt_watchdog_takes_item_zero_while_its_budget_runs():
    stackless.run()
    wl = watchdog_list()
    seen = []
    ran = []

    def spin():
        seen.append(list(wl))
        while True:
            ran.append(1)

    def timed():
        t = stackless.tasklet(spin)()
        victim = stackless.run(1000)
        seen.append(list(wl))
        assert victim is t
        t.kill()

    w = stackless.tasklet(timed)()
    stackless.run()
    assert seen == [[w, stackless.main, w], [None, stackless.main]]
    assert wl == [None]


def test_a_nested_timed_run_is_not_the_interrupt_watchdog():
    stackless.run()
    wl = watchdog_list()
    seen = []
    ts = {}

    def leaf():
        seen.append(list(wl))

    def inner():
        stackless.tasklet(leaf)()
        stackless.run(1000000)  # the outer budget is the one that runs

    def outer():
        ts["inner"] = stackless.tasklet(inner)()
        stackless.run(1000000)

    ts["outer"] = stackless.tasklet(outer)()
    stackless.run()
    assert seen == [[ts["outer"], stackless.main, ts["outer"], ts["inner"]]]
    assert wl == [None]


def test_a_watchdog_woken_explicitly_takes_the_nested_ones_off_with_it():
    stackless.run()
    wl = watchdog_list()
    seen = []

    def waker():
        seen.append(list(wl))
        stackless.main.run()  # main's run() returns: runner's run() is nested in it

    def runner():
        stackless.tasklet(waker)()
        stackless.run()

    r = stackless.tasklet(runner)()
    stackless.run()
    assert seen == [[None, stackless.main, r]]
    assert wl == [None]
    stackless.run()  # the runner, woken too, ends
    assert not r.alive and wl == [None]


def test_a_watchdog_killed_inside_its_run_leaves_the_list():
    stackless.run()
    wl = watchdog_list()
    ts = {}

    def leaf():
        ts["runner"].kill()  # the runner waits in its run(): TaskletExit there
        ts["seen"] = list(wl)

    def runner():
        stackless.tasklet(leaf)()
        stackless.run()

    ts["runner"] = stackless.tasklet(runner)()
    stackless.run()
    assert ts["seen"] == [None, stackless.main]
    assert not ts["runner"].alive and wl == [None]


def test_a_list_the_user_changed_is_not_a_crash():
    stackless.run()
    wl = watchdog_list()
    seen = []

    def inner():
        wl[:] = ["junk"]  # the user emptied item 0 and the rest
        seen.append(1)

    def outer():
        stackless.tasklet(inner)()
        stackless.run(100000)

    stackless.tasklet(outer)()
    stackless.run()
    assert seen == [1]
    wl[:] = [None]
    stackless.tasklet(lambda: None)()
    stackless.run()
    assert wl == [None]


def test_the_deeper_watchdog_ordering_of_stackless():
    # Stackless's test_watchdog TestNewWatchdog._test_schedule_deeper, hard interrupt:
    # main runs w1; w1's timed run() starts w2, w2's run() starts the worker, which sees
    # [w1, main, w1, w2], makes w2 runnable and spins until the budget interrupts it.
    stackless.run()
    wl = watchdog_list()
    ts = [None, None, None]
    got = {}

    def worker():
        got["list"] = list(wl)
        got["w2 scheduled"] = ts[1].scheduled
        ts[1].insert()
        got["spun"] = False
        for i in range(1000000):
            pass
        got["spun"] = True

    def w2():
        ts[2] = stackless.tasklet(worker)()
        stackless.run()

    def w1():
        ts[1] = stackless.tasklet(w2)()
        got["victim"] = stackless.run(1000, ignore_nesting=True, totaltimeout=True)
        got["after"] = list(wl)

    ts[0] = stackless.tasklet(w1)()
    stackless.run()
    assert got["list"] == [ts[0], stackless.main, ts[0], ts[1]]
    assert got["w2 scheduled"] is False
    assert got["victim"] is ts[2] and got["spun"] is False
    assert got["after"] == [None, stackless.main]
    assert wl == [None]
    for t in ts:
        t.kill()
    assert wl == [None]

"""Other threads' schedulers: stackless.get_thread_info(thread_id) and
tasklet.bind_thread(thread_id) across threads (Stackless's stacklessmodule.c
get_thread_info, taskletobject.c PyTasklet_BindThread, and its test_thread.py)."""
import pickle
import queue
import threading
import time

import pytest

import stackless


class Worker:
    """A thread that runs the callables it is given, one at a time, and waits (in
    Python, on a queue: quiet for its scheduler) in between."""

    def __init__(self, use_stackless=True):
        self.jobs = queue.Queue()
        self.results = queue.Queue()
        self.thread = threading.Thread(target=self._loop, daemon=True)
        self.thread.start()
        if use_stackless:
            self.call(stackless.getcurrent)

    def _loop(self):
        while True:
            fn = self.jobs.get()
            if fn is None:
                return
            try:
                self.results.put((True, fn()))
            except BaseException as e:  # noqa: B902
                self.results.put((False, e))

    def call(self, fn):
        self.jobs.put(fn)
        ok, value = self.results.get(timeout=60)
        if not ok:
            raise value
        return value

    @property
    def ident(self):
        return self.thread.ident

    def stop(self):
        if self.thread.is_alive():
            self.jobs.put(None)
            self.thread.join(60)
            assert not self.thread.is_alive()


@pytest.fixture
def workers():
    made = []

    def make(use_stackless=True):
        w = Worker(use_stackless)
        made.append(w)
        return w

    yield make
    for w in made:
        w.stop()


def record_thread(log):
    def f(*args):
        log.append((threading.get_ident(), args))
    return f


# ---- get_thread_info -------------------------------------------------------------------

def test_thread_info_of_this_thread():
    me = threading.get_ident()
    expect = (stackless.main, stackless.current, 1)
    assert stackless.get_thread_info() == expect
    assert stackless.get_thread_info(me) == expect
    assert stackless.get_thread_info(-1) == expect
    seen = []

    def f():
        seen.append(stackless.get_thread_info(me))

    t = stackless.tasklet(f)()
    stackless.tasklet(lambda: None)()
    assert stackless.get_thread_info(me)[2] == 3
    stackless.run()
    # Inside f: f is current; main, paused in run(), is not runnable.
    assert seen == [(stackless.main, t, 2)]


def test_thread_info_of_another_thread_counts_its_runnables(workers):
    w = workers()

    def setup():
        stackless.tasklet(lambda: None)()
        stackless.tasklet(lambda: None)()
        p = stackless.tasklet(lambda: None)()
        p.remove()
        return stackless.main, p

    main, paused = w.call(setup)
    assert main is not stackless.main
    assert stackless.get_thread_info(w.ident) == (main, main, 3)
    # insert() from here hands `paused` to its thread: it counts at once, ours does not.
    paused.insert()
    assert stackless.get_thread_info(w.ident) == (main, main, 4)
    assert stackless.getruncount() == 1
    assert w.call(stackless.getruncount) == 4
    w.call(stackless.run)
    assert stackless.get_thread_info(w.ident) == (main, main, 1)
    assert not paused.alive


def test_thread_info_of_a_thread_waiting_for_another_has_no_current(workers):
    w = workers()
    ch = stackless.channel()
    got = []
    w.jobs.put(lambda: got.append(ch.receive()))  # its main blocks, waits for us
    while ch.balance != -1:
        threading.Event().wait(0.001)
    main = stackless.get_thread_info(w.ident)[0]
    assert main is not None and main is not stackless.main
    assert stackless.get_thread_info(w.ident) == (main, None, 0)
    ch.send("wake up")
    assert w.results.get(timeout=60) == (True, None)
    assert got == ["wake up"]
    assert stackless.get_thread_info(w.ident) == (main, main, 1)


def test_thread_info_while_the_other_thread_switches_without_the_gil(workers):
    # The other thread runs channel actions (core without the GIL, other threads using
    # stackless) while we ask: each answer waits for it to leave core, and is consistent.
    w = workers()
    stop = threading.Event()

    def busy():
        ch = stackless.channel()
        names = set()

        def ping():
            while not stop.is_set():
                ch.send(1)

        def pong():
            while not stop.is_set() or ch.balance > 0:
                ch.receive()

        names.add(stackless.tasklet(ping)())
        names.add(stackless.tasklet(pong)())
        names.add(stackless.main)
        w.tasklets = names
        stackless.run()
        return True

    w.tasklets = None
    w.jobs.put(busy)
    while w.tasklets is None:
        threading.Event().wait(0.001)
    try:
        answers = [stackless.get_thread_info(w.ident) for _ in range(300)]
    finally:
        stop.set()
    assert w.results.get(timeout=60) == (True, True)
    mains = {a[0] for a in answers}
    assert len(mains) == 1 and mains.pop() in w.tasklets
    for main, current, runcount in answers:
        assert 0 <= runcount <= 3
        assert (current is None) == (runcount == 0)
        assert current is None or current in w.tasklets


def test_thread_info_of_threads_without_stackless_and_unknown_ids(workers):
    plain = workers(use_stackless=False)
    main, current, runcount = stackless.get_thread_info(plain.ident)
    assert main is current and runcount == 1  # its main runs, as in Stackless
    assert main.is_main and main.alive and main.is_current and not main.paused
    assert main.thread_id == plain.ident
    assert stackless.get_thread_info(plain.ident)[0] is main
    assert plain.ident not in stackless.threads
    # When that thread uses stackless, the object is its main tasklet.
    assert plain.call(lambda: stackless.main) is main
    assert plain.call(lambda: stackless.getcurrent()) is main
    assert stackless.get_thread_info(plain.ident) == (main, main, 1)  # waits on its queue
    with pytest.raises(RuntimeError, match="Thread id not found"):
        stackless.get_thread_info(1)
    ended = threading.Thread(target=stackless.getcurrent)
    ended.start()
    ended.join()
    if ended.ident not in {t.ident for t in threading.enumerate()}:
        with pytest.raises(RuntimeError, match="Thread id not found"):
            stackless.get_thread_info(ended.ident)
    with pytest.raises(TypeError):
        stackless.get_thread_info("main")
    with pytest.raises(OverflowError):
        stackless.get_thread_info(-2)


# ---- bind_thread ----------------------------------------------------------------------

def test_bound_tasklet_runs_in_its_new_thread(workers):
    w = workers()
    log = []
    t = stackless.tasklet(record_thread(log))
    assert t.thread_id == threading.get_ident()
    t.bind_thread(w.ident)
    assert t.thread_id == w.ident and not t.alive

    def there():
        t.setup("x")
        assert stackless.getruncount() == 2
        stackless.run()

    w.call(there)
    assert log == [(w.ident, ("x",))]
    assert not t.alive


def test_alive_paused_tasklet_moves_here_and_outlives_its_old_thread(workers):
    w = workers()
    log = []

    def make():
        t = stackless.tasklet(record_thread(log))(1, 2)
        t.remove()
        return t

    t = w.call(make)
    assert t.alive and t.paused and t.thread_id == w.ident
    t.bind_thread()
    assert t.thread_id == threading.get_ident()
    assert t.alive and t.paused
    w.stop()  # its old thread ends: t is not killed there, it is ours
    assert t.alive and t.paused
    t.insert()
    assert stackless.getruncount() == 2
    stackless.run()
    assert log == [(threading.get_ident(), (1, 2))]


def test_alive_paused_tasklet_bound_to_another_thread_and_inserted_from_here(workers):
    w = workers()
    log = []
    t = stackless.tasklet()
    t.bind(record_thread(log), ("a",))  # alive and paused, not started
    assert t.alive and t.paused
    t.bind_thread(w.ident)
    assert t.thread_id == w.ident and t.paused
    assert stackless.getruncount() == 1
    t.insert()  # handed to its thread
    assert stackless.get_thread_info(w.ident)[2] == 2
    w.call(stackless.run)
    assert log == [(w.ident, ("a",))]


def test_tasklet_moved_between_two_other_threads(workers):
    a, b = workers(), workers()
    log = []

    def make():
        t = stackless.tasklet(record_thread(log))()
        t.remove()
        return t

    t = a.call(make)
    t.bind_thread(b.ident)
    assert t.thread_id == b.ident
    assert stackless.get_thread_info(a.ident)[2] == 1
    b.call(lambda: t.insert())
    b.call(stackless.run)
    assert log == [(b.ident, ())]


def test_tasklet_left_on_its_new_thread_is_killed_when_that_thread_ends(workers):
    w = workers()
    t = stackless.tasklet()
    t.bind(lambda: None, ())
    t.bind_thread(w.ident)
    w.stop()
    assert not t.alive


def test_tasklet_bound_to_another_thread_set_up_from_here_runs_there(workers):
    # Stackless inserts a tasklet set up anywhere into its own thread's scheduler.
    w = workers()
    log = []
    t = stackless.tasklet(record_thread(log))
    t.bind_thread(w.ident)
    t.setup("x")
    assert t.alive and t.scheduled and not t.paused
    assert stackless.getruncount() == 1  # not ours
    assert stackless.get_thread_info(w.ident)[2] == 2
    with pytest.raises(RuntimeError, match="alive"):
        t.setup("again")
    w.call(stackless.run)
    assert log == [(w.ident, ("x",))]
    assert not t.alive


def test_tasklet_bound_to_another_thread_bound_with_args_from_here(workers):
    # bind(func, args): alive and paused in its own thread, which runs it once inserted.
    w = workers()
    log = []
    t = stackless.tasklet()
    t.bind_thread(w.ident)
    t.bind(record_thread(log), ("a",))
    assert t.alive and t.paused and not t.scheduled
    assert stackless.get_thread_info(w.ident)[2] == 1
    t.insert()
    w.call(stackless.run)
    assert log == [(w.ident, ("a",))]


def test_tasklet_set_up_for_a_thread_that_ends_before_running_it(workers):
    w = workers()
    ran = []
    t = stackless.tasklet(lambda: ran.append(1))
    t.bind_thread(w.ident)
    t.setup()
    w.stop()  # its scheduler kills what it was handed, too
    assert not t.alive and ran == []
    box = {}

    def body():
        box["t"] = stackless.tasklet(lambda: ran.append(3))
        stackless.getcurrent()

    th = threading.Thread(target=body)
    th.start()
    th.join()
    with pytest.raises(RuntimeError, match="tasklet has no thread"):
        box["t"].setup()  # its thread has ended
    assert not box["t"].alive
    box["t"].bind_thread()
    box["t"].setup()
    stackless.run()
    assert ran == [3]


RESUMED = []  # module globals are looked up again by an unpickled tasklet's frames


def suspended_part():
    RESUMED.append(("before", threading.get_ident()))
    stackless.schedule_remove()
    RESUMED.append(("after", threading.get_ident()))


def test_unpickled_tasklet_is_handed_to_another_thread(workers):
    # Stackless's use case: a tasklet just unpickled has no C state; bind it to the
    # thread that is to run it.
    w = workers()
    RESUMED.clear()
    t = stackless.tasklet(suspended_part)()
    stackless.run()
    assert t.paused and t.restorable
    data = pickle.dumps(t)
    t.kill()
    assert RESUMED == [("before", threading.get_ident())]
    t2 = pickle.loads(data)
    assert t2.alive and t2.paused
    t2.bind_thread(w.ident)
    assert t2.thread_id == w.ident
    w.call(lambda: t2.insert())
    w.call(stackless.run)
    assert not t2.alive
    assert RESUMED[1:] == [("after", w.ident)]


def test_tasklets_of_ended_threads_can_be_rebound():
    box = {}

    def body():
        box["fresh"] = stackless.tasklet(lambda: None)
        box["done"] = stackless.tasklet(lambda: None)()
        stackless.run()

    th = threading.Thread(target=body)
    th.start()
    th.join()
    log = []
    for t in (box["fresh"], box["done"]):
        assert not t.alive
        t.bind_thread()
        assert t.thread_id == threading.get_ident()
        t.bind(record_thread(log))
        t.setup()
    stackless.run()
    assert log == [(threading.get_ident(), ())] * 2


def test_rebinding_to_the_calling_thread_by_default_or_minus_one():
    t = stackless.tasklet(lambda: None)()
    t.bind_thread()  # already ours: nothing happens, even though it is runnable
    t.bind_thread(-1)
    with pytest.raises(RuntimeError, match="runnable"):
        t.bind_thread(threading.get_ident())  # an explicit id is checked (Stackless)
    stackless.run()
    assert not t.alive


def test_bind_thread_errors_change_nothing(workers):
    w = workers()
    plain = workers(use_stackless=False)
    me = threading.get_ident()

    # Runnable here (in its ring), and runnable in another thread.
    t = stackless.tasklet(lambda: None)()
    with pytest.raises(RuntimeError, match="can't \\(re\\)bind a runnable tasklet"):
        t.bind_thread(w.ident)
    remote = w.call(lambda: stackless.tasklet(lambda: None)())
    with pytest.raises(RuntimeError, match="runnable"):
        remote.bind_thread()
    # Runnable: handed to its thread by us, not taken in yet.
    remote2 = w.call(lambda: stackless.tasklet(lambda: None)().remove())
    remote2.insert()
    with pytest.raises(RuntimeError, match="runnable"):
        remote2.bind_thread()
    # The current tasklet is runnable; a main tasklet paused in run() has C state.
    with pytest.raises(RuntimeError, match="runnable"):
        stackless.current.bind_thread(w.ident)
    errors = []

    def inside():
        for victim in (stackless.current, stackless.main):
            try:
                victim.bind_thread(w.ident)
            except RuntimeError as e:
                errors.append(str(e))

    stackless.tasklet(inside)()
    stackless.run()
    assert errors == ["can't (re)bind a runnable tasklet", "tasklet has C state on its stack"]

    # Started: paused in schedule_remove(), or blocked on a channel.
    ch = stackless.channel()
    paused = stackless.tasklet(stackless.schedule_remove)()
    blocked = stackless.tasklet(ch.receive)()
    stackless.run()
    assert paused.paused and blocked.blocked
    for victim in (paused, blocked):
        with pytest.raises(RuntimeError, match="tasklet has C state on its stack"):
            victim.bind_thread(w.ident)

    # Bad threads: unknown, negative, or one that has not used stackless.
    fresh = stackless.tasklet(lambda: None)
    for bad in (1, plain.ident):
        with pytest.raises(ValueError, match="bad thread"):
            fresh.bind_thread(bad)
    with pytest.raises(OverflowError):  # as Stackless converts it: an unsigned long
        fresh.bind_thread(-2)
    with pytest.raises(TypeError):
        fresh.bind_thread("main")

    # Nothing moved; everything still runs where it was.
    for x in (t, paused, blocked, fresh):
        assert x.thread_id == me
    assert remote.thread_id == remote2.thread_id == w.ident
    assert w.call(stackless.getruncount) == 3
    w.call(stackless.run)
    assert not remote.alive and not remote2.alive
    paused.insert()
    ch.send(None)
    stackless.run()
    assert not t.alive and not paused.alive and not blocked.alive
    fresh.setup()
    stackless.run()
    assert not fresh.alive


def test_the_main_of_a_thread_without_stackless_is_killed_in_its_python_code():
    started, got = threading.Event(), {}

    def spin():
        started.set()
        try:
            while True:
                time.sleep(0.005)
        except stackless.TaskletExit:
            got["killed"] = True

    th = threading.Thread(target=spin)
    th.start()
    started.wait()
    main = stackless.get_thread_info(th.ident)[0]
    with pytest.raises(RuntimeError, match="exception class only"):
        main.throw(ValueError("a value is not raised there"))
    main.kill(pending=True)
    th.join(60)
    assert got == {"killed": True}
    with pytest.raises(RuntimeError, match="Thread id not found"):
        stackless.get_thread_info(th.ident)

"""run(timeout): preemptive scheduling by instruction count (main thread)."""
import stackless
from thread_support import spinner, two_spinners_alternate


def test_run_with_timeout_interrupts_and_returns_the_tasklet():
    count = [0]
    t = stackless.tasklet(spinner(count))()
    r = stackless.run(1000)
    assert r is t
    assert t.alive and t.paused and not t.scheduled
    assert 0 < count[0] < 1000
    t.kill()


def test_interrupted_tasklet_resumes_where_it_was():
    count = [0]
    t = stackless.tasklet(spinner(count))()
    assert stackless.run(500) is t
    first = count[0]
    t.insert()
    assert stackless.run(500) is t
    assert count[0] > first
    t.kill()


def test_run_with_timeout_returns_none_when_all_finish():
    got = []
    stackless.tasklet(lambda: got.append(sum(range(10))))()
    assert stackless.run(100000) is None
    assert got == [45]


def test_preemption_alternates_between_two_spinners_softly():
    done, a, b = two_spinners_alternate(200)
    assert done == [True] and a >= 300 and b >= 300


def test_atomic_tasklet_is_not_interrupted():
    log = []

    def f():
        with stackless.atomic():
            for i in range(3000):
                pass
            log.append("atomic part done")
        while True:
            pass

    t = stackless.tasklet(f)()
    assert stackless.run(100) is t
    assert log == ["atomic part done"]
    t.kill()


def test_tasklet_with_c_frames_is_not_interrupted_unless_nesting_ignored():
    log = []

    def nested():
        # inside map(): a C function between the tasklet's Python frames
        list(map(lambda _: ([None for _ in range(3000)], log.append("nested part done")), [1]))
        while True:
            pass

    t = stackless.tasklet(nested)()
    assert stackless.run(100) is t
    assert log == ["nested part done"]
    t.kill()

    log.clear()
    t = stackless.tasklet(nested)()
    assert stackless.run(100, ignore_nesting=True) is t
    assert log == []
    t.kill()


def test_ignore_nesting_flag_of_the_tasklet():
    log = []

    def nested():
        stackless.current.set_ignore_nesting(1)
        list(map(lambda _: ([None for _ in range(3000)], log.append("nested part done")), [1]))

    t = stackless.tasklet(nested)()
    assert stackless.run(100) is t
    assert log == []
    t.kill()


def test_totaltimeout_interrupts_the_whole_run():
    count = [0]

    def polite():
        while True:
            count[0] += 1
            stackless.schedule()

    a = stackless.tasklet(polite)()
    b = stackless.tasklet(polite)()
    r = stackless.run(2000, totaltimeout=True)
    assert r in (a, b)
    assert count[0] > 10
    a.kill()
    b.kill()


def test_exception_in_preempted_run_surfaces():
    def boom():
        for _ in range(3):
            pass
        raise KeyError("pre")

    stackless.tasklet(boom)()
    try:
        stackless.run(100000)
    except KeyError:
        pass
    else:
        raise AssertionError("expected KeyError")


def test_signal_handler_is_restored_after_run():
    import signal
    signum = signal.SIGRTMAX - 2
    before = signal.getsignal(signum)
    stackless.tasklet(lambda: None)()
    stackless.run(100)
    assert signal.getsignal(signum) == before

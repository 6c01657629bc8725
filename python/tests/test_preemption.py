"""run(timeout): preemptive scheduling by instruction count (main thread)."""
import stackless
from thread_support import (atomic_then_spin, interrupt_and_resume, nested_then_spin, polite,
                            preempted_exception_surfaces, two_spinners_alternate)


def test_run_with_timeout_interrupts_returns_and_resumes_the_tasklet():
    interrupt_and_resume()


def test_run_with_timeout_returns_none_when_all_finish():
    got = []
    stackless.tasklet(lambda: got.append(sum(range(10))))()
    assert stackless.run(100000) is None
    assert got == [45]


def test_soft_preemption_returns_at_a_scheduling_moment():
    done, a, b, calls = two_spinners_alternate(200)
    assert done == [True] and a >= 300 and b >= 300 and calls > 1


def test_atomic_tasklet_is_not_interrupted():
    log = []
    t = stackless.tasklet(atomic_then_spin(log))()
    assert stackless.run(100) is t
    assert log == ["atomic part done"]
    t.kill()


def test_tasklet_with_c_frames_is_not_interrupted_unless_nesting_ignored():
    log = []
    nested = nested_then_spin(log)
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
    a = stackless.tasklet(polite(count))()
    b = stackless.tasklet(polite(count))()
    r = stackless.run(2000, totaltimeout=True)
    assert r in (a, b)
    assert count[0] > 10
    a.kill()
    b.kill()


def test_exception_in_preempted_run_surfaces():
    assert preempted_exception_surfaces(), "expected KeyError"


def test_signal_handler_is_restored_after_run():
    import signal
    signum = signal.SIGRTMAX - 2
    before = signal.getsignal(signum)
    stackless.tasklet(lambda: None)()
    stackless.run(100)
    assert signal.getsignal(signum) == before

"""run(timeout) in threads other than the main one (ticks from a C trace function there),
alone, in two threads at once, and alongside the main thread's own run(timeout)."""
import sys
import threading
import time

import stackless
from thread_support import (atomic_then_spin, in_thread, interrupt_and_resume, nested_then_spin,
                            polite, preempted_exception_surfaces, spinner,
                            two_spinners_alternate)


def interrupt_and_resume_here():
    interrupt_and_resume()
    assert sys.gettrace() is None
    return threading.get_ident()


def test_run_with_timeout_interrupts_in_another_thread():
    assert in_thread(interrupt_and_resume_here) != threading.get_ident()


def test_soft_preemption_returns_at_a_scheduling_moment_in_another_thread():
    done, a, b, calls = in_thread(two_spinners_alternate, 200)
    assert done == [True] and a >= 300 and b >= 300 and calls > 1


def test_atomic_nesting_and_totaltimeout_in_another_thread():
    def body():
        log = []
        t = stackless.tasklet(atomic_then_spin(log))()
        assert stackless.run(100) is t
        t.kill()

        nested = nested_then_spin(log)
        t = stackless.tasklet(nested)()
        assert stackless.run(100) is t
        t.kill()
        t = stackless.tasklet(nested)()
        assert stackless.run(100, ignore_nesting=True) is t
        t.kill()

        count = [0]
        a = stackless.tasklet(polite(count))()
        b = stackless.tasklet(polite(count))()
        assert stackless.run(2000, totaltimeout=True) in (a, b)
        a.kill()
        b.kill()
        return log, count[0]

    log, count = in_thread(body)
    assert log == ["atomic part done", "nested part done"]
    assert count > 10


def test_exception_and_finish_in_another_thread():
    def body():
        got = []
        stackless.tasklet(lambda: got.append(sum(range(10))))()
        assert stackless.run(100000) is None
        if preempted_exception_surfaces():
            got.append("KeyError")
        return got

    assert in_thread(body) == [45, "KeyError"]


def test_tasklet_with_its_own_tracer_is_not_preempted_and_the_tick_stays_hidden():
    def body():
        log = []
        events = []

        def tracer(frame, event, arg):
            events.append(event)
            return tracer

        def traced():
            log.append(sys.gettrace())  # the tick's trace function is not visible
            sys.settrace(tracer)
            busy(3000)  # a new frame: traced by `tracer`, long past the budget
            sys.settrace(None)
            log.append("traced part done")
            stackless.schedule()  # the tick comes back at the next switch
            while True:
                pass

        count = [0]
        t = stackless.tasklet(traced)()
        s = stackless.tasklet(spinner(count))()
        r = stackless.run(100)
        assert r in (t, s)
        assert log == [None, "traced part done"]
        assert events.count("line") > 3000 and count[0] > 0
        t.kill()
        s.kill()
        return sys.gettrace()

    assert in_thread(body) is None


def busy(n):
    for _ in range(n):
        pass


def run_rounds(out, start):
    # Slices of 30 ticks, for a while: the threads' ticks interleave (the GIL changes hands
    # every few milliseconds), each thread counting its own.
    start.wait()
    count = [0]
    t = stackless.tasklet(spinner(count))()
    rounds = interrupted = 0
    deadline = time.monotonic() + 0.3
    while rounds < 50 or time.monotonic() < deadline:
        rounds += 1
        if stackless.run(300) is t:
            interrupted += 1
        t.insert()
    t.kill()
    out.append((threading.get_ident(), rounds, interrupted, count[0]))


def test_run_with_timeout_in_two_threads_at_once_and_in_main():
    out = []
    start = threading.Barrier(3)
    threads = [threading.Thread(target=run_rounds, args=(out, start)) for _ in range(2)]
    for th in threads:
        th.start()
    run_rounds(out, start)  # the main thread: its own ticks (a signal handler)
    for th in threads:
        th.join(120)
        assert not th.is_alive()
    assert len(out) == 3 and len({ident for ident, _, _, _ in out}) == 3
    for ident, rounds, interrupted, count in out:
        assert interrupted == rounds >= 50
        # A slice is about 30 ticks of one loop iteration each, whatever the others do.
        assert 10 <= count / rounds <= 100, (ident, rounds, count)

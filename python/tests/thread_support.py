"""Helpers shared by the thread and preemption tests: run a function in a new thread, and
tasklet bodies for run(timeout) that the main-thread and other-thread tests both use."""
import threading


def in_thread(fn, *args, timeout=120):
    """fn(*args) in a new thread; its result, or its exception re-raised here."""
    result = {}

    def body():
        try:
            result["value"] = fn(*args)
        except BaseException as e:  # noqa: B902
            result["error"] = e

    th = threading.Thread(target=body)
    th.start()
    th.join(timeout)
    assert not th.is_alive()
    if "error" in result:
        raise result["error"]
    return result.get("value")


def spinner(counter):
    """A tasklet body that counts up in counter[0] forever."""
    def spin():
        while True:
            counter[0] += 1
    return spin


def interrupt_and_resume():
    """run(1000) interrupts a spinner and returns it paused; inserted again, run(500)
    interrupts it again later in its loop; then it is killed."""
    import stackless
    count = [0]
    t = stackless.tasklet(spinner(count))()
    assert stackless.run(1000) is t
    assert t.alive and t.paused and not t.scheduled
    assert 0 < count[0] < 1000
    first = count[0]
    t.insert()
    assert stackless.run(500) is t
    assert count[0] > first
    # Cooperative again: the interrupted tasklet resumes and is killed.
    t.kill()
    assert not t.alive


def atomic_then_spin(log):
    """A tasklet body: an atomic stretch run(100) must not cut, then a spin that it does."""
    import stackless

    def body():
        with stackless.atomic():
            for _ in range(3000):
                pass
            log.append("atomic part done")
        while True:
            pass
    return body


def nested_then_spin(log):
    """A tasklet body with a C function (map) between its Python frames while it works:
    run(100) cuts it only with ignore_nesting=True; then a spin."""
    def body():
        list(map(lambda _: ([None for _ in range(3000)], log.append("nested part done")), [1]))
        while True:
            pass
    return body


def polite(counter):
    """A tasklet body that counts up in counter[0] and schedules, forever."""
    import stackless

    def body():
        while True:
            counter[0] += 1
            stackless.schedule()
    return body


def two_spinners_alternate(run_timeout):
    """Two counters that schedule after every 100 counts and a stopper, under
    run(run_timeout, soft=True) called until the stopper is done. Soft preemption (as
    Stackless's): when a tasklet's budget is spent, run() returns None at the next
    scheduling moment and the tasklets stay runnable. Returns whether the stopper
    finished, both counts, and how many run() calls that took."""
    import stackless
    a, b = [0], [0]

    def counter(c):
        def body():
            while True:
                for _ in range(100):
                    c[0] += 1
                stackless.schedule()
        return body

    ta = stackless.tasklet(counter(a))()
    tb = stackless.tasklet(counter(b))()
    done = []

    def stopper():
        while a[0] < 300 or b[0] < 300:
            stackless.schedule()
        done.append(True)
        ta.kill()
        tb.kill()

    stackless.tasklet(stopper)()
    calls = 0
    while not done or ta.alive or tb.alive:
        assert stackless.run(run_timeout, soft=True) is None
        calls += 1
    return done, a[0], b[0], calls


def preempted_exception_surfaces():
    """A tasklet raises while run(100000) runs it: True if the exception surfaced from
    run() in the caller."""
    import stackless

    def boom():
        for _ in range(3):
            pass
        raise KeyError("pre")

    stackless.tasklet(boom)()
    try:
        stackless.run(100000)
    except KeyError:
        return True
    return False

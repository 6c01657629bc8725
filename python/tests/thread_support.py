"""Helpers shared by the thread tests: run a function in a new thread, and a tasklet body
that spins (for preemption)."""
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


def two_spinners_alternate(run_timeout):
    """Two spinners and a stopper under run(run_timeout, soft=True): returns whether the
    stopper finished, and both counts."""
    import stackless
    a, b = [0], [0]
    ta = stackless.tasklet(spinner(a))()
    tb = stackless.tasklet(spinner(b))()
    done = []

    def stopper():
        while a[0] < 300 or b[0] < 300:
            stackless.schedule()
        done.append(True)
        ta.kill()
        tb.kill()

    stackless.tasklet(stopper)()
    assert stackless.run(run_timeout, soft=True) is None
    return done, a[0], b[0]

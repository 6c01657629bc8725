"""Coexistence with greenlet (python3-greenlet) in one process."""
import threading

import pytest

import stackless

greenlet = pytest.importorskip("greenlet")


def ping_pong(n):
    log = []

    def child():
        for i in range(n):
            log.append(("child", i))
            main.switch()

    main = greenlet.getcurrent()
    g = greenlet.greenlet(child)
    for _ in range(n):
        g.switch()
    return log


def test_greenlets_in_main_around_stackless_runs():
    assert len(ping_pong(3)) == 3
    got = []
    stackless.tasklet(got.append)(1)
    stackless.run()
    assert len(ping_pong(3)) == 3
    assert got == [1]


def test_greenlets_inside_a_tasklet():
    results = []

    def t():
        results.append(len(ping_pong(5)))
        stackless.schedule()
        results.append(len(ping_pong(5)))

    stackless.tasklet(t)()
    stackless.tasklet(lambda: results.append("other"))()
    stackless.run()
    assert results == [5, "other", 5]


def test_greenlets_in_a_thread_while_tasklets_run_here():
    out = {}
    th = threading.Thread(target=lambda: out.setdefault("n", len(ping_pong(100))))
    ch = stackless.channel()
    got = []
    stackless.tasklet(lambda: got.append(ch.receive()))()
    stackless.run()
    th.start()
    ch.send("x")
    th.join(60)
    assert out["n"] == 100 and got == ["x"]


def test_greenlet_exception_inside_tasklet():
    def t():
        def child():
            raise KeyError("g")
        with pytest.raises(KeyError):
            greenlet.greenlet(child).switch()

    stackless.tasklet(t)()
    stackless.run()

"""Threads: each has its own main tasklet and scheduler; channels work across threads."""
import threading

import stackless
from thread_support import in_thread


def test_each_thread_has_its_own_main_tasklet():
    main = stackless.main
    other = in_thread(lambda: (stackless.main, stackless.current, stackless.getruncount(),
                               stackless.main.thread_id == threading.get_ident()))
    assert other[0] is not main and other[1] is other[0]
    assert other[2] == 1 and other[3]


def test_tasklets_run_in_their_own_threads_scheduler():
    def body():
        got = []
        stackless.tasklet(got.append)(threading.get_ident())
        assert stackless.getruncount() == 2
        stackless.run()
        return got

    got = in_thread(body)
    assert got and got[0] != threading.get_ident()
    assert stackless.getruncount() == 1


def test_send_in_one_thread_wakes_a_receiver_in_another():
    ch = stackless.channel()
    got = []
    ready = threading.Event()

    def receiver():
        ready.set()
        got.append(ch.receive())

    th = threading.Thread(target=receiver)
    th.start()
    ready.wait()
    while ch.balance != -1:
        threading.Event().wait(0.001)
    ch.send("across")
    th.join(60)
    assert got == ["across"]


def test_receive_in_main_thread_from_sending_thread():
    ch = stackless.channel()

    def sender():
        for i in range(100):
            ch.send(i)

    th = threading.Thread(target=sender)
    th.start()
    got = [ch.receive() for _ in range(100)]
    th.join(60)
    assert got == list(range(100))


def test_tasklets_of_two_threads_ping_pong():
    a_to_b = stackless.channel()
    b_to_a = stackless.channel()
    n = 200

    ready = threading.Event()
    done = stackless.channel()

    def thread_b():
        def echo():
            for _ in range(n):
                b_to_a.send(a_to_b.receive() + 1)
            done.send("echo done")
        stackless.tasklet(echo)()
        ready.set()
        assert done.receive() == "echo done"  # thread b's main waits, GIL released

    th = threading.Thread(target=thread_b)
    th.start()
    ready.wait()
    total = 0
    for i in range(n):
        a_to_b.send(i)
        total += b_to_a.receive()
    th.join(60)
    assert total == sum(range(1, n + 1))


def test_get_thread_info_of_another_thread():
    info = {}
    ready = threading.Event()
    done = threading.Event()

    def body():
        info["main"] = stackless.main
        ready.set()
        done.wait(60)

    th = threading.Thread(target=body)
    th.start()
    ready.wait()
    main, current, runcount = stackless.get_thread_info(th.ident)
    assert th.ident in stackless.threads
    done.set()
    th.join()
    assert main is info["main"] and current is main and runcount == 1


def test_blocked_tasklets_are_killed_when_their_thread_ends():
    log = []

    def body():
        ch = stackless.channel()

        def waiter():
            try:
                ch.receive()
            finally:
                log.append("finally")

        stackless.tasklet(waiter)()
        stackless.run()

    in_thread(body)
    assert log == ["finally"]


def test_remote_tasklet_kill_is_pending_in_its_thread():
    ch = stackless.channel()
    log = []
    box = {}
    ready = threading.Event()

    def body():
        def waiter():
            try:
                ch.receive()
            except TaskletExit:
                log.append("killed")
                raise
        box["t"] = stackless.tasklet(waiter)()
        stackless.run()
        ready.set()
        ch2 = stackless.channel()
        box["ch2"] = ch2
        ch2.receive()  # wait: the kill from the main thread makes waiter runnable here
        stackless.run()

    th = threading.Thread(target=body)
    th.start()
    ready.wait()
    while "ch2" not in box or box["ch2"].balance != -1:
        threading.Event().wait(0.001)
    box["t"].kill()
    box["ch2"].send(None)
    th.join(60)
    assert log == ["killed"]


def test_remove_of_another_threads_tasklet_leaves_that_threads_runnables():
    # Stackless: tasklet.remove() works on a tasklet of another thread; only that
    # thread's run count changes. (It raised "can't switch to a different thread".)
    made, go, done = threading.Event(), threading.Event(), threading.Event()
    box = {}

    def thread():
        box["t"] = stackless.tasklet(lambda: box.setdefault("ran", True))()
        made.set()
        go.wait(10)
        box["runcount"] = stackless.getruncount()
        stackless.run()
        done.set()
    th = threading.Thread(target=thread)
    th.start()
    made.wait(10)
    t = box["t"]
    before = stackless.getruncount()
    assert t.scheduled
    assert t.remove() is t
    assert not t.scheduled and t.alive and t.paused
    assert stackless.getruncount() == before
    go.set()
    done.wait(10)
    th.join()
    assert box["runcount"] == 1 and "ran" not in box
    assert not t.alive and t.thread_id == -1  # killed at its thread's end
    t.remove()  # dead, of no thread: nothing to do


def test_leftovers_of_an_ending_thread_are_killed_under_a_main_of_their_own():
    # Stackless: the thread's main tasklet has ended when its leftovers are killed, so
    # they see another main tasklet object than the one the thread's code knew.
    seen = {}
    ch = stackless.channel()

    def leftover():
        seen["main"] = stackless.main
        try:
            ch.receive()
        except TaskletExit:
            seen["main_at_kill"] = stackless.getmain()
            seen["current_at_kill"] = stackless.current
            raise

    def thread():
        seen["thread_main"] = stackless.main
        stackless.tasklet(leftover)()
        stackless.run()
    th = threading.Thread(target=thread)
    th.start()
    th.join()
    assert seen["main"] is seen["thread_main"]
    assert isinstance(seen["main_at_kill"], stackless.tasklet)
    assert seen["main_at_kill"] is not seen["thread_main"]
    assert seen["current_at_kill"] is not seen["main_at_kill"]

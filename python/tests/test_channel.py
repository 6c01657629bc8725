"""stackless.channel: actions, preference, closing, exceptions, iteration, attributes."""
import sys

import pytest

import stackless
from conftest import run_tasklets


def test_send_and_receive_hand_over_a_value():
    ch = stackless.channel()
    got = []
    run_tasklets(lambda: got.append(ch.receive()), lambda: ch.send("x"))
    assert got == ["x"]


def test_default_preference_runs_the_receiver_at_once():
    ch = stackless.channel()
    order = []

    def receiver():
        order.append(("got", ch.receive()))

    def sender():
        ch.send(1)
        order.append("sender continues")

    run_tasklets(receiver, sender)
    assert ch.preference == -1
    assert order == [("got", 1), "sender continues"]


def test_preference_zero_lets_the_sender_continue():
    ch = stackless.channel()
    ch.preference = 0
    order = []

    def receiver():
        order.append(("got", ch.receive()))

    def sender():
        ch.send(1)
        order.append("sender continues")

    run_tasklets(receiver, sender)
    assert order == ["sender continues", ("got", 1)]


def test_preference_sender_on_receive_runs_the_sender_at_once():
    ch = stackless.channel()
    ch.preference = 1
    order = []

    def sender():
        ch.send(1)
        order.append("sender resumed")

    def receiver():
        v = ch.receive()
        order.append(("got", v))

    run_tasklets(sender, receiver)
    assert order == ["sender resumed", ("got", 1)]


# A receive that finds its sender waiting completes without a switch (the default
# preference) on its own path: what it does must be what the general action does.
def test_receive_from_a_waiting_sender_keeps_the_receiver_running():
    ch = stackless.channel()
    order = []

    def sender():
        ch.send("v")
        order.append("sender resumed")

    def receiver():
        assert ch.balance == 1
        order.append(("got", ch.receive()))
        assert ch.balance == 0 and ch.queue is None
        order.append("receiver continues")

    def other():
        order.append("other")

    run_tasklets(sender, receiver, other)
    # (the sender waits at the end of the runnables, behind the others)
    assert order == [("got", "v"), "receiver continues", "other", "sender resumed"]


def test_receive_from_the_first_of_two_waiting_senders():
    ch = stackless.channel()
    got = []
    run_tasklets(lambda: ch.send(1), lambda: ch.send(None), lambda: got.append(ch.receive()))
    assert got == [1]
    assert ch.balance == 1
    assert ch.receive() is None
    assert ch.balance == 0


def test_receive_from_a_waiting_sender_is_seen_by_the_channel_callback():
    ch = stackless.channel()
    calls = []

    def cb(channel, tasklet, sending, willblock):
        calls.append((sending, willblock))

    stackless.set_channel_callback(cb)
    try:
        run_tasklets(lambda: ch.send(1), ch.receive)
    finally:
        stackless.set_channel_callback(None)
    assert calls == [(True, True), (False, False)]


def test_receive_from_a_waiting_sender_with_schedule_all_schedules():
    ch = stackless.channel()
    ch.schedule_all = True
    order = []

    def receiver():
        order.append(("got", ch.receive()))

    run_tasklets(lambda: ch.send(1), receiver, lambda: order.append("other"))
    assert order == ["other", ("got", 1)]


def test_preference_is_clamped_and_type_checked():
    ch = stackless.channel()
    ch.preference = 5
    assert ch.preference == 1
    ch.preference = -7
    assert ch.preference == -1
    with pytest.raises(TypeError):
        ch.preference = "x"


def test_balance_and_queue_show_the_waiting_tasklets():
    ch = stackless.channel()
    a = stackless.tasklet(ch.send)(1)
    b = stackless.tasklet(ch.send)(2)
    stackless.run()
    assert ch.balance == 2
    assert ch.queue is a and a.next is b and b.next is None
    assert a.blocked and a.scheduled and not a.paused
    assert [ch.receive(), ch.receive()] == [1, 2]
    assert ch.balance == 0 and ch.queue is None


def test_receivers_make_balance_negative():
    ch = stackless.channel()
    stackless.tasklet(ch.receive)()
    stackless.run()
    assert ch.balance == -1
    ch.send(None)


def test_receive_on_closed_channel_raises_value_error():
    ch = stackless.channel()
    ch.close()
    assert ch.closing and ch.closed
    with pytest.raises(ValueError, match="Send/receive operation on a closed channel"):
        ch.receive()
    with pytest.raises(ValueError, match="Send/receive operation on a closed channel"):
        ch.send(1)


def test_closing_channel_with_senders_is_not_closed_until_drained():
    ch = stackless.channel()
    stackless.tasklet(ch.send)(1)
    stackless.run()
    ch.close()
    assert ch.closing and not ch.closed
    assert ch.receive() == 1
    assert ch.closed
    ch.open()
    assert not ch.closing


def test_send_exception_raises_in_the_receiver():
    ch = stackless.channel()
    caught = []

    def receiver():
        try:
            ch.receive()
        except KeyError as e:
            caught.append(e.args)

    run_tasklets(receiver, lambda: ch.send_exception(KeyError, "a", "b"))
    assert caught == [("a", "b")]


def test_send_exception_needs_an_exception_class():
    ch = stackless.channel()
    with pytest.raises(TypeError, match="channel.send_exception needs Exception"):
        ch.send_exception(42)


def test_send_throw_raises_instance_with_traceback():
    ch = stackless.channel()
    caught = []
    try:
        raise ZeroDivisionError("z")
    except ZeroDivisionError as e:
        exc = e
        tb = e.__traceback__

    def receiver():
        try:
            ch.receive()
        except ZeroDivisionError as e:
            caught.append(e)

    run_tasklets(receiver, lambda: ch.send_throw(ZeroDivisionError, exc, tb))
    assert caught == [exc]


# (sender_first: the receive finds the sender waiting and completes without a switch)
@pytest.mark.parametrize("sender_first", [False, True])
def test_received_bomb_explodes(sender_first):
    ch = stackless.channel()
    caught = []

    def receiver():
        try:
            ch.receive()
        except OSError as e:
            caught.append(str(e))

    def sender():
        ch.send(stackless.bomb(OSError, OSError("b")))

    run_tasklets(*((sender, receiver) if sender_first else (receiver, sender)))
    assert caught == ["b"]


def test_send_sequence_returns_count():
    ch = stackless.channel()
    got = []

    def receiver():
        for _ in range(3):
            got.append(ch.receive())

    stackless.tasklet(receiver)()
    assert ch.send_sequence(iter([1, 2, 3])) == 3
    assert got == [1, 2, 3]


def test_iteration_over_channel_until_closed():
    ch = stackless.channel()
    got = []

    def consumer():
        for v in ch:
            got.append(v)
        got.append("done")

    for i in range(3):
        stackless.tasklet(ch.send)(i)
    stackless.run()  # three senders wait
    ch.close()
    assert ch.closing and not ch.closed
    run_tasklets(consumer)
    assert got == [0, 1, 2, "done"]
    assert ch.closed


def test_tasklet_blocked_in_for_over_channel_is_killed_cleanly():
    ch = stackless.channel()
    log = []

    def consumer():
        try:
            for v in ch:
                log.append(v)
        finally:
            log.append("finally")

    t = stackless.tasklet(consumer)()
    stackless.run()
    ch.send(1)
    t.kill()
    assert log == [1, "finally"] and not t.alive


def test_tasklet_blocked_inside_with_block_runs_exit_when_killed():
    ch = stackless.channel()
    log = []

    class Ctx:
        def __enter__(self):
            log.append("enter")

        def __exit__(self, *exc):
            log.append(("exit", exc[0]))
            return False

    def f():
        with Ctx():
            ch.receive()

    t = stackless.tasklet(f)()
    stackless.run()
    t.kill()
    assert log == ["enter", ("exit", TaskletExit)]


def test_block_trap_refuses_to_block():
    ch = stackless.channel()
    errors = []

    def f():
        stackless.current.block_trap = True
        try:
            ch.receive()
        except RuntimeError as e:
            errors.append(str(e))

    run_tasklets(f)
    assert errors == ["this tasklet does not like to be blocked."]


def test_schedule_all_moves_the_partner_to_the_end():
    ch = stackless.channel()
    ch.schedule_all = True
    assert ch.schedule_all
    order = []

    def receiver():
        order.append(("got", ch.receive()))

    def sender():
        ch.send(1)
        order.append("sender")

    def other():
        order.append("other")

    run_tasklets(receiver, sender, other)
    assert order == ["other", ("got", 1), "sender"] or order[0] == "other"


def test_channel_is_subclassable_and_weak_referenceable():
    import weakref

    class My(stackless.channel):
        pass

    ch = My()
    r = weakref.ref(ch)
    got = []
    run_tasklets(lambda: got.append(ch.receive()), lambda: ch.send(1))
    assert got == [1]
    del ch
    assert r() is None


def test_channel_callback_sees_every_action():
    ch = stackless.channel()
    calls = []

    def cb(channel, tasklet, sending, willblock):
        calls.append((channel is ch, sending, willblock))

    assert stackless.set_channel_callback(cb) is None
    assert stackless.get_channel_callback() is cb
    try:
        run_tasklets(ch.receive, lambda: ch.send(1))
    finally:
        assert stackless.set_channel_callback(None) is cb
    assert calls == [(True, False, True), (True, True, False)]


def test_channel_action_in_a_callback_raises():
    ch = stackless.channel()
    errors = []

    def cb(prev, nxt):
        try:
            ch.send(1)
        except RuntimeError as e:
            errors.append(str(e))

    stackless.set_schedule_callback(cb)
    try:
        run_tasklets(lambda: None)
    finally:
        stackless.set_schedule_callback(None)
    assert "Recursive channel call due to callbacks!" in errors


def test_payload_refcounts_return_to_their_start():
    ch = stackless.channel()
    payload = object()
    start = sys.getrefcount(payload)
    for _ in range(1000):
        stackless.tasklet(ch.send)(payload)
        stackless.run()
        assert ch.receive() is payload
    # also through a killed sender and an exception
    for _ in range(100):
        t = stackless.tasklet(ch.send)(payload)
        stackless.run()
        t.kill()
    assert sys.getrefcount(payload) == start


def test_a_received_value_is_dropped_when_the_receiver_is_killed_before_it_returns():
    # Preference to the sender: receive() takes the value, then switches to the sender
    # before it returns; the sender kills the receiver there. The value is not leaked.
    ch = stackless.channel()
    ch.preference = 1
    payload = object()
    start = sys.getrefcount(payload)
    got = []
    for _ in range(50):
        receiver = stackless.tasklet(lambda: got.append(ch.receive()))

        def sender():
            ch.send(payload)  # blocks: nobody receives yet
            receiver.kill()   # the receiver has taken the value and waits to return it

        stackless.tasklet(sender)()
        stackless.run()  # the sender blocks
        receiver()
        stackless.run()
        assert not receiver.alive
    assert got == []
    assert sys.getrefcount(payload) == start

"""stackless.channel: send_sequence() and iteration (`for x in ch`), whose switches take
core's inline path as send() and receive() do: the same items in the same order, the
same rules."""
import pytest

import stackless
from conftest import run_tasklets


def names_of(**tasklets):
    """A tasklet's name in a log: the keyword it was given, "main" for the main tasklet."""
    def name(t):
        if t is None:
            return None
        if t.is_main:
            return "main"
        return next(k for k, v in tasklets.items() if v is t)
    return name


def log_of_sending(send_all, preference):
    """What a receiver and the schedule callback see while `send_all(ch, items)` sends
    four items to a receiver that takes them in a loop."""
    ch = stackless.channel()
    ch.preference = preference
    log = []

    def receiver():
        for _ in range(4):
            log.append(("got", ch.receive(), ch.balance))

    def sender():
        log.append(("returned", send_all(ch, [10, 11, 12, 13]), ch.balance))

    r = stackless.tasklet(receiver)()
    s = stackless.tasklet(sender)()
    name = names_of(r=r, s=s)
    stackless.set_schedule_callback(lambda prev, nxt: log.append((name(prev), name(nxt))))
    try:
        stackless.run()
    finally:
        stackless.set_schedule_callback(None)
    return log


def send_each(ch, items):
    for x in items:
        ch.send(x)
    return len(items)


@pytest.mark.parametrize("preference", [-1, 0, 1])
def test_send_sequence_switches_as_a_loop_of_send_does(preference):
    expected = log_of_sending(send_each, preference)
    got = log_of_sending(lambda ch, items: ch.send_sequence(items), preference)
    assert got == expected
    assert [e[1] for e in got if e[0] == "got"] == [10, 11, 12, 13]
    assert ("returned", 4, 0) in got


def test_send_sequence_of_many_items_keeps_their_order():
    ch = stackless.channel()
    got = []

    def consumer():
        for x in ch:
            got.append(x)

    def producer():
        got.append(("count", ch.send_sequence(x * 3 for x in range(1000))))
        ch.close()

    c, _ = run_tasklets(consumer, producer)
    assert got == [x * 3 for x in range(1000)] + [("count", 1000)]
    assert ch.closing and ch.balance == -1  # the consumer waits for more
    c.kill()


def test_send_sequence_raises_what_its_generator_raises_midway():
    ch = stackless.channel()
    got = []
    raised = []

    def items():
        yield 1
        yield 2
        raise KeyError("midway")

    def receiver():
        while True:
            got.append(ch.receive())

    def sender():
        try:
            ch.send_sequence(items())
        except KeyError as e:
            raised.append(e.args[0])

    r, _ = run_tasklets(receiver, sender)
    assert got == [1, 2] and raised == ["midway"]
    assert ch.balance == -1  # the receiver waits for a third
    r.kill()


def test_send_sequence_raises_when_the_channel_is_closed_midway():
    ch = stackless.channel()
    got = []
    raised = []

    def receiver():
        got.append(ch.receive())
        got.append(ch.receive())
        ch.close()

    def sender():
        try:
            ch.send_sequence(range(5))
        except ValueError as e:
            raised.append(str(e))

    run_tasklets(receiver, sender)
    assert got == [0, 1]
    assert raised == ["Send/receive operation on a closed channel"]
    assert ch.closed and ch.balance == 0


def test_a_sender_keeps_its_place_in_the_sequence_when_its_receiver_is_killed():
    ch = stackless.channel()
    got = []
    returned = []

    def receiver():
        while True:
            got.append(ch.receive())

    r = stackless.tasklet(receiver)()
    r.run()  # blocks in receive()

    def items():
        yield 0
        yield 1
        r.kill()  # blocked in receive() again, waiting for a third
        yield 2
        yield 3

    stackless.tasklet(lambda: returned.append(ch.send_sequence(items())))()
    stackless.run()
    assert got == [0, 1] and not r.alive
    assert ch.balance == 1  # blocked sending 2
    assert ch.receive() == 2
    assert ch.receive() == 3
    stackless.run()
    assert returned == [4] and ch.balance == 0


def test_a_channel_callback_sees_send_sequences_item_in_the_senders_tempval():
    # As send() (and Stackless's send_sequence, which sends each item as send does).
    ch = stackless.channel()
    seen = []
    stackless.tasklet(lambda: [ch.receive() for _ in range(2)])()
    stackless.run()
    stackless.set_channel_callback(lambda c, t, sending, will_block: seen.append(
        (t.tempval, sending) if sending else sending))
    try:
        assert ch.send_sequence(["a", "b"]) == 2
    finally:
        stackless.set_channel_callback(None)
    assert [s for s in seen if s] == [("a", True), ("b", True)]
    assert stackless.current.tempval is None


def test_iteration_waits_through_close_and_ends_when_the_channel_is_empty():
    ch = stackless.channel()
    got = []

    def consumer():
        for x in ch:
            got.append(x)
        got.append("done")

    t = stackless.tasklet(consumer)()
    stackless.run()  # waits in its first step
    ch.close()
    assert t.blocked and ch.closing and not ch.closed and got == []
    stackless.run()
    assert t.blocked and got == []  # still waiting: close() wakes nobody
    ch.send(5)  # a receiver waits: a closing channel takes it
    stackless.run()
    assert got == [5, "done"] and not t.alive and ch.closed


def test_iteration_raises_what_is_sent_through_the_channel():
    ch = stackless.channel()
    got = []

    def consumer():
        try:
            for x in ch:
                got.append(x)
        except KeyError as e:
            got.append(("raised", e.args[0]))

    def producer():
        ch.send(1)
        ch.send_exception(KeyError, "k")
        ch.send(2)  # nobody receives it: it waits until killed

    _, p = run_tasklets(consumer, producer)
    assert got == [1, ("raised", "k")]
    assert ch.balance == 1
    p.kill()

"""channel.send() done with at most one jump of its own (channel_object.cpp, send_inline:
core's inline path in a function that keeps nothing in registers across its switch): a
send that blocks at once and resumes the next runnable, or hands its value to a waiting
receiver; and the ways its tasklet resumes other than plainly. In each test `other`
starts first and lets the sender run (schedule), so that the tasklet the send resumes
was suspended by a jump; the sender sends only after a schedule() of its own has
returned (a tasklet's start may leave work due at the next return from the module, and
the path declines while any is due)."""
import gc
import sys

import pytest

import stackless


def channel_locked_here_once():
    """A channel whose lock this thread has taken (the collector's walk of its queue
    does): biased to this thread where the process can bias locks, and the path takes
    only a lock biased to its thread."""
    ch = stackless.channel()
    gc.get_referents(ch)
    return ch


def settle():
    """other's start: the sender starts, and runs until its first schedule()."""
    stackless.schedule()
    stackless.schedule()


def sending(ch, log):
    """A sender that sends "x" on ch after its first schedule(), then notes that it
    resumed."""
    def sender():
        stackless.schedule()
        ch.send("x")
        log.append("sender resumed")
    return sender


def run_after_other(other, sender):
    t = stackless.tasklet(other)()
    s = stackless.tasklet(sender)()
    stackless.run()
    return t, s


def test_a_blocked_sender_hands_its_value_over_and_resumes_after_its_receiver():
    ch = channel_locked_here_once()
    log = []

    def other():
        settle()  # the sender blocks at once
        log.append(("balance", ch.balance))
        log.append(ch.receive())  # the sender waits: taken without a switch
        log.append(("balance", ch.balance))
        stackless.schedule()  # the sender resumes (plainly: nothing unusual is due)
        log.append("other resumed")

    run_after_other(other, sending(ch, log))
    assert log == [("balance", 1), "x", ("balance", 0), "sender resumed", "other resumed"]


@pytest.mark.parametrize("how", ["kill", "throw"])
def test_a_blocked_sender_raises_what_is_thrown_at_it_and_its_value_stays_unsent(how):
    ch = channel_locked_here_once()
    log = []

    def sender():
        stackless.schedule()
        try:
            ch.send("x")
        except (TaskletExit, KeyError) as e:
            log.append(type(e).__name__)
            if how == "kill":
                raise
        log.append("goes on")

    def other():
        settle()
        if how == "kill":
            s.kill()
        else:
            s.throw(KeyError("k"))
        log.append(("balance", ch.balance, s.alive))

    s = stackless.tasklet(sender)
    stackless.tasklet(other)()
    s()
    stackless.run()
    if how == "kill":
        assert log == ["TaskletExit", ("balance", 0, False)]
    else:
        assert log == ["KeyError", "goes on", ("balance", 0, False)]


def test_a_blocked_sender_keeps_its_trace_function_and_the_other_does_not_see_it():
    ch = channel_locked_here_once()
    called = []

    def tracer(frame, event, arg):
        if event == "call":
            called.append(frame.f_code.co_name)
        return None

    def traced_after_send():
        pass

    def untraced_in_other():
        pass

    def sender():
        stackless.schedule()
        sys.settrace(tracer)
        ch.send("x")  # blocks with its trace function
        traced_after_send()
        sys.settrace(None)

    def other():
        settle()
        called.append(("other sees", sys.gettrace()))
        untraced_in_other()
        called.append(ch.receive())
        stackless.schedule()  # the sender resumes (its trace function is what is unusual)

    run_after_other(other, sender)
    assert called == [("other sees", None), "x", "traced_after_send"]


def test_a_blocked_sender_resumed_by_a_tasklet_that_ends_runs_on():
    ch = channel_locked_here_once()
    log = []

    def ender():
        log.append("ender ran")

    def other():
        settle()  # the sender blocks at once
        stackless.tasklet(ender)()
        log.append(ch.receive())  # runnables now: other, ender, sender
        # other ends; so does ender, whose end resumes the sender

    run_after_other(other, sending(ch, log))
    assert log == ["x", "ender ran", "sender resumed"]


def test_a_send_to_a_waiting_receiver_switches_to_it_or_goes_on_by_the_preference():
    for preference, expected in [
        (-1, ["receiver got x", "sender goes on"]),
        (1, ["sender goes on", "receiver got x"]),
    ]:
        ch = channel_locked_here_once()
        ch.preference = preference
        log = []

        def receiver():
            log.append("receiver got " + ch.receive())

        def sender():
            stackless.schedule()  # the receiver waits now
            ch.send("x")
            log.append("sender goes on")

        run_after_other(receiver, sender)
        assert log == expected, preference
        assert ch.balance == 0

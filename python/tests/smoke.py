"""A quick check for an interpreter without pytest (the other CPython 3.11): the module
imports, tasklets run, channels carry values and exceptions, state survives switches."""
import sys

import stackless


def main():
    ch = stackless.channel()
    seen = []

    def receiver():
        try:
            raise KeyError("handled")
        except KeyError:
            seen.append(ch.receive())
            assert sys.exc_info()[0] is KeyError  # the handled exception is ours

    def sender():
        ch.send(42)

    stackless.tasklet(receiver)()
    stackless.tasklet(sender)()
    stackless.run()
    assert seen == [42], seen

    def boom():
        raise ValueError("boom")

    stackless.tasklet(boom)()
    try:
        stackless.run()
    except ValueError as e:
        assert str(e) == "boom"
    else:
        raise AssertionError("the tasklet's exception did not reach main")
    assert stackless.getruncount() == 1
    print("smoke ok", sys.version.split()[0])


main()

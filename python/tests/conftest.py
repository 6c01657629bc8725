"""Shared fixtures: every test runs with both kinds of hard switching, and leaves the
scheduler as it found it (only the main tasklet runnable)."""
import gc

import pytest

import stackless


@pytest.fixture(autouse=True, params=["own", "copied"])
def stack_kind(request):
    old = stackless.set_default_stack_kind(request.param)
    yield request.param
    stackless.set_default_stack_kind(old)
    # Kill whatever a test left behind, so the next one starts clean.
    for _ in range(3):
        t = stackless.getcurrent().next
        while t is not None and t is not stackless.getcurrent():
            nxt = t.next
            t.kill()
            t = nxt
    stackless.switch_trap(-stackless.switch_trap(0))
    stackless.set_schedule_callback(None)
    stackless.set_channel_callback(None)
    gc.collect()
    assert stackless.getruncount() == 1
    assert stackless.current is stackless.main


def run_tasklets(*funcs):
    """Start one tasklet per function and run the scheduler."""
    ts = [stackless.tasklet(f)() for f in funcs]
    stackless.run()
    return ts

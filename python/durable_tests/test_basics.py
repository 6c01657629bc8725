"""The issue's example, duplicate events, failures and bad input, on real workers."""
import os
import subprocess
import sys

import pytest

import flows
import stackless_durable as sd
from conftest import LONG, wait_until


def test_example(server, workers):
    app = sd.App(server.url)
    wid = app.start(flows.order, 42, 100)
    assert isinstance(wid, str)
    wait_until(lambda: app.status(wid).state == "waiting", LONG, "the first wait")
    assert app.status(wid) == ("waiting", "waiting for event 'approve'")
    # events in any order: 'pay' first waits until the workflow wants it
    assert app.send_event(wid, "pay", True, event_id="p-1") is True
    assert app.send_event(wid, "pay", True, event_id="p-1") is False  # a retry: no-op
    app.send_event(wid, "approve", True)
    assert app.result(wid, timeout=LONG) is True
    assert app.effects("ledger") == [(42, 100)]
    assert app.status(wid) == ("done", "")


def test_duplicate_events_are_consumed_once(server, workers):
    app = sd.App(server.url)
    wid = app.start(flows.payments, 3)
    sent = [app.send_event(wid, "pay", v, event_id=eid)
            for v, eid in [(1, "a"), (1, "a"), (10, "b"), (1, "a"), (100, "c"), (10, "b")]]
    assert sent == [True, False, True, False, True, False]
    assert app.result(wid, timeout=LONG) == 111
    # a fourth payment with a new id stays unconsumed: the workflow has ended
    assert app.send_event(wid, "pay", 1000, event_id="d") is True
    assert app.result(wid, timeout=5) == 111


def test_failure_raises_the_workflows_exception(server, workers):
    app = sd.App(server.url)
    wid = app.start(flows.fails, "no stock")
    app.send_event(wid, "go", None)
    with pytest.raises(ValueError, match="no stock"):
        app.result(wid, timeout=LONG)
    assert app.status(wid) == ("failed", "ValueError: no stock")
    assert app.effects("fails") == [("no stock",)]


@pytest.mark.parametrize("workflow", [flows.blocks_elsewhere, flows.pauses_itself])
def test_blocking_outside_wait_fails_clearly(server, workers, workflow):
    app = sd.App(server.url)
    wid = app.start(workflow)
    with pytest.raises(RuntimeError, match="blocked outside stackless_durable.wait"):
        app.result(wid, timeout=LONG)


def test_keyword_arguments_and_defaults(server, workers):
    app = sd.App(server.url)
    wid = app.start(flows.takes_defaults, 1, c=10)
    app.send_event(wid, "c", 5)
    assert app.result(wid, timeout=LONG) == 1 + 2 + 5 * 10


def test_a_workflow_whose_module_is_missing_waits_for_it(server, workers, tmp_path):
    app = sd.App(server.url)
    module = tmp_path / "flows_elsewhere.py"
    module.write_text("import stackless_durable as sd\n"
                      "def later(x):\n    return sd.wait('x') + x\n"
                      "sd.App('redis://127.0.0.1:1/0').workflow(later)\n")
    sys.path.insert(0, str(tmp_path))
    try:
        import flows_elsewhere
    finally:
        sys.path.remove(str(tmp_path))
    wid = app.start(flows_elsewhere.later, 1)
    wait_until(lambda: app.status(wid).state == "incompatible", LONG, "the call to be refused")
    assert "No module named 'flows_elsewhere'" in app.status(wid).why
    app.send_event(wid, "x", 2)  # kept while the workflow cannot run
    assert app.status(wid).state == "incompatible"


def test_bad_input_gets_clear_errors(server, monkeypatch):
    app = sd.App(server.url)
    with pytest.raises(TypeError, match="not a workflow"):
        app.start(print)
    with pytest.raises(TypeError):
        app.start(flows.order, 1)  # a missing argument
    with pytest.raises(KeyError, match="no workflow"):
        app.send_event("nope", "go", 1)
    with pytest.raises(KeyError, match="no workflow"):
        app.status("nope")
    with pytest.raises(TypeError, match="str"):
        app.send_event("nope", 1, 1)
    with pytest.raises(RuntimeError, match="outside a workflow"):
        sd.wait("x")
    with pytest.raises(RuntimeError, match="outside a workflow"):
        sd.effect("x", 1)
    monkeypatch.delenv(sd.KEY_ENV)
    with pytest.raises(ValueError, match="signing key"):
        sd.App(server.url)
    assert server.proc.poll() is None  # nothing was stored, nothing broke


def test_result_times_out_with_the_status(server, workers):
    app = sd.App(server.url)
    wid = app.start(flows.order, 1, 2)
    wait_until(lambda: app.status(wid).state == "waiting", LONG, "the first wait")
    with pytest.raises(TimeoutError, match="waiting: waiting for event 'approve'"):
        app.result(wid, timeout=0.2)


def test_the_worker_command_refuses_bad_input_clearly(server):
    def worker(*args, key=True):
        env = dict(os.environ)
        if not key:
            del env[sd.KEY_ENV]
        return subprocess.run([sys.executable, "-m", "stackless_durable", "worker", *args],
                              env=env, capture_output=True, text=True, timeout=LONG)

    out = worker("not-a-url")
    assert out.returncode == 2 and "Redis URL must specify" in out.stderr, out.stderr
    out = worker(server.url, key=False)
    assert out.returncode == 2 and sd.KEY_ENV in out.stderr, out.stderr
    out = worker(server.url, "--concurrency", "0")
    assert out.returncode == 2 and "at least 1" in out.stderr, out.stderr

"""Signed pickles and changed code: a stored tasklet that fails its signature or refers
to code the worker does not have is never run; its workflow is "incompatible", keeps its
state and its events, and goes on once the right state or code is back."""
import sys
import textwrap

import redis

import flows
import stackless_durable as sd
from conftest import LONG, running, wait_until
from stackless_durable.store import event_key, wf_key

VERSIONED = """
import stackless_durable as sd

def _step(n):
    sd.effect("versioned", n, {tag!r})
    return sd.wait("b")

def versioned(n):
    sd.wait("a")
    _step(n)
    return {tag!r}

sd.App("redis://127.0.0.1:1/0").workflow(versioned)
"""


def _state(app, wid):
    return app.status(wid).state


def test_a_tampered_pickle_is_never_run(server, workers):
    app = sd.App(server.url)
    r = redis.Redis.from_url(server.url)
    wid = app.start(flows.collect, 5, ["a"], 2, "tamper")
    wait_until(lambda: _state(app, wid) == "waiting", LONG, "the first wait")
    good = r.hget(wf_key(wid), "state")
    bad = bytearray(good)
    bad[len(bad) // 2] ^= 0x01
    r.hset(wf_key(wid), "state", bytes(bad))
    app.send_event(wid, "a", 1)
    wait_until(lambda: _state(app, wid) == "incompatible", LONG, "the workflow to be refused")
    assert "signature does not match" in app.status(wid).why
    assert app.effects("tamper") == [] and app.effects("tamper-finally") == []
    assert r.llen(event_key(wid, "a")) == 1  # the event is kept
    assert r.hget(wf_key(wid), "state") == bytes(bad)  # so is the state
    # An event signed with another key is refused the same way.
    wid2 = app.start(flows.collect, 6, ["a"], 2, "tamper")
    wait_until(lambda: _state(app, wid2) == "waiting", LONG, "the first wait")
    sd.App(server.url, key="another key").send_event(wid2, "a", 1)
    wait_until(lambda: _state(app, wid2) == "incompatible", LONG, "the event to be refused")
    assert "event 'a': signature does not match" in app.status(wid2).why
    # The right state back: the sweeper tries it again, and it runs.
    r.hset(wf_key(wid), "state", good)
    assert app.result(wid, timeout=LONG) == (5, 1)
    assert app.effects("tamper") == [(5, "a", 1)]
    assert app.effects("tamper-finally") == [(5,)]


def test_changed_code_waits_for_the_right_code(own_server, tmp_path):
    # A server of its own: the module's workers could not import this test's module.
    server = own_server
    module = tmp_path / "flows_versioned.py"
    module.write_text(VERSIONED.format(tag="v1"))
    sys.path.insert(0, str(tmp_path))
    try:
        import flows_versioned
    finally:
        sys.path.remove(str(tmp_path))
    app = sd.App(server.url)
    with running(server.url, tmp_path, extra_path=[tmp_path]):
        wids = [app.start(flows_versioned.versioned, n) for n in range(3)]
        for wid in wids:
            app.send_event(wid, "a", None)
        wait_until(lambda: all(app.status(w).why == "waiting for event 'b'" for w in wids),
                   LONG, "the workflows to wait in _step")
        assert sorted(app.effects("versioned")) == [(n, "v1") for n in range(3)]
    # Deploy changed code: the stored frames of _step and versioned no longer match it.
    module.write_text(VERSIONED.format(tag="v2"))
    with running(server.url, tmp_path, extra_path=[tmp_path]):
        for wid in wids:
            app.send_event(wid, "b", None)
        wait_until(lambda: all(_state(app, w) == "incompatible" for w in wids), LONG,
                   "the workflows to be refused")
        for wid in wids:
            why = app.status(wid).why
            assert "digest mismatch" in why and "flows_versioned" in why, why
            assert redis.Redis.from_url(server.url).llen(event_key(wid, "b")) == 1
        assert sorted(app.effects("versioned")) == [(n, "v1") for n in range(3)]
    # The right code again: the sweeper retries them and they end as v1 would.
    module.write_text(VERSIONED.format(tag="v1"))
    with running(server.url, tmp_path, extra_path=[tmp_path]):
        assert [app.result(wid, timeout=LONG) for wid in wids] == ["v1"] * 3
        assert sorted(app.effects("versioned")) == [(n, "v1") for n in range(3)]

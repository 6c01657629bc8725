"""Fixtures of the stackless_durable tests: a real redis-server on a free loopback port
and real workers (`python3 -m stackless_durable worker`), as subprocesses
(stackless_durable.local). Each dies with the test process (PR_SET_PDEATHSIG) and is
stopped by its fixture, so every process started here ends in bounded time however the
test ends."""
import contextlib
import os
import sys

import pytest

from stackless_durable.local import RedisServer, Workers, wait_until  # noqa: F401

# The longest a test waits for workers to do something (an upper bound on a loaded
# machine: waits end as soon as what they wait for is there).
LONG = 120
HERE = os.path.dirname(os.path.abspath(__file__))
os.environ["STACKLESS_DURABLE_KEY"] = "test-signing-key"
sys.path.insert(0, HERE)


@contextlib.contextmanager
def running(url, dir, extra_path=()):
    """Workers with quick sweeps for the `with` block; they must stop cleanly after it."""
    w = Workers(url, dir, path=list(extra_path) + [HERE], stall_after=1, sweep_every=0.25)
    try:
        yield w
    finally:
        assert w.stop() == 0, "the worker supervisor did not stop cleanly"


@pytest.fixture
def own_server(tmp_path):
    """A redis-server for one test (to kill, or to keep other tests' workers away)."""
    s = RedisServer(tmp_path)
    yield s
    s.stop()


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """One redis-server for a test module (tests that restart it start their own)."""
    s = RedisServer(tmp_path_factory.mktemp("redis"))
    yield s
    s.stop()


@pytest.fixture(scope="module")
def workers(server):
    with running(server.url, server.dir) as w:
        yield w

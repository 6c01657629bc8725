"""Fixtures of the stackless_durable tests: a real redis-server on a free loopback port
and real workers (`python3 -m stackless_durable worker`), as subprocesses. Each dies with
the test process (PR_SET_PDEATHSIG) and is stopped by its fixture, so every process
started here ends in bounded time however the test ends."""
import contextlib
import ctypes
import os
import signal
import socket
import subprocess
import sys
import time

import pytest
import redis

HERE = os.path.dirname(os.path.abspath(__file__))
KEY = "test-signing-key"
os.environ["STACKLESS_DURABLE_KEY"] = KEY
sys.path.insert(0, HERE)


def _die_with_us():
    ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_until(predicate, timeout, what):
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError("timed out after %ss waiting for %s" % (timeout, what))
        time.sleep(0.05)


class RedisServer:
    """redis-server with append-only persistence (fsync on every write) in `dir`."""

    def __init__(self, dir):
        self.dir = dir
        self.port = _free_port()
        self.url = "redis://127.0.0.1:%d/0" % self.port
        self.proc = None
        self.start()

    def start(self):
        self.log = open(os.path.join(self.dir, "redis.log"), "ab")
        self.proc = subprocess.Popen(
            ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--dir",
             str(self.dir), "--appendonly", "yes", "--appendfsync", "always", "--save", "",
             "--protected-mode", "no"],
            stdout=self.log, stderr=subprocess.STDOUT, preexec_fn=_die_with_us)
        client = redis.Redis(port=self.port)

        def up():
            try:
                return client.ping()
            except redis.ConnectionError:
                assert self.proc.poll() is None, "redis-server exited; see redis.log"
                return False

        wait_until(up, 20, "redis-server to answer")

    def kill(self):
        """SIGKILL: a crash, no shutdown save (only the append-only file keeps data)."""
        self.proc.kill()
        self.proc.wait(10)
        self.log.close()

    def stop(self):
        if self.proc.poll() is None:
            self.kill()


class Workers:
    """`python3 -m stackless_durable worker URL` with quick sweeps, and its processes."""

    def __init__(self, url, dir, extra_path=(), concurrency=2):
        self.url, self.dir = url, dir
        self.env = dict(os.environ)
        self.env["PYTHONPATH"] = os.pathsep.join(
            [str(p) for p in extra_path] + [HERE] + sys.path[1:])
        self.env["PYTHONDONTWRITEBYTECODE"] = "1"
        self.concurrency = concurrency
        self.proc = None
        self.start()

    def start(self):
        self.log = open(os.path.join(self.dir, "workers.log"), "ab")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "stackless_durable", "worker", self.url,
             "--concurrency", str(self.concurrency), "--stall-after", "1",
             "--sweep-every", "0.25"],
            env=self.env, stdout=self.log, stderr=subprocess.STDOUT, preexec_fn=_die_with_us)

    def processes(self):
        """The pids of the worker processes (the supervisor's children)."""
        path = "/proc/%d/task/%d/children" % (self.proc.pid, self.proc.pid)
        try:
            with open(path) as f:
                return [int(p) for p in f.read().split()]
        except FileNotFoundError:
            return []

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()
        return self.proc.returncode


@contextlib.contextmanager
def running(*args, **kw):
    """Workers(*args, **kw) for the `with` block; they must stop cleanly after it."""
    w = Workers(*args, **kw)
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

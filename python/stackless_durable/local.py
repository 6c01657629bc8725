"""Local processes for tests and benchmarks: a redis-server on a free loopback port and
`python3 -m stackless_durable worker`, as subprocesses that the kernel kills when the
process that started them dies (PR_SET_PDEATHSIG), so none outlives it."""
import ctypes
import os
import signal
import socket
import subprocess
import sys
import time

import redis

_PR_SET_PDEATHSIG = 1


def die_with_parent():
    """For Popen(preexec_fn=...): the child gets SIGKILL when its parent dies, however
    the parent dies."""
    ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_until(predicate, timeout, what):
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise TimeoutError("timed out after %ss waiting for %s" % (timeout, what))
        time.sleep(0.02)


class RedisServer:
    """redis-server on a free loopback port with append-only persistence in `dir`
    (fsync: 'always' or 'everysec'); its output goes to dir/redis.log."""

    def __init__(self, dir, fsync="always"):
        self.dir = str(dir)
        self.fsync = fsync
        self.port = free_port()
        self.url = "redis://127.0.0.1:%d/0" % self.port
        self.proc = None
        self.start()

    def start(self):
        self.log = open(os.path.join(self.dir, "redis.log"), "ab")
        self.proc = subprocess.Popen(
            ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--dir",
             self.dir, "--appendonly", "yes", "--appendfsync", self.fsync, "--save", ""],
            stdout=self.log, stderr=subprocess.STDOUT, preexec_fn=die_with_parent)
        client = redis.Redis(port=self.port)

        def up():
            if self.proc.poll() is not None:
                raise RuntimeError("redis-server exited; see " + self.log.name)
            try:
                return client.ping()
            except redis.ConnectionError:
                return False

        wait_until(up, 20, "redis-server to answer")

    def kill(self):
        """SIGKILL: a crash, no save at shutdown (only the append-only file keeps data)."""
        self.proc.kill()
        self.proc.wait(10)
        self.log.close()

    def stop(self):
        if self.proc.poll() is None:
            self.kill()


class Workers:
    """`python3 -m stackless_durable worker URL` (output to dir/workers.log), with the
    given PYTHONPATH entries in front of this process's sys.path."""

    def __init__(self, url, dir, path=(), concurrency=2, stall_after=None, sweep_every=None):
        self.url, self.dir = url, str(dir)
        self.env = dict(os.environ)
        self.env["PYTHONPATH"] = os.pathsep.join([str(p) for p in path] + sys.path[1:])
        self.env["PYTHONDONTWRITEBYTECODE"] = "1"
        self.args = ["--concurrency", str(concurrency)]
        if stall_after is not None:
            self.args += ["--stall-after", str(stall_after)]
        if sweep_every is not None:
            self.args += ["--sweep-every", str(sweep_every)]
        self.proc = None
        self.start()

    def start(self):
        self.log = open(os.path.join(self.dir, "workers.log"), "ab")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "stackless_durable", "worker", self.url] + self.args,
            env=self.env, stdout=self.log, stderr=subprocess.STDOUT,
            preexec_fn=die_with_parent)

    def processes(self):
        """The pids of the worker processes (the supervisor's children)."""
        path = "/proc/%d/task/%d/children" % (self.proc.pid, self.proc.pid)
        try:
            with open(path) as f:
                return [int(p) for p in f.read().split()]
        except FileNotFoundError:
            return []

    def stop(self):
        """SIGTERM (the supervisor stops its processes), SIGKILL after 30 s; the
        supervisor's exit status."""
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()
        return self.proc.returncode

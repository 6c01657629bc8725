"""Test support for the frame library: find (or build) the `_slp_frames_test` extension,
and run a snapshot in a fresh process.

The extension is looked up in $SLP_FRAMES_TEST_DIR (CMake puts it there for ctest), then
next to this file (`setup.py build_ext --inplace`); if neither has it, it is built in
place with setup.py.
"""
import fcntl
import importlib
import json
import os
import pickle
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
# setup.py's intermediate files (the repository's ignored build/ directory).
BUILD_BASE = os.path.join(HERE, "..", "..", "build", "frames_test")


def _search_path():
    dirs = []
    if os.environ.get("SLP_FRAMES_TEST_DIR"):
        dirs.append(os.environ["SLP_FRAMES_TEST_DIR"])
    # A CMake build puts the stackless module in <build>/python and this one in
    # <build>/python-frames-test.
    for p in os.environ.get("PYTHONPATH", "").split(os.pathsep):
        cand = os.path.join(os.path.dirname(os.path.abspath(p)), "python-frames-test") if p else ""
        if cand and os.path.isdir(cand) and cand not in dirs:
            dirs.append(cand)
    dirs.append(HERE)
    return dirs


def load():
    """Import and return the test extension, building it if needed."""
    for d in reversed(_search_path()):
        if d not in sys.path:
            sys.path.insert(0, d)
    try:
        import _slp_frames_test
        return _slp_frames_test
    except ImportError:
        pass
    # Several test runs (one per preset, in parallel) may find it missing at once: they
    # share setup.py's intermediate files, so one builds while the others wait, and then
    # import what it built.
    os.makedirs(BUILD_BASE, exist_ok=True)
    with open(os.path.join(BUILD_BASE, "build.lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        importlib.invalidate_caches()
        try:
            import _slp_frames_test
        except ImportError:
            subprocess.run([sys.executable, "setup.py", "build_ext", "--inplace"], cwd=HERE,
                           check=True, stdout=subprocess.DEVNULL)
            importlib.invalidate_caches()
            import _slp_frames_test
    return _slp_frames_test


def child_env():
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(_search_path() + [env.get("PYTHONPATH", "")])
    return env


# Run in the child: resume (or throw into) a pickled snapshot, report what happened.
_CHILD = r"""
import json, pickle, sys, traceback
import frames_support
T = frames_support.load()
import frames_subjects as S
data, how, value = pickle.loads(open(sys.argv[1], 'rb').read())
S.LOG.clear()
out = {}
try:
    snap = pickle.loads(data)
    if how == 'throw':
        r = T.throw(snap, value)
    else:
        r = T.resume(snap, value)
    out['result'] = repr(r)
except BaseException as e:
    out['error'] = '%s: %s' % (type(e).__name__, e)
    out['tb'] = [fs.name for fs in traceback.extract_tb(e.__traceback__)]
out['log'] = repr(S.LOG)
out['snaps'] = len(S.SNAPS)
if S.SNAPS:
    open(sys.argv[1] + '.again', 'wb').write(S.SNAPS[-1])
print(json.dumps(out))
"""


def run_in_child(data, value="V", how="resume", python=None, extra_path=None):
    """Resume pickled snapshot bytes `data` in a fresh interpreter. Returns a dict:
    result (repr) or error ('Type: msg') and tb (function names), log (repr of
    frames_subjects.LOG), snaps (captures made while it ran) and again (the last of them,
    bytes, if any)."""
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "snap.pickle")
        with open(path, "wb") as f:
            f.write(pickle.dumps((data, how, value)))
        env = child_env()
        if extra_path:
            env["PYTHONPATH"] = extra_path + os.pathsep + env["PYTHONPATH"]
        p = subprocess.run([python or sys.executable, "-c", _CHILD, path], env=env,
                           capture_output=True, text=True, timeout=120)
        if p.returncode != 0:
            raise AssertionError("child failed (%d): %s" % (p.returncode, p.stderr[-3000:]))
        out = json.loads(p.stdout.strip().splitlines()[-1])
        if os.path.exists(path + ".again"):
            with open(path + ".again", "rb") as f:
                out["again"] = f.read()
        return out

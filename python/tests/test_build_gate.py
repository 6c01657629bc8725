"""The build's interpreter gate (python/cmake/SlpPythonGate.cmake, reading
python/src/cpython/VERSIONS): an interpreter the module does not support gets a clear
error at build time naming what is supported — from the gate alone, from a CMake
configure, and from setup.py (pip install .)."""
import os
import re
import shutil
import subprocess
import sys

import pytest

SOURCE = os.environ.get("SLP_SOURCE_DIR") or os.path.abspath(
    os.path.join(os.path.dirname(__file__), "..", ".."))
GATE = os.path.join(SOURCE, "python", "cmake", "SlpPythonGate.cmake")
VERSIONS = os.path.join(SOURCE, "python", "src", "cpython", "VERSIONS")
CMAKE = shutil.which("cmake")


@pytest.fixture(autouse=True)
def stack_kind():
    """No tasklets here: one run, not one per stack kind."""
    yield "own"


def supported():
    with open(VERSIONS) as f:
        return [l.split()[0] for l in f if re.match(r"\d+\.\d+ +supported\s*$", l)]


def one_line(text):
    """A CMake error's message, unwrapped."""
    return " ".join(text.split())


def gate(*defs, gate_file=GATE):
    out = subprocess.run([CMAKE] + ["-D" + d for d in defs] + ["-P", gate_file],
                         capture_output=True, text=True, timeout=60)
    return out.returncode, one_line(out.stdout + out.stderr)


def supported_phrase():
    return "Supported: CPython %s (with the GIL)" % ", ".join(supported())


def test_the_running_cpython_passes():
    here = "%d.%d" % sys.version_info[:2]
    assert here in supported()
    rc, out = gate("SLP_GATE_PYTHON=" + sys.executable)
    assert rc == 0 and out == "supported: CPython " + here, out


@pytest.mark.parametrize("facts, why", [
    ("cpython;3.10;0", "CPython 3.10 is not supported: the module is built on the "
                       "interpreter internals of each version it supports"),
    ("cpython;3.12;0", "CPython 3.12 is not supported: untested: CPython 3.12 is in no "
                       "suite of Debian's archive"),
    ("cpython;3.16;0", "CPython 3.16 is not supported"),
    ("pypy;3.11;0", "PyPy 3.11 is not supported: the module is built on CPython's own "
                    "interpreter internals"),
    ("cpython;3.11;1", "free-threaded CPython 3.11 (built with Py_GIL_DISABLED) is not "
                       "supported"),
    ("graalpy;3.11;0", "graalpy 3.11 is not supported"),
])
def test_unsupported_interpreters_refused_naming_what_is_supported(facts, why):
    rc, out = gate("SLP_GATE_FACTS=" + facts)
    assert rc != 0
    assert "stackless: " + why in out, out
    assert supported_phrase() in out, out


def fake_python(tmp_path, answer):
    """An 'interpreter' that answers the gate's question with `answer`."""
    path = tmp_path / "python-fake"
    path.write_text("#!/bin/sh\necho '%s'\n" % answer)
    path.chmod(0o755)
    return str(path)


@pytest.mark.parametrize("answer, why", [
    ("cpython 3.12 0", "CPython 3.12 is not supported: untested"),
    ("pypy 3.10 0", "PyPy 3.10 is not supported"),
    ("cpython 3.14 1", "free-threaded CPython 3.14"),
])
def test_gate_asks_the_interpreter(tmp_path, answer, why):
    rc, out = gate("SLP_GATE_PYTHON=" + fake_python(tmp_path, answer))
    assert rc != 0 and why in out and supported_phrase() in out, out


def test_an_interpreter_that_does_not_answer(tmp_path):
    rc, out = gate("SLP_GATE_PYTHON=" + fake_python(tmp_path, "Python 4 says hello"))
    assert rc != 0 and "cannot ask" in out and "which Python it is" in out, out


def copied_gate(tmp_path, versions_text):
    """The gate in a tree of its own, with `versions_text` as its VERSIONS file."""
    (tmp_path / "python" / "cmake").mkdir(parents=True)
    (tmp_path / "python" / "src" / "cpython").mkdir(parents=True)
    shutil.copy(GATE, tmp_path / "python" / "cmake")
    (tmp_path / "python" / "src" / "cpython" / "VERSIONS").write_text(versions_text)
    return str(tmp_path / "python" / "cmake" / "SlpPythonGate.cmake")


def test_adding_a_version_is_one_line(tmp_path):
    with open(VERSIONS) as f:
        text = f.read()
    gate_file = copied_gate(tmp_path, text + "3.16 supported\n")
    rc, out = gate("SLP_GATE_FACTS=cpython;3.16;0", gate_file=gate_file)
    assert rc == 0 and out == "supported: CPython 3.16", out
    rc, out = gate("SLP_GATE_FACTS=cpython;3.10;0", gate_file=gate_file)
    assert rc != 0 and "Supported: CPython %s, 3.16 " % ", ".join(supported()) in out, out


def test_a_malformed_versions_line_is_named(tmp_path):
    gate_file = copied_gate(tmp_path, "3.11 supported\n3.13 maybe\n")
    rc, out = gate("SLP_GATE_FACTS=cpython;3.11;0", gate_file=gate_file)
    assert rc != 0 and "cannot read the line '3.13 maybe'" in out, out


@pytest.mark.parametrize("answer, why", [
    ("cpython 3.10 0", "CPython 3.10 is not supported: the module is built on the "
                       "interpreter internals of each version it supports"),
    ("cpython 3.12 0", "CPython 3.12 is not supported: untested"),
    ("cpython 3.16 0", "CPython 3.16 is not supported"),
    ("pypy 3.11 0", "PyPy 3.11 is not supported"),
    ("cpython 3.11 1", "free-threaded CPython 3.11 (built with Py_GIL_DISABLED) is not "
                       "supported"),
])
def test_configure_refuses_before_building(tmp_path, answer, why):
    """The CMake build (pip's and the tests') stops at the gate: no build files."""
    build = tmp_path / "build"
    out = subprocess.run(
        [CMAKE, "-S", SOURCE, "-B", str(build), "--preset", "module",
         "-DPython3_EXECUTABLE=" + fake_python(tmp_path, answer)],
        capture_output=True, text=True, timeout=300)
    text = one_line(out.stdout + out.stderr)
    assert out.returncode != 0
    assert "stackless: " + why in text and supported_phrase() in text, text
    assert not (build / "build.ninja").exists()


def real_interpreters():
    """Other interpreters on this machine (SLP_GATE_TEST_PYTHONS, set by CMake)."""
    found = [p for p in os.environ.get("SLP_GATE_TEST_PYTHONS", "").split(os.pathsep)
             if p and os.access(p, os.X_OK)]
    return found or [pytest.param(None, marks=pytest.mark.skip("no other interpreter here"))]


@pytest.mark.parametrize("python", real_interpreters())
def test_setup_py_gate_under_a_real_interpreter(tmp_path, python):
    """setup.py (what pip runs) answers with the gate before setuptools is needed."""
    version = subprocess.run(
        [python, "-c", "import sys; print('%d.%d' % sys.version_info[:2])"],
        capture_output=True, text=True, timeout=60).stdout.strip()
    if version in supported():
        pytest.skip("%s is CPython %s, which is supported" % (python, version))
    out = subprocess.run([python, os.path.join(SOURCE, "setup.py"), "--name"], cwd=tmp_path,
                         capture_output=True, text=True, timeout=120)
    assert out.returncode != 0
    assert out.stderr.startswith("stackless: CPython %s is not supported" % version), out.stderr
    assert supported_phrase() in out.stderr, out.stderr

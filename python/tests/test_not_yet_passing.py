"""The per-version list of tests not yet passing (tests/not_yet_passing.py): listed tests
are deselected and counted, each entry needs a reason, and SLP_RUN_NOT_YET_PASSING=1 runs
them anyway. Each case runs pytest on a small suite, in a tree of its own."""
import os
import subprocess
import sys

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))

SUITE = """
import pytest

def test_a():
    pass

@pytest.mark.parametrize("kind", ["own", "copied"])
def test_b(kind):
    assert kind == "own"

def test_c():
    assert False
"""


@pytest.fixture(autouse=True)
def stack_kind():
    """No tasklets here: one run, not one per stack kind."""
    yield "own"


def run(tmp_path, listing, **env):
    version = "v%d%d" % sys.version_info[:2]
    folder = tmp_path / "python" / "src" / "cpython" / version
    folder.mkdir(parents=True)
    if listing is not None:
        (folder / "not_yet_passing.txt").write_text(listing)
    tests = tmp_path / "suite"
    tests.mkdir()
    (tests / "test_demo.py").write_text(SUITE)
    environ = {k: v for k, v in os.environ.items() if k != "SLP_RUN_NOT_YET_PASSING"}
    environ.update(SLP_SOURCE_DIR=str(tmp_path), PYTHONPATH=HERE, **env)
    out = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
                          "--noconftest", "-p", "not_yet_passing", str(tests)],
                         capture_output=True, text=True, env=environ, timeout=120)
    return out.returncode, out.stdout + out.stderr


LISTING = """# a comment
test_demo.py::test_b[copied]   the copied kind is not ported yet
test_demo.py::test_c           fails on purpose
"""


def test_listed_tests_are_deselected_and_counted(tmp_path):
    rc, out = run(tmp_path, LISTING)
    assert rc == 0, out
    assert "2 passed, 2 deselected" in out, out
    assert ("2 tests not yet passing on CPython %d.%d deselected" % sys.version_info[:2]
            in out), out
    assert "not_yet_passing.txt" in out


def test_a_prefix_lists_every_parameter(tmp_path):
    rc, out = run(tmp_path, "test_demo.py::test_b  both kinds\ntest_demo.py::test_c  no\n")
    assert rc == 0 and "1 passed, 3 deselected" in out, out


def test_no_list_deselects_nothing(tmp_path):
    rc, out = run(tmp_path, None)
    assert rc != 0 and "2 failed, 2 passed" in out, out
    assert "not yet passing" not in out


def test_an_entry_without_a_reason_is_refused(tmp_path):
    rc, out = run(tmp_path, "test_demo.py::test_c\n")
    assert rc != 0
    assert "not_yet_passing.txt:1: 'test_demo.py::test_c' gives no reason" in out, out


def test_the_listed_tests_can_be_run_anyway(tmp_path):
    rc, out = run(tmp_path, LISTING, SLP_RUN_NOT_YET_PASSING="1")
    assert rc != 0 and "2 failed, 2 passed" in out, out


def test_the_lists_in_the_tree_are_well_formed():
    """Every version folder's list reads, and names tests of this suite."""
    import not_yet_passing
    cpython = os.path.join(not_yet_passing.SOURCE, "python", "src", "cpython")
    files = set(os.listdir(HERE))
    for folder in sorted(os.listdir(cpython)):
        path = os.path.join(cpython, folder, "not_yet_passing.txt")
        if os.path.exists(path):
            for entry in not_yet_passing.read_list(path):
                assert entry.split("::")[0] in files, (path, entry)

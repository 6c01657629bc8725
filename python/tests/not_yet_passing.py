"""pytest plugin (`-p not_yet_passing`): deselects the tests listed as not yet passing on
the running CPython, in python/src/cpython/v<major><minor>/not_yet_passing.txt, so that
the suite stays green while a port is incomplete and the gap stays visible (the summary
counts them, and names the list).

The list: one entry a line, a test's node id as pytest prints it without its folder
(`test_pickle_roundtrip.py::test_nested[own]`), or a prefix of one (a file, a test with
all its parameters), then whitespace and the reason, which is required. `#` starts a
comment line. SLP_RUN_NOT_YET_PASSING=1 runs the listed tests anyway (to see which pass
now)."""
import os
import sys

import pytest

SOURCE = os.environ.get("SLP_SOURCE_DIR") or os.path.abspath(
    os.path.join(os.path.dirname(__file__), "..", ".."))


def list_path(version=None):
    major, minor = version or sys.version_info[:2]
    return os.path.join(SOURCE, "python", "src", "cpython", "v%d%d" % (major, minor),
                        "not_yet_passing.txt")


def read_list(path):
    """{entry: reason} of the list at `path` ({} if there is none)."""
    entries = {}
    if not os.path.exists(path):
        return entries
    with open(path) as f:
        for number, line in enumerate(f, 1):
            line = line.strip()
            if not line or line.startswith("#"):
                continue
            parts = line.split(None, 1)
            if len(parts) < 2:
                raise pytest.UsageError("%s:%d: '%s' gives no reason why it does not pass yet"
                                        % (path, number, line))
            entries[parts[0]] = parts[1]
    return entries


def short_id(nodeid):
    """The node id without the test file's folder."""
    file_part, sep, rest = nodeid.partition("::")
    return os.path.basename(file_part) + sep + rest


def listed(nodeid, entries):
    node = short_id(nodeid)
    for entry in entries:
        if node == entry or node.startswith(entry + "::") or node.startswith(entry + "["):
            return entry
    return None


_deselected = []


def pytest_collection_modifyitems(config, items):
    if os.environ.get("SLP_RUN_NOT_YET_PASSING") == "1":
        return
    entries = read_list(list_path())
    if not entries:
        return
    keep = []
    for item in items:
        (_deselected if listed(item.nodeid, entries) else keep).append(item)
    if _deselected:
        config.hook.pytest_deselected(items=list(_deselected))
        items[:] = keep


def pytest_terminal_summary(terminalreporter):
    if _deselected:
        terminalreporter.write_line(
            "%d tests not yet passing on CPython %d.%d deselected (listed, with the reasons, in %s)"
            % (len(_deselected), sys.version_info[0], sys.version_info[1],
               os.path.relpath(list_path(), SOURCE)))

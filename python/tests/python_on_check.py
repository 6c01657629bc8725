"""scripts/python-on, as a user runs it: ctest's python_on runs this file with pytest.

On the host's CPython 3.11 with the module (built for it from this tree), on sid's 3.14
(the root is built on first use, which takes minutes; later runs reuse it; its 3.13 gets
greenlet built once from the sources Debian's python3-greenlet ships), and on the
other CPUs' Debian CPythons under qemu-user (aarch64, arm and s390x 3.11; riscv64 3.13;
their roots take seconds to a minute): the working directory and relative paths in ARGS
are the host's, stdin/stdout and the exit status pass through, a child started with
sys.executable sees the module; a version the module does not build for is refused by
the interpreter gate, naming it."""
import os
import re
import shutil
import subprocess
import sys
import sysconfig

import pytest

SOURCE = os.environ.get("SLP_SOURCE_DIR") or os.path.abspath(
    os.path.join(os.path.dirname(__file__), "..", ".."))
PYTHON_ON = os.path.join(SOURCE, "scripts", "python-on")

PROGRAM = r"""
import os, subprocess, sys
print("cwd", os.getcwd())
print("args", sys.argv[1:])
print("stdin", sys.stdin.read().strip())
print("version", "%d.%d" % sys.version_info[:2])
import platform, struct
print("machine", platform.machine(), struct.calcsize("P"), sys.byteorder)
with open(sys.argv[1]) as f:
    print("file", f.read().strip())
try:
    import stackless
except ImportError:
    print("module none")
else:
    ch = stackless.channel()
    stackless.tasklet(ch.send)("switched")
    print("module", ch.receive(), stackless.__file__)
child = subprocess.run([sys.executable, "-c",
                        "import stackless, sys, platform; "
                        "print(stackless.__file__, platform.machine())"],
                       capture_output=True, text=True)
print("child", child.returncode, child.stdout.strip())
sys.exit(int(sys.argv[2]))
"""


needs_root = pytest.mark.skipif(os.geteuid() != 0,
                                reason="the sid root needs root (debootstrap, chroot)")


@pytest.fixture(autouse=True)
def stack_kind():
    """No tasklets in this process: one run, not one per stack kind."""
    yield "own"


def python_on(tmp_path, *args, stdin=""):
    sub = tmp_path / "sub"
    sub.mkdir(exist_ok=True)
    (sub / "prog.py").write_text(PROGRAM)
    (sub / "data.txt").write_text("contents of data.txt\n")
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    return subprocess.run([PYTHON_ON, *args], cwd=sub, input=stdin, env=env,
                          capture_output=True, text=True, timeout=1800)


def lines(out):
    return dict(line.split(" ", 1) for line in out.stdout.splitlines() if " " in line)


def test_host_311_with_the_module(tmp_path):
    out = python_on(tmp_path, "x86_64", "3.11", "prog.py", "data.txt", "5", stdin="typed in\n")
    assert out.returncode == 5, out.stderr
    got = lines(out)
    assert got["cwd"] == str(tmp_path / "sub")
    assert got["args"] == "['data.txt', '5']"
    assert got["stdin"] == "typed in"
    assert got["version"] == "3.11"
    assert got["file"] == "contents of data.txt"
    module = os.path.join(SOURCE, "build", "python-on", "x86_64-3.11", "python")
    assert got["module"].startswith("switched " + module), got["module"]
    code, child = got["child"].split(" ", 1)
    assert code == "0" and child.startswith(module), child


def test_unknown_pair_refused(tmp_path):
    out = python_on(tmp_path, "x86_64", "3.9", "-c", "pass")
    assert out.returncode == 2
    assert "no CPython 3.9 for x86_64 here" in out.stderr and "3.14" in out.stderr


@needs_root
def test_sid_314_interpreter(tmp_path):
    """The first run builds the sid root (minutes); then the interpreter runs there with
    the host's paths."""
    out = python_on(tmp_path, "--no-module", "x86_64", "3.14", "prog.py", "data.txt", "3",
                    stdin="to 3.14\n")
    assert out.returncode == 3, out.stderr
    got = lines(out)
    assert got["version"] == "3.14"
    assert got["cwd"] == str(tmp_path / "sub")
    assert got["stdin"] == "to 3.14"
    assert got["file"] == "contents of data.txt"
    assert got["module"] == "none"


GREENLET_FROM_SOURCES = os.path.join(SOURCE, "scripts", "lib", "greenlet_from_its_sources.py")
SWITCH_ONCE = ("import greenlet; "
               "g = greenlet.greenlet(lambda x: greenlet.getcurrent().parent.switch(x * 2)); "
               "print(g.switch(21), greenlet._greenlet.__file__)")


@needs_root
def test_sid_313_has_greenlet_built_from_its_sources(tmp_path):
    """Debian sid builds python3-greenlet for 3.14 and 3.15 only: python-on builds its
    shipped sources for 3.13 into the root's package once, so 3.13 has its own peer."""
    out = python_on(tmp_path, "--no-module", "x86_64", "3.13", "-c", SWITCH_ONCE)
    assert out.returncode == 0, out.stderr
    value, where = out.stdout.split()
    assert value == "42"
    assert where == "/usr/lib/python3/dist-packages/greenlet/" \
        "_greenlet.cpython-313-x86_64-linux-gnu.so", where


def debians_greenlet_copy(tmp_path):
    debians = "/usr/lib/python3/dist-packages/greenlet"
    if not os.path.exists(os.path.join(debians, "greenlet.cpp")):
        pytest.skip("no python3-greenlet with its sources on this host")
    package = tmp_path / "site" / "greenlet"
    shutil.copytree(debians, package, ignore=shutil.ignore_patterns("_greenlet.*", "tests"))
    return package


def test_greenlet_from_its_sources_builds_one_that_switches(tmp_path):
    """The recipe on the host's CPython, into a copy of Debian's package without its
    extension: the extension appears under this interpreter's suffix and switches; the
    work folder is gone."""
    package = debians_greenlet_copy(tmp_path)
    out = subprocess.run([sys.executable, GREENLET_FROM_SOURCES, str(package)],
                         capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stderr
    built = package / ("_greenlet" + sysconfig.get_config_var("EXT_SUFFIX"))
    assert out.stdout.strip() == "built %s" % built
    env = dict(os.environ, PYTHONPATH=str(package.parent))
    ran = subprocess.run([sys.executable, "-c", SWITCH_ONCE], env=env, capture_output=True,
                         text=True, timeout=60)
    assert ran.returncode == 0, ran.stderr
    assert ran.stdout.split() == ["42", str(built)]
    assert sorted(p.name for p in package.parent.iterdir()) == ["greenlet"]


def test_greenlet_from_its_sources_failing_leaves_nothing(tmp_path):
    """Sources that do not compile: the failing command is named, the package gets no
    extension and no work folder is left. Sources missing: said so."""
    package = debians_greenlet_copy(tmp_path)
    before = sorted(p.name for p in package.iterdir())
    source = package / "greenlet.cpp"
    source.write_text("#error not greenlet\n" + source.read_text())
    out = subprocess.run([sys.executable, GREENLET_FROM_SOURCES, str(package)],
                         capture_output=True, text=True, timeout=600)
    assert out.returncode != 0
    assert re.search(r"building greenlet failed: .* -c \S*/greenlet\.cpp .*exited with \d+",
                     out.stderr), out.stderr
    assert sorted(p.name for p in package.iterdir()) == before
    assert sorted(p.name for p in package.parent.iterdir()) == ["greenlet"]
    source.unlink()
    out = subprocess.run([sys.executable, GREENLET_FROM_SOURCES, str(package)],
                         capture_output=True, text=True, timeout=60)
    assert out.returncode != 0 and "greenlet.cpp is missing" in out.stderr, out.stderr


def python_on_versions():
    out = subprocess.run([PYTHON_ON, "--versions", "x86_64"], capture_output=True, text=True,
                         timeout=60)
    assert out.returncode == 0, out.stderr
    return out.stdout.split()


def supported_versions():
    out = subprocess.run(["cmake", "-DSLP_GATE_LIST=1", "-P",
                          os.path.join(SOURCE, "python", "cmake", "SlpPythonGate.cmake")],
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    return out.stdout.split()


def test_versions_lists_what_it_runs():
    assert python_on_versions() == ["3.11", "3.13", "3.14", "3.15"]
    out = subprocess.run([PYTHON_ON, "--versions", "sparc"], capture_output=True, text=True,
                         timeout=60)
    assert out.returncode == 0 and out.stdout == ""


def test_frames_test_extension_built_for_the_interpreter(tmp_path):
    out = python_on(tmp_path, "--frames-test", "x86_64", "3.11", "-c",
                    "import os, sys; sys.path.insert(0, os.environ['SLP_FRAMES_TEST_DIR']); "
                    "import _slp_frames_test as m; print(m.__file__)")
    assert out.returncode == 0, out.stderr
    folder = os.path.join(SOURCE, "build", "python-on", "x86_64-3.11", "frames-test")
    assert out.stdout.startswith(folder) and "cpython-311" in out.stdout, out.stdout


@needs_root
def test_sid_module_refused_by_the_gate(tmp_path):
    """A version python-on runs but the module does not support yet (if any is left)."""
    left = [v for v in python_on_versions() if v not in supported_versions()]
    if not left:
        pytest.skip("the module is ported to every version python-on runs")
    v = left[-1]
    out = python_on(tmp_path, "x86_64", v, "-c", "print('ran')")
    assert out.returncode == 2 and "ran" not in out.stdout
    msg = " ".join(out.stderr.split())
    assert "does not build for CPython %s on x86_64 yet" % v in msg, msg
    assert "CPython %s is not supported" % v in msg and "--no-module" in msg, msg


@needs_root
def test_sid_root_failure_names_the_step_and_keeps_nothing(tmp_path):
    """An archive that cannot be reached: the failing step is named with how to retry;
    no root and no half-built root is left, and a half-built one is never used."""
    cache = tmp_path / "cache"
    env = dict(os.environ, XDG_CACHE_HOME=str(cache),
               SLP_DEBIAN_MIRROR="http://127.0.0.1:9/debian")
    run = lambda: subprocess.run(  # noqa: E731
        [PYTHON_ON, "--no-module", "x86_64", "3.13", "-c", "print('ran')"], cwd=tmp_path,
        env=env, capture_output=True, text=True, timeout=600)
    out = run()
    assert out.returncode == 3 and "ran" not in out.stdout, out.stderr
    assert "failed at step 'debootstrap sid from http://127.0.0.1:9/debian'" in out.stderr
    assert "Retry with the same command" in out.stderr
    roots = cache / "slp" / "roots"
    logs = sorted(p.name for p in roots.glob("sid-*.log"))
    assert len(logs) == 1 and [p for p in roots.iterdir() if p.is_dir()] == []
    # A root left half-built (the process killed mid-way) is not taken for a root.
    partial = roots / (".partial-" + logs[0][:-len(".log")])
    (partial / "usr" / "bin").mkdir(parents=True)
    fake = partial / "usr" / "bin" / "python3.13"
    fake.write_text("#!/bin/sh\necho ran\n")
    fake.chmod(0o755)
    out = run()
    assert out.returncode == 3 and "ran" not in out.stdout, out.stderr
    assert not partial.exists()


# CPU, version, what platform.machine() says there, pointer size, byte order.
FOREIGN = [("aarch64", "3.11", "aarch64", "8", "little"),
           ("arm", "3.11", "armv7l", "4", "little"),
           ("s390x", "3.11", "s390x", "8", "big")]


@pytest.mark.parametrize("cpu,version,machine,pointer,order", FOREIGN,
                         ids=[f[0] for f in FOREIGN])
def test_other_cpu_with_the_module(tmp_path, cpu, version, machine, pointer, order):
    """The root of that CPU is built on first use; the module is cross-built from this
    tree; a child started with sys.executable runs on the same emulated CPU."""
    out = python_on(tmp_path, cpu, version, "prog.py", "data.txt", "7", stdin="on %s\n" % cpu)
    assert out.returncode == 7, out.stderr
    got = lines(out)
    assert got["cwd"] == str(tmp_path / "sub")
    assert got["args"] == "['data.txt', '7']"
    assert got["stdin"] == "on " + cpu
    assert got["version"] == version
    assert got["machine"] == " ".join((machine, pointer, order))
    assert got["file"] == "contents of data.txt"
    module = os.path.join(SOURCE, "build", "python-on", "%s-%s" % (cpu, version), "python")
    assert got["module"].startswith("switched " + module), got["module"]
    code, child = got["child"].split(" ", 1)
    assert code == "0" and child.startswith(module) and child.endswith(" " + machine), child


def gate_supports(version):
    gate = os.path.join(SOURCE, "python", "cmake", "SlpPythonGate.cmake")
    out = subprocess.run(["cmake", "-DSLP_GATE_FACTS=cpython;%s;0" % version, "-P", gate],
                         capture_output=True, text=True)
    return out.returncode == 0


def test_riscv64_313(tmp_path):
    """trixie's riscv64 CPython 3.13 runs; the module is built for it once the build's gate
    supports 3.13, and until then refused by the gate, naming the version."""
    out = python_on(tmp_path, "--no-module", "riscv64", "3.13", "prog.py", "data.txt", "4",
                    stdin="to riscv64\n")
    assert out.returncode == 4, out.stderr
    got = lines(out)
    assert got["version"] == "3.13" and got["machine"] == "riscv64 8 little"
    assert got["cwd"] == str(tmp_path / "sub") and got["stdin"] == "to riscv64"
    out = python_on(tmp_path, "riscv64", "3.13", "-c",
                    "import stackless, platform; print(platform.machine(), stackless.run())")
    if gate_supports("3.13"):
        assert out.returncode == 0 and out.stdout == "riscv64 None\n", out.stderr
    else:
        assert out.returncode == 2 and out.stdout == ""
        msg = " ".join(out.stderr.split())
        assert "does not build for CPython 3.13 on riscv64 yet" in msg, msg


def test_foreign_root_failure_names_the_step_and_keeps_nothing(tmp_path):
    """An archive that cannot be reached: the failing apt step is named with how to retry,
    and nothing is left that a later run could take for a root."""
    cache = tmp_path / "cache"
    env = dict(os.environ, XDG_CACHE_HOME=str(cache),
               SLP_DEBIAN_MIRROR="http://127.0.0.1:9/debian")
    out = subprocess.run(
        [PYTHON_ON, "--no-module", "aarch64", "3.11", "-c", "print('ran')"], cwd=tmp_path,
        env=env, capture_output=True, text=True, timeout=600)
    assert out.returncode == 3 and "ran" not in out.stdout, out.stderr
    assert re.search(r"building the aarch64 root failed at step 'apt-get (update|download)",
                     out.stderr), out.stderr
    assert "Retry with the same command" in out.stderr
    roots = cache / "slp" / "roots"
    assert [p.name for p in roots.iterdir() if p.is_dir()] == []


def test_unknown_cpu_refused_naming_the_choices(tmp_path):
    out = python_on(tmp_path, "mips", "3.11", "-c", "pass")
    assert out.returncode == 2
    assert "no CPython 3.11 for mips here" in out.stderr
    assert "aarch64 3.11, arm 3.11, s390x 3.11" in out.stderr

"""`pip install --no-build-isolation .` from the repository root, offline, with Debian's
CPython and with the other CPython 3.11 on the machine, each into a temporary --target;
then the installed module, imported in a new process, switches between two tasklets over
a channel and ships its type stubs. Run by ctest (python_pip_install); both builds run at
once (each compiles one file at a time: two cores).

    pip_install_check.py --source ROOT --python /usr/bin/python3 [--other PYTHON]

Each build happens in a copy of the tree in a temporary directory (setup.py builds into
<tree>/build/pip), so nothing is written into the source tree; the check proves that
too. Debian's CPython builds with its own setuptools and wheel (python3-setuptools,
python3-wheel); the other CPython gets wheel from Debian's wheel file and setuptools
from its own ensurepip bundle on its PYTHONPATH, as on a machine where it has neither
(see build_deps_for). No index, no network: pip runs with --no-index and a proxy that
refuses every connection.

With --reference BUILD (the CMake build the tests and scripts/bench use, build/native),
the module pip built with Debian's CPython is checked to be that one (same_module): the
same compile commands for every source of the module, core and the switch routine (paths
and -Werror aside: the `module` preset builds without -Werror, so that a newer compiler's
new warning does not stop an install), byte-identical machine code (.text), the same
exported symbols (none of slp's own), and DWARF for the switch routine's assembly.

Exit status: 0 passed, 1 failed, 77 (ctest: skipped) if Debian's CPython passed and no
other CPython was given or it does not exist.
"""
import argparse
import glob
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import zipfile

WHEELS = "/usr/share/python-wheels"
SKIP = 77

CHECK = r"""
import os, sys
import stackless

target = os.environ["SLP_TARGET"]
here = os.path.dirname(os.path.abspath(stackless.__file__))
assert here == os.path.realpath(target), (here, target)
assert sys.version_info[:2] == (3, 11), sys.version

# A channel switch between two tasklets.
ch = stackless.channel()
order = []

def sender():
    for i in range(3):
        order.append(("send", i))
        ch.send(i)

def receiver():
    for _ in range(3):
        v = ch.receive()
        order.append(("got", v))

s = stackless.tasklet(sender)()
r = stackless.tasklet(receiver)()
stackless.run()
got = [v for what, v in order if what == "got"]
assert got == [0, 1, 2], order
# They took turns: the receiver got 0 before the sender sent 2.
assert order.index(("got", 0)) < order.index(("send", 2)), order
assert not s.alive and not r.alive and stackless.getruncount() == 1

# The type stubs are installed next to the module and describe it.
stub = os.path.join(here, "stackless.pyi")
with open(stub) as f:
    text = f.read()
with open(os.environ["SLP_STUB"]) as f:
    assert text == f.read(), "installed stackless.pyi differs from python/stackless.pyi"
import ast
names = {n.name for n in ast.parse(text).body if isinstance(n, (ast.ClassDef, ast.FunctionDef))}
assert {"tasklet", "channel", "run", "schedule"} <= names, names
# The pure-Python package stackless_durable is installed beside it (importing it needs
# celery and redis, which only Debian's CPython has here).
durable = os.path.join(here, "stackless_durable")
assert {"__init__.py", "__main__.py", "step.py", "workflow.py"} <= set(os.listdir(durable))
print("ok", sys.executable, sys.version.split()[0], stackless.__file__)
"""


def log(*args):
    print(*args, flush=True)


def copy_tree(source, dest):
    """The repository without its build outputs and VCS data."""
    ignore = shutil.ignore_patterns(".git", "build", "__pycache__", "*.pyc", "*.so",
                                    "*.egg-info")
    shutil.copytree(source, dest, ignore=ignore, symlinks=True)


def unzip(wheel, dest):
    with zipfile.ZipFile(wheel) as z:  # a wheel is a zip of the installed files
        z.extractall(dest)


def build_deps_for(python, dest):
    """A directory to put on PYTHONPATH that gives `python` wheel and setuptools, as on a
    machine where it has neither: wheel from Debian's wheel file (python3-wheel-whl);
    setuptools from that CPython's own offline copy, the wheel its ensurepip bundles
    (Debian's setuptools wheel file is patched for Debian's CPython — its install
    commands want the `install_layout` option only Debian's distutils has — and fails
    under another CPython)."""
    os.makedirs(dest)
    found = sorted(glob.glob(os.path.join(WHEELS, "wheel-*.whl")))
    if not found:
        raise SystemExit("no wheel-*.whl in %s (apt-get install python3-wheel-whl)" % WHEELS)
    unzip(found[-1], dest)
    out = subprocess.run(
        [python, "-I", "-c", "import ensurepip, os; print(os.path.dirname(ensurepip.__file__))"],
        capture_output=True, text=True)
    bundled = sorted(glob.glob(os.path.join(out.stdout.strip(), "_bundled", "setuptools-*.whl")))
    if bundled:
        unzip(bundled[-1], dest)
    else:
        log("%s: ensurepip bundles no setuptools; using its installed one" % python)
    return dest


def clean_env(**extra):
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("PIP_", "PYTHON")) and k.lower() not in (
               "http_proxy", "https_proxy", "all_proxy", "no_proxy")}
    env.update(
        PIP_CONFIG_FILE=os.devnull,
        PIP_NO_INDEX="1",
        PIP_DISABLE_PIP_VERSION_CHECK="1",
        PIP_NO_CACHE_DIR="1",
        PYTHONNOUSERSITE="1",
        PYTHONDONTWRITEBYTECODE="1",
        # Offline: any connection attempt fails at once.
        http_proxy="http://127.0.0.1:9", https_proxy="http://127.0.0.1:9",
        HTTP_PROXY="http://127.0.0.1:9", HTTPS_PROXY="http://127.0.0.1:9",
    )
    env.update(extra)
    return env


def pip_command(python, env):
    """pip of that interpreter, or Debian's pip wheel run as a zip if it has none."""
    probe = subprocess.run([python, "-c", "import pip"], env=env, capture_output=True)
    if probe.returncode == 0:
        return [python, "-m", "pip"]
    found = sorted(glob.glob(os.path.join(WHEELS, "pip-*.whl")))
    if not found:
        raise SystemExit("%s has no pip, and %s has no pip wheel" % (python, WHEELS))
    return [python, os.path.join(found[-1], "pip")]


class Install:
    def __init__(self, label, python, work, source, with_wheels):
        self.label, self.python, self.source = label, python, source
        self.tree = os.path.join(work, "src-" + label)
        self.target = os.path.join(work, "target-" + label)
        self.log_path = os.path.join(work, "pip-%s.log" % label)
        extra = {}
        if with_wheels:
            extra["PYTHONPATH"] = build_deps_for(python, os.path.join(work, "deps-" + label))
        self.env = clean_env(**extra)
        copy_tree(source, self.tree)
        cmd = pip_command(python, self.env) + [
            "install", "--no-build-isolation", "--no-index", "--no-deps", "--no-cache-dir",
            "--target", self.target, self.tree]
        log("[%s] %s" % (label, " ".join(cmd)))
        self.started = time.monotonic()
        self.log_file = open(self.log_path, "w")
        self.proc = subprocess.Popen(cmd, cwd=work, env=self.env, stdout=self.log_file,
                                     stderr=subprocess.STDOUT)

    def finish(self, timeout):
        try:
            rc = self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            rc = "timeout"
        self.log_file.close()
        with open(self.log_path) as f:
            out = f.read()
        log("[%s] pip install: %s in %.0f s" % (self.label, rc, time.monotonic() - self.started))
        if rc != 0:
            log(out)
            return False
        # The installed module, in a new process that sees only the target (and not the
        # build deps, nor the tree).
        env = clean_env(PYTHONPATH=self.target, SLP_TARGET=self.target,
                        SLP_STUB=os.path.join(self.source, "python", "stackless.pyi"))
        check = subprocess.run([self.python, "-X", "faulthandler", "-c", CHECK],
                               cwd=os.path.dirname(self.target), env=env,
                               capture_output=True, text=True, timeout=120)
        log("[%s] %s%s" % (self.label, check.stdout, check.stderr))
        return check.returncode == 0


def compile_commands(build, source):
    """{source file: command} of the module's objects (its own, core's and the switch
    routine's), with the build and source directories named alike and -Werror left out."""
    with open(os.path.join(build, "compile_commands.json")) as f:
        entries = json.load(f)
    targets = ("/stackless_py.dir/", "/slp.dir/", "/slp_arch.dir/")
    out = {}
    for e in entries:
        if not any(t in e["command"] for t in targets):
            continue
        cmd = e["command"].replace(os.path.realpath(build), "<build>").replace(build, "<build>")
        cmd = cmd.replace(source, "<source>")
        words = [w for w in cmd.split() if w != "-Werror"]
        out[os.path.relpath(e["file"], source)] = " ".join(words)
    return out


def text_section(module):
    """The module's machine code."""
    with tempfile.NamedTemporaryFile() as f:
        subprocess.run(["objcopy", "-O", "binary", "--only-section=.text", module, f.name],
                       check=True)
        return f.read()


def exported(module):
    out = subprocess.run(["nm", "-D", "--defined-only", module], check=True,
                         capture_output=True, text=True).stdout
    return sorted(line.split()[-1] for line in out.splitlines() if line.strip())


def assembly_dwarf(module):
    """Source files named by the module's DWARF line tables that are assembly."""
    out = subprocess.run(["objdump", "--dwarf=info", module], capture_output=True,
                         text=True).stdout
    return sorted({w for w in out.split() if w.endswith((".asm", ".S"))})


def same_module(install, reference):
    """Is the module pip built with Debian's CPython the one the tests and bench use?"""
    problems = []
    builds = glob.glob(os.path.join(install.tree, "build", "pip", "cmake-*"))
    if len(builds) != 1:
        return ["expected one CMake build under the pip tree's build/pip, found %r" % builds]
    ours = compile_commands(builds[0], install.tree)
    theirs = compile_commands(reference, install.source)
    if not ours or ours != theirs:
        for f in sorted(set(ours) | set(theirs)):
            if ours.get(f) != theirs.get(f):
                problems.append("compile command of %s differs:\n  pip:   %s\n  tests: %s"
                                % (f, ours.get(f), theirs.get(f)))
    mods = [glob.glob(os.path.join(d, "stackless.*.so"))
            for d in (install.target, os.path.join(reference, "python"))]
    if not all(len(m) == 1 for m in mods):
        return problems + ["expected one module in each of %r" % mods]
    pip_mod, ref_mod = mods[0][0], mods[1][0]
    if text_section(pip_mod) != text_section(ref_mod):
        problems.append("the machine code (.text) of %s and %s differs" % (pip_mod, ref_mod))
    syms = exported(pip_mod)
    if syms != exported(ref_mod):
        problems.append("exported symbols differ: %r vs %r" % (syms, exported(ref_mod)))
    # slp's own functions (the switch routines' C names, the slp:: and slpy:: namespaces)
    # stay inside; what remains is PyInit_stackless and the C++ library's vague-linkage
    # type info, exported alike by both builds.
    leaked = [s for s in syms if s.startswith(("slp_", "_ZN3slp", "_ZN4slpy"))]
    if leaked or "PyInit_stackless" not in syms:
        problems.append("the module exports slp's own symbols %r" % leaked)
    asm = assembly_dwarf(pip_mod)
    if not asm:
        problems.append("no DWARF for the switch routine's assembly in %s" % pip_mod)
    log("[same module] %d compile commands, %d bytes of .text, exports %s, DWARF for %s"
        % (len(ours), len(text_section(pip_mod)), " ".join(syms), " ".join(asm)))
    return problems


def source_state(source):
    """What pip or setuptools could leave behind in the source tree."""
    state = {}
    for d in (source, os.path.join(source, "python")):
        for name in os.listdir(d):
            if name.endswith(".egg-info") or name in ("dist",):
                state[os.path.join(d, name)] = True
    pip_build = os.path.join(source, "build", "pip")
    state[pip_build] = os.stat(pip_build).st_mtime_ns if os.path.exists(pip_build) else None
    return state


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--source", required=True, help="repository root")
    ap.add_argument("--python", required=True, help="Debian's CPython 3.11")
    ap.add_argument("--other", default="", help="the other CPython 3.11 (empty: none)")
    ap.add_argument("--reference", default="",
                    help="the CMake build dir whose module must be the one pip builds")
    ap.add_argument("--keep", action="store_true", help="keep the temporary directory")
    args = ap.parse_args()
    source = os.path.abspath(args.source)
    other = args.other if args.other and os.path.exists(args.other) else ""

    before = source_state(source)
    work = tempfile.mkdtemp(prefix="slp-pip-install-")
    ok = True
    try:
        # Both builds at once: each compiles its sources one after the other.
        runs = [Install("debian", args.python, work, source, with_wheels=False)]
        if other:
            runs.append(Install("other", other, work, source, with_wheels=True))
        for r in runs:
            ok = r.finish(timeout=600) and ok
        if ok and args.reference:
            problems = same_module(runs[0], os.path.abspath(args.reference))
            for p in problems:
                log("[same module] " + p)
            ok = not problems
    finally:
        if args.keep:
            log("kept", work)
        else:
            shutil.rmtree(work, ignore_errors=True)
    after = source_state(source)
    if after != before:
        log("the source tree changed:", sorted(set(after.items()) ^ set(before.items())))
        ok = False
    if not ok:
        return 1
    if not other:
        log("SKIPPED the other CPython: %s" % (args.other or "none given"))
        return SKIP
    return 0


if __name__ == "__main__":
    sys.exit(main())

#!/usr/bin/env python3
"""greenlet_from_its_sources.py [PACKAGE]: build greenlet's extension for the CPython that
runs this, from the C++ sources that Debian's python3-greenlet ships beside its
extensions, into that package (PACKAGE, by default Debian's).

scripts/python-on runs it inside the sid root, as root: Debian builds python3-greenlet's
extension only for sid's default CPythons, so another CPython of the root (3.13) would
have no greenlet to compare stackless with. This builds the same sources, of the same
package version, the way pip builds greenlet from source (its setup.py adds no flag of
its own on x86_64 Linux): this interpreter's C++ compiler, compile flags, shared-object
link line and extension suffix. The build happens in a copy of the package beside it,
and its result must switch there before it is moved into the package; the copy is
removed either way, so a failed build leaves nothing behind.
"""
import os
import shlex
import shutil
import subprocess
import sys
import sysconfig

DEBIANS = "/usr/lib/python3/dist-packages/greenlet"
CHECK = """
import sys
sys.path.insert(0, sys.argv[1])
import greenlet
assert greenlet.__file__.startswith(sys.argv[1]), greenlet.__file__
g = greenlet.greenlet(lambda x: greenlet.getcurrent().parent.switch(x + 1))
assert g.switch(41) == 42
"""


def config(name):
    return shlex.split(sysconfig.get_config_var(name) or "")


def build(package, work):
    shutil.copytree(package, os.path.join(work, "greenlet"),
                    ignore=shutil.ignore_patterns("tests", "_greenlet.*"))
    name = "_greenlet" + sysconfig.get_config_var("EXT_SUFFIX")
    built = os.path.join(work, "greenlet", name)
    cxx = config("CXX")
    subprocess.run(cxx + config("CFLAGS") + config("CCSHARED") +
                   ["-I" + sysconfig.get_path("include"), "-c",
                    os.path.join(work, "greenlet", "greenlet.cpp"), "-o", built + ".o"],
                   check=True)
    # setuptools links a C++ extension by LDSHARED's command with its compiler made CXX
    subprocess.run(cxx + config("LDSHARED")[1:] + [built + ".o", "-o", built], check=True)
    subprocess.run([sys.executable, "-c", CHECK, work], check=True)
    os.replace(built, os.path.join(package, name))
    return os.path.join(package, name)


def main():
    package = os.path.abspath(sys.argv[1] if len(sys.argv) > 1 else DEBIANS)
    if not os.path.exists(os.path.join(package, "greenlet.cpp")):
        sys.exit(f"{package}/greenlet.cpp is missing: no greenlet sources to build")
    work = os.path.join(os.path.dirname(package), ".greenlet-build")
    shutil.rmtree(work, ignore_errors=True)
    try:
        print("built", build(package, work))
    except subprocess.CalledProcessError as e:
        sys.exit(f"building greenlet failed: {shlex.join(e.cmd)} exited with {e.returncode}")
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()

"""`pip install .`: the `stackless` extension, built by CMake from the one build
description the tests and scripts/bench use (python/CMakeLists.txt, target stackless_py,
configured with the `module` preset of CMakePresets.json: the same sources, flags, LTO,
hidden symbols and DWARF for the switch routine). This file only runs CMake for the
interpreter that runs it and copies the module and its type stubs into place.

Needs cmake (3.25 or later), ninja, a C++20 compiler and, on x86_64, nasm
(Debian: cmake ninja-build g++ nasm). Interpreters the module does not support are
refused at once by the build's interpreter gate (python/cmake/SlpPythonGate.cmake).
"""
import hashlib
import os
import shutil
import subprocess
import sys
import sysconfig

ROOT = os.path.dirname(os.path.abspath(__file__))
GATE = os.path.join(ROOT, "python", "cmake", "SlpPythonGate.cmake")


def cmake():
    found = shutil.which("cmake")
    if found is None:
        sys.exit("stackless: building the module needs cmake 3.25 or later and ninja "
                 "(Debian: apt-get install cmake ninja-build)")
    return found


def cmake_error(text):
    """The message of a CMake FATAL_ERROR, without CMake's frame and line wrapping."""
    lines = text.splitlines()
    start = next((i for i, l in enumerate(lines) if l.startswith("CMake Error")), -1)
    body = lines[start + 1:] if start >= 0 else lines
    return " ".join(" ".join(body).split())


def gate():
    """Refuse an unsupported interpreter before anything is built."""
    out = subprocess.run([cmake(), "-DSLP_GATE_PYTHON=" + sys.executable, "-P", GATE],
                         capture_output=True, text=True)
    if out.returncode != 0:
        sys.exit(cmake_error(out.stderr + out.stdout))


# First, before setuptools is needed: an unsupported interpreter gets the gate's answer.
gate()

from setuptools import Extension, setup  # noqa: E402
from setuptools.command.build_ext import build_ext  # noqa: E402


class CMakeBuild(build_ext):
    """Configure with the `module` preset for this interpreter, build stackless_py, and
    put the module and its type stubs where setuptools wants them."""

    def build_extension(self, ext):
        key = hashlib.sha256(sys.executable.encode()).hexdigest()[:10]
        build_dir = os.path.join(ROOT, "build", "pip", "cmake-" + key)
        run = lambda *cmd: subprocess.check_call(cmd, cwd=ROOT)  # noqa: E731
        run(cmake(), "-S", ROOT, "-B", build_dir, "--preset", "module",
            "-DPython3_EXECUTABLE=" + sys.executable)
        run(cmake(), "--build", build_dir, "--target", "stackless_py",
            "-j", str(os.cpu_count() or 1))
        built = os.path.join(build_dir, "python",
                             "stackless" + sysconfig.get_config_var("EXT_SUFFIX"))
        dest = self.get_ext_fullpath(ext.name)
        os.makedirs(os.path.dirname(dest), exist_ok=True)
        shutil.copyfile(built, dest)
        shutil.copymode(built, dest)
        shutil.copyfile(os.path.join(ROOT, "python", "stackless.pyi"),
                        os.path.join(os.path.dirname(dest), "stackless.pyi"))


# Build in build/pip (beside CMake's build/<preset>), not in the source tree.
BUILD_BASE = os.path.join("build", "pip")
os.makedirs(os.path.join(ROOT, BUILD_BASE), exist_ok=True)

setup(
    options={"build": {"build_base": BUILD_BASE}, "egg_info": {"egg_base": BUILD_BASE}},
    ext_modules=[Extension("stackless", sources=[])],
    # The pure-Python package stackless_durable (python/stackless_durable/); it needs
    # celery and redis (Debian: python3-celery, python3-redis), not declared here so that
    # the offline install does not look for them.
    packages=["stackless_durable"],
    package_dir={"stackless_durable": "python/stackless_durable"},
    py_modules=[],
    cmdclass={"build_ext": CMakeBuild},
    zip_safe=False,
)

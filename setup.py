"""Build the `stackless` extension: python/src (the binding), core/src (the slp library)
and the arch switch routine of this CPU, compiled straight into one module.

The x86_64 switch routine is NASM: it is assembled here with `nasm`; the other CPUs'
routines are GNU as `.S` files the C compiler assembles. CMake builds the same sources
for the tests (python/CMakeLists.txt); this file exists for `pip install .`.
"""
import glob
import os
import platform
import shutil
import subprocess
import sys

from setuptools import Extension, setup
from setuptools.command.build_ext import build_ext

ROOT = os.path.dirname(os.path.abspath(__file__))

if sys.version_info[:2] != (3, 11) or sys.implementation.name != "cpython":
    sys.exit("stackless: CPython 3.11 only (it relies on 3.11's frame and thread-state layout)")

ARCH = {
    "x86_64": ("x86_64", "arch/x86_64/switch_x86_64_sysv_elf_nasm.asm"),
    "amd64": ("x86_64", "arch/x86_64/switch_x86_64_sysv_elf_nasm.asm"),
    "aarch64": ("aarch64", "arch/aarch64/switch_arm64_aapcs_elf_gas.S"),
    "arm64": ("aarch64", "arch/aarch64/switch_arm64_aapcs_elf_gas.S"),
    "riscv64": ("riscv64", "arch/riscv64/switch_riscv64_sysv_elf_gas.S"),
}
machine = platform.machine().lower()
if machine.startswith("arm") and machine not in ARCH:
    cpu, arch_src = "arm", "arch/arm/switch_arm_aapcs_elf_gas.S"
elif machine in ARCH:
    cpu, arch_src = ARCH[machine]
else:
    sys.exit(f"stackless: slp has no switch routine for CPU {machine!r} (see arch/README.md)")


def rel(pattern):
    return sorted(os.path.relpath(p, ROOT) for p in glob.glob(os.path.join(ROOT, pattern)))


sources = rel("python/src/*.cpp") + rel("core/src/*.cpp")
# The frame unwinder (python/src/frames/) joins once its owner enables it for CMake.
if os.path.exists(os.path.join(ROOT, "python/src/frames/sources.cmake")):
    sources += rel("python/src/frames/*.cpp")


class BuildExt(build_ext):
    """Assemble the switch routine and compile the C helper, then build the module."""

    def build_extension(self, ext):
        os.makedirs(self.build_temp, exist_ok=True)
        objects = []
        asm = os.path.join(ROOT, arch_src)
        if asm.endswith(".asm"):
            nasm = shutil.which("nasm")
            if nasm is None:
                sys.exit("stackless: nasm is needed to assemble " + arch_src + " (apt-get install nasm)")
            obj = os.path.join(self.build_temp, "slp_switch.o")
            subprocess.check_call([nasm, "-f", "elf64", "-I", os.path.dirname(asm) + "/",
                                   "-o", obj, asm])
            objects.append(obj)
        else:
            objects += self.compiler.compile([asm], output_dir=self.build_temp,
                                             macros=[(f"SLP_CPU_{cpu}", "1")])
        objects += self.compiler.compile([os.path.join(ROOT, "arch/slp_arch_fatal.c")],
                                         output_dir=self.build_temp,
                                         include_dirs=[os.path.join(ROOT, "arch")],
                                         extra_postargs=["-std=c11"])
        ext.extra_objects = objects + list(ext.extra_objects or [])
        super().build_extension(ext)
        # The type stubs go next to the module.
        stub = os.path.join(ROOT, "python", "stackless.pyi")
        dest = os.path.dirname(self.get_ext_fullpath(ext.name))
        shutil.copyfile(stub, os.path.join(dest, "stackless.pyi"))

    def build_extensions(self):
        # C++ only for the extension's own sources (the C helper is compiled above).
        if "-Wstrict-prototypes" in self.compiler.compiler_so:
            self.compiler.compiler_so.remove("-Wstrict-prototypes")
        super().build_extensions()


# Build in build/pip (beside CMake's build/<preset>), not in the source tree.
BUILD_BASE = os.path.join("build", "pip")
os.makedirs(os.path.join(ROOT, BUILD_BASE), exist_ok=True)

setup(
    options={"build": {"build_base": BUILD_BASE}, "egg_info": {"egg_base": BUILD_BASE}},
    ext_modules=[
        Extension(
            "stackless",
            sources=sources,
            include_dirs=[os.path.join(ROOT, "core/include"), os.path.join(ROOT, "arch")],
            define_macros=[(f"SLP_CPU_{cpu}", "1"), ("NDEBUG", "1")],
            extra_compile_args=["-std=c++20", "-O2", "-fvisibility=hidden",
                                "-fno-strict-aliasing"],
            extra_link_args=["-pthread", "-Wl,-Bsymbolic", "-Wl,--exclude-libs,ALL"],
            language="c++",
        )
    ],
    # The pure-Python package stackless_durable (python/stackless_durable/); it needs
    # celery and redis (Debian: python3-celery, python3-redis), not declared here so that
    # the offline install does not look for them.
    packages=["stackless_durable"],
    package_dir={"stackless_durable": "python/stackless_durable"},
    py_modules=[],
    cmdclass={"build_ext": BuildExt},
    zip_safe=False,
)

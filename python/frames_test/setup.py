# Fast local build of the test-only extension, without CMake:
#   cd python/frames_test && /usr/bin/python3 setup.py build_ext --inplace
# CMake (CMakeLists.txt here) builds the same sources for ctest.
import glob
import os

from setuptools import Extension, setup

here = os.path.dirname(os.path.abspath(__file__))
lib = sorted(glob.glob(os.path.join(here, "..", "src", "frames", "*.cpp")))
lib.append(os.path.join(here, "..", "src", "cpython", "opcode_metadata.c"))
flags = ["-std=c++20", "-O2", "-g", "-Wall", "-Wextra", "-Wpedantic", "-Wshadow",
         "-Wconversion", "-Wno-sign-conversion"]

setup(
    name="_slp_frames_test",
    # Intermediate files under the repository's (ignored) build/ directory.
    options={"build": {"build_base": os.path.join(here, "..", "..", "build", "frames_test")}},
    ext_modules=[Extension("_slp_frames_test",
                           [os.path.join(here, "_slp_frames_test.cpp")] +
                           [os.path.relpath(p, here) for p in lib],
                           include_dirs=[os.path.join(here, "..", "src")],
                           extra_compile_args=flags, language="c++")],
)

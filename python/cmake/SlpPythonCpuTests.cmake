# The module on the other CPUs: ctest entries that run its pytest suite under qemu-user
# on Debian's CPython for aarch64, arm (armhf, 32-bit), s390x (big endian) and riscv64
# (3.13), each through
# scripts/python-on (which builds that CPU's root into the user's cache on first use and
# cross-builds the module from this tree), and the tests that move a running tasklet
# between CPUs (tests/cpu_migration_check.py). Included by python/CMakeLists.txt with
# SLP_BUILD_TESTS, on an x86_64 host.
#
# SLP_EMULATED=1 tells the suite it runs under emulation (tests/emulation.py): the
# CPU-bound loops run fewer rounds there and children get longer timeouts; the pickle
# fuzzer runs 300 cases instead of 2,000,
# the frame loader's fuzzer 3,000 instead of 100,000.

set(SLP_PYTHON_CPU_VERSIONS "aarch64/3.11;arm/3.11;s390x/3.11;riscv64/3.13" CACHE STRING
    "CPU/VERSION pairs whose Debian CPython runs the module's suite under qemu-user (empty: none)")

if(NOT CMAKE_CROSSCOMPILING AND CMAKE_SYSTEM_PROCESSOR MATCHES "^(x86_64|amd64)$")
  file(GLOB _slp_cpu_frames_tests CONFIGURE_DEPENDS ${CMAKE_CURRENT_SOURCE_DIR}/tests/test_frames_*.py)
  foreach(pair IN LISTS SLP_PYTHON_CPU_VERSIONS)
    string(REPLACE "/" ";" _slp_pair "${pair}")
    list(GET _slp_pair 0 cpu)
    list(GET _slp_pair 1 version)
    add_test(NAME python_tests_${cpu}
      COMMAND ${PROJECT_SOURCE_DIR}/scripts/python-on ${cpu} ${version} -X faulthandler -m pytest
              -q -p no:cacheprovider -p not_yet_passing --ignore-glob=*test_frames_*
              ${CMAKE_CURRENT_SOURCE_DIR}/tests
      WORKING_DIRECTORY ${CMAKE_CURRENT_SOURCE_DIR})
    # The frame library's own tests, through its test-only extension cross-built for the CPU.
    add_test(NAME python_frames_tests_${cpu}
      COMMAND ${PROJECT_SOURCE_DIR}/scripts/python-on --frames-test ${cpu} ${version}
              -X faulthandler -m pytest -q -p no:cacheprovider --noconftest -p not_yet_passing
              ${_slp_cpu_frames_tests}
      WORKING_DIRECTORY ${CMAKE_CURRENT_SOURCE_DIR}/tests)
    set_tests_properties(python_tests_${cpu} python_frames_tests_${cpu} PROPERTIES
      ENVIRONMENT "SLP_EMULATED=1;SLP_FUZZ_PICKLE_COUNT=300;SLP_FUZZ_FRAMES_COUNT=3000;SLP_SOURCE_DIR=${PROJECT_SOURCE_DIR}"
      LABELS "python;qemu" TIMEOUT 3600)
    # (the not_yet_passing plugin lives in tests/)
    set_property(TEST python_tests_${cpu} APPEND PROPERTY ENVIRONMENT
                 "PYTHONPATH=${CMAKE_CURRENT_SOURCE_DIR}/tests")
    # (one build of a CPU's module at a time: python-on locks its build folder)
    set_tests_properties(python_frames_tests_${cpu} PROPERTIES DEPENDS python_tests_${cpu})
  endforeach()
  add_test(NAME python_migration
    COMMAND ${Python3_EXECUTABLE} -m pytest -q -p no:cacheprovider
            ${CMAKE_CURRENT_SOURCE_DIR}/tests/cpu_migration_check.py
    WORKING_DIRECTORY ${CMAKE_CURRENT_SOURCE_DIR})
  set_tests_properties(python_migration PROPERTIES
    ENVIRONMENT "PYTHONPATH=${CMAKE_BINARY_DIR}/python;SLP_SOURCE_DIR=${PROJECT_SOURCE_DIR}"
    LABELS "python;qemu;examples" TIMEOUT 1800)
endif()

# The module on the other CPUs: ctest entries that run its pytest suite under qemu-user
# on Debian's CPython for aarch64, arm (armhf, 32-bit) and s390x (big endian), each through
# scripts/python-on (which builds that CPU's root into the user's cache on first use and
# cross-builds the module from this tree), and the tests that move a running tasklet
# between CPUs (tests/cpu_migration_check.py). Included by python/CMakeLists.txt with
# SLP_BUILD_TESTS, on an x86_64 host.
#
# SLP_EMULATED=1 tells the suite it runs under emulation (tests/emulation.py): the
# CPU-bound loops run fewer rounds there and children get longer timeouts; the pickle
# fuzzer runs 300 cases instead of 2,000.

set(SLP_PYTHON_CPUS "aarch64;arm;s390x" CACHE STRING
    "The CPUs whose Debian CPython 3.11 runs the module's suite under qemu-user (empty: none)")

if(NOT CMAKE_CROSSCOMPILING AND CMAKE_SYSTEM_PROCESSOR MATCHES "^(x86_64|amd64)$")
  foreach(cpu IN LISTS SLP_PYTHON_CPUS)
    add_test(NAME python_tests_${cpu}
      COMMAND ${PROJECT_SOURCE_DIR}/scripts/python-on ${cpu} 3.11 -X faulthandler -m pytest -q
              -p no:cacheprovider --ignore-glob=*test_frames_* ${CMAKE_CURRENT_SOURCE_DIR}/tests
      WORKING_DIRECTORY ${CMAKE_CURRENT_SOURCE_DIR})
    set_tests_properties(python_tests_${cpu} PROPERTIES
      ENVIRONMENT "SLP_EMULATED=1;SLP_FUZZ_PICKLE_COUNT=300;SLP_SOURCE_DIR=${PROJECT_SOURCE_DIR}"
      LABELS "python;qemu" TIMEOUT 3600)
  endforeach()
  add_test(NAME python_migration
    COMMAND ${Python3_EXECUTABLE} -m pytest -q -p no:cacheprovider
            ${CMAKE_CURRENT_SOURCE_DIR}/tests/cpu_migration_check.py
    WORKING_DIRECTORY ${CMAKE_CURRENT_SOURCE_DIR})
  set_tests_properties(python_migration PROPERTIES
    ENVIRONMENT "PYTHONPATH=${CMAKE_BINARY_DIR}/python;SLP_SOURCE_DIR=${PROJECT_SOURCE_DIR}"
    LABELS "python;qemu;examples" TIMEOUT 1800)
endif()

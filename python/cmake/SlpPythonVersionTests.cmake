# The module's tests on every supported CPython besides the build's own
# (python/src/cpython/VERSIONS; the build's own is tested by python_tests and its
# neighbours, on the host): for each version V, through scripts/python-on x86_64 V,
#   python_root_V          the interpreter runs (python-on builds the Debian sid root on
#                          first use: minutes, once per machine), then
#   python_module_V        the module and the frames test extension build for it,
#   python_tests_V         the module's pytest suite,
#   python_frames_tests_V  the frame library's tests,
#   python_seed_coop_V, python_seed_pickle_V   the seed's two examples.
# The tests listed in python/src/cpython/vXY/not_yet_passing.txt are deselected there
# (tests/not_yet_passing.py), each with its reason, and counted in pytest's summary.
# Only on an x86_64 host building natively without sanitizers: python-on runs x86_64
# interpreters, and the suites test the module, not the sanitized core.
if(CMAKE_CROSSCOMPILING OR NOT SLP_SANITIZE STREQUAL "" OR
   NOT CMAKE_HOST_SYSTEM_PROCESSOR STREQUAL "x86_64")
  return()
endif()

set(_slp_on ${PROJECT_SOURCE_DIR}/scripts/python-on)
set(_slp_tests ${CMAKE_CURRENT_SOURCE_DIR}/tests)
file(GLOB _slp_frames_tests CONFIGURE_DEPENDS ${_slp_tests}/test_frames_*.py)
slp_python_versions(_slp_versions _slp_refused)
foreach(v IN LISTS _slp_versions)
  if(v STREQUAL SLP_PYTHON_VERSION)
    continue()
  endif()
  set(on ${_slp_on} x86_64 ${v})
  add_test(NAME python_root_${v}
    COMMAND ${_slp_on} --no-module x86_64 ${v} -c "print(__import__('sys').version)")
  set_tests_properties(python_root_${v} PROPERTIES
    FIXTURES_SETUP python_root_${v} LABELS "python;versions"
    TIMEOUT 1800)
  add_test(NAME python_module_${v}
    COMMAND ${_slp_on} --frames-test x86_64 ${v} -c "import stackless")
  set_tests_properties(python_module_${v} PROPERTIES
    FIXTURES_REQUIRED python_root_${v} FIXTURES_SETUP python_module_${v}
    LABELS "python;versions" TIMEOUT 1800)

  set(env "SLP_SOURCE_DIR=${PROJECT_SOURCE_DIR}" "PYTHONPATH=${_slp_tests}")
  add_test(NAME python_tests_${v}
    COMMAND ${on} -X faulthandler -m pytest -q -p no:cacheprovider -p not_yet_passing
            --ignore-glob=*test_frames_* ${_slp_tests}
    WORKING_DIRECTORY ${CMAKE_CURRENT_SOURCE_DIR})
  add_test(NAME python_frames_tests_${v}
    COMMAND ${_slp_on} --frames-test x86_64 ${v} -m pytest -q -p no:cacheprovider --noconftest
            -p not_yet_passing ${_slp_frames_tests}
    WORKING_DIRECTORY ${_slp_tests})
  set_tests_properties(python_tests_${v} python_frames_tests_${v} PROPERTIES
    ENVIRONMENT "${env};SLP_FUZZ_FRAMES_COUNT=100000;PYTHONDONTWRITEBYTECODE=1"
    FIXTURES_REQUIRED python_module_${v} LABELS "python;versions" TIMEOUT 1800)
  add_test(NAME python_seed_coop_${v}
    COMMAND ${CMAKE_COMMAND} "-DEMULATOR=${_slp_on} x86_64 ${v}"
            -DPROGRAM=${PROJECT_SOURCE_DIR}/examples/seed_coop.py
            -DEXPECTED=${PROJECT_SOURCE_DIR}/examples/seed_coop.expected
            -P ${PROJECT_SOURCE_DIR}/examples/compare_output.cmake)
  add_test(NAME python_seed_pickle_${v}
    COMMAND ${CMAKE_COMMAND} "-DPYTHON=${_slp_on} x86_64 ${v}"
            -DPROGRAM=${PROJECT_SOURCE_DIR}/examples/seed_pickle.py
            -DWORKDIR=${CMAKE_CURRENT_BINARY_DIR}/seed_pickle_run_${v}
            -P ${PROJECT_SOURCE_DIR}/examples/seed_pickle_check.cmake)
  set_tests_properties(python_seed_coop_${v} python_seed_pickle_${v} PROPERTIES
    FIXTURES_REQUIRED python_module_${v} LABELS "python;versions;examples")
endforeach()

# The interpreter gate: which Pythons the stackless module builds for. The versions are
# python/src/cpython/VERSIONS; this file is the only reader. An interpreter it refuses gets
# one clear error at build time, naming what is supported — never a module that crashes
# at import.
#
# include() it, then slp_python_gate(<python> <version var>): FATAL_ERROR unless <python>
# is a supported CPython; else <version var> = its "major.minor". Or as a script (the
# tests, setup.py and scripts/python-on use it so):
#   cmake -DSLP_GATE_PYTHON=<python> -P SlpPythonGate.cmake
#   cmake "-DSLP_GATE_FACTS=<implementation>;<major.minor>;<free-threaded 0|1>" -P SlpPythonGate.cmake
# which prints "supported: CPython <major.minor>" or fails with the reason;
#   cmake -DSLP_GATE_LIST=1 -P SlpPythonGate.cmake
# prints the supported versions, one a line.

cmake_policy(VERSION 3.25)
set(_slp_gate_versions ${CMAKE_CURRENT_LIST_DIR}/../src/cpython/VERSIONS)

# slp_python_facts(<python> <out>): <out> = "<implementation>;<major.minor>;<0|1>", the
# last being 1 for a free-threaded build (Py_GIL_DISABLED). The question is asked in
# Python that any Python answers, 2.7 included.
function(slp_python_facts python out)
  execute_process(
    COMMAND ${python} -c "import platform, sys, sysconfig; sys.stdout.write('%s %d.%d %d\\n' % (platform.python_implementation().lower(), sys.version_info[0], sys.version_info[1], 1 if sysconfig.get_config_var('Py_GIL_DISABLED') else 0))"
    OUTPUT_VARIABLE o ERROR_VARIABLE e RESULT_VARIABLE rc OUTPUT_STRIP_TRAILING_WHITESPACE)
  if(NOT rc EQUAL 0 OR NOT o MATCHES "^([A-Za-z0-9_]+) ([0-9]+\\.[0-9]+) ([01])$")
    message(FATAL_ERROR "stackless: cannot ask ${python} which Python it is (exit ${rc}): ${o}${e}")
  endif()
  set(${out} "${CMAKE_MATCH_1};${CMAKE_MATCH_2};${CMAKE_MATCH_3}" PARENT_SCOPE)
endfunction()

# slp_python_versions(<supported> <refused>): the lines of VERSIONS; <supported> = the
# supported "major.minor"s in their order, <refused> = "major.minor=why" for each refusal.
function(slp_python_versions supported_var refused_var)
  file(STRINGS ${_slp_gate_versions} lines REGEX "^[0-9]")
  set(supported "")
  set(refused "")
  foreach(line IN LISTS lines)
    if(line MATCHES "^([0-9]+\\.[0-9]+) +supported *$")
      list(APPEND supported ${CMAKE_MATCH_1})
    elseif(line MATCHES "^([0-9]+\\.[0-9]+) +refused +(.+)$")
      list(APPEND refused "${CMAKE_MATCH_1}=${CMAKE_MATCH_2}")
    else()
      message(FATAL_ERROR "stackless: ${_slp_gate_versions}: cannot read the line '${line}'")
    endif()
  endforeach()
  set(${supported_var} "${supported}" PARENT_SCOPE)
  set(${refused_var} "${refused}" PARENT_SCOPE)
endfunction()

# slp_python_verdict(<facts> <out>): <out> = "" if the module builds for that Python, else
# why not, ending with what is supported.
function(slp_python_verdict facts out)
  list(GET facts 0 impl)
  list(GET facts 1 version)
  list(GET facts 2 free_threaded)
  slp_python_versions(supported refusals)
  set(refusal "")
  foreach(r IN LISTS refusals)
    if(r MATCHES "^([0-9]+\\.[0-9]+)=(.*)$" AND CMAKE_MATCH_1 STREQUAL version)
      set(refusal "${CMAKE_MATCH_2}")
    endif()
  endforeach()
  list(JOIN supported ", " names)
  set(what "Supported: CPython ${names} (with the GIL), listed in python/src/cpython/VERSIONS.")
  if(NOT impl STREQUAL "cpython")
    if(impl STREQUAL "pypy")
      set(impl PyPy)
    endif()
    set(why "${impl} ${version} is not supported: the module is built on CPython's own interpreter internals (frames, thread state, the eval loop).")
  elseif(free_threaded)
    set(why "free-threaded CPython ${version} (built with Py_GIL_DISABLED) is not supported: the module's scheduler and its frame handling rely on the GIL.")
  elseif(refusal)
    set(why "CPython ${version} is not supported: ${refusal}.")
  elseif(NOT version IN_LIST supported)
    set(why "CPython ${version} is not supported: the module is built on the interpreter internals of each version it supports, and this is not one of them.")
  else()
    set(${out} "" PARENT_SCOPE)
    return()
  endif()
  set(${out} "stackless: ${why} ${what}" PARENT_SCOPE)
endfunction()

function(slp_python_gate python version_var)
  slp_python_facts(${python} facts)
  slp_python_verdict("${facts}" verdict)
  if(verdict)
    message(FATAL_ERROR "${verdict} (The interpreter: ${python}.)")
  endif()
  list(GET facts 1 version)
  set(${version_var} ${version} PARENT_SCOPE)
endfunction()

if(CMAKE_SCRIPT_MODE_FILE STREQUAL CMAKE_CURRENT_LIST_FILE)
  if(SLP_GATE_LIST)
    slp_python_versions(_supported _refused)
    list(JOIN _supported "\n" _lines)
    execute_process(COMMAND ${CMAKE_COMMAND} -E echo "${_lines}")
    return()
  endif()
  if(DEFINED SLP_GATE_FACTS)
    set(_facts "${SLP_GATE_FACTS}")
  elseif(DEFINED SLP_GATE_PYTHON)
    slp_python_facts(${SLP_GATE_PYTHON} _facts)
  else()
    message(FATAL_ERROR "usage: cmake -DSLP_GATE_PYTHON=<python> -P ${CMAKE_CURRENT_LIST_FILE}")
  endif()
  slp_python_verdict("${_facts}" _verdict)
  if(_verdict)
    message(FATAL_ERROR "${_verdict}")
  endif()
  list(GET _facts 1 _version)
  message("supported: CPython ${_version}")
endif()

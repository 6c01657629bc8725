# The ports: every CPU slp runs on is a folder arch/<cpu>/ holding its switch file
# (switch_*) and port.facts, lines of key=value read here and by scripts/bootstrap:
#   processor  a regex over CMAKE_SYSTEM_PROCESSOR (lower case) naming this CPU
#   triple     the Debian target triple of its cross compiler
#   qemu       the qemu-user binary that runs its programs on another host
#   assembler  the CMake language of its switch file (ASM unless said: ASM_NASM)
#   packages   the Debian packages that build and run it on an x86_64 host
# Included by cmake/SlpCpu.cmake and by the cross toolchain file, before any project().
set(SLP_ARCH_DIR ${CMAKE_CURRENT_LIST_DIR}/../arch)
cmake_path(NORMAL_PATH SLP_ARCH_DIR)

# out = the value of `key` in arch/<cpu>/port.facts, or empty.
function(slp_port_fact cpu key out)
  file(STRINGS ${SLP_ARCH_DIR}/${cpu}/port.facts _line REGEX "^${key}=")
  string(REGEX REPLACE "^${key}=" "" _value "${_line}")
  set(${out} "${_value}" PARENT_SCOPE)
endfunction()

# out = every port's folder name, sorted.
function(slp_ports out)
  file(GLOB _facts RELATIVE ${SLP_ARCH_DIR} ${SLP_ARCH_DIR}/*/port.facts)
  list(TRANSFORM _facts REPLACE "/port.facts$" "")
  list(SORT _facts)
  set(${out} ${_facts} PARENT_SCOPE)
endfunction()

# out = the port whose fact `key` satisfies `test` against `value` (MATCHES: the fact is
# a regex; STREQUAL: equal), or empty.
function(slp_port_where key test value out)
  slp_ports(_all)
  set(_found "")
  foreach(_cpu IN LISTS _all)
    slp_port_fact(${_cpu} ${key} _fact)
    if(test STREQUAL "MATCHES" AND value MATCHES "${_fact}")
      set(_found ${_cpu})
    elseif(test STREQUAL "STREQUAL" AND value STREQUAL _fact)
      set(_found ${_cpu})
    endif()
  endforeach()
  set(${out} "${_found}" PARENT_SCOPE)
endfunction()

# Which arch/<cpu>/ port this build uses, and its assembler: the folder whose
# port.facts names CMAKE_SYSTEM_PROCESSOR (cmake/SlpPorts.cmake). Included from the top
# level: CMake wants enable_language() in the directory common to all users.
include(${CMAKE_CURRENT_LIST_DIR}/SlpPorts.cmake)
slp_ports(SLP_CPUS)  # every port, for whoever builds per CPU (the Python module)
string(TOLOWER "${CMAKE_SYSTEM_PROCESSOR}" _slp_proc)
slp_port_where(processor MATCHES "${_slp_proc}" SLP_CPU)
if(NOT SLP_CPU)
  message(FATAL_ERROR "slp has no port for CPU '${CMAKE_SYSTEM_PROCESSOR}' (ports: ${SLP_CPUS}): see arch/README.md")
endif()
file(GLOB SLP_ARCH_SOURCE RELATIVE ${PROJECT_SOURCE_DIR} ${PROJECT_SOURCE_DIR}/arch/${SLP_CPU}/switch_*)
list(LENGTH SLP_ARCH_SOURCE _slp_sources)
if(NOT _slp_sources EQUAL 1)
  message(FATAL_ERROR "arch/${SLP_CPU}/ needs exactly one switch_* file, has: ${SLP_ARCH_SOURCE}")
endif()

slp_port_fact(${SLP_CPU} assembler SLP_ARCH_LANGUAGE)
if(NOT SLP_ARCH_LANGUAGE)
  set(SLP_ARCH_LANGUAGE ASM)
endif()
enable_language(${SLP_ARCH_LANGUAGE})
if(SLP_ARCH_LANGUAGE STREQUAL "ASM_NASM")
  set(CMAKE_ASM_NASM_OBJECT_FORMAT elf64)
  # -g -F dwarf: line info for gdb; the unwind tables are written by hand in the file.
  set(CMAKE_ASM_NASM_FLAGS "${CMAKE_ASM_NASM_FLAGS} -g -F dwarf")
endif()

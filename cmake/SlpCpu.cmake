# Which arch/<cpu>/ port this build uses, and its assembler. Included from the top
# level: CMake wants enable_language() in the directory common to all users.
string(TOLOWER "${CMAKE_SYSTEM_PROCESSOR}" _slp_proc)
if(_slp_proc MATCHES "^(x86_64|amd64)$")
  set(SLP_CPU x86_64)
  set(SLP_ARCH_SOURCE arch/x86_64/switch_x86_64_sysv_elf_nasm.asm)
elseif(_slp_proc MATCHES "^(aarch64|arm64)$")
  set(SLP_CPU aarch64)
  set(SLP_ARCH_SOURCE arch/aarch64/switch_arm64_aapcs_elf_gas.S)
elseif(_slp_proc MATCHES "^arm")
  set(SLP_CPU arm)
  set(SLP_ARCH_SOURCE arch/arm/switch_arm_aapcs_elf_gas.S)
elseif(_slp_proc MATCHES "^riscv64$")
  set(SLP_CPU riscv64)
  set(SLP_ARCH_SOURCE arch/riscv64/switch_riscv64_sysv_elf_gas.S)
else()
  message(FATAL_ERROR "slp has no port for CPU '${CMAKE_SYSTEM_PROCESSOR}': see arch/README.md")
endif()

if(SLP_CPU STREQUAL "x86_64")
  enable_language(ASM_NASM)
  set(CMAKE_ASM_NASM_OBJECT_FORMAT elf64)
  # -g -F dwarf: line info for gdb; the unwind tables are written by hand in the file.
  set(CMAKE_ASM_NASM_FLAGS "${CMAKE_ASM_NASM_FLAGS} -g -F dwarf")
else()
  enable_language(ASM)
endif()


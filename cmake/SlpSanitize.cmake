# SLP_SANITIZE=address: ASan + UBSan; SLP_SANITIZE=thread: TSan. Applied to all C and C++
# (GoogleTest included) so that instrumented and uninstrumented code never mix; not to
# the assembler, which knows no such flags. The runtime announces every switch to the
# sanitizer (core/src/), so both can follow a switched stack.
set(_slp_c_cxx "$<COMPILE_LANGUAGE:C,CXX>")
if(SLP_SANITIZE STREQUAL "address")
  add_compile_options("$<${_slp_c_cxx}:-fsanitize=address,undefined;-fno-omit-frame-pointer;-fno-sanitize-recover=all>")
  add_link_options(-fsanitize=address,undefined)
  add_compile_definitions("$<${_slp_c_cxx}:SLP_ASAN=1>")
elseif(SLP_SANITIZE STREQUAL "thread")
  add_compile_options("$<${_slp_c_cxx}:-fsanitize=thread;-fno-omit-frame-pointer>")
  add_link_options(-fsanitize=thread)
  add_compile_definitions("$<${_slp_c_cxx}:SLP_TSAN=1>")
elseif(NOT SLP_SANITIZE STREQUAL "")
  message(FATAL_ERROR "SLP_SANITIZE must be '', 'address' or 'thread', not '${SLP_SANITIZE}'")
endif()

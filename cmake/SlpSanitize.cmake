# SLP_SANITIZE=address: ASan + UBSan; SLP_SANITIZE=thread: TSan. Applied to everything
# (GoogleTest included) so that instrumented and uninstrumented code never mix.
# The runtime announces every switch to the sanitizer (core/src/sanitizer.*).
if(SLP_SANITIZE STREQUAL "address")
  add_compile_options(-fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all)
  add_link_options(-fsanitize=address,undefined)
  add_compile_definitions(SLP_ASAN=1)
elseif(SLP_SANITIZE STREQUAL "thread")
  add_compile_options(-fsanitize=thread -fno-omit-frame-pointer)
  add_link_options(-fsanitize=thread)
  add_compile_definitions(SLP_TSAN=1)
elseif(NOT SLP_SANITIZE STREQUAL "")
  message(FATAL_ERROR "SLP_SANITIZE must be '', 'address' or 'thread', not '${SLP_SANITIZE}'")
endif()

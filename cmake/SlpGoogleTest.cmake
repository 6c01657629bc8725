# GoogleTest is built from Debian's sources (/usr/src/googletest) with the same compiler
# and flags as the project: Debian's libgtest-dev ships x86_64 libraries only, and a
# sanitizer build wants an instrumented test framework anyway.
set(SLP_GTEST_SOURCE_DIR "/usr/src/googletest" CACHE PATH "GoogleTest sources")
if(NOT EXISTS "${SLP_GTEST_SOURCE_DIR}/CMakeLists.txt")
  message(FATAL_ERROR "GoogleTest sources not found in ${SLP_GTEST_SOURCE_DIR}: "
                      "run scripts/bootstrap (it installs Debian's googletest package)")
endif()
set(INSTALL_GTEST OFF CACHE BOOL "" FORCE)
set(BUILD_GMOCK OFF CACHE BOOL "" FORCE)
set(gtest_force_shared_crt ON CACHE BOOL "" FORCE)
add_subdirectory("${SLP_GTEST_SOURCE_DIR}" "${CMAKE_BINARY_DIR}/_deps/googletest" EXCLUDE_FROM_ALL SYSTEM)
include(GoogleTest)

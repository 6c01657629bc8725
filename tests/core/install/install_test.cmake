# Install slp from BUILD_DIR into a fresh prefix under WORK_DIR, then build and run a
# consumer with find_package(slp) and with pkg-config. Each step must succeed and the
# consumer must print "ping pong".
file(REMOVE_RECURSE "${WORK_DIR}")
file(MAKE_DIRECTORY "${WORK_DIR}")
set(prefix "${WORK_DIR}/prefix")
function(step)
  execute_process(COMMAND ${ARGN} RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "failed (${rc}): ${ARGN}\n${out}\n${err}")
  endif()
  set(step_out "${out}" PARENT_SCOPE)
endfunction()
step(${CMAKE_COMMAND} --install "${BUILD_DIR}" --prefix "${prefix}")
# find_package
step(${CMAKE_COMMAND} -S "${SRC_DIR}" -B "${WORK_DIR}/cm" -G Ninja
     -DCMAKE_PREFIX_PATH=${prefix} -DCMAKE_CXX_COMPILER=${CXX} -DCMAKE_CXX_STANDARD=20)
step(${CMAKE_COMMAND} --build "${WORK_DIR}/cm")
step("${WORK_DIR}/cm/consumer")
if(NOT step_out STREQUAL "ping pong\n")
  message(FATAL_ERROR "find_package consumer printed: ${step_out}")
endif()
# pkg-config
set(ENV{PKG_CONFIG_PATH} "${prefix}/lib/pkgconfig")
step(pkg-config --cflags --libs slp)
string(STRIP "${step_out}" flags)
separate_arguments(flags UNIX_COMMAND "${flags}")
step(${CXX} -std=c++20 "${SRC_DIR}/consumer.cpp" ${flags} -o "${WORK_DIR}/pc_consumer")
step("${WORK_DIR}/pc_consumer")
if(NOT step_out STREQUAL "ping pong\n")
  message(FATAL_ERROR "pkg-config consumer printed: ${step_out}")
endif()

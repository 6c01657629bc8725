# The frame library: unwind, capture, validate, rebuild and resume chains of CPython
# frames. Included by python/CMakeLists.txt; adds the sources to the module: its own, and
# the running version's opcode tables (../cpython/opcode_metadata.c).
file(GLOB _slp_frames_sources CONFIGURE_DEPENDS ${CMAKE_CURRENT_LIST_DIR}/*.cpp)
list(APPEND _slp_frames_sources ${CMAKE_CURRENT_LIST_DIR}/../cpython/opcode_metadata.c)
list(APPEND SLP_PYTHON_SOURCES ${_slp_frames_sources})

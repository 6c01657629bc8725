# The frame library: unwind, capture, validate, rebuild and resume chains of
# CPython 3.11 frames. Included by python/CMakeLists.txt; adds the sources to the module.
file(GLOB _slp_frames_sources CONFIGURE_DEPENDS ${CMAKE_CURRENT_LIST_DIR}/*.cpp)
list(APPEND SLP_PYTHON_SOURCES ${_slp_frames_sources})

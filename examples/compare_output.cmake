# Run PROGRAM (under EMULATOR when cross-compiling) and require its standard output to
# equal the file EXPECTED exactly.
separate_arguments(_emu UNIX_COMMAND "${EMULATOR}")
execute_process(COMMAND ${_emu} ${PROGRAM} OUTPUT_VARIABLE _out RESULT_VARIABLE _rc)
if(NOT _rc EQUAL 0)
  message(FATAL_ERROR "${PROGRAM} exited with ${_rc}; output:\n${_out}")
endif()
file(READ "${EXPECTED}" _want)
if(NOT _out STREQUAL _want)
  message(FATAL_ERROR "output differs.\n--- expected:\n${_want}--- got:\n${_out}")
endif()

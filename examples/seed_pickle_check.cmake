# Run examples/seed_pickle.py as the seed describes, in a fresh temporary directory:
# first `PYTHON seed_pickle.py` (enter 1..9, hi, leave 9..1; writes tasklet.pickle), then,
# in a new process, `PYTHON seed_pickle.py tasklet.pickle` (leave 9..1). Both outputs
# must match exactly. PYTHON may be a command with arguments ("scripts/python-on x86_64
# 3.13").
separate_arguments(_python UNIX_COMMAND "${PYTHON}")
set(_dir "${WORKDIR}")
file(REMOVE_RECURSE "${_dir}")
file(MAKE_DIRECTORY "${_dir}")
set(_enter "")
set(_leave "")
foreach(level RANGE 1 9)
  string(REPEAT "  " ${level} _ind)
  string(APPEND _enter "enter level ${_ind}${level}\n")
  math(EXPR _l "10 - ${level}")
  string(REPEAT "  " ${_l} _ind)
  string(APPEND _leave "leave level ${_ind}${_l}\n")
endforeach()
execute_process(COMMAND ${_python} ${PROGRAM} WORKING_DIRECTORY "${_dir}"
                OUTPUT_VARIABLE _out1 ERROR_VARIABLE _err1 RESULT_VARIABLE _rc1)
if(NOT _rc1 EQUAL 0)
  message(FATAL_ERROR "first run exited with ${_rc1}:\n${_out1}\n${_err1}")
endif()
if(NOT _out1 STREQUAL "${_enter}hi\n${_leave}")
  message(FATAL_ERROR "first run: output differs:\n${_out1}")
endif()
execute_process(COMMAND ${_python} ${PROGRAM} tasklet.pickle WORKING_DIRECTORY "${_dir}"
                OUTPUT_VARIABLE _out2 ERROR_VARIABLE _err2 RESULT_VARIABLE _rc2)
if(NOT _rc2 EQUAL 0)
  message(FATAL_ERROR "second run exited with ${_rc2}:\n${_out2}\n${_err2}")
endif()
if(NOT _out2 STREQUAL "${_leave}")
  message(FATAL_ERROR "second run: output differs:\n${_out2}")
endif()
file(REMOVE_RECURSE "${_dir}")

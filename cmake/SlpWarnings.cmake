# Warnings on for every target of ours (not for third-party code built alongside).
function(slp_warnings target)
  target_compile_options(${target} PRIVATE
    $<$<COMPILE_LANGUAGE:C,CXX>:-Wall -Wextra -Wpedantic -Wshadow -Wconversion -Wno-sign-conversion>
    $<$<AND:$<BOOL:${SLP_WERROR}>,$<COMPILE_LANGUAGE:C,CXX>>:-Werror>)
endfunction()

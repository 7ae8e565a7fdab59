# Warning flags applied to alro's own targets (never to third-party code).
function(alro_warnings target)
  target_compile_options(${target} PRIVATE -Wall -Wextra -Wno-unused-parameter
                         -Wno-sign-compare -Wno-missing-field-initializers)
endfunction()

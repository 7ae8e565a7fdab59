# Helpers that register GoogleTest binaries with CTest.
#
# alro_add_test(NAME target)              one process
# alro_add_mpi_test(NAME target RANKS 1 2 4 [FILTER pattern] [TIMEOUT s])
#   runs `mpirun -np N target` once per N. As root (CI) mpirun needs
#   --allow-run-as-root, and more ranks than cores need --oversubscribe.
find_package(GTest REQUIRED)

# yield_when_idle: ranks waiting in a collective yield the core instead of
# spinning, which matters when ranks outnumber cores (here 4 ranks on 2).
set(ALRO_MPIRUN_FLAGS --oversubscribe --bind-to none --mca mpi_yield_when_idle 1)
execute_process(COMMAND id -u OUTPUT_VARIABLE _alro_uid OUTPUT_STRIP_TRAILING_WHITESPACE)
if(_alro_uid STREQUAL "0")
  list(APPEND ALRO_MPIRUN_FLAGS --allow-run-as-root)
endif()

# One thread per rank, passive OpenMP waits: spinning threads on 2 cores make
# multi-rank tests several times slower.
set(ALRO_TEST_ENV OMP_NUM_THREADS=1 OMP_WAIT_POLICY=PASSIVE)

function(alro_add_test name target)
  add_test(NAME ${name} COMMAND $<TARGET_FILE:${target}>)
  set_tests_properties(${name} PROPERTIES ENVIRONMENT "${ALRO_TEST_ENV}" TIMEOUT 600
                       FAIL_REGULAR_EXPRESSION "\\[  PASSED  \\] 0 tests")
endfunction()

function(alro_add_mpi_test name target)
  cmake_parse_arguments(ARG "" "FILTER;TIMEOUT" "RANKS" ${ARGN})
  if(NOT ARG_TIMEOUT)
    set(ARG_TIMEOUT 600)
  endif()
  set(filter_arg)
  if(ARG_FILTER)
    set(filter_arg --gtest_filter=${ARG_FILTER})
  endif()
  foreach(n IN LISTS ARG_RANKS)
    add_test(NAME ${name}_np${n}
             COMMAND ${MPIEXEC_EXECUTABLE} ${ALRO_MPIRUN_FLAGS} -np ${n}
                     -x OMP_NUM_THREADS=1 -x OMP_WAIT_POLICY=PASSIVE
                     $<TARGET_FILE:${target}> ${filter_arg})
    # A filter that selects nothing would pass silently: make it fail.
    set_tests_properties(${name}_np${n} PROPERTIES TIMEOUT ${ARG_TIMEOUT}
                         ENVIRONMENT "${ALRO_TEST_ENV}" PROCESSORS ${n}
                         FAIL_REGULAR_EXPRESSION "\\[  PASSED  \\] 0 tests")
  endforeach()
endfunction()

# Under the sanitizers every process starts and runs 5-10x slower (each
# `alro` launch of the CLI tests took ~20 s on a loaded 2-core machine, and
# train_crash_resume_cli ran out of its 600 s), so each test directory ends
# with alro_scale_test_timeouts(), which multiplies the TIMEOUT of its tests
# by ALRO_TEST_TIMEOUT_SCALE (4 with ALRO_SANITIZE, else 1). A test that
# really hangs still ends. (CMake 3.25 sets test properties only in the
# directory that added the tests, hence one call per directory.)
if(ALRO_SANITIZE)
  set(ALRO_TEST_TIMEOUT_SCALE 4 CACHE STRING "factor for every test's TIMEOUT")
else()
  set(ALRO_TEST_TIMEOUT_SCALE 1 CACHE STRING "factor for every test's TIMEOUT")
endif()
function(alro_scale_test_timeouts)
  if(ALRO_TEST_TIMEOUT_SCALE EQUAL 1)
    return()
  endif()
  get_property(tests DIRECTORY PROPERTY TESTS)
  foreach(t IN LISTS tests)
    get_test_property(${t} TIMEOUT timeout)
    if(timeout)
      math(EXPR timeout "${timeout} * ${ALRO_TEST_TIMEOUT_SCALE}")
      set_tests_properties(${t} PROPERTIES TIMEOUT ${timeout})
    endif()
  endforeach()
endfunction()

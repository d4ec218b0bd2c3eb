# cmake -DTESTS=<vknorm_tests> -P skipped_configurations.cmake
# The skip path, end to end. lavapipe and SwiftShader both have subgroup arithmetic, so no
# configuration is ever skipped on them; here the subgroup configuration's context is made
# without it (VKNORM_TEST_NO_SUBGROUP_ARITHMETIC=1: a capability override, what some mobile
# GPUs lack). Two test cases must then pass, each print how many configurations it skipped
# and why, and the run's summary count them by reason.
cmake_minimum_required(VERSION 3.21)

set(reason "no subgroup arithmetic in compute shaders")
set(cases "LayerNorm GPU matches the CPU reference" "RMSNorm GPU matches the CPU reference")
list(JOIN cases "," filter)
execute_process(COMMAND ${CMAKE_COMMAND} -E env VKNORM_TEST_NO_SUBGROUP_ARITHMETIC=1 ${TESTS} "-tc=${filter}"
                OUTPUT_VARIABLE out ERROR_VARIABLE out RESULT_VARIABLE rc)
message("${out}")
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "vknorm_tests failed (${rc}) with the subgroup configuration skipped")
endif()
if(NOT out MATCHES "test cases: +2 \\| +2 passed")
  message(FATAL_ERROR "expected the 2 test cases to run and pass")
endif()
foreach(name IN LISTS cases)
  if(NOT out MATCHES "${name}: skipped [1-9][0-9]* configuration\\(s\\): ${reason}")
    message(FATAL_ERROR "'${name}' did not say it skipped the subgroup configuration")
  endif()
endforeach()
if(NOT out MATCHES "skipped [1-9][0-9]* configuration\\(s\\) the device cannot run: ${reason} x[1-9]")
  message(FATAL_ERROR "the run's summary does not count the skips")
endif()

# One glslangValidator run through the SPIR-V cache (VKNORM_SPIRV_CACHE_DIR, cmake/shaders.cmake):
#   cmake -DCACHE_DIR=<dir> -DTOOL_ID=<hash> "-DINPUTS=<file>|<file>..." -DOUT=<.inc> \
#         -P glslang_cached.cmake -- <glslangValidator> <arguments but -o>
# The key is the SHA-256 of TOOL_ID (the compiler's path and --version, read when the tree is
# configured), this script, the command line and the contents of INPUTS (the source and
# every file it may include). The output path is not
# in the key: build trees of one checkout (native, sanitizer, cross) share their modules.
# A hit copies <key>.inc; a miss compiles into OUT and stores a copy, written under a
# temporary name and renamed, so builds running at once never read half a module.
set(command)
set(in_command FALSE)
math(EXPR last "${CMAKE_ARGC} - 1")
foreach(i RANGE ${last})
  if(in_command)
    list(APPEND command "${CMAKE_ARGV${i}}")
  elseif(CMAKE_ARGV${i} STREQUAL "--")
    set(in_command TRUE)
  endif()
endforeach()
if(NOT command OR NOT CACHE_DIR OR NOT OUT OR NOT INPUTS)
  message(FATAL_ERROR "glslang_cached.cmake: needs CACHE_DIR, OUT, INPUTS and a command after --")
endif()

# This script's own contents too: a change to how modules are made misses every old entry.
file(SHA256 ${CMAKE_CURRENT_LIST_FILE} script_digest)
set(key "${TOOL_ID}\n${script_digest}\n${command}\n")
string(REPLACE "|" ";" inputs "${INPUTS}")
foreach(input ${inputs})
  file(SHA256 ${input} digest)
  string(APPEND key "${input} ${digest}\n")
endforeach()
string(SHA256 key "${key}")
set(cached ${CACHE_DIR}/${key}.inc)

if(EXISTS ${cached})
  file(READ ${cached} words)
  file(WRITE ${OUT} "${words}")  # a new file, so make sees it newer than its inputs
  return()
endif()

execute_process(COMMAND ${command} -o ${OUT} RESULT_VARIABLE rc)
if(NOT rc EQUAL 0)
  file(REMOVE ${OUT})
  message(FATAL_ERROR "glslangValidator failed (${rc}) for ${OUT}")
endif()
file(MAKE_DIRECTORY ${CACHE_DIR})
string(RANDOM LENGTH 12 suffix)
file(COPY_FILE ${OUT} ${cached}.${suffix}.tmp)
file(RENAME ${cached}.${suffix}.tmp ${cached})

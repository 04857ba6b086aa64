# SPDX-License-Identifier: Apache-2.0
# clang-tidy, configured by .clang-tidy, over every src/**/*.c with the
# compile database of a build; fails on any warning. Run by the 'tidy'
# target and the lint/clang-tidy test:
#   cmake -DCLANG_TIDY=clang-tidy [-DRUN_CLANG_TIDY=run-clang-tidy] [-DJOBS=N]
#         -DSOURCE_DIR=<source> -DBUILD_DIR=<build> -P cmake/TcTidy.cmake
# run-clang-tidy, when given, runs JOBS files at a time (default: one per core).

foreach(var CLANG_TIDY SOURCE_DIR BUILD_DIR)
  if(NOT ${var})
    message(FATAL_ERROR "TcTidy.cmake: -D${var}=... is required")
  endif()
endforeach()
if(NOT EXISTS "${BUILD_DIR}/compile_commands.json")
  message(FATAL_ERROR "clang-tidy: no compile_commands.json in ${BUILD_DIR}: configure it with "
                      "a Makefile or Ninja generator (CMAKE_EXPORT_COMPILE_COMMANDS is on)")
endif()
if(NOT JOBS)
  cmake_host_system_information(RESULT JOBS QUERY NUMBER_OF_LOGICAL_CORES)
endif()

file(GLOB_RECURSE files "${SOURCE_DIR}/src/*.c")
list(LENGTH files nfiles)
if(RUN_CLANG_TIDY)
  # run-clang-tidy takes the files as a regular expression over the database's paths
  string(REGEX REPLACE "([.+*?^$()|])" "\\\\\\1" src_re "${SOURCE_DIR}/src/")
  execute_process(COMMAND "${RUN_CLANG_TIDY}" -clang-tidy-binary "${CLANG_TIDY}" -p "${BUILD_DIR}"
                          -j ${JOBS} -quiet "^${src_re}.*\\.c$"
                  OUTPUT_VARIABLE out ERROR_VARIABLE err RESULT_VARIABLE rc)
else()
  execute_process(COMMAND "${CLANG_TIDY}" -p "${BUILD_DIR}" --quiet ${files}
                  OUTPUT_VARIABLE out ERROR_VARIABLE err RESULT_VARIABLE rc)
endif()

# run-clang-tidy colours clang-tidy's output whatever it is written to
string(ASCII 27 esc)
string(REGEX REPLACE "${esc}\\[[0-9;]*m" "" out "${out}")
string(REGEX MATCHALL "[^\n]*:[0-9]+:[0-9]+: (warning|error): [^\n]*" found "${out}")
list(REMOVE_DUPLICATES found) # a header's warning comes once per file that includes it
list(LENGTH found nfound)
if(nfound GREATER 0 OR NOT rc EQUAL 0)
  message("${out}")
  if(NOT rc EQUAL 0)
    message("${err}")
  endif()
  message(FATAL_ERROR "clang-tidy: ${nfound} warning(s) in ${nfiles} files of src/ "
                      "(exit status ${rc}); each is listed above")
endif()
message(STATUS "clang-tidy: no warnings in ${nfiles} files of src/")

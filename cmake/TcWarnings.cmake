# SPDX-License-Identifier: Apache-2.0
# Warning flags in one INTERFACE target; every flag is probed first.
include(CheckCCompilerFlag)

add_library(tc_warnings INTERFACE)
add_library(tc_warnings_conversion INTERFACE)

foreach(flag -Wall -Wextra -Wshadow -Wundef -Wwrite-strings -Wstrict-prototypes
             -Wmissing-prototypes -Wformat=2 -Wvla -Wredundant-decls -Wdouble-promotion)
  string(MAKE_C_IDENTIFIER "TC_HAS${flag}" var)
  check_c_compiler_flag(${flag} ${var})
  if(${var})
    target_compile_options(tc_warnings INTERFACE ${flag})
  endif()
endforeach()
# byte arithmetic lives in protocol/ and schema/: conversions are checked there
check_c_compiler_flag(-Wconversion TC_HAS_WCONVERSION)
if(TC_HAS_WCONVERSION)
  target_compile_options(tc_warnings_conversion INTERFACE -Wconversion)
endif()
if(TC_WERROR)
  target_compile_options(tc_warnings INTERFACE -Werror)
endif()

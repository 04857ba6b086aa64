# SPDX-License-Identifier: Apache-2.0
# Sanitizer options, applied to every target of the project.
if(TC_ASAN AND TC_TSAN)
  message(FATAL_ERROR "TC_ASAN and TC_TSAN cannot be combined")
endif()
if(TC_ASAN)
  add_compile_options(-fsanitize=address,undefined -fno-sanitize-recover=all
                      -fno-omit-frame-pointer)
  add_link_options(-fsanitize=address,undefined)
endif()
if(TC_TSAN)
  add_compile_options(-fsanitize=thread -fno-omit-frame-pointer)
  add_link_options(-fsanitize=thread)
endif()

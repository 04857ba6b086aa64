# SPDX-License-Identifier: Apache-2.0
# tc_plugin_header(OUT IDL SERVICE [DEPENDS...]): generate a C plugin's
# signature header at build time with `thriftcorn --plugin-header` (see
# docs/plugins.md), so the plugin records the IDL it was built against.
function(tc_plugin_header out idl service)
  add_custom_command(OUTPUT ${out}
    COMMAND sh -c "mkdir -p \"$(dirname \"$4\")\" && \"$1\" --plugin-header \"$2\" \"$3\" > \"$4.tmp\" && mv \"$4.tmp\" \"$4\""
            sh $<TARGET_FILE:thriftcorn> ${idl} ${service} ${out}
    DEPENDS thriftcorn ${idl} ${ARGN}
    COMMENT "Generating ${out} from ${idl}" VERBATIM)
endfunction()

# tc_plugin(TARGET SOURCES...): a plugin as a MODULE library. It includes
# thriftcorn/plugin.h only and links nothing of thriftcorn.
function(tc_plugin target)
  add_library(${target} MODULE ${ARGN})
  target_include_directories(${target} PRIVATE ${PROJECT_SOURCE_DIR}/include)
  target_link_libraries(${target} PRIVATE tc_warnings Threads::Threads)
endfunction()

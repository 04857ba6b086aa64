/* SPDX-License-Identifier: Apache-2.0 */
/*
 * libtp_needed.so: a plain shared library that libtp_needs.so links
 * against (needs_plugin.c).
 */
#include <thriftcorn/plugin.h>

TC_PLUGIN_EXPORT int tp_needed(void);

int
tp_needed(void)
{
    return TC_PLUGIN_OK;
}

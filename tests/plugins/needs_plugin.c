/* SPDX-License-Identifier: Apache-2.0 */
/*
 * libtp_needs.so: a plugin of the tutorial Calculator (serving none of its
 * methods) that needs libtp_needed.so and is built with no run path to
 * find it: it never loads, as a plugin whose dependency is missing on the
 * server (test_host.c, test_plugin.py).
 */
#include "plugin_test_util.h"

int tp_needed(void);

static int
init_worker(const tc_host_api_t *api)
{
    (void)api;
    return tp_needed();
}

static const tc_plugin_method_t methods[] = {{NULL, 0, NULL, NULL}};

TP_PLUGIN("tutorial.Calculator", methods, .name = "needs", .init_worker = init_worker);

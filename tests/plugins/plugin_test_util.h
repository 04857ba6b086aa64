/* SPDX-License-Identifier: Apache-2.0 */
/*
 * What the test plugins (tests/plugins, tests/interop/plugin, tests/fuzz)
 * share: writing a decoded value back into the reply, a handler that writes
 * nothing, and the descriptor of a plugin of one service. Built into each
 * test plugin (tc_test_plugin() in tests/CMakeLists.txt); it uses only the
 * public ABI of thriftcorn/plugin.h, as a plugin must.
 */
#ifndef TC_PLUGINS_PLUGIN_TEST_UTIL_H
#define TC_PLUGINS_PLUGIN_TEST_UTIL_H

#include <thriftcorn/plugin.h>

#include <stddef.h>
#include <stdint.h>

/*
 * How tp_copy_value() copies a struct. The API reads a struct by field id
 * only, so a struct is copied by probing every id in 'ids': an id the
 * struct lacks reads as TC_PLUGIN_ETYPE, a field the client left out (with
 * no default) as TC_PLUGIN_ENOTSET, and neither is written. With
 * 'skip_empty_fields', a struct that is a field of a struct and has none of
 * the probed fields is left out of the reply (interop_plugin.c says why).
 */
typedef struct tp_copy {
    const int16_t *ids;
    size_t n_ids;
    int skip_empty_fields;
} tp_copy_t;

/*
 * Write the scalar 'v' (bool, byte, i16, i32, enum, i64, double, string,
 * binary, uuid) as field 'id' with the typed writer of its kind; returns
 * what the writer returns. Any other kind: TC_PLUGIN_ETYPE, and nothing is
 * written (the writers themselves never return TC_PLUGIN_ETYPE).
 */
int tp_put_scalar(const tc_host_api_t *api, tc_call_t *call, int16_t id, const tc_value_t *v);

/*
 * Write 'v' as field 'id': a scalar with tp_put_scalar(), a list, set or
 * map element by element, a struct field by field as 'how' says. Returns
 * TC_PLUGIN_OK, the first failure of a reader or writer, or TC_PLUGIN_ETYPE
 * for a value of no known kind.
 */
int tp_copy_value(const tc_host_api_t *api, tc_call_t *call, const tp_copy_t *how, int16_t id,
                  const tc_value_t *v);

/*
 * The probed fields of 's' into the struct the reply is in (begun by the
 * caller, with begin_struct() or raise()), then end() it.
 */
int tp_copy_fields(const tc_host_api_t *api, tc_call_t *call, const tp_copy_t *how,
                   const tc_view_t *s);

/* A handler that writes nothing and succeeds (void methods, or no result on purpose). */
int tp_nothing(const tc_host_api_t *api, tc_call_t *call, const tc_view_t *args);

/*
 * The descriptor of a plugin that serves the one service 'service' with
 * the method table 'methods', for this ABI, and the tc_plugin_entry() that
 * returns it. The descriptor's other fields follow as designated
 * initializers: TP_PLUGIN("Echo", methods, .name = "echo", .version = "1.0");
 */
#define TP_PLUGIN(service, methods, ...)                                                           \
    static const tc_plugin_t tp_plugin;                                                            \
    const tc_plugin_t *tc_plugin_entry(uint32_t host_abi_major, uint32_t host_abi_minor)           \
    {                                                                                              \
        (void)host_abi_major;                                                                      \
        (void)host_abi_minor;                                                                      \
        return &tp_plugin;                                                                         \
    }                                                                                              \
    static const tc_plugin_service_t tp_services[] = {{service, methods}, {NULL, NULL}};           \
    static const tc_plugin_t tp_plugin = {.abi_major = TC_PLUGIN_ABI_MAJOR,                        \
                                          .abi_minor = TC_PLUGIN_ABI_MINOR,                        \
                                          .services = tp_services,                                 \
                                          __VA_ARGS__}

#endif /* TC_PLUGINS_PLUGIN_TEST_UTIL_H */

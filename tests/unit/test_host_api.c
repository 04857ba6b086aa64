/* SPDX-License-Identifier: Apache-2.0 */
/* Unit tests for plugin/host_api.c: the THeader info header accessors. */
#include "tc_test.h"

#include "plugin/host.h"
#include "transport/header.h"

#include <stdlib.h>

/* Python THeaderTransport: set_header(b"k", b"v"), set_header(b"user", b"ann"), binary ping. */
static const uint8_t kv[] = {
    0x0f, 0xff, 0x00, 0x00, 0x00, 0x00, 0x00, 0x07, 0x00, 0x05, 0x00, 0x00, 0x01, 0x02, 0x01, 0x6b,
    0x01, 0x76, 0x04, 0x75, 0x73, 0x65, 0x72, 0x03, 0x61, 0x6e, 0x6e, 0x00, 0x00, 0x00, 0x80, 0x01,
    0x00, 0x01, 0x00, 0x00, 0x00, 0x04, 0x70, 0x69, 0x6e, 0x67, 0x00, 0x00, 0x00, 0x07, 0x00,
};

static void
test_request_and_response_headers(void **state)
{
    (void)state;
    const tc_host_api_t *api = &tc_host_api;
    assert_true(TC_HOST_HAS(api, request_header));
    assert_true(TC_HOST_HAS(api, set_response_header));
    tc_header_t h;
    tc_header_init(&h);
    const char *why;
    assert_int_equal(tc_header_read(&h, kv, sizeof(kv), 1024, &why), TC_OK);
    struct tc_call call;
    memset(&call, 0, sizeof(call));
    call.header = &h;
    const char *k;
    const char *v;
    size_t kl;
    size_t vl;
    assert_int_equal(api->request_header(&call, 1, &k, &kl, &v, &vl), TC_PLUGIN_OK);
    assert_int_equal(kl, 4);
    assert_memory_equal(k, "user", 4);
    assert_int_equal(vl, 3);
    assert_memory_equal(v, "ann", 3);
    assert_int_equal(api->request_header(&call, 0, &k, &kl, &v, &vl), TC_PLUGIN_OK);
    assert_memory_equal(k, "k", 1);
    assert_int_equal(api->request_header(&call, 2, &k, &kl, &v, &vl), TC_PLUGIN_ERANGE);
    assert_int_equal(api->set_response_header(&call, "r", 1, "x", 1), TC_PLUGIN_OK);
    assert_int_equal(h.nreply_info, 1);
    static char big[70000];
    assert_int_equal(api->set_response_header(&call, "big", 3, big, sizeof(big)), TC_PLUGIN_ERANGE);
    /* a call that did not come over THeader */
    call.header = NULL;
    assert_int_equal(api->request_header(&call, 0, &k, &kl, &v, &vl), TC_PLUGIN_ERANGE);
    assert_int_equal(api->set_response_header(&call, "r", 1, "x", 1), TC_PLUGIN_ESTATE);
    tc_header_deinit(&h);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_request_and_response_headers),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

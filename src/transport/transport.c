/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Transports by name, for the config ("framed", "buffered", "header"), and
 * the scan of a stream read in pieces that connections and the benchmark
 * client share.
 */
#include "transport/transport.h"

#include "core/alloc.h"
#include "transport/header.h"

#include <string.h>

const tc_transport_t *
tc_transport_find(const char *name)
{
    if (name == NULL) {
        return NULL;
    }
    if (strcmp(name, tc_transport_framed.name) == 0) {
        return &tc_transport_framed;
    }
    if (strcmp(name, tc_transport_buffered.name) == 0) {
        return &tc_transport_buffered;
    }
    if (strcmp(name, tc_transport_header.name) == 0) {
        return &tc_transport_header;
    }
    return NULL;
}

int
tc_transport_scan(const tc_transport_t *t, const tc_proto_ops_t *ops, tc_proto_skip_state_t **skip,
                  const uint8_t *data, size_t len, size_t max, size_t *off, size_t *msg_len)
{
    if (t->scan_resume == NULL) {
        return t->scan(ops, data, len, max, off, msg_len);
    }
    /* until a message comes in pieces, a state on the stack does (about 3 KB) */
    tc_proto_skip_state_t fresh;
    tc_proto_skip_state_t *st = *skip;
    if (st == NULL) {
        tc_proto_skip_state_init(&fresh);
        st = &fresh;
    }
    int rc = t->scan_resume(ops, st, data, len, max, off, msg_len);
    if (rc != TC_AGAIN) {
        tc_proto_skip_state_init(st);
    } else if (st == &fresh) {
        /* the same state goes on, so the message is still walked once */
        *skip = tc_xmalloc(sizeof(**skip));
        **skip = fresh;
    }
    return rc;
}

/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Message header -> method -> handler. The replies every server owes
 * whatever the handlers are (UNKNOWN_METHOD, INVALID_MESSAGE_TYPE) are
 * written here; a method's own call goes to its handler.
 */
#include "worker/dispatch.h"

#include "bridge/lua_handler.h"
#include "core/alloc.h"
#include "protocol/message.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct tc_dispatch {
    tc_lua_handler_t *lua;
    const tc_service_t *svc;
};

tc_dispatch_t *
tc_dispatch_new(const tc_config_t *cfg, tc_err_t *err)
{
    tc_lua_handler_t *h = tc_lua_handler_new(cfg, err);
    if (h == NULL) {
        return NULL;
    }
    tc_dispatch_t *d = tc_xcalloc(1, sizeof(*d));
    d->lua = h;
    d->svc = tc_lua_handler_service(h);
    return d;
}

void
tc_dispatch_free(tc_dispatch_t *d)
{
    if (d == NULL) {
        return;
    }
    tc_lua_handler_free(d->lua);
    free(d);
}

int
tc_dispatch_handle(tc_dispatch_t *d, tc_proto_t *in, tc_proto_t *out, tc_call_info_t *info,
                   tc_err_t *err)
{
    tc_msg_hdr_t m;
    int rc = in->ops->read_message_begin(in, &m);
    if (rc != TC_OK) {
        return tc_err_set(err, rc == TC_AGAIN ? TC_EPROTO : rc, "invalid message header (%s)",
                          rc == TC_AGAIN ? "truncated" : tc_strerror(rc));
    }
    info->method = m.name;
    info->method_len = m.name_len;
    info->replied = true;
    info->status = 0;
    if (m.type != TC_MSG_CALL && m.type != TC_MSG_ONEWAY) {
        info->status = TC_APPEX_INVALID_MESSAGE_TYPE;
        tc_message_write_appex(out, m.name, m.name_len, m.seqid, TC_APPEX_INVALID_MESSAGE_TYPE,
                               "Invalid message type");
        return TC_OK;
    }
    int idx = tc_schema_service_index(d->svc, m.name, m.name_len);
    if (idx < 0) {
        char msg[300];
        snprintf(msg, sizeof(msg), "Invalid method name: '%.*s'",
                 (int)(m.name_len > 256 ? 256 : m.name_len), m.name);
        info->status = TC_APPEX_UNKNOWN_METHOD;
        tc_message_write_appex(out, m.name, m.name_len, m.seqid, TC_APPEX_UNKNOWN_METHOD, msg);
        return TC_OK;
    }
    bool oneway = m.type == TC_MSG_ONEWAY || d->svc->functions[idx]->oneway;
    info->replied = !oneway;
    info->status = tc_lua_handler_call(d->lua, idx, &m, oneway, in, out, err);
    return TC_OK;
}

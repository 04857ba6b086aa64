/* SPDX-License-Identifier: Apache-2.0 */
/*
 * A client connection between its calls, as the loop's timers see it: the
 * large buffers it frees once idle, and what client_timeout and the end of
 * a stop's wait ask of it and say of it. Off the path of a call, which is
 * transport/conn.c's.
 */
#include "transport/idle.h"

#include "core/alloc.h"
#include "core/buf.h"
#include "protocol/binary.h"
#include "transport/conn_internal.h"
#include "transport/detect.h"

#include <event2/event.h>
#include <inttypes.h>
#include <stdio.h>
#include <sys/ioctl.h>

/*
 * Seconds after it went idle holding a buffer over TC_CONN_BUF_KEEP that a
 * connection frees it, if it is idle then. Not at once: a client making
 * such large calls one after another would grow the buffers again on
 * every call (the copies of realloc(), fresh pages to fault in), which
 * made an echo of 100 KB 3 times slower and one of 1 MB 20 times
 * (docs/performance.md). This way a connection pays at most once a second,
 * and an idle one, or one making small calls after a large one, gives the
 * memory back within a second or two.
 */
#define SHED_AFTER_S 1

/* ---- buffers between messages ---- */

/* SHED_AFTER_S after the connection went idle with a large buffer. */
void
tc_idle_on_shed(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    tc_conn_t *c = arg;
    /* busy now (a call, a reply on its way): the next idle moment waits again */
    if (c->_lingering || !tc_conn_idle(c)) {
        return;
    }
    tc_buf_shed(&c->_in, TC_CONN_BUF_KEEP);
    tc_buf_shed(&c->_out, TC_CONN_BUF_KEEP);
    c->_out_off = 0;
}

/* Idle with a large buffer, maybe: free it SHED_AFTER_S from now, unless a wait runs already. */
void
tc_idle_shed_later(tc_conn_t *c)
{
    if (!holds_big(c)) {
        return;
    }
    if (c->_tev == NULL) {
        c->_tev = tc_xcalloc(1, event_get_struct_event_size());
        evtimer_assign(c->_tev, event_get_base(c->_rev), tc_idle_on_shed, c);
    } else if (evtimer_pending(c->_tev, NULL)) {
        return; /* (later idle moments do not push it back) */
    }
    struct timeval tv = {SHED_AFTER_S, 0};
    evtimer_add(c->_tev, &tv);
}

/* ---- client_timeout ---- */

bool
tc_idle_taking_replies(tc_conn_t *c)
{
    int held = 0;
    if (ioctl(c->_fd, SIOCOUTQ, &held) != 0 || held <= 0) {
        /* nothing held: taken if something was held at the last look */
        bool took_the_rest = c->_outq > 0;
        c->_outq = 0;
        return took_the_rest;
    }
    bool taken = c->_outq == 0 || held < c->_outq;
    c->_outq = held;
    return taken;
}

bool
tc_idle_input_waiting(const tc_conn_t *c)
{
    /* (a lingering connection drops what it reads: its own bounds end it) */
    return !c->_lingering && event_pending(c->_rev, EV_READ, NULL) && unread(c);
}

/* ---- the partial message ---- */

void
tc_idle_describe_partial(const tc_conn_t *c, char *buf, size_t size)
{
    const uint8_t *d = c->_in.data;
    size_t n = c->_in.len;
    const tc_transport_t *t = c->transport;
    char form[120] = "";
    char lack[64] = "";
    if (t != NULL && c->header == NULL) {
        (void)snprintf(form, sizeof(form), ", the start of a %s %s message", t->name,
                       c->protocol->name);
    } else {
        /*
         * not detected yet, or THeader, whose frames are each looked at
         * anew: what the bytes would be on an "auto" port
         */
        tc_detected_t r;
        int rc = n > 0 ? tc_detect(d, n, NULL, &r) : TC_AGAIN;
        if (rc == TC_OK && r.kind == TC_DETECT_HEADER) {
            (void)snprintf(form, sizeof(form), ", the start of a THeader frame");
        } else if (rc == TC_OK) {
            const char *but = c->header == NULL ? ""
                              : c->_s->transport == &tc_transport_header
                                  ? ", but transport is header"
                                  : " on a THeader connection";
            (void)snprintf(form, sizeof(form), ", the start of a %s message%s", tc_detect_name(&r),
                           but);
        } else if (t == NULL && rc == TC_AGAIN) {
            (void)snprintf(form, sizeof(form), ", too few to tell the transport and protocol");
        }
    }
    if ((t == &tc_transport_framed || t == &tc_transport_header) && n < 4) {
        (void)snprintf(lack, sizeof(lack), "; the frame length lacks %zu byte%s", 4 - n,
                       n == 3 ? "" : "s");
    } else if (t == &tc_transport_framed || t == &tc_transport_header) {
        /* (a length over max_frame_size, or under 1, was refused as soon as it was in) */
        uint32_t len = tc_proto_binary_load_be32(d);
        (void)snprintf(lack, sizeof(lack), "; its frame of %" PRIu32 " bytes lacks %llu", len,
                       (unsigned long long)len + 4 - n);
    }
    (void)snprintf(buf, size, "%zu byte%s came%s%s", n, n == 1 ? "" : "s", form, lack);
}

/* SPDX-License-Identifier: Apache-2.0 */
/*
 * What the loop's timers ask of a client connection between its calls
 * (client_timeout's sweep, the end of a stop's wait), and what they say
 * of it when they close it. The connection itself is transport/conn.h.
 */
#ifndef TC_TRANSPORT_IDLE_H
#define TC_TRANSPORT_IDLE_H

#include "transport/conn.h"

#include <stdbool.h>
#include <stddef.h>

/*
 * For client_timeout, when no read or write has moved bytes for a while:
 * true if the kernel still holds reply bytes for the client and the client
 * took some of them since the last time this was asked (the first time it
 * is asked with bytes held, the answer is yes: what was held at the last
 * write is not known without a system call per write); also true when the
 * kernel holds nothing now but held bytes at the last look (the client
 * took the rest, and may be sending its next call this very moment).
 */
bool tc_idle_taking_replies(tc_conn_t *c);

/*
 * For client_timeout, before a close: true while the connection reads (not
 * held back by backpressure, not closing) and the kernel holds bytes of the
 * client's that it has not read yet. The loop was busy (calls of this
 * connection or of another on its thread ran past the timeout), not the
 * client: its read comes first, and the sweep judges it after that.
 */
bool tc_idle_input_waiting(const tc_conn_t *c);

/*
 * What the partial message now buffered is, for the line that closes the
 * connection on it: how many bytes came, what they start (the transport
 * and protocol, or a kind the connection's transport does not take) and,
 * framed or THeader, how many bytes its frame or frame length lacks, as
 * in "5 bytes came, the start of a framed binary message, but transport
 * is header; its frame of 29 bytes lacks 28". Writes a NUL-terminated text
 * to 'buf', cut to 'size' bytes. The owner loop's thread.
 */
void tc_idle_describe_partial(const tc_conn_t *c, char *buf, size_t size);

#endif /* TC_TRANSPORT_IDLE_H */

/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Unit tests for transport/conn.c: a connection over a socketpair on its own
 * event base, fed whole messages and messages in pieces.
 */
#include "sample_call.h"
#include "tc_test.h"

#include "core/buf.h"
#include "transport/conn.h"

#include <event2/event.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>

typedef struct fixture {
    struct event_base *base;
    int client; /* the peer's end of the socketpair */
    tc_conn_t *c;
    tc_conn_settings_t s;
    size_t messages;  /* handed to the owner */
    size_t bytes;     /* their lengths added up */
    size_t reply_len; /* bytes of reply each message gets (0: none) */
    bool closed;
} fixture_t;

static int
on_message(tc_conn_t *c, const uint8_t *msg, size_t len, tc_buf_t *out, void *arg)
{
    (void)c;
    (void)msg;
    fixture_t *f = arg;
    f->messages++;
    f->bytes += len;
    if (f->reply_len > 0) {
        tc_buf_reserve(out, f->reply_len);
        for (size_t i = 0; i < f->reply_len; i++) {
            out->data[out->len + i] = (uint8_t)(i % 251);
        }
        out->len += f->reply_len;
    }
    return TC_OK;
}

static void
on_closed(tc_conn_t *c, void *arg)
{
    (void)c;
    fixture_t *f = arg;
    f->closed = true;
}

static const tc_conn_handler_t handler = {on_message, on_closed};

/* A connection speaking 't' and 'p' (set before the first byte, as a fixed config does). */
static void
start(fixture_t *f, const tc_transport_t *t, const tc_proto_ops_t *p)
{
    memset(f, 0, sizeof(*f));
    int sv[2];
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
    assert_int_equal(evutil_make_socket_nonblocking(sv[0]), 0);
    f->base = event_base_new();
    assert_non_null(f->base);
    f->client = sv[1];
    f->s.transport = t;
    f->s.protocol = p;
    f->s.max_frame_size = 4u << 20;
    f->s.max_message_size = 4u << 20;
    f->s.handler = &handler;
    f->c = tc_conn_new(f->base, sv[0], "test", &f->s, f);
}

static void
stop(fixture_t *f)
{
    if (!f->closed) {
        tc_conn_close(f->c, NULL);
    }
    assert_true(f->closed);
    close(f->client);
    event_base_free(f->base);
}

/* The client sends 'len' bytes, and the connection's loop reads them. */
static void
send_bytes(fixture_t *f, const uint8_t *data, size_t len)
{
    assert_int_equal(write(f->client, data, len), (ssize_t)len);
    assert_int_equal(event_base_loop(f->base, EVLOOP_NONBLOCK), 0);
    assert_false(f->closed);
}

/* Buffered messages that each arrive whole, alone or several to a read: no skip state. */
static void
test_whole_messages_no_skip_state(void **state)
{
    (void)state;
    for (size_t i = 0; i < TC_ARRAY_LEN(sample_formats); i++) {
        tc_buf_t out;
        tc_buf_init(&out);
        tc_proto_t p;
        tc_proto_init(&p, sample_formats[i], NULL, 0, &out);
        write_sample_call(&p, 1);
        size_t one = out.len;
        write_sample_call(&p, 2);
        write_sample_call(&p, 3);
        fixture_t f;
        start(&f, &tc_transport_buffered, sample_formats[i]);
        send_bytes(&f, out.data, out.len);
        for (size_t at = 0; at < out.len; at += one) {
            send_bytes(&f, out.data + at, one);
        }
        assert_int_equal(f.messages, 6);
        assert_int_equal(f.bytes, 2 * out.len);
        assert_null(f.c->_skip);
        stop(&f);
        tc_buf_deinit(&out);
    }
}

/*
 * The first message in pieces makes the state, at the start of the input or
 * after whole messages in the same read; it is kept, and set back after
 * each message.
 */
static void
test_pieces_make_skip_state_once(void **state)
{
    (void)state;
    for (size_t i = 0; i < TC_ARRAY_LEN(sample_formats); i++) {
        tc_buf_t out;
        tc_buf_init(&out);
        tc_proto_t p;
        tc_proto_init(&p, sample_formats[i], NULL, 0, &out);
        write_sample_call(&p, 1);
        size_t one = out.len;
        write_sample_call(&p, 2);
        for (size_t cut = 1; cut < out.len; cut++) {
            fixture_t f;
            start(&f, &tc_transport_buffered, sample_formats[i]);
            send_bytes(&f, out.data, cut);
            assert_int_equal(f.messages, cut >= one ? 1 : 0);
            size_t sent = cut;
            if (cut == one) {
                /* one whole message: no state until the next one is cut */
                assert_null(f.c->_skip);
                send_bytes(&f, out.data + sent, 1);
                sent++;
            }
            tc_proto_skip_state_t *st = f.c->_skip;
            assert_non_null(st);
            send_bytes(&f, out.data + sent, out.len - sent);
            assert_int_equal(f.messages, 2);
            assert_ptr_equal(f.c->_skip, st);
            assert_int_equal(st->pos, 0);
            assert_int_equal(st->top, 0);
            /* a message cut at every byte after that one goes on with the same state */
            for (size_t at = 0; at < one; at++) {
                send_bytes(&f, out.data + at, 1);
            }
            assert_int_equal(f.messages, 3);
            assert_int_equal(f.bytes, 3 * one);
            assert_ptr_equal(f.c->_skip, st);
            stop(&f);
        }
        tc_buf_deinit(&out);
    }
}

/* Framed messages in pieces: the length says where they end; nothing is skipped. */
static void
test_framed_no_skip_state(void **state)
{
    (void)state;
    static const uint8_t frame[] = {0, 0, 0, 3, 'a', 'b', 'c'};
    fixture_t f;
    start(&f, &tc_transport_framed, &tc_proto_binary);
    for (size_t at = 0; at < sizeof(frame); at++) {
        send_bytes(&f, frame + at, 1);
    }
    send_bytes(&f, frame, sizeof(frame));
    assert_int_equal(f.messages, 2);
    assert_int_equal(f.bytes, 6);
    assert_null(f.c->_skip);
    stop(&f);
}

/* ---- the work of a message in pieces ---- */

/* A call whose argument is a list of 'n' structs, each a string and an i64. */
static void
write_big_call(tc_proto_t *p, uint32_t n)
{
    const tc_proto_ops_t *ops = p->ops;
    ops->write_message_begin(p, "put", 3, TC_MSG_CALL, 7);
    ops->write_struct_begin(p);
    ops->write_field_begin(p, TC_TTYPE_LIST, 1);
    ops->write_list_begin(p, TC_TTYPE_STRUCT, n);
    for (uint32_t i = 0; i < n; i++) {
        ops->write_struct_begin(p);
        ops->write_field_begin(p, TC_TTYPE_STRING, 1);
        ops->write_binary(p, "element", 7);
        ops->write_field_begin(p, TC_TTYPE_I64, 2);
        ops->write_i64(p, (int64_t)i << 40);
        ops->write_field_stop(p);
        ops->write_struct_end(p);
    }
    ops->write_field_stop(p);
    ops->write_struct_end(p);
}

/*
 * A 1 MiB message sent 100 bytes at a time, the first piece scanned before
 * the connection has a skip state: the whole costs what one scan of the
 * message costs plus a few reader calls per piece, not a walk over what was
 * buffered before each piece.
 */
static void
test_pieces_linear_work(void **state)
{
    (void)state;
    for (size_t i = 0; i < TC_ARRAY_LEN(sample_formats); i++) {
        tc_proto_ops_t ops = counting(sample_formats[i]);
        tc_buf_t out;
        tc_buf_init(&out);
        tc_proto_t p;
        tc_proto_init(&p, sample_formats[i], NULL, 0, &out);
        write_big_call(&p, sample_formats[i] == &tc_proto_binary ? 48000 : 65536);
        assert_in_range(out.len, 1u << 20, 2u << 20);
        size_t off;
        size_t len;
        reads = 0;
        assert_int_equal(tc_transport_buffered.scan(&ops, out.data, out.len, 4u << 20, &off, &len),
                         TC_OK);
        assert_int_equal(len, out.len);
        unsigned long once = reads;
        fixture_t f;
        start(&f, &tc_transport_buffered, &ops);
        reads = 0;
        unsigned long pieces = 0;
        for (size_t at = 0; at < out.len; at += 100) {
            send_bytes(&f, out.data + at, out.len - at < 100 ? out.len - at : 100);
            pieces++;
        }
        assert_int_equal(f.messages, 1);
        assert_int_equal(f.bytes, out.len);
        assert_true(reads >= once);
        assert_true(reads <= once + 4 * pieces);
        stop(&f);
        tc_buf_deinit(&out);
    }
}

/* ---- graceful stop ---- */

/* A buffered binary connection for the stop tests, and one call of the sample in 'call'. */
static void
start_stop_test(fixture_t *f, tc_buf_t *call)
{
    tc_buf_init(call);
    tc_proto_t p;
    tc_proto_init(&p, &tc_proto_binary, NULL, 0, call);
    write_sample_call(&p, 1);
    start(f, &tc_transport_buffered, &tc_proto_binary);
}

/*
 * The loop runs once; the client's bytes (if any) are read and handled.
 * 1: no event left, the connection closed.
 */
static void
run_once(fixture_t *f)
{
    assert_in_range(event_base_loop(f->base, EVLOOP_NONBLOCK), 0, 1);
}

/* A connection that made its calls and is idle, with nothing unread: closed at once. */
static void
test_stop_closes_an_idle_connection(void **state)
{
    (void)state;
    tc_buf_t call;
    fixture_t f;
    start_stop_test(&f, &call);
    send_bytes(&f, call.data, call.len);
    assert_int_equal(f.messages, 1);
    tc_conn_close_when_done(f.c);
    assert_true(f.closed);
    stop(&f);
    tc_buf_deinit(&call);
}

/*
 * One that has sent nothing yet is waiting to send its first call: kept,
 * and closed right after that call; or by tc_conn_close_if_idle() if the
 * call never comes.
 */
static void
test_stop_waits_for_a_first_call(void **state)
{
    (void)state;
    tc_buf_t call;
    fixture_t f;
    start_stop_test(&f, &call);
    tc_conn_close_when_done(f.c);
    assert_false(f.closed);
    assert_int_equal(write(f.client, call.data, call.len), (ssize_t)call.len);
    run_once(&f);
    assert_int_equal(f.messages, 1);
    assert_true(f.closed);
    stop(&f);

    start(&f, &tc_transport_buffered, &tc_proto_binary);
    tc_conn_close_when_done(f.c);
    run_once(&f);
    assert_false(f.closed);
    tc_conn_close_if_idle(f.c);
    assert_true(f.closed);
    stop(&f);
    tc_buf_deinit(&call);
}

/*
 * A call the kernel holds but the loop has not read yet (the stop came
 * first) was sent before the close: it is read and handled, not reset,
 * even at the end of the wait.
 */
static void
test_stop_reads_what_the_kernel_holds(void **state)
{
    (void)state;
    tc_buf_t call;
    fixture_t f;
    start_stop_test(&f, &call);
    send_bytes(&f, call.data, call.len);
    assert_int_equal(write(f.client, call.data, call.len), (ssize_t)call.len);
    tc_conn_close_when_done(f.c);
    assert_false(f.closed);
    tc_conn_close_if_idle(f.c);
    assert_false(f.closed);
    run_once(&f);
    assert_int_equal(f.messages, 2);
    assert_true(f.closed);
    stop(&f);
    tc_buf_deinit(&call);
}

/*
 * A client that sends its calls and shuts its sending side, then reads:
 * the end of its input comes while a reply is still on its way out (more
 * than the socket buffers hold). The reply is written whole, then the
 * connection closes; the end of input is no reason to drop it.
 */
static void
test_half_close_gets_every_reply(void **state)
{
    (void)state;
    tc_buf_t call;
    fixture_t f;
    start_stop_test(&f, &call);
    f.reply_len = 4u << 20;
    assert_int_equal(write(f.client, call.data, call.len), (ssize_t)call.len);
    assert_int_equal(shutdown(f.client, SHUT_WR), 0);
    for (int i = 0; i < 4; i++) {
        run_once(&f); /* the call, then the end of input */
    }
    assert_int_equal(f.messages, 1);
    assert_false(f.closed);
    size_t got = 0;
    bool right = true;
    uint8_t chunk[65536];
    for (int spins = 0; spins < 100000; spins++) {
        ssize_t n = read(f.client, chunk, sizeof(chunk));
        if (n == 0) {
            break;
        }
        if (n > 0) {
            for (ssize_t k = 0; k < n; k++) {
                right = right && chunk[k] == (uint8_t)((got + (size_t)k) % 251);
            }
            got += (size_t)n;
        }
        run_once(&f);
    }
    assert_int_equal(got, f.reply_len);
    assert_true(right);
    assert_true(f.closed);
    stop(&f);
    tc_buf_deinit(&call);
}

/*
 * A client that keeps calling while it reads its replies slowly, so that
 * some reply is always still on its way: the output buffer keeps what is
 * pending, not all it ever sent (32 MiB of replies here, the buffer stays
 * within a few MiB).
 */
static void
test_slow_reader_output_stays_bounded(void **state)
{
    (void)state;
    tc_buf_t call;
    fixture_t f;
    start_stop_test(&f, &call);
    f.reply_len = 256u << 10;
    uint8_t chunk[65536];
    size_t got = 0;
    for (int i = 0; i < 128; i++) {
        assert_int_equal(write(f.client, call.data, call.len), (ssize_t)call.len);
        run_once(&f);
        for (int k = 0; k < 4; k++) { /* 240 of each 256 KiB: never all of it */
            ssize_t n = read(f.client, chunk, 60u << 10);
            got += n > 0 ? (size_t)n : 0;
            run_once(&f);
        }
    }
    assert_int_equal(f.messages, 128);
    assert_true(got > 16u << 20);
    assert_true(f.c->_out.cap <= (8u << 20));
    stop(&f);
    tc_buf_deinit(&call);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_whole_messages_no_skip_state),
        cmocka_unit_test(test_pieces_make_skip_state_once),
        cmocka_unit_test(test_framed_no_skip_state),
        cmocka_unit_test(test_pieces_linear_work),
        cmocka_unit_test(test_stop_closes_an_idle_connection),
        cmocka_unit_test(test_stop_waits_for_a_first_call),
        cmocka_unit_test(test_stop_reads_what_the_kernel_holds),
        cmocka_unit_test(test_half_close_gets_every_reply),
        cmocka_unit_test(test_slow_reader_output_stays_bounded),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

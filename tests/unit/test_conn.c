/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Unit tests for transport/conn.c, linger.c and idle.c: a connection over
 * a socketpair on its own event base, fed whole messages and messages in
 * pieces; what a THeader connection logs and tells the client when it
 * refuses a frame; the replies owed before bad input, and the lingering
 * close after them; the buffers it keeps between messages.
 */
#include "sample_call.h"
#include "tc_test.h"

#include "core/buf.h"
#include "core/clock.h"
#include "core/log.h"
#include "protocol/message.h"
#include "transport/conn.h"
#include "transport/idle.h"

#include <event2/event.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

typedef struct fixture {
    struct event_base *base;
    int client; /* the peer's end of the socketpair */
    tc_conn_t *c;
    tc_conn_settings_t s;
    size_t messages;  /* handed to the owner */
    size_t bytes;     /* their lengths added up */
    size_t reply_len; /* bytes of reply each message gets (0: none) */
    size_t bad;       /* the message that is invalid (1: the first; 0: none) */
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
    if (f->messages == f->bad) {
        return TC_EPROTO;
    }
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

/* 'n' bytes of whole replies of on_message(), each 'len' long. */
static bool
reply_bytes_each(const uint8_t *p, size_t n, size_t len)
{
    if (len == 0 || n % len != 0) {
        return false;
    }
    for (size_t i = 0; i < n; i++) {
        if (p[i] != (uint8_t)((i % len) % 251)) {
            return false;
        }
    }
    return true;
}

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
    tc_conn_close_if_idle(f.c, 0.5);
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
    tc_conn_close_if_idle(f.c, 0.5);
    assert_false(f.closed);
    run_once(&f);
    assert_int_equal(f.messages, 2);
    assert_true(f.closed);
    stop(&f);
    tc_buf_deinit(&call);
}

/*
 * Run the loop until the connection closes by itself (a lingering one
 * looks every 50 ms whether the client took all), for at most 2 s.
 */
static void
run_until_closed(fixture_t *f)
{
    double until = tc_clock_mono_s() + 2.0;
    while (!f->closed && tc_clock_mono_s() < until) {
        run_once(f);
        usleep(1000);
    }
    assert_true(f->closed);
}

static void read_to_end(fixture_t *f, tc_buf_t *got);

/* What the client reads up to the end of the stream: a reset fails the test. */
static size_t
client_reads_to_end(fixture_t *f)
{
    tc_buf_t got;
    tc_buf_init(&got);
    read_to_end(f, &got);
    assert_true(reply_bytes_each(got.data, got.len, f->reply_len));
    size_t n = got.len / f->reply_len;
    tc_buf_deinit(&got);
    return n;
}

/*
 * A stop answers the calls read and those the kernel held for the
 * connection when it came, and reads nothing sent after them: that call is
 * dropped, unanswered, and the client, whose replies the kernel still
 * holds, is not reset (a close with its bytes unread would destroy them):
 * it reads its replies, then the end of the stream. The connection then
 * closes without waiting for the client to close.
 */
static void
test_stop_drops_calls_sent_after_it(void **state)
{
    (void)state;
    tc_buf_t call;
    fixture_t f;
    start_stop_test(&f, &call);
    f.reply_len = 50;
    send_bytes(&f, call.data, call.len);
    assert_int_equal(write(f.client, call.data, call.len), (ssize_t)call.len);
    tc_conn_close_when_done(f.c);
    run_once(&f);
    assert_int_equal(f.messages, 2);
    assert_false(f.closed); /* the client has not taken its replies */
    assert_int_equal(write(f.client, call.data, call.len), (ssize_t)call.len);
    run_once(&f);
    assert_int_equal(f.messages, 2);
    assert_int_equal(client_reads_to_end(&f), 2);
    run_until_closed(&f);
    assert_int_equal(f.messages, 2);
    stop(&f);
    tc_buf_deinit(&call);

    /* idle at the stop, its reply not taken yet: the same */
    start_stop_test(&f, &call);
    f.reply_len = 50;
    send_bytes(&f, call.data, call.len);
    tc_conn_close_when_done(f.c);
    assert_false(f.closed);
    assert_int_equal(write(f.client, call.data, call.len), (ssize_t)call.len);
    run_once(&f);
    assert_int_equal(f.messages, 1);
    assert_int_equal(client_reads_to_end(&f), 1);
    run_until_closed(&f);
    stop(&f);
    tc_buf_deinit(&call);

    /* its reply taken: nothing in flight, closed at once */
    start_stop_test(&f, &call);
    f.reply_len = 50;
    send_bytes(&f, call.data, call.len);
    uint8_t reply[50];
    assert_int_equal(read(f.client, reply, sizeof(reply)), (ssize_t)sizeof(reply));
    tc_conn_close_when_done(f.c);
    assert_true(f.closed);
    stop(&f);
    tc_buf_deinit(&call);
}

/*
 * A client that sends call after call keeps no stop waiting: a message
 * begun before the stop is read to its end and answered; one begun after it
 * is dropped, even when it came in the same read.
 */
static void
test_stop_finishes_the_message_begun_before_it(void **state)
{
    (void)state;
    tc_buf_t call;
    fixture_t f;
    start_stop_test(&f, &call);
    f.reply_len = 50;
    send_bytes(&f, call.data, 10);
    tc_conn_close_when_done(f.c);
    assert_false(f.closed);
    tc_buf_t rest;
    tc_buf_init(&rest);
    tc_buf_append(&rest, call.data + 10, call.len - 10);
    tc_buf_append(&rest, call.data, 10);
    assert_int_equal(write(f.client, rest.data, rest.len), (ssize_t)rest.len);
    run_once(&f);
    assert_int_equal(f.messages, 1);
    assert_int_equal(write(f.client, call.data + 10, call.len - 10), (ssize_t)(call.len - 10));
    run_once(&f);
    assert_int_equal(f.messages, 1);
    assert_int_equal(client_reads_to_end(&f), 1);
    run_until_closed(&f);
    stop(&f);
    tc_buf_deinit(&rest);
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
    assert_int_equal(f.c->_in.cap, 0); /* nothing more is read: the input buffer is freed */
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

/*
 * client_timeout's look at what the kernel holds: a client taking its reply
 * is not silent, up to the look that finds it took the last bytes; only a
 * look that finds nothing taken since the one before says silent.
 */
static void
test_taking_replies(void **state)
{
    (void)state;
    fixture_t f;
    start(&f, &tc_transport_buffered, &tc_proto_binary);
    assert_false(tc_idle_taking_replies(f.c)); /* nothing ever written */
    uint8_t bytes[4096];
    memset(bytes, 7, sizeof(bytes));
    for (int i = 0; i < 4; i++) { /* a unix socket counts what is held by write */
        assert_int_equal(write(f.c->_fd, bytes, 1024), 1024);
    }
    assert_true(tc_idle_taking_replies(f.c));  /* first look with bytes held */
    assert_false(tc_idle_taking_replies(f.c)); /* none taken since */
    assert_int_equal(read(f.client, bytes, 1024), 1024);
    assert_true(tc_idle_taking_replies(f.c));
    assert_false(tc_idle_taking_replies(f.c));
    assert_int_equal(read(f.client, bytes, sizeof(bytes)), 3072);
    assert_true(tc_idle_taking_replies(f.c)); /* took the rest since the last look */
    assert_false(tc_idle_taking_replies(f.c));
    stop(&f);
}

/*
 * client_timeout's look at what the client sent: bytes the kernel holds
 * while the connection reads are waiting for the loop (it was busy), not
 * for the client; calls that backpressure holds back in the kernel are not.
 */
static void
test_input_waiting(void **state)
{
    (void)state;
    tc_buf_t call;
    fixture_t f;
    start_stop_test(&f, &call);
    assert_false(tc_idle_input_waiting(f.c));
    assert_int_equal(write(f.client, call.data, call.len), (ssize_t)call.len);
    assert_true(tc_idle_input_waiting(f.c)); /* the loop has not run */
    run_once(&f);
    assert_int_equal(f.messages, 1);
    assert_false(tc_idle_input_waiting(f.c));

    f.reply_len = 1u << 20; /* no reply is read: past OUT_HIGH_WATER after a few calls */
    for (int i = 0; i < 8; i++) {
        assert_int_equal(write(f.client, call.data, call.len), (ssize_t)call.len);
    }
    for (int spins = 0; spins < 10; spins++) {
        run_once(&f);
    }
    assert_true(f.c->_stalled);
    assert_true(f.messages < 9);
    assert_int_equal(write(f.client, call.data, call.len), (ssize_t)call.len);
    run_once(&f);
    assert_false(tc_idle_input_waiting(f.c)); /* held back, not reading */
    stop(&f);
    tc_buf_deinit(&call);
}

/* ---- THeader: what a refused frame logs, and tells the client ---- */

static char log_path[32];

/* From here on the log goes to a file of its own, empty. */
static void
log_to_file(void)
{
    snprintf(log_path, sizeof(log_path), "/tmp/tc-test-conn-XXXXXX");
    int fd = mkstemp(log_path);
    assert_true(fd >= 0);
    close(fd);
    assert_int_equal(tc_log_open(log_path), TC_OK);
}

/* The log has one line, and it ends with "test: " 'want'; the log is emptied. */
static void
assert_logged(const char *want)
{
    char text[1024];
    FILE *fp = fopen(log_path, "r");
    assert_non_null(fp);
    size_t n = fread(text, 1, sizeof(text) - 1, fp);
    fclose(fp);
    text[n] = '\0';
    char line[300];
    snprintf(line, sizeof(line), "test: %s\n", want);
    const char *at = strstr(text, line);
    if (at == NULL || strchr(text, '\n') != at + strlen(line) - 1 || at[strlen(line)] != '\0') {
        fail_msg("the log is \"%s\", not one line ending with \"%s\"", text, line);
    }
    assert_int_equal(truncate(log_path, 0), 0);
}

/* 'frame' (without its length) behind a THeader length: a frame of 'len' bytes. */
static void
theader(tc_buf_t *out, const uint8_t *frame, size_t len)
{
    uint8_t n[4] = {(uint8_t)(len >> 24), (uint8_t)(len >> 16), (uint8_t)(len >> 8), (uint8_t)len};
    tc_buf_append(out, n, 4);
    tc_buf_append(out, frame, len);
}

/* A THeader frame with protocol id 'proto', 'ntrans' transforms 'trans', a sample call. */
static void
theader_call(tc_buf_t *out, uint8_t proto, const uint8_t *trans, uint8_t ntrans, int32_t seqid)
{
    tc_buf_t f;
    tc_buf_init(&f);
    uint8_t fixed[10] = {0x0F,
                         0xFF,
                         0,
                         0,
                         (uint8_t)(seqid >> 24),
                         (uint8_t)(seqid >> 16),
                         (uint8_t)(seqid >> 8),
                         (uint8_t)seqid,
                         0,
                         1};
    uint8_t block[4] = {proto, ntrans, ntrans > 0 ? trans[0] : 0, 0};
    assert_true(ntrans <= 1);
    tc_buf_append(&f, fixed, sizeof(fixed));
    tc_buf_append(&f, block, sizeof(block));
    tc_proto_t p;
    tc_proto_init(&p, proto == 2 ? &tc_proto_compact : &tc_proto_binary, NULL, 0, &f);
    write_sample_call(&p, seqid);
    theader(out, f.data, f.len);
    tc_buf_deinit(&f);
}

/* What the client is sent until the end of the stream, added to 'got'. */
static void
read_to_end(fixture_t *f, tc_buf_t *got)
{
    for (;;) {
        tc_buf_reserve(got, 4096);
        ssize_t n = read(f->client, got->data + got->len, got->cap - got->len);
        assert_true(n >= 0);
        if (n == 0) {
            break;
        }
        got->len += (size_t)n;
    }
}

/*
 * The client sends 'len' bytes and the connection ends: the server writes
 * what it owes and shuts its side, lingering (what the client was sent, up
 * to the end of the stream, is in 'got'); it closes once the client closes
 * its side.
 */
static void
send_until_closed(fixture_t *f, const uint8_t *data, size_t len, tc_buf_t *got)
{
    assert_int_equal(write(f->client, data, len), (ssize_t)len);
    for (int spins = 0; spins < 100 && !f->closed && !f->c->_lingering; spins++) {
        run_once(f);
    }
    assert_false(f->closed);
    assert_true(f->c->_lingering);
    read_to_end(f, got);
    assert_int_equal(shutdown(f->client, SHUT_WR), 0);
    for (int spins = 0; spins < 100 && !f->closed; spins++) {
        run_once(f);
    }
    assert_true(f->closed);
}

/*
 * A frame a THeader connection cannot take says what was wrong: the size
 * and the limit, as framed does; a frame too short; a framed or buffered
 * message where a THeader frame belongs (transport = "header", or a
 * connection detected as THeader).
 */
static void
test_theader_refusals_logged(void **state)
{
    (void)state;
    static const uint8_t over[] = {0x00, 0x40, 0x00, 0x01, 0x0F, 0xFF, 0, 0};
    static const uint8_t short6[] = {0, 0, 0, 6, 0x0F, 0xFF, 0, 0, 0, 0};
    static const uint8_t minus5[] = {0xFF, 0xFF, 0xFF, 0xFB, 0x0F, 0xFF};
    static const uint8_t zero[] = {0, 0, 0, 0, 0x0F, 0xFF};
    static const uint8_t compact5[] = {0, 0, 0, 5, 0x82, 0x21, 0x07, 0x00, 0x00};
    static const struct {
        const uint8_t *bytes;
        size_t len;
        const char *line;
    } cases[] = {
        {over, sizeof(over), "closed: frame of 4194305 bytes over max_frame_size (4194304)"},
        {short6, sizeof(short6), "closed: THeader frame of 6 bytes (must be 10 or more)"},
        {minus5, sizeof(minus5), "closed: frame length -5 (must be 1 or more)"},
        {zero, sizeof(zero), "closed: frame length 0 (must be 1 or more)"},
        {compact5, sizeof(compact5), "closed: a framed compact client, but transport is header"},
    };
    log_to_file();
    for (size_t i = 0; i < TC_ARRAY_LEN(cases); i++) {
        fixture_t f;
        tc_buf_t got;
        tc_buf_init(&got);
        start(&f, &tc_transport_header, NULL);
        send_until_closed(&f, cases[i].bytes, cases[i].len, &got);
        assert_int_equal(got.len, 0);
        assert_logged(cases[i].line);
        stop(&f);
        tc_buf_deinit(&got);
    }
    /* framed and buffered calls, to a THeader server and after a THeader frame */
    for (size_t i = 0; i < TC_ARRAY_LEN(sample_formats); i++) {
        const char *name = sample_formats[i]->name;
        for (int framed = 0; framed < 2; framed++) {
            for (int detected = 0; detected < 2; detected++) {
                tc_buf_t bytes;
                tc_buf_init(&bytes);
                if (detected) {
                    theader_call(&bytes, 0, NULL, 0, 1);
                }
                tc_buf_t call;
                tc_buf_init(&call);
                tc_proto_t p;
                tc_proto_init(&p, sample_formats[i], NULL, 0, &call);
                write_sample_call(&p, 2);
                if (framed) {
                    theader(&bytes, call.data, call.len);
                } else {
                    tc_buf_append(&bytes, call.data, call.len);
                }
                fixture_t f;
                tc_buf_t got;
                tc_buf_init(&got);
                start(&f, detected ? NULL : &tc_transport_header, NULL);
                send_until_closed(&f, bytes.data, bytes.len, &got);
                assert_int_equal(f.messages, (size_t)detected);
                char line[200];
                snprintf(line, sizeof(line),
                         detected ? "closed: a %s %s message on a THeader connection"
                                  : "closed: a %s %s client, but transport is header",
                         framed ? "framed" : "buffered", name);
                assert_logged(line);
                stop(&f);
                tc_buf_deinit(&got);
                tc_buf_deinit(&call);
                tc_buf_deinit(&bytes);
            }
        }
    }
    assert_int_equal(tc_log_open("-"), TC_OK);
    unlink(log_path);
}

/*
 * A THeader client where transport and protocol are both fixed (framed or
 * buffered) is closed from its first bytes with a line that names it, as
 * with either setting "auto". Read as a framed message, its frame was
 * "invalid message header (over a configured limit)"; read as a buffered
 * one, a name that swallowed the frame, then a wait for the client's
 * timeout. A call of the fixed kind is still handled, also sent a byte at
 * a time (its kind is known from 5 bytes at most).
 */
static void
test_fixed_settings_refuse_theader(void **state)
{
    (void)state;
    log_to_file();
    const tc_transport_t *transports[] = {&tc_transport_framed, &tc_transport_buffered};
    for (size_t t = 0; t < TC_ARRAY_LEN(transports); t++) {
        for (size_t i = 0; i < TC_ARRAY_LEN(sample_formats); i++) {
            for (uint8_t proto = 0; proto <= 2; proto += 2) {
                tc_buf_t bytes;
                tc_buf_init(&bytes);
                theader_call(&bytes, proto, NULL, 0, 1);
                fixture_t f;
                start(&f, transports[t], sample_formats[i]);
                assert_int_equal(write(f.client, bytes.data, bytes.len), (ssize_t)bytes.len);
                for (int spins = 0; spins < 100 && !f.closed; spins++) {
                    run_once(&f);
                }
                assert_true(f.closed);
                assert_int_equal(f.messages, 0);
                char line[200];
                snprintf(line, sizeof(line),
                         "closed: a header client, but transport is %s and protocol %s",
                         transports[t]->name, sample_formats[i]->name);
                assert_logged(line);
                stop(&f);
                tc_buf_deinit(&bytes);
            }
            /* a call of the fixed kind */
            tc_buf_t call;
            tc_buf_init(&call);
            tc_proto_t p;
            tc_proto_init(&p, sample_formats[i], NULL, 0, &call);
            write_sample_call(&p, 2);
            tc_buf_t bytes;
            tc_buf_init(&bytes);
            if (transports[t] == &tc_transport_framed) {
                theader(&bytes, call.data, call.len); /* (a length, then the call) */
            } else {
                tc_buf_append(&bytes, call.data, call.len);
            }
            fixture_t f;
            start(&f, transports[t], sample_formats[i]);
            for (size_t at = 0; at < bytes.len; at++) {
                send_bytes(&f, bytes.data + at, 1);
            }
            assert_int_equal(f.messages, 1);
            assert_ptr_equal(f.c->transport, transports[t]);
            assert_ptr_equal(f.c->protocol, sample_formats[i]);
            stop(&f);
            tc_buf_deinit(&bytes);
            tc_buf_deinit(&call);
        }
    }
    assert_int_equal(tc_log_open("-"), TC_OK);
    unlink(log_path);
}

/* The next reply frame in [*p, end): its message read into 'm', the frame into 'h'. */
static const uint8_t *
next_reply(tc_header_t *h, const uint8_t *p, const uint8_t *end, tc_proto_t *in, tc_msg_hdr_t *m)
{
    size_t off;
    size_t len;
    assert_int_equal(tc_transport_header.scan(NULL, p, (size_t)(end - p), 1u << 20, &off, &len),
                     TC_OK);
    const char *why = NULL;
    assert_int_equal(tc_header_read(h, p + off, len, 1u << 20, &why), TC_OK);
    assert_int_equal(h->ntransforms, 0);
    tc_proto_init(in, h->protocol, h->payload, h->payload_len, NULL);
    if (m != NULL) {
        assert_int_equal(h->protocol->read_message_begin(in, m), TC_OK);
    }
    return p + off + len;
}

/*
 * A THeader frame naming a protocol id or a transform thriftcorn lacks: the
 * client is told, in a TApplicationException (INVALID_PROTOCOL,
 * INVALID_TRANSFORM) in a THeader frame with the frame's sequence id, after
 * the replies it was owed; then the connection closes, and what came after
 * the frame is not handled.
 */
static void
test_theader_refusal_told(void **state)
{
    (void)state;
    static const uint8_t snappy = 3;
    static const uint8_t zlib = 1;
    static const struct {
        uint8_t proto;
        uint8_t transform; /* 0: none */
        const tc_proto_ops_t *reply_proto;
        int32_t type;
        const char *text;
    } cases[] = {
        {2, snappy, &tc_proto_compact, TC_APPEX_INVALID_TRANSFORM, "Unknown transform: 3"},
        {0, snappy, &tc_proto_binary, TC_APPEX_INVALID_TRANSFORM, "Unknown transform: 3"},
        {5, 0, &tc_proto_binary, TC_APPEX_INVALID_PROTOCOL, "Unknown protocol id: 5"},
        {1, zlib, &tc_proto_binary, TC_APPEX_INVALID_PROTOCOL, "Unknown protocol id: 1"},
    };
    log_to_file();
    for (size_t i = 0; i < TC_ARRAY_LEN(cases); i++) {
        tc_buf_t bytes;
        tc_buf_init(&bytes);
        theader_call(&bytes, 2, NULL, 0, 3); /* a good call first: its reply is owed */
        theader_call(&bytes, cases[i].proto, &cases[i].transform, cases[i].transform != 0, 9);
        theader_call(&bytes, 0, NULL, 0, 4); /* never handled */
        fixture_t f;
        tc_buf_t got;
        tc_buf_init(&got);
        start(&f, i % 2 == 0 ? &tc_transport_header : NULL, NULL);
        f.reply_len = 300;
        send_until_closed(&f, bytes.data, bytes.len, &got);
        assert_int_equal(f.messages, 1);
        tc_header_t h;
        tc_header_init(&h);
        tc_proto_t in;
        const uint8_t *p = next_reply(&h, got.data, got.data + got.len, &in, NULL);
        assert_int_equal(h.seqid, 3);
        assert_int_equal(h.payload_len, 300);
        tc_msg_hdr_t m;
        p = next_reply(&h, p, got.data + got.len, &in, &m);
        assert_ptr_equal(p, got.data + got.len);
        assert_int_equal(h.seqid, 9);
        assert_ptr_equal(h.protocol, cases[i].reply_proto);
        assert_int_equal(h.nreply_info, 0);
        assert_int_equal(m.type, TC_MSG_EXCEPTION);
        assert_int_equal(m.seqid, 9);
        assert_int_equal(m.name_len, 0);
        tc_appex_t ex;
        assert_int_equal(tc_message_read_appex(&in, &ex), TC_OK);
        assert_int_equal(ex.type, cases[i].type);
        assert_int_equal(ex.message_len, strlen(cases[i].text));
        assert_memory_equal(ex.message, cases[i].text, ex.message_len);
        char line[64];
        snprintf(line, sizeof(line), "invalid THeader frame: unsupported %s %s",
                 cases[i].type == TC_APPEX_INVALID_PROTOCOL ? "protocol id" : "transform",
                 strrchr(cases[i].text, ' ') + 1);
        assert_logged(line);
        tc_header_deinit(&h);
        stop(&f);
        tc_buf_deinit(&got);
        tc_buf_deinit(&bytes);
    }
    assert_int_equal(tc_log_open("-"), TC_OK);
    unlink(log_path);
}

/*
 * What a partial message is, for the line of a client_timeout that cuts
 * it: a framed or buffered client's first bytes on a THeader port name
 * what they start and what the frame length or frame lacks, as do a
 * THeader frame's, a framed or buffered one's on its own port, and bytes
 * too few to detect anything from.
 */
static void
test_partial_described(void **state)
{
    (void)state;
    enum { HEADER, AFTER_THEADER, FRAMED, BUFFERED, AUTO };
    static const struct {
        int port; /* transport = "header", "auto" after a THeader frame, ... */
        const char *bytes;
        size_t len;
        const char *want;
    } cases[] = {
        {HEADER, "\0\0\0\x1d\x80", 5,
         "5 bytes came, the start of a framed binary message, but transport is header; "
         "its frame of 29 bytes lacks 28"},
        {HEADER, "\x80", 1,
         "1 byte came, the start of a buffered binary message, but transport is header; "
         "the frame length lacks 3 bytes"},
        {HEADER, "\x82\x21\x07", 3,
         "3 bytes came, the start of a buffered compact message, but transport is header; "
         "the frame length lacks 1 byte"},
        {HEADER, "\0\0\0\x28\x82\x21", 6,
         "6 bytes came, the start of a framed compact message, but transport is header; "
         "its frame of 40 bytes lacks 38"},
        {HEADER, "\0\0\0\x28\x0f\xff\0\0", 8,
         "8 bytes came, the start of a THeader frame; its frame of 40 bytes lacks 36"},
        {HEADER, "\0\0", 2, "2 bytes came; the frame length lacks 2 bytes"},
        {AFTER_THEADER, "\0\0\0\x1d\x80", 5,
         "5 bytes came, the start of a framed binary message on a THeader connection; "
         "its frame of 29 bytes lacks 28"},
        {FRAMED, "\0\0\0\x1d\x80\x01\0\x01", 8,
         "8 bytes came, the start of a framed binary message; its frame of 29 bytes lacks 25"},
        {BUFFERED, "\x82\x21\x07", 3, "3 bytes came, the start of a buffered compact message"},
        {AUTO, "\0\0\0", 3, "3 bytes came, too few to tell the transport and protocol"},
    };
    static const struct {
        const tc_transport_t *t;
        const tc_proto_ops_t *p;
    } ports[] = {
        [HEADER] = {&tc_transport_header, NULL},
        [AFTER_THEADER] = {NULL, NULL},
        [FRAMED] = {&tc_transport_framed, &tc_proto_binary},
        [BUFFERED] = {&tc_transport_buffered, &tc_proto_compact},
        [AUTO] = {NULL, NULL},
    };
    for (size_t i = 0; i < TC_ARRAY_LEN(cases); i++) {
        fixture_t f;
        start(&f, ports[cases[i].port].t, ports[cases[i].port].p);
        bool after_theader = cases[i].port == AFTER_THEADER;
        if (after_theader) {
            tc_buf_t frame;
            tc_buf_init(&frame);
            theader_call(&frame, 0, NULL, 0, 1);
            send_bytes(&f, frame.data, frame.len);
            tc_buf_deinit(&frame);
            assert_int_equal(f.messages, 1);
        }
        send_bytes(&f, (const uint8_t *)cases[i].bytes, cases[i].len);
        assert_int_equal(f.messages, after_theader ? 1 : 0);
        assert_true(f.c->msg_since != 0.0); /* a message is begun: client_timeout times it */
        char got[256];
        tc_idle_describe_partial(f.c, got, sizeof(got));
        assert_string_equal(got, cases[i].want);
        /* cut to the size given, NUL-terminated */
        char small[12];
        tc_idle_describe_partial(f.c, small, sizeof(small));
        assert_int_equal(strlen(small), sizeof(small) - 1);
        assert_memory_equal(small, cases[i].want, sizeof(small) - 1);
        stop(&f);
    }
}

/* ---- bad input: the replies owed, then a lingering close ---- */

static const uint8_t frame3[] = {0, 0, 0, 3, 'a', 'b', 'c'};
static const uint8_t over_frame[] = {0x00, 0x40, 0x00, 0x01}; /* 4 MiB + 1 */

/* 'n' bytes that follow the reply bytes of on_message() from 'at' on. */
static bool
reply_bytes(const uint8_t *p, size_t n, size_t at)
{
    for (size_t i = 0; i < n; i++) {
        if (p[i] != (uint8_t)((at + i) % 251)) {
            return false;
        }
    }
    return true;
}

/*
 * Calls and, in the same write, a frame over max_frame_size (with bytes
 * after it) or a message the owner finds invalid: the calls before it are
 * answered, then the stream ends (nothing after it is handled); the
 * connection closes when the client closes. One log line, as before.
 */
static void
test_bad_input_answers_the_calls_before(void **state)
{
    (void)state;
    log_to_file();
    for (int invalid = 0; invalid < 2; invalid++) {
        tc_buf_t bytes;
        tc_buf_init(&bytes);
        for (int i = 0; i < 3; i++) {
            tc_buf_append(&bytes, frame3, sizeof(frame3));
        }
        if (invalid) {
            tc_buf_append(&bytes, frame3, sizeof(frame3)); /* the owner refuses it */
            tc_buf_append(&bytes, frame3, sizeof(frame3));
        } else {
            tc_buf_append(&bytes, over_frame, sizeof(over_frame));
            tc_buf_append(&bytes, frame3, sizeof(frame3));
        }
        fixture_t f;
        tc_buf_t got;
        tc_buf_init(&got);
        start(&f, &tc_transport_framed, &tc_proto_binary);
        f.reply_len = 100;
        f.bad = invalid ? 4 : 0;
        send_until_closed(&f, bytes.data, bytes.len, &got);
        assert_int_equal(f.messages, invalid ? 4 : 3);
        assert_int_equal(got.len, 300);
        assert_true(reply_bytes(got.data, 100, 0));
        assert_true(reply_bytes(got.data + 200, 100, 0));
        if (invalid) {
            /* (the owner logs why, not the connection) */
            struct stat st;
            assert_int_equal(stat(log_path, &st), 0);
            assert_int_equal(st.st_size, 0);
        } else {
            assert_logged("closed: frame of 4194305 bytes over max_frame_size (4194304)");
        }
        stop(&f);
        tc_buf_deinit(&got);
        tc_buf_deinit(&bytes);
    }
    assert_int_equal(tc_log_open("-"), TC_OK);
    unlink(log_path);
}

/*
 * Bad input behind calls held back by backpressure (the client reads no
 * reply for a while): once the client reads, the calls before it are
 * answered and the connection lingers; calls the client sent after it are
 * never handled, however the loop woke up.
 */
static void
test_bad_input_behind_backpressure(void **state)
{
    (void)state;
    log_to_file();
    tc_buf_t bytes;
    tc_buf_init(&bytes);
    for (int i = 0; i < 6; i++) {
        tc_buf_append(&bytes, frame3, sizeof(frame3));
    }
    tc_buf_append(&bytes, over_frame, sizeof(over_frame));
    fixture_t f;
    start(&f, &tc_transport_framed, &tc_proto_binary);
    f.reply_len = 1u << 20;
    send_bytes(&f, bytes.data, bytes.len);
    for (int spins = 0; spins < 10; spins++) {
        run_once(&f);
    }
    assert_true(f.c->_stalled);
    assert_true(f.messages < 6);
    /* sent after the bad frame, while the connection is held back */
    for (int i = 0; i < 2; i++) {
        assert_int_equal(write(f.client, frame3, sizeof(frame3)), (ssize_t)sizeof(frame3));
    }
    tc_buf_t got;
    tc_buf_init(&got);
    uint8_t chunk[65536];
    for (int spins = 0; spins < 100000 && !f.c->_lingering && !f.closed; spins++) {
        ssize_t n = read(f.client, chunk, sizeof(chunk));
        if (n > 0) {
            tc_buf_append(&got, chunk, (size_t)n);
        }
        run_once(&f);
    }
    assert_false(f.closed);
    assert_true(f.c->_lingering);
    read_to_end(&f, &got);
    assert_int_equal(f.messages, 6);
    assert_int_equal(got.len, 6u << 20);
    assert_logged("closed: frame of 4194305 bytes over max_frame_size (4194304)");
    assert_int_equal(shutdown(f.client, SHUT_WR), 0);
    for (int spins = 0; spins < 100 && !f.closed; spins++) {
        run_once(&f);
    }
    assert_int_equal(f.messages, 6);
    stop(&f);
    tc_buf_deinit(&got);
    tc_buf_deinit(&bytes);
    assert_int_equal(tc_log_open("-"), TC_OK);
    unlink(log_path);
}

/* A framed connection sent a frame over max_frame_size: lingering, the stream's end read. */
static void
start_lingering(fixture_t *f)
{
    start(f, &tc_transport_framed, &tc_proto_binary);
    assert_int_equal(write(f->client, over_frame, sizeof(over_frame)), sizeof(over_frame));
    run_once(f);
    assert_false(f->closed);
    assert_true(f->c->_lingering);
    tc_buf_t got;
    tc_buf_init(&got);
    read_to_end(f, &got);
    assert_int_equal(got.len, 0);
    tc_buf_deinit(&got);
}

/*
 * Lingering, what the client sends is read and dropped, never handled, up
 * to 16 MiB: a client that sends on past that is closed.
 */
static void
test_linger_bytes_bounded(void **state)
{
    (void)state;
    fixture_t f;
    start_lingering(&f);
    static uint8_t chunk[16384];
    memset(chunk, 0, sizeof(chunk));
    memcpy(chunk, frame3, sizeof(frame3));
    size_t sent = 0;
    while (!f.closed && sent < (32u << 20)) {
        ssize_t n = send(f.client, chunk, sizeof(chunk), MSG_NOSIGNAL | MSG_DONTWAIT);
        sent += n > 0 ? (size_t)n : 0;
        run_once(&f);
    }
    assert_true(f.closed);
    assert_int_equal(f.messages, 0);
    assert_in_range(sent, 16u << 20, (16u << 20) + (1u << 20));
    stop(&f);
}

/*
 * Lingering ends 2 s after the stream's end was sent: for a client that
 * neither sends nor closes (the read event's timeout), and for one that
 * sends on (its bytes come in after the time is up).
 */
static void
test_linger_time_bounded(void **state)
{
    (void)state;
    fixture_t f;
    start_lingering(&f);
    double t0 = tc_clock_mono_s();
    for (int spins = 0; spins < 10 && !f.closed; spins++) {
        assert_in_range(event_base_loop(f.base, EVLOOP_ONCE), 0, 1);
    }
    double took = tc_clock_mono_s() - t0;
    assert_true(f.closed);
    assert_true(took > 1.9 && took < 3.0);
    stop(&f);

    start_lingering(&f);
    for (int i = 0; i < 3; i++) {
        assert_int_equal(write(f.client, frame3, sizeof(frame3)), sizeof(frame3));
        run_once(&f);
        assert_false(f.closed);
    }
    f.c->_linger_until = tc_clock_mono_s(); /* (2 s are over) */
    assert_int_equal(write(f.client, frame3, sizeof(frame3)), sizeof(frame3));
    run_once(&f);
    assert_true(f.closed);
    assert_int_equal(f.messages, 0);
    stop(&f);
}

/*
 * Graceful stop: a lingering connection is left to end by itself
 * (tc_conn_close_when_done()) and closed at the end of the stop's wait
 * (tc_conn_close_if_idle()) when the client has taken every reply byte;
 * after that wait, one that is still writing its last replies closes as
 * soon as the client has taken them, without waiting for it to close.
 */
static void
test_linger_in_a_stop(void **state)
{
    (void)state;
    fixture_t f;
    start_lingering(&f);
    tc_conn_close_when_done(f.c);
    run_once(&f);
    assert_false(f.closed);
    tc_conn_close_if_idle(f.c, 0.5);
    assert_true(f.closed);
    stop(&f);

    start(&f, &tc_transport_framed, &tc_proto_binary);
    f.reply_len = 4u << 20; /* more than the socket buffers */
    tc_buf_t bytes;
    tc_buf_init(&bytes);
    tc_buf_append(&bytes, frame3, sizeof(frame3));
    tc_buf_append(&bytes, over_frame, sizeof(over_frame));
    assert_int_equal(write(f.client, bytes.data, bytes.len), (ssize_t)bytes.len);
    run_once(&f);
    assert_int_equal(f.messages, 1);
    tc_conn_close_when_done(f.c);
    tc_conn_close_if_idle(f.c, 0.5);
    assert_false(f.closed);
    size_t got = 0;
    bool right = true;
    static uint8_t chunk[65536];
    for (int spins = 0; spins < 100000; spins++) {
        ssize_t n = read(f.client, chunk, sizeof(chunk));
        if (n == 0) {
            break;
        }
        if (n > 0) {
            right = right && reply_bytes(chunk, (size_t)n, got);
            got += (size_t)n;
        }
        run_once(&f);
    }
    assert_int_equal(got, f.reply_len);
    assert_true(right);
    run_until_closed(&f); /* before the client closed */
    stop(&f);
    tc_buf_deinit(&bytes);
}

/*
 * A lingering connection moved to another loop lingers there until the
 * client closes; one whose time ran out while it moved closes on its new
 * loop.
 */
static void
test_linger_moves(void **state)
{
    (void)state;
    for (int late = 0; late < 2; late++) {
        fixture_t f;
        start_lingering(&f);
        struct event_base *other = event_base_new();
        assert_non_null(other);
        tc_conn_detach(f.c);
        if (late) {
            f.c->_linger_until = tc_clock_mono_s() - 1.0;
        }
        tc_conn_attach(f.c, other, &f);
        assert_false(f.closed);
        if (!late) {
            assert_int_equal(event_base_loop(other, EVLOOP_NONBLOCK), 0);
            assert_false(f.closed);
            assert_int_equal(shutdown(f.client, SHUT_WR), 0);
        }
        for (int spins = 0; spins < 100 && !f.closed; spins++) {
            assert_in_range(event_base_loop(other, EVLOOP_NONBLOCK), 0, 1);
        }
        assert_true(f.closed);
        stop(&f);
        event_base_free(other);
    }
}

/*
 * A move to another loop is no sign of the client: client_timeout counts
 * its silence from its last byte, not from the move (the watchdog moves
 * the idle connections of a blocked thread, and a silent client whose
 * connection kept being moved was never timed out).
 */
static void
test_move_keeps_the_silence(void **state)
{
    (void)state;
    fixture_t f;
    start(&f, &tc_transport_buffered, &tc_proto_binary);
    struct event_base *other = event_base_new();
    assert_non_null(other);
    double silent_since = tc_clock_mono_s() - 10.0;
    f.c->last_io = silent_since;
    tc_conn_detach(f.c);
    tc_conn_attach(f.c, other, &f);
    assert_true(f.c->last_io == silent_since);
    tc_conn_detach(f.c);
    tc_conn_attach(f.c, f.base, &f);
    assert_true(f.c->last_io == silent_since);
    stop(&f);
    event_base_free(other);
}

/* ---- buffers between messages ---- */

/* The largest capacity among the connection's buffers (and its THeader scratch). */
static size_t
largest_buffer(const tc_conn_t *c)
{
    const tc_buf_t *bufs[] = {&c->_in, &c->_out, NULL, NULL};
    if (c->header != NULL) {
        bufs[2] = &c->header->inflated;
        bufs[3] = &c->header->spare;
    }
    size_t cap = 0;
    for (size_t i = 0; i < TC_ARRAY_LEN(bufs); i++) {
        if (bufs[i] != NULL && bufs[i]->cap > cap) {
            cap = bufs[i]->cap;
        }
    }
    return cap;
}

/*
 * The client sends [data, data+len) while it reads what it is sent, until
 * all is sent and 'want' bytes are read (added to 'got'), and nothing more
 * comes. 'peak', if not NULL: the largest capacity the connection's input
 * and output buffers had between two turns of the loop.
 */
static void
exchange(fixture_t *f, const uint8_t *data, size_t len, size_t want, tc_buf_t *got, size_t *peak)
{
    size_t sent = 0;
    size_t read = 0;
    for (int spins = 0; spins < 1000000 && (sent < len || read < want); spins++) {
        if (sent < len) {
            ssize_t n = send(f->client, data + sent, len - sent, MSG_DONTWAIT | MSG_NOSIGNAL);
            sent += n > 0 ? (size_t)n : 0;
        }
        run_once(f);
        assert_false(f->closed);
        if (peak != NULL) {
            size_t cap = f->c->_in.cap > f->c->_out.cap ? f->c->_in.cap : f->c->_out.cap;
            *peak = cap > *peak ? cap : *peak;
        }
        if (read < want) {
            tc_buf_reserve(got, want - read);
            ssize_t n = recv(f->client, got->data + got->len, want - read, MSG_DONTWAIT);
            if (n > 0) {
                got->len += (size_t)n;
                read += (size_t)n;
            }
        }
    }
    assert_int_equal(sent, len);
    assert_int_equal(read, want);
    run_once(f);
    uint8_t more;
    assert_int_equal(recv(f->client, &more, 1, MSG_DONTWAIT), -1);
}

/*
 * The loop runs until the connection frees its large buffers, which it
 * does a second after it went idle (waiting 5 s at most); how long that
 * took.
 */
static double
wait_for_shed(fixture_t *f)
{
    double t0 = tc_clock_mono_s();
    while (largest_buffer(f->c) > TC_CONN_BUF_KEEP && tc_clock_mono_s() - t0 < 5.0) {
        usleep(10000);
        run_once(f);
    }
    assert_in_range(largest_buffer(f->c), 0, TC_CONN_BUF_KEEP);
    assert_false(f->closed);
    return tc_clock_mono_s() - t0;
}

/* A framed call of 'body' bytes (of 'x'), its length first, in 'call'. */
static void
framed_call(tc_buf_t *call, size_t body)
{
    tc_buf_init(call);
    uint8_t n[4] = {(uint8_t)(body >> 24), (uint8_t)(body >> 16), (uint8_t)(body >> 8),
                    (uint8_t)body};
    tc_buf_append(call, n, sizeof(n));
    tc_buf_reserve(call, body);
    memset(call->data + call->len, 'x', body);
    call->len += body;
}

/*
 * A framed call of 3 MiB with a reply of 6 MiB, between small calls: the
 * connection keeps its buffers while a next call may follow at once, and
 * frees them a second after it went idle, still open; then it answers the
 * next call.
 */
static void
test_big_message_buffers_freed(void **state)
{
    (void)state;
    static const size_t body = 3u << 20;
    static const size_t reply = 6u << 20;
    tc_buf_t big;
    framed_call(&big, body);
    fixture_t f;
    start(&f, &tc_transport_framed, &tc_proto_binary);
    tc_buf_t got;
    tc_buf_init(&got);
    f.reply_len = 100;
    exchange(&f, frame3, sizeof(frame3), 100, &got, NULL);
    assert_null(f.c->_tev);
    f.reply_len = reply;
    size_t peak = 0;
    exchange(&f, big.data, big.len, reply, &got, &peak);
    assert_int_equal(f.messages, 2);
    assert_int_equal(f.bytes, 3 + body);
    assert_true(peak >= reply); /* the reply was buffered whole */
    assert_true(f.c->_in.cap > body);
    assert_true(f.c->_out.cap >= reply);
    double took = wait_for_shed(&f);
    assert_true(took > 0.5 && took < 3.0);
    f.reply_len = 100;
    exchange(&f, frame3, sizeof(frame3), 100, &got, NULL);
    assert_int_equal(f.messages, 3);
    assert_int_equal(f.bytes, 6 + body);
    assert_int_equal(got.len, 100 + reply + 100);
    assert_true(reply_bytes(got.data, 100, 0));
    assert_true(reply_bytes(got.data + 100, reply, 0));
    assert_true(reply_bytes(got.data + 100 + reply, 100, 0));
    assert_in_range(largest_buffer(f.c), 1, TC_CONN_BUF_KEEP);
    stop(&f);
    tc_buf_deinit(&got);
    tc_buf_deinit(&big);
}

/*
 * Large calls one after the other (a client that sends them in a loop):
 * each finds the buffers of the one before, none grows them again. The
 * wait to free them started when the connection first went idle; the calls
 * after do not push it back.
 */
static void
test_big_calls_in_a_row_keep_their_buffers(void **state)
{
    (void)state;
    static const size_t body = 256u << 10;
    static const size_t reply = 512u << 10;
    tc_buf_t big;
    framed_call(&big, body);
    fixture_t f;
    start(&f, &tc_transport_framed, &tc_proto_binary);
    tc_buf_t got;
    tc_buf_init(&got);
    f.reply_len = reply;
    double t0 = tc_clock_mono_s();
    exchange(&f, big.data, big.len, reply, &got, NULL);
    const uint8_t *in = f.c->_in.data;
    const uint8_t *out = f.c->_out.data;
    assert_true(f.c->_in.cap > TC_CONN_BUF_KEEP);
    assert_true(f.c->_out.cap > TC_CONN_BUF_KEEP);
    for (int i = 0; i < 3; i++) {
        exchange(&f, big.data, big.len, reply, &got, NULL);
        assert_ptr_equal(f.c->_in.data, in);
        assert_ptr_equal(f.c->_out.data, out);
    }
    assert_int_equal(f.messages, 4);
    assert_int_equal(got.len, 4 * reply);
    for (int i = 0; i < 4; i++) {
        assert_true(reply_bytes(got.data + i * reply, reply, 0));
    }
    wait_for_shed(&f);
    assert_true(tc_clock_mono_s() - t0 < 3.0);
    stop(&f);
    tc_buf_deinit(&got);
    tc_buf_deinit(&big);
}

/*
 * Small calls every 100 ms after a large one (a pooled connection that
 * carried one large message): its large buffers are freed within about a
 * second all the same, and every call is answered.
 */
static void
test_small_calls_after_a_big_one(void **state)
{
    (void)state;
    static const size_t body = 1u << 20;
    tc_buf_t big;
    framed_call(&big, body);
    fixture_t f;
    start(&f, &tc_transport_framed, &tc_proto_binary);
    tc_buf_t got;
    tc_buf_init(&got);
    f.reply_len = 2u << 20;
    exchange(&f, big.data, big.len, f.reply_len, &got, NULL);
    assert_true(largest_buffer(f.c) > TC_CONN_BUF_KEEP);
    double t0 = tc_clock_mono_s();
    f.reply_len = 100;
    int calls = 0;
    while (largest_buffer(f.c) > TC_CONN_BUF_KEEP && tc_clock_mono_s() - t0 < 5.0) {
        usleep(100000);
        got.len = 0;
        exchange(&f, frame3, sizeof(frame3), 100, &got, NULL);
        assert_true(reply_bytes(got.data, 100, 0));
        calls++;
    }
    assert_in_range(largest_buffer(f.c), 0, TC_CONN_BUF_KEEP);
    assert_in_range(calls, 5, 20);
    assert_int_equal(f.messages, 1 + (size_t)calls);
    stop(&f);
    tc_buf_deinit(&got);
    tc_buf_deinit(&big);
}

/*
 * A connection holding large buffers moved to another loop (as the
 * watchdog moves idle ones) frees them there, and leaves nothing behind on
 * the loop it left; it serves calls on the new one.
 */
static void
test_big_buffers_freed_after_a_move(void **state)
{
    (void)state;
    tc_buf_t big;
    framed_call(&big, 1u << 20);
    fixture_t f;
    start(&f, &tc_transport_framed, &tc_proto_binary);
    tc_buf_t got;
    tc_buf_init(&got);
    f.reply_len = 2u << 20;
    exchange(&f, big.data, big.len, f.reply_len, &got, NULL);
    assert_non_null(f.c->_tev);
    struct event_base *old = f.base;
    f.base = event_base_new();
    assert_non_null(f.base);
    tc_conn_detach(f.c);
    tc_conn_attach(f.c, f.base, &f);
    assert_int_equal(event_base_loop(old, EVLOOP_NONBLOCK), 1); /* no event left there */
    wait_for_shed(&f);
    got.len = 0;
    f.reply_len = 100;
    exchange(&f, frame3, sizeof(frame3), 100, &got, NULL);
    assert_true(reply_bytes(got.data, 100, 0));
    assert_int_equal(f.messages, 2);
    stop(&f);
    event_base_free(old);
    tc_buf_deinit(&got);
    tc_buf_deinit(&big);
}

/* The reply frame at the start of 'got': sequence id 'seqid', 'len' bytes of on_message(). */
static void
assert_theader_reply(const tc_buf_t *got, int32_t seqid, size_t len)
{
    size_t off;
    size_t frame;
    assert_int_equal(tc_transport_header.scan(NULL, got->data, got->len, SIZE_MAX, &off, &frame),
                     TC_OK);
    assert_int_equal(off + frame, got->len);
    tc_header_t h;
    tc_header_init(&h);
    const char *why = NULL;
    assert_int_equal(tc_header_read(&h, got->data + off, frame, SIZE_MAX, &why), TC_OK);
    assert_int_equal(h.seqid, seqid);
    assert_int_equal(h.payload_len, len);
    assert_true(reply_bytes(h.payload, len, 0));
    tc_header_deinit(&h);
}

/*
 * THeader: a ZLIB frame whose message inflates to 3 MiB, and a reply of
 * 6 MiB: the inflated message is freed as soon as the call is done (a
 * client that does not read its reply would have it kept), the reply is
 * written where its frame goes; a second after, no buffer of the
 * connection holds more than TC_CONN_BUF_KEEP, and the next call is
 * answered.
 */
static void
test_big_theader_buffers_freed(void **state)
{
    (void)state;
    static const size_t msg_len = 3u << 20;
    static const size_t reply = 6u << 20;
    uint8_t *msg = malloc(msg_len);
    assert_non_null(msg);
    for (size_t i = 0; i < msg_len; i++) {
        msg[i] = (uint8_t)(i % 251);
    }
    uLongf zlen = compressBound(msg_len);
    tc_buf_t frame;
    tc_buf_init(&frame);
    static const uint8_t head[] = {0x0F, 0xFF, 0, 0, 0, 0, 0, 5, 0, 1, 0, 1, 1, 0};
    tc_buf_append(&frame, head, sizeof(head)); /* seqid 5; binary, one transform: ZLIB */
    tc_buf_reserve(&frame, zlen);
    assert_int_equal(compress(frame.data + frame.len, &zlen, msg, msg_len), Z_OK);
    frame.len += zlen;
    tc_buf_t bytes;
    tc_buf_init(&bytes);
    theader(&bytes, frame.data, frame.len);
    fixture_t f;
    start(&f, &tc_transport_header, NULL);
    f.reply_len = reply;
    tc_buf_t got;
    tc_buf_init(&got);
    exchange(&f, bytes.data, bytes.len, 4 + 10 + 4 + reply, &got, NULL);
    assert_int_equal(f.messages, 1);
    assert_int_equal(f.bytes, msg_len);
    assert_theader_reply(&got, 5, reply);
    assert_non_null(f.c->header);
    assert_null(f.c->header->inflated.data);
    assert_true(f.c->_out.cap >= TC_HEADER_LEAST + reply);
    wait_for_shed(&f);
    bytes.len = 0;
    got.len = 0;
    theader_call(&bytes, 0, NULL, 0, 6);
    f.reply_len = 100;
    exchange(&f, bytes.data, bytes.len, 4 + 10 + 4 + 100, &got, NULL);
    assert_int_equal(f.messages, 2);
    assert_theader_reply(&got, 6, 100);
    assert_in_range(largest_buffer(f.c), 1, TC_CONN_BUF_KEEP);
    stop(&f);
    tc_buf_deinit(&got);
    tc_buf_deinit(&bytes);
    tc_buf_deinit(&frame);
    free(msg);
}

/*
 * Small calls, one at a time or 40 pipelined in one write (their replies
 * together under TC_CONN_BUF_KEEP): the buffers are kept from call to
 * call, never freed and allocated again.
 */
static void
test_small_calls_keep_their_buffers(void **state)
{
    (void)state;
    for (int header = 0; header < 2; header++) {
        tc_buf_t call;
        tc_buf_init(&call);
        if (header) {
            theader_call(&call, 0, NULL, 0, 1);
        } else {
            tc_buf_append(&call, frame3, sizeof(frame3));
        }
        tc_buf_t batch;
        tc_buf_init(&batch);
        for (int i = 0; i < 40; i++) {
            tc_buf_append(&batch, call.data, call.len);
        }
        size_t want = (header ? 4 + 10 + 4 : 0) + 1000;
        fixture_t f;
        start(&f, header ? &tc_transport_header : &tc_transport_framed,
              header ? NULL : &tc_proto_binary);
        f.reply_len = 1000;
        tc_buf_t got;
        tc_buf_init(&got);
        exchange(&f, call.data, call.len, want, &got, NULL);
        const uint8_t *in = f.c->_in.data;
        const uint8_t *out = f.c->_out.data;
        assert_non_null(in);
        assert_non_null(out);
        for (int i = 0; i < 20; i++) {
            exchange(&f, call.data, call.len, want, &got, NULL);
            assert_ptr_equal(f.c->_in.data, in);
            assert_ptr_equal(f.c->_out.data, out);
        }
        exchange(&f, batch.data, batch.len, 40 * want, &got, NULL);
        assert_ptr_equal(f.c->_in.data, in);
        assert_non_null(f.c->_out.data);
        assert_in_range(f.c->_out.cap, 40 * want, TC_CONN_BUF_KEEP);
        out = f.c->_out.data;
        for (int i = 0; i < 5; i++) {
            exchange(&f, batch.data, batch.len, 40 * want, &got, NULL);
            exchange(&f, call.data, call.len, want, &got, NULL);
            assert_ptr_equal(f.c->_in.data, in);
            assert_ptr_equal(f.c->_out.data, out);
        }
        assert_int_equal(f.messages, 1 + 20 + 40 + 5 * 41);
        assert_int_equal(got.len, f.messages * want);
        assert_null(f.c->_tev); /* nothing to free, ever: no timer either */
        stop(&f);
        tc_buf_deinit(&got);
        tc_buf_deinit(&batch);
        tc_buf_deinit(&call);
    }
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
        cmocka_unit_test(test_stop_drops_calls_sent_after_it),
        cmocka_unit_test(test_stop_finishes_the_message_begun_before_it),
        cmocka_unit_test(test_half_close_gets_every_reply),
        cmocka_unit_test(test_slow_reader_output_stays_bounded),
        cmocka_unit_test(test_taking_replies),
        cmocka_unit_test(test_input_waiting),
        cmocka_unit_test(test_theader_refusals_logged),
        cmocka_unit_test(test_fixed_settings_refuse_theader),
        cmocka_unit_test(test_theader_refusal_told),
        cmocka_unit_test(test_partial_described),
        cmocka_unit_test(test_bad_input_answers_the_calls_before),
        cmocka_unit_test(test_bad_input_behind_backpressure),
        cmocka_unit_test(test_linger_bytes_bounded),
        cmocka_unit_test(test_linger_time_bounded),
        cmocka_unit_test(test_linger_in_a_stop),
        cmocka_unit_test(test_linger_moves),
        cmocka_unit_test(test_move_keeps_the_silence),
        cmocka_unit_test(test_big_message_buffers_freed),
        cmocka_unit_test(test_big_calls_in_a_row_keep_their_buffers),
        cmocka_unit_test(test_small_calls_after_a_big_one),
        cmocka_unit_test(test_big_buffers_freed_after_a_move),
        cmocka_unit_test(test_big_theader_buffers_freed),
        cmocka_unit_test(test_small_calls_keep_their_buffers),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

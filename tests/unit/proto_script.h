/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Protocol test scripts: a sequence of protocol calls, run as writes (to
 * compare with golden bytes) or as reads of the same bytes (to check every
 * value comes back). Shared by test_binary.c and test_compact.c, which hold
 * the golden bytes of their format for the scripts in proto_cases.h.
 */
#ifndef TC_TEST_PROTO_SCRIPT_H
#define TC_TEST_PROTO_SCRIPT_H

#include "tc_test.h"

#include "core/buf.h"
#include "protocol/protocol.h"

#include <stdio.h>
#include <stdlib.h>

typedef enum {
    OP_MSG,
    OP_SB,
    OP_SE,
    OP_FB,
    OP_STOP,
    OP_LB,
    OP_SETB,
    OP_MB,
    OP_BOOL,
    OP_BYTE,
    OP_I16,
    OP_I32,
    OP_I64,
    OP_DOUBLE,
    OP_BINARY,
    OP_UUID,
} op_kind_t;

typedef struct op {
    op_kind_t k;
    uint8_t t1;    /* field, element or key type; message type */
    uint8_t t2;    /* map value type */
    int64_t i;     /* integer value, field id, count, seqid */
    uint64_t u;    /* double bits */
    const char *s; /* string, message name, uuid */
    size_t len;
} op_t;

typedef struct script {
    const char *name;
    const op_t *ops;
    size_t nops;
} script_t;

#define SCRIPT(n)                                                                                  \
    {                                                                                              \
#n, S_##n, TC_ARRAY_LEN(S_##n)                                                             \
    }

/* A golden frame: the script it encodes and the bytes as hex. */
typedef struct golden {
    const char *name;
    const char *hex;
} golden_t;

/* Decode hex into a malloc'd buffer; *len gets its size. */
static inline uint8_t *
hex_decode(const char *hex, size_t *len)
{
    size_t n = strlen(hex) / 2;
    uint8_t *b = malloc(n > 0 ? n : 1);
    assert_non_null(b);
    for (size_t i = 0; i < n; i++) {
        unsigned v;
        assert_int_equal(sscanf(hex + 2 * i, "%2x", &v), 1);
        b[i] = (uint8_t)v;
    }
    *len = n;
    return b;
}

/* Compare 'len' bytes with hex, printing both on a mismatch. */
static inline void
assert_hex(const uint8_t *got, size_t len, const char *hex, const char *what)
{
    size_t n;
    uint8_t *want = hex_decode(hex, &n);
    if (n != len || memcmp(got, want, n) != 0) {
        fprintf(stderr, "%s:\n  want %s\n  got  ", what, hex);
        for (size_t i = 0; i < len; i++) {
            fprintf(stderr, "%02x", got[i]);
        }
        fprintf(stderr, "\n");
        fail();
    }
    free(want);
}

static inline void
script_write(tc_proto_t *p, const script_t *s)
{
    const tc_proto_ops_t *ops = p->ops;
    for (size_t i = 0; i < s->nops; i++) {
        const op_t *o = &s->ops[i];
        switch (o->k) {
        case OP_MSG:
            ops->write_message_begin(p, o->s, o->len, o->t1, (int32_t)o->i);
            break;
        case OP_SB:
            ops->write_struct_begin(p);
            break;
        case OP_SE:
            ops->write_struct_end(p);
            break;
        case OP_FB:
            ops->write_field_begin(p, o->t1, (int16_t)o->i);
            break;
        case OP_STOP:
            ops->write_field_stop(p);
            break;
        case OP_LB:
            ops->write_list_begin(p, o->t1, (uint32_t)o->i);
            break;
        case OP_SETB:
            ops->write_set_begin(p, o->t1, (uint32_t)o->i);
            break;
        case OP_MB:
            ops->write_map_begin(p, o->t1, o->t2, (uint32_t)o->i);
            break;
        case OP_BOOL:
            ops->write_bool(p, o->i != 0);
            break;
        case OP_BYTE:
            ops->write_byte(p, (int8_t)o->i);
            break;
        case OP_I16:
            ops->write_i16(p, (int16_t)o->i);
            break;
        case OP_I32:
            ops->write_i32(p, (int32_t)o->i);
            break;
        case OP_I64:
            ops->write_i64(p, o->i);
            break;
        case OP_DOUBLE: {
            double d;
            memcpy(&d, &o->u, sizeof(d));
            ops->write_double(p, d);
            break;
        }
        case OP_BINARY:
            ops->write_binary(p, o->s, o->len);
            break;
        case OP_UUID:
            ops->write_uuid(p, (const uint8_t *)o->s);
            break;
        }
    }
}

/* Read one op, checking the value; returns the protocol status. */
static inline int
script_read_op(tc_proto_t *p, const op_t *o)
{
    const tc_proto_ops_t *ops = p->ops;
    int rc = TC_OK;
    switch (o->k) {
    case OP_MSG: {
        tc_msg_hdr_t m;
        if ((rc = ops->read_message_begin(p, &m)) == TC_OK) {
            assert_int_equal(m.name_len, o->len);
            assert_memory_equal(m.name, o->s, o->len);
            assert_int_equal(m.type, o->t1);
            assert_int_equal(m.seqid, (int32_t)o->i);
        }
        break;
    }
    case OP_SB:
        rc = ops->read_struct_begin(p);
        break;
    case OP_SE:
        rc = ops->read_struct_end(p);
        break;
    case OP_FB:
    case OP_STOP: {
        uint8_t t;
        int16_t id;
        if ((rc = ops->read_field_begin(p, &t, &id)) == TC_OK) {
            assert_int_equal(t, o->k == OP_STOP ? TC_TTYPE_STOP : o->t1);
            assert_int_equal(id, o->k == OP_STOP ? 0 : (int16_t)o->i);
        }
        break;
    }
    case OP_LB:
    case OP_SETB: {
        uint8_t t;
        uint32_t n;
        if ((rc = ops->read_list_begin(p, &t, &n)) == TC_OK) {
            assert_int_equal(t, o->t1);
            assert_int_equal(n, (uint32_t)o->i);
        }
        break;
    }
    case OP_MB: {
        uint8_t kt;
        uint8_t vt;
        uint32_t n;
        if ((rc = ops->read_map_begin(p, &kt, &vt, &n)) == TC_OK) {
            assert_int_equal(n, (uint32_t)o->i);
            /* compact has no types for an empty map and reports STOP */
            if (n > 0 || ops == &tc_proto_binary) {
                assert_int_equal(kt, o->t1);
                assert_int_equal(vt, o->t2);
            } else {
                assert_int_equal(kt, TC_TTYPE_STOP);
                assert_int_equal(vt, TC_TTYPE_STOP);
            }
        }
        break;
    }
    case OP_BOOL: {
        bool v;
        if ((rc = ops->read_bool(p, &v)) == TC_OK) {
            assert_int_equal(v, o->i != 0);
        }
        break;
    }
    case OP_BYTE: {
        int8_t v;
        if ((rc = ops->read_byte(p, &v)) == TC_OK) {
            assert_int_equal(v, (int8_t)o->i);
        }
        break;
    }
    case OP_I16: {
        int16_t v;
        if ((rc = ops->read_i16(p, &v)) == TC_OK) {
            assert_int_equal(v, (int16_t)o->i);
        }
        break;
    }
    case OP_I32: {
        int32_t v;
        if ((rc = ops->read_i32(p, &v)) == TC_OK) {
            assert_int_equal(v, (int32_t)o->i);
        }
        break;
    }
    case OP_I64: {
        int64_t v;
        if ((rc = ops->read_i64(p, &v)) == TC_OK) {
            assert_true(v == o->i);
        }
        break;
    }
    case OP_DOUBLE: {
        double v;
        if ((rc = ops->read_double(p, &v)) == TC_OK) {
            uint64_t bits;
            memcpy(&bits, &v, sizeof(bits));
            assert_true(bits == o->u); /* bitwise: NaN, -0.0 */
        }
        break;
    }
    case OP_BINARY: {
        const uint8_t *s;
        uint32_t len;
        if ((rc = ops->read_binary(p, &s, &len)) == TC_OK) {
            assert_int_equal(len, o->len);
            if (len > 0) {
                assert_memory_equal(s, o->s, len);
            }
        }
        break;
    }
    case OP_UUID: {
        uint8_t u[16];
        if ((rc = ops->read_uuid(p, u)) == TC_OK) {
            assert_memory_equal(u, o->s, 16);
        }
        break;
    }
    }
    return rc;
}

/* Read the whole script; returns the first status that is not TC_OK. */
static inline int
script_read(tc_proto_t *p, const script_t *s)
{
    for (size_t i = 0; i < s->nops; i++) {
        int rc = script_read_op(p, &s->ops[i]);
        if (rc != TC_OK) {
            return rc;
        }
    }
    return TC_OK;
}

/*
 * Write script 's', whose bytes are 'want' ('len' of them), into outputs
 * bounded at every size up to 'len' + TC_PROTO_WRITE_SLACK: the output never
 * grows past its bound, and holds the whole script unless it refused a
 * write, which it must under 'len' and must not from 'len' + the slack on
 * (from 'len' on in binary, whose writes ask for exactly what they write).
 */
static inline void
script_write_bounded(const tc_proto_ops_t *ops, const script_t *s, const uint8_t *want, size_t len)
{
    for (size_t max = 1; max <= len + TC_PROTO_WRITE_SLACK; max++) {
        tc_buf_t b;
        tc_buf_init(&b);
        tc_buf_set_max(&b, max);
        tc_proto_t p;
        tc_proto_init(&p, ops, NULL, 0, &b);
        script_write(&p, s);
        if (b.cap > max || b.len > max || (max < len && !tc_buf_refused(&b)) ||
            ((max >= len + TC_PROTO_WRITE_SLACK || (ops == &tc_proto_binary && max >= len)) &&
             tc_buf_refused(&b))) {
            fprintf(stderr, "%s bounded at %zu of %zu: len %zu, cap %zu, refused %d\n", s->name,
                    max, len, b.len, b.cap, tc_buf_refused(&b));
            fail();
        }
        if (!tc_buf_refused(&b)) {
            assert_int_equal(b.len, len);
            assert_memory_equal(b.data, want, len);
        }
        tc_buf_deinit(&b);
    }
}

/*
 * Write every script and compare with 'golden' (Apache Thrift's bytes), read
 * each back, and check that every prefix of it reads as TC_AGAIN, both op by
 * op and with tc_proto_skip / tc_proto_skip_message; write it into bounded
 * outputs too (script_write_bounded()).
 */
static inline void
run_golden(const tc_proto_ops_t *ops, const script_t *scripts, const golden_t *golden, size_t n)
{
    for (size_t c = 0; c < n; c++) {
        const script_t *s = &scripts[c];
        assert_string_equal(s->name, golden[c].name);
        tc_buf_t out;
        tc_buf_init(&out);
        tc_proto_t p;
        tc_proto_init(&p, ops, NULL, 0, &out);
        script_write(&p, s);
        assert_hex(out.data, out.len, golden[c].hex, s->name);
        script_write_bounded(ops, s, out.data, out.len);

        bool is_msg = s->ops[0].k == OP_MSG;
        for (size_t cut = 0; cut <= out.len; cut++) {
            /* a copy of exactly 'cut' bytes, so ASan sees any over-read */
            uint8_t *in = malloc(cut > 0 ? cut : 1);
            assert_non_null(in);
            if (cut > 0) {
                memcpy(in, out.data, cut);
            }
            tc_proto_init(&p, ops, in, cut, NULL);
            int want = cut == out.len ? TC_OK : TC_AGAIN;
            int rc = script_read(&p, s);
            if (rc != want) {
                fprintf(stderr, "%s: read of %zu/%zu bytes: %d\n", s->name, cut, out.len, rc);
                fail();
            }
            if (rc == TC_OK) {
                assert_ptr_equal(p.rp, p.rend);
            }
            tc_proto_reset_input(&p, in, cut);
            rc = is_msg ? tc_proto_skip_message(&p) : tc_proto_skip(&p, TC_TTYPE_STRUCT);
            if (rc != want) {
                fprintf(stderr, "%s: skip of %zu/%zu bytes: %d\n", s->name, cut, out.len, rc);
                fail();
            }
            if (rc == TC_OK) {
                assert_ptr_equal(p.rp, p.rend);
                assert_int_equal(p.depth, 0);
            }
            free(in);
        }
        tc_buf_deinit(&out);
    }
}

/* Run 'fn' over the bytes of 'hex' with a fresh protocol; returns its status. */
typedef int (*hex_read_fn)(tc_proto_t *p);

static inline int
read_hex(const tc_proto_ops_t *ops, const char *hex, hex_read_fn fn, size_t *left)
{
    size_t len;
    uint8_t *in = hex_decode(hex, &len);
    tc_proto_t p;
    tc_proto_init(&p, ops, in, len, NULL);
    int rc = fn(&p);
    if (left != NULL) {
        *left = tc_proto_left(&p);
    }
    free(in);
    return rc;
}

#endif /* TC_TEST_PROTO_SCRIPT_H */

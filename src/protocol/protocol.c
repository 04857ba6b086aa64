/* SPDX-License-Identifier: Apache-2.0 */
/*
 * What both wire formats share: setup, lookup by name, and skipping values
 * and whole messages over the vtable (used for unknown fields and by the
 * buffered transport to find where a message ends).
 */
#include "protocol/protocol.h"

#include <string.h>

const tc_proto_ops_t *
tc_proto_find(const char *name)
{
    if (name == NULL) {
        return NULL;
    }
    if (strcmp(name, tc_proto_binary.name) == 0) {
        return &tc_proto_binary;
    }
    if (strcmp(name, tc_proto_compact.name) == 0) {
        return &tc_proto_compact;
    }
    return NULL;
}

void
tc_proto_init(tc_proto_t *p, const tc_proto_ops_t *ops, const void *data, size_t len, tc_buf_t *out)
{
    p->ops = ops;
    p->out = out;
    p->max_depth = TC_PROTO_DEPTH_DEFAULT;
    p->max_string = UINT32_MAX >> 1;
    p->_over = 0;
    p->_bool_fid = 0;
    tc_proto_reset_input(p, data, len);
}

void
tc_proto_reset_input(tc_proto_t *p, const void *data, size_t len)
{
    /* no arithmetic on NULL, even + 0 */
    p->rp = data;
    p->rend = data != NULL ? p->rp + len : NULL;
    p->depth = 0;
    p->_last_fid = 0;
    p->_bool_pending = 0;
    p->_fid_top = 0;
}

int
tc_proto_read_error(const tc_proto_t *p, int rc, tc_err_t *err)
{
    switch (rc) {
    case TC_AGAIN:
        return tc_err_set(err, TC_EPROTO, "message truncated");
    case TC_ELIMIT:
        if (p->_over != 0) {
            return tc_err_set(err, TC_ELIMIT, "a size of %u, over max_message_size (%u)", p->_over,
                              p->max_string);
        }
        /* compact's field id stack holds TC_PROTO_DEPTH_MAX structs, whatever max_depth says */
        return tc_err_set(err, TC_ELIMIT, "nesting deeper than %u",
                          p->max_depth < TC_PROTO_DEPTH_MAX ? p->max_depth : TC_PROTO_DEPTH_MAX);
    default:
        return tc_err_set(err, rc, "invalid %s protocol bytes", p->ops->name);
    }
}

const char *
tc_proto_type_name(uint8_t type)
{
    static const char *const names[TC_TTYPE_UUID + 1] = {
        [TC_TTYPE_STOP] = "stop",     [TC_TTYPE_VOID] = "void",     [TC_TTYPE_BOOL] = "bool",
        [TC_TTYPE_BYTE] = "byte",     [TC_TTYPE_DOUBLE] = "double", [TC_TTYPE_I16] = "i16",
        [TC_TTYPE_I32] = "i32",       [TC_TTYPE_I64] = "i64",       [TC_TTYPE_STRING] = "string",
        [TC_TTYPE_STRUCT] = "struct", [TC_TTYPE_MAP] = "map",       [TC_TTYPE_SET] = "set",
        [TC_TTYPE_LIST] = "list",     [TC_TTYPE_UUID] = "uuid",
    };
    if (type > TC_TTYPE_UUID || names[type] == NULL) {
        return "invalid";
    }
    return names[type];
}

/* ---- skip ---- */

/*
 * Skipping recurses once per struct or container level, so the depth check
 * comes first (CVE-2015-3254: unbounded nesting overflowed the stack). Every
 * type id is checked, including the element types of empty containers, which
 * the readers validate (CVE-2019-0205, CVE-2019-3552: loops that consumed
 * nothing). Each element takes at least one byte and the readers bound every
 * count by the bytes left, so no loop runs without consuming input.
 */

static inline int
enter(tc_proto_t *p)
{
    if (TC_UNLIKELY(p->depth >= p->max_depth)) {
        p->_over = 0;
        return TC_ELIMIT;
    }
    p->depth++;
    return TC_OK;
}

/* Step over n elements of a type whose size is fixed in this format. */
static inline int
skip_fixed(tc_proto_t *p, uint64_t n, uint8_t size)
{
    uint64_t need = n * size;
    if (need > tc_proto_left(p)) {
        return TC_AGAIN;
    }
    p->rp += need;
    return TC_OK;
}

/*
 * Step over n varints of at most 'max' bytes each: a byte without the
 * continuation bit ends one. When n * max bytes are there, no bounds check.
 */
static int
skip_varints(tc_proto_t *p, uint32_t n, unsigned max)
{
    const uint8_t *s = p->rp;
    unsigned run = 0;
    if ((uint64_t)n * max <= tc_proto_left(p)) {
        while (n > 0) {
            if (*s++ & 0x80) {
                if (TC_UNLIKELY(++run == max)) {
                    return TC_EPROTO;
                }
            } else {
                run = 0;
                n--;
            }
        }
    } else {
        while (n > 0) {
            if (s == p->rend) {
                return TC_AGAIN;
            }
            if (*s++ & 0x80) {
                if (TC_UNLIKELY(++run == max)) {
                    return TC_EPROTO;
                }
            } else {
                run = 0;
                n--;
            }
        }
    }
    p->rp = s;
    return TC_OK;
}

static int
skip_struct(tc_proto_t *p)
{
    const tc_proto_ops_t *ops = p->ops;
    int rc = enter(p);
    if (rc != TC_OK) {
        return rc;
    }
    rc = ops->read_struct_begin(p);
    while (rc == TC_OK) {
        uint8_t type;
        int16_t id;
        if ((rc = ops->read_field_begin(p, &type, &id)) != TC_OK) {
            break;
        }
        if (type == TC_TTYPE_STOP) {
            rc = ops->read_struct_end(p);
            break;
        }
        rc = tc_proto_skip(p, type);
    }
    p->depth--;
    return rc;
}

static int
skip_list(tc_proto_t *p)
{
    const tc_proto_ops_t *ops = p->ops;
    uint8_t et;
    uint32_t n;
    int rc = enter(p);
    if (rc != TC_OK) {
        return rc;
    }
    if ((rc = ops->read_list_begin(p, &et, &n)) == TC_OK && n > 0) {
        if (ops->fixed_size[et] != 0) {
            rc = skip_fixed(p, n, ops->fixed_size[et]);
        } else if (ops->varint_max[et] != 0) {
            rc = skip_varints(p, n, ops->varint_max[et]);
        } else {
            for (uint32_t i = 0; i < n && rc == TC_OK; i++) {
                rc = tc_proto_skip(p, et);
            }
        }
    }
    p->depth--;
    return rc;
}

static int
skip_map(tc_proto_t *p)
{
    const tc_proto_ops_t *ops = p->ops;
    uint8_t kt;
    uint8_t vt;
    uint32_t n;
    int rc = enter(p);
    if (rc != TC_OK) {
        return rc;
    }
    if ((rc = ops->read_map_begin(p, &kt, &vt, &n)) == TC_OK && n > 0) {
        if (ops->fixed_size[kt] != 0 && ops->fixed_size[vt] != 0) {
            rc = skip_fixed(p, n, (uint8_t)(ops->fixed_size[kt] + ops->fixed_size[vt]));
        } else {
            for (uint32_t i = 0; i < n && rc == TC_OK; i++) {
                if ((rc = tc_proto_skip(p, kt)) == TC_OK) {
                    rc = tc_proto_skip(p, vt);
                }
            }
        }
    }
    p->depth--;
    return rc;
}

int
tc_proto_skip(tc_proto_t *p, uint8_t type)
{
    const tc_proto_ops_t *ops = p->ops;
    switch (type) {
    case TC_TTYPE_BOOL: {
        bool v;
        return ops->read_bool(p, &v);
    }
    case TC_TTYPE_BYTE: {
        int8_t v;
        return ops->read_byte(p, &v);
    }
    case TC_TTYPE_I16: {
        int16_t v;
        return ops->read_i16(p, &v);
    }
    case TC_TTYPE_I32: {
        int32_t v;
        return ops->read_i32(p, &v);
    }
    case TC_TTYPE_I64: {
        int64_t v;
        return ops->read_i64(p, &v);
    }
    case TC_TTYPE_DOUBLE: {
        double v;
        return ops->read_double(p, &v);
    }
    case TC_TTYPE_STRING: {
        const uint8_t *s;
        uint32_t len;
        return ops->read_binary(p, &s, &len);
    }
    case TC_TTYPE_UUID: {
        uint8_t u[16];
        return ops->read_uuid(p, u);
    }
    case TC_TTYPE_STRUCT:
        return skip_struct(p);
    case TC_TTYPE_LIST:
    case TC_TTYPE_SET:
        return skip_list(p);
    case TC_TTYPE_MAP:
        return skip_map(p);
    default:
        return TC_EPROTO;
    }
}

int
tc_proto_skip_message(tc_proto_t *p)
{
    tc_msg_hdr_t m;
    int rc = p->ops->read_message_begin(p, &m);
    if (rc != TC_OK) {
        return rc;
    }
    if (m.type < TC_MSG_CALL || m.type > TC_MSG_ONEWAY) {
        return TC_EPROTO;
    }
    return tc_proto_skip(p, TC_TTYPE_STRUCT);
}

/* ---- resumable skip ---- */

/*
 * The same walk as tc_proto_skip_message(), with the recursion kept in
 * 'st' instead of on the C stack, so that it can stop where the input ends
 * and go on from there when more has arrived. Every step reads one field
 * header with its scalar value, one scalar element or key or value, or one
 * struct or container header, and is committed (st->pos) only when whole;
 * a step cut short is read again next time. The outcome of a step depends
 * only on its own bytes and the end of the input, which only moves on, so
 * resuming gives what a scan from the start would give.
 */

void
tc_proto_skip_state_init(tc_proto_skip_state_t *st)
{
    st->pos = 0;
    st->top = 0;
}

/* Open a struct or container of 'type' as a new frame, or step over a scalar. */
static int
resume_value(tc_proto_t *p, tc_proto_skip_state_t *st, uint8_t type)
{
    const tc_proto_ops_t *ops = p->ops;
    tc_proto_skip_frame_t f = {0, 0, type, 0, 0};
    int rc;
    switch (type) {
    case TC_TTYPE_STRUCT:
        if ((rc = enter(p)) == TC_OK && (rc = ops->read_struct_begin(p)) != TC_OK) {
            p->depth--;
        }
        break;
    case TC_TTYPE_LIST:
    case TC_TTYPE_SET:
        f.kind = TC_TTYPE_LIST;
        if ((rc = enter(p)) == TC_OK && (rc = ops->read_list_begin(p, &f.et, &f.left)) != TC_OK) {
            p->depth--;
        }
        break;
    case TC_TTYPE_MAP:
        if ((rc = enter(p)) == TC_OK &&
            (rc = ops->read_map_begin(p, &f.et, &f.vt, &f.left)) != TC_OK) {
            p->depth--;
        }
        f.left *= 2; /* the readers bound it by the bytes left: no overflow */
        break;
    default:
        return tc_proto_skip(p, type);
    }
    if (rc == TC_OK) {
        st->stack[st->top++] = f;
    }
    return rc;
}

/* Whole varints of a list, as skip_varints() judges them, until the input ends. */
static int
resume_varints(tc_proto_t *p, tc_proto_skip_frame_t *f, unsigned max)
{
    const uint8_t *s = p->rp;
    unsigned run = 0;
    while (f->left > 0 && s < p->rend) {
        if (*s++ & 0x80) {
            if (TC_UNLIKELY(++run == max)) {
                return TC_EPROTO;
            }
        } else {
            run = 0;
            f->left--;
            p->rp = s;
        }
    }
    return f->left == 0 ? TC_OK : TC_AGAIN;
}

/*
 * One step inside the innermost frame, 'f'. '*run' is set when the step
 * was a run of fixed-size or varint elements: those stop at the last whole
 * element, so a TC_AGAIN still leaves 'p' and 'f' where the next call goes on.
 */
static int
resume_step(tc_proto_t *p, tc_proto_skip_state_t *st, tc_proto_skip_frame_t *f, bool *run)
{
    const tc_proto_ops_t *ops = p->ops;
    int rc;
    if (f->kind == TC_TTYPE_STRUCT) {
        uint8_t type;
        int16_t id;
        if ((rc = ops->read_field_begin(p, &type, &id)) != TC_OK) {
            return rc;
        }
        if (type == TC_TTYPE_STOP) {
            if ((rc = ops->read_struct_end(p)) == TC_OK) {
                st->top--;
                p->depth--;
            }
            return rc;
        }
        int16_t before = f->last_fid;
        f->last_fid = id; /* before a nested struct saves it */
        if ((rc = resume_value(p, st, type)) != TC_OK) {
            f->last_fid = before;
        }
        return rc;
    }
    if (f->left == 0) {
        st->top--;
        p->depth--;
        return TC_OK;
    }
    uint8_t et = f->kind == TC_TTYPE_MAP && f->left % 2 == 1 ? f->vt : f->et;
    uint8_t size = ops->fixed_size[et];
    if (f->kind == TC_TTYPE_MAP) {
        /* fixed keys and values: whole entries in one move, as skip_map() does */
        size = size != 0 && ops->fixed_size[f->vt] != 0 && f->left % 2 == 0
                   ? (uint8_t)(size + ops->fixed_size[f->vt])
                   : 0;
    } else if (size == 0 && ops->varint_max[et] != 0) {
        *run = true;
        return resume_varints(p, f, ops->varint_max[et]);
    }
    if (size != 0) {
        *run = true;
        uint32_t per = f->kind == TC_TTYPE_MAP ? 2 : 1;
        size_t n = tc_proto_left(p) / size;
        n = n < f->left / per ? n : f->left / per;
        p->rp += n * size;
        f->left -= (uint32_t)n * per;
        return f->left == 0 ? TC_OK : TC_AGAIN;
    }
    f->left--;
    if ((rc = resume_value(p, st, et)) != TC_OK) {
        f->left++;
    }
    return rc;
}

/* Put 'p' where 'st' stopped: the read position, the depth and compact's field ids. */
static void
resume_restore(tc_proto_t *p, const tc_proto_skip_state_t *st, const uint8_t *start)
{
    int16_t last = 0;
    p->rp = start + st->pos;
    p->depth = st->top;
    p->_bool_pending = 0;
    p->_fid_top = 0;
    for (uint32_t i = 0; i < st->top; i++) {
        if (st->stack[i].kind == TC_TTYPE_STRUCT) {
            p->_fid_stack[p->_fid_top++] = last;
            last = st->stack[i].last_fid;
        }
    }
    p->_last_fid = last;
}

int
tc_proto_skip_message_resume(tc_proto_t *p, tc_proto_skip_state_t *st)
{
    const uint8_t *start = p->rp;
    int rc;
    if (st->top == 0) {
        tc_msg_hdr_t m;
        if ((rc = p->ops->read_message_begin(p, &m)) != TC_OK) {
            return rc;
        }
        if (m.type < TC_MSG_CALL || m.type > TC_MSG_ONEWAY) {
            return TC_EPROTO;
        }
        if ((rc = resume_value(p, st, TC_TTYPE_STRUCT)) != TC_OK) {
            return rc;
        }
        st->pos = (size_t)(p->rp - start);
    } else {
        resume_restore(p, st, start);
    }
    while (st->top > 0) {
        bool run = false;
        rc = resume_step(p, st, &st->stack[st->top - 1], &run);
        if (rc == TC_OK || (rc == TC_AGAIN && run)) {
            st->pos = (size_t)(p->rp - start);
        }
        if (rc != TC_OK) {
            return rc; /* a step cut short is read again from st->pos */
        }
    }
    return TC_OK;
}

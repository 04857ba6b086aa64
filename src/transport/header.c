/* SPDX-License-Identifier: Apache-2.0 */
/*
 * THeader frames, after Apache Thrift's THeaderTransport (C++ and Python):
 *
 *   LENGTH u32 | MAGIC 0x0FFF u16 | FLAGS u16 | SEQID u32 | HEADER SIZE u16
 *   (in 4-byte words) | header: varint protocol id, varint transform count,
 *   varint transform ids, info headers (varint type; type 1: varint count,
 *   then varint-length key and value strings), zero padding | message
 *
 * LENGTH counts everything after itself. Unknown info header types end the
 * info headers (the rest of the block is skipped, as Apache does). The
 * message of a ZLIB-transformed frame is a zlib stream (RFC 1950), once per
 * ZLIB named, each layer at most the cap once inflated and all of them
 * together at most twice it; bytes after a stream's end are ignored, as
 * zlib's inflate() and Python's zlib.decompress() ignore them in Apache's
 * readers. Replies are written as Apache's servers write them: no
 * transform; the message straight into the output, its frame's start
 * filled in after it.
 */
#include "transport/header.h"

#include "protocol/binary.h"
#include "protocol/message.h"

#include <inttypes.h>
#include <stdio.h>
#include <zlib.h>

#define MAGIC      0x0FFFu
#define FIXED      TC_HEADER_FIXED
#define WORDS_MAX  16383u /* Apache's C++ reader refuses a header block of 16384 words */
#define VARINT_MAX 5u     /* a u32 */
/* the header block tc_header_begin() leaves room for: protocol id, no transform */
#define LEAST_BLOCK (TC_HEADER_LEAST - 4 - FIXED)

/* ---- framing ---- */

static int
scan(const tc_proto_ops_t *ops, const uint8_t *data, size_t len, size_t max, size_t *off,
     size_t *msg_len)
{
    int rc = tc_transport_framed.scan(ops, data, len, max, off, msg_len);
    if (rc == TC_OK && *msg_len < FIXED) {
        return TC_EPROTO; /* too short to hold the fixed part */
    }
    return rc;
}

static size_t
begin(tc_buf_t *out)
{
    return out->len;
}

static void
end(tc_buf_t *out, size_t mark)
{
    (void)out;
    (void)mark;
}

const tc_transport_t tc_transport_header = {
    .name = "header",
    .scan = scan,
    .begin = begin,
    .end = end,
    /*
     * for tc_header_end(): the length (an i32) counts the fixed part, a
     * header block of at most WORDS_MAX words and the message
     */
    .max_body = INT32_MAX - FIXED - 4 * WORDS_MAX,
};

void
tc_header_init(tc_header_t *h)
{
    memset(h, 0, sizeof(*h));
    tc_buf_init(&h->reply_info);
    tc_buf_init(&h->inflated);
    tc_buf_init(&h->spare);
}

void
tc_header_deinit(tc_header_t *h)
{
    tc_buf_deinit(&h->reply_info);
    tc_buf_deinit(&h->inflated);
    tc_buf_deinit(&h->spare);
}

void
tc_header_shed(tc_header_t *h, size_t keep)
{
    /* not 'reply_info': at most TC_HEADER_REPLY_INFO_MAX bytes, a buffer of 64 KiB at most */
    tc_buf_shed(&h->inflated, keep);
    tc_buf_shed(&h->spare, keep);
}

/* ---- reading ---- */

static uint16_t
get_u16(const uint8_t *p)
{
    return (uint16_t)(p[0] << 8 | p[1]);
}

/*
 * An unsigned LEB128 u32 at *p, before 'end': TC_OK, TC_AGAIN when 'end'
 * cuts it short, TC_EPROTO when it is over 32 bits (no Apache writer pads
 * one).
 */
static int
varint(const uint8_t **p, const uint8_t *end, uint32_t *v)
{
    uint32_t r = 0;
    for (unsigned i = 0; i < VARINT_MAX; i++) {
        if (*p >= end) {
            return TC_AGAIN;
        }
        uint8_t b = *(*p)++;
        if (i == VARINT_MAX - 1 && b > 0x0F) {
            return TC_EPROTO;
        }
        r |= (uint32_t)(b & 0x7F) << (7 * i);
        if ((b & 0x80) == 0) {
            *v = r;
            return TC_OK;
        }
    }
    return TC_EPROTO;
}

/* A varint-length string at *p, before 'end'. */
static bool
string(const uint8_t **p, const uint8_t *end, const uint8_t **s, uint32_t *len)
{
    if (varint(p, end, len) != TC_OK || *len > (size_t)(end - *p)) {
        return false;
    }
    *s = *p;
    *p += *len;
    return true;
}

/* One KEYVALUE section's pairs at *p; false if they run past 'end'. */
static bool
skip_pairs(const uint8_t **p, const uint8_t *end)
{
    uint32_t n;
    if (varint(p, end, &n) != TC_OK) {
        return false;
    }
    for (uint32_t i = 0; i < n; i++) {
        const uint8_t *s;
        uint32_t len;
        /* NOLINTNEXTLINE(misc-redundant-expression): reads a key, then its value */
        if (!string(p, end, &s, &len) || !string(p, end, &s, &len)) {
            return false;
        }
    }
    return true;
}

/* Inflate [src, src+len) into 'dst' (emptied first), at most 'max' bytes. */
static int
inflate_into(tc_buf_t *dst, const uint8_t *src, size_t len, size_t max, const char **why)
{
    z_stream z;
    memset(&z, 0, sizeof(z));
    if (inflateInit(&z) != Z_OK) {
        *why = "zlib: cannot start inflating";
        return TC_EPROTO;
    }
    dst->len = 0;
    /* NOLINTNEXTLINE(performance-no-int-to-ptr): zlib only reads next_in */
    z.next_in = (Bytef *)(uintptr_t)src;
    int rc = Z_OK;
    size_t left = len;
    while (rc != Z_STREAM_END) {
        if (dst->len >= max) {
            /* a stream that still has output at the cap is over it */
            uint8_t probe;
            z.next_out = &probe;
            z.avail_out = 1;
            rc = inflate(&z, Z_NO_FLUSH);
            if (rc == Z_STREAM_END && z.avail_out == 1) {
                break;
            }
            inflateEnd(&z);
            *why = "the inflated message is over max_message_size";
            return TC_ELIMIT;
        }
        size_t room = max - dst->len;
        tc_buf_reserve(dst, room < 65536 ? room : 65536);
        size_t avail = dst->cap - dst->len;
        z.next_out = dst->data + dst->len;
        z.avail_out = (uInt)(avail < room ? avail : room);
        z.avail_in = (uInt)(left < UINT32_MAX ? left : UINT32_MAX);
        uInt in_before = z.avail_in;
        uInt out_before = z.avail_out;
        rc = inflate(&z, Z_NO_FLUSH);
        left -= in_before - z.avail_in;
        dst->len += out_before - z.avail_out;
        if (rc == Z_BUF_ERROR && z.avail_out != 0) {
            rc = Z_DATA_ERROR; /* input ended before the stream did */
        }
        if (rc != Z_OK && rc != Z_STREAM_END && rc != Z_BUF_ERROR) {
            inflateEnd(&z);
            *why = "zlib: invalid compressed message";
            return TC_EPROTO;
        }
    }
    inflateEnd(&z);
    return TC_OK;
}

/* The header block [p, end): protocol id, transforms, info headers. */
static int
read_block(tc_header_t *h, const uint8_t *p, const uint8_t *end, const char **why)
{
    uint32_t n;
    int rc = varint(&p, end, &h->proto_id);
    if (rc != TC_OK) {
        *why = rc == TC_AGAIN ? "truncated protocol id" : "protocol id over 32 bits";
        return TC_EPROTO;
    }
    if (h->proto_id == TC_HEADER_PROTO_BINARY) {
        h->protocol = &tc_proto_binary;
    } else if (h->proto_id == TC_HEADER_PROTO_COMPACT) {
        h->protocol = &tc_proto_compact;
    } else {
        *why = "unsupported protocol id";
        h->refused = TC_APPEX_INVALID_PROTOCOL;
        h->refused_id = h->proto_id;
        return TC_EPROTO;
    }
    if ((rc = varint(&p, end, &n)) != TC_OK) {
        *why = rc == TC_AGAIN ? "truncated transform count" : "transform count over 32 bits";
        return TC_EPROTO;
    }
    if (n > TC_HEADER_TRANSFORMS_MAX) {
        /* each ZLIB is one more pass of up to 'max_inflated' bytes: bounded */
        *why = "too many transforms";
        return TC_EPROTO;
    }
    h->ntransforms = n;
    for (uint32_t i = 0; i < n; i++) {
        uint32_t id;
        if ((rc = varint(&p, end, &id)) != TC_OK) {
            *why = rc == TC_AGAIN ? "truncated transform id" : "transform id over 32 bits";
            return TC_EPROTO;
        }
        if (id != TC_HEADER_TRANSFORM_ZLIB) {
            *why = "unsupported transform";
            h->refused = TC_APPEX_INVALID_TRANSFORM;
            h->refused_id = id;
            return TC_EPROTO;
        }
    }
    h->info = p;
    while (p < end) {
        const uint8_t *section = p;
        uint32_t type;
        if (varint(&p, end, &type) != TC_OK || type != TC_HEADER_INFO_KEYVALUE) {
            p = section; /* padding or a type we do not know: the info headers end */
            break;
        }
        if (!skip_pairs(&p, end)) {
            *why = "info headers run past the header block";
            return TC_EPROTO;
        }
    }
    h->info_len = (size_t)(p - h->info);
    return TC_OK;
}

int
tc_header_read(tc_header_t *h, const uint8_t *frame, size_t len, size_t max_inflated,
               const char **why)
{
    h->reply_info.len = 0;
    h->nreply_info = 0;
    h->info = NULL;
    h->info_len = 0;
    h->refused = 0;
    if (len < FIXED || get_u16(frame) != MAGIC) {
        *why = "not a THeader frame";
        return TC_EPROTO;
    }
    h->flags = get_u16(frame + 2);
    h->seqid = (int32_t)tc_proto_binary_load_be32(frame + 4);
    size_t hlen = (size_t)get_u16(frame + 8) * 4;
    if (hlen > len - FIXED) {
        *why = "header size larger than the frame";
        return TC_EPROTO;
    }
    const uint8_t *hend = frame + FIXED + hlen;
    int rc = read_block(h, frame + FIXED, hend, why);
    if (rc != TC_OK) {
        return rc;
    }
    h->payload = hend;
    h->payload_len = len - FIXED - hlen;
    /*
     * The writer applied the transforms in the order listed; all are ZLIB,
     * so undoing them in any order is undoing them in reverse. The first
     * layer inflates from the frame into 'inflated'; each one after it from
     * the one before, moved to 'spare' until it is done (so a client that
     * names ZLIB once keeps one buffer, not two). The layers together
     * inflate to at most twice 'max_inflated': a layer may be a zlib bomb
     * of the next, and without this a frame of 20 KB naming ZLIB 16 times
     * would have a server inflate 16 times the cap.
     */
    size_t budget = max_inflated > SIZE_MAX / 2 ? SIZE_MAX : 2 * max_inflated;
    for (uint32_t i = 0; i < h->ntransforms; i++) {
        if (i > 0) {
            tc_buf_t t = h->spare;
            h->spare = h->inflated;
            h->inflated = t;
        }
        size_t cap = budget < max_inflated ? budget : max_inflated;
        rc = inflate_into(&h->inflated, h->payload, h->payload_len, cap, why);
        if (rc != TC_OK) {
            if (rc == TC_ELIMIT && cap < max_inflated) {
                *why = "the inflated layers are over twice max_message_size together";
            }
            return rc;
        }
        budget -= h->inflated.len;
        h->payload = h->inflated.data;
        h->payload_len = h->inflated.len;
    }
    return TC_OK;
}

void
tc_header_iter_init(const tc_header_t *h, tc_header_iter_t *it)
{
    it->p = h->info;
    it->end = h->info + h->info_len;
    it->left = 0;
}

bool
tc_header_next(tc_header_iter_t *it, tc_header_kv_t *kv)
{
    /* the sections were validated by tc_header_read(): reads cannot fail here */
    while (it->left == 0) {
        uint32_t type;
        if (it->p >= it->end || varint(&it->p, it->end, &type) != TC_OK ||
            varint(&it->p, it->end, &it->left) != TC_OK) {
            return false;
        }
    }
    it->left--;
    return string(&it->p, it->end, &kv->key, &kv->key_len) &&
           string(&it->p, it->end, &kv->value, &kv->value_len);
}

/* ---- writing ---- */

/* A varint at 'p'; returns the byte after it. */
static uint8_t *
put_varint_at(uint8_t *p, uint32_t v)
{
    while (v >= 0x80) {
        *p++ = (uint8_t)(v | 0x80);
        v >>= 7;
    }
    *p++ = (uint8_t)v;
    return p;
}

static void
put_varint(tc_buf_t *b, uint32_t v)
{
    if (tc_buf_reserve(b, VARINT_MAX)) {
        b->len = (size_t)(put_varint_at(b->data + b->len, v) - b->data);
    }
}

static size_t
varint_len(uint32_t v)
{
    size_t n = 1;
    while (v >= 0x80) {
        v >>= 7;
        n++;
    }
    return n;
}

int
tc_header_set_reply(tc_header_t *h, const void *key, size_t key_len, const void *value,
                    size_t value_len)
{
    /* each length checked on its own first: their sum must not wrap */
    size_t room = TC_HEADER_REPLY_INFO_MAX - h->reply_info.len;
    if (key_len > room || value_len > room || key_len + value_len + 2 * (size_t)VARINT_MAX > room) {
        return TC_ELIMIT;
    }
    put_varint(&h->reply_info, (uint32_t)key_len);
    tc_buf_append(&h->reply_info, key, key_len);
    put_varint(&h->reply_info, (uint32_t)value_len);
    tc_buf_append(&h->reply_info, value, value_len);
    h->nreply_info++;
    return TC_OK;
}

/*
 * The largest reply header block: protocol id (0 or 2) and transform count
 * (0) take a byte each, the info type a byte, the count of pairs (each at
 * least 2 bytes) at most 3.
 */
_Static_assert(1 + 1 + 1 + 3 + TC_HEADER_REPLY_INFO_MAX <= WORDS_MAX * 4,
               "reply info headers fit the header block");

size_t
tc_header_begin(tc_buf_t *out)
{
    size_t mark = out->len;
    tc_buf_reserve(out, TC_HEADER_LEAST);
    out->len += TC_HEADER_LEAST;
    return mark;
}

void
tc_header_end(tc_header_t *h, tc_buf_t *out, size_t mark)
{
    size_t at = mark + 4 + FIXED; /* the header block */
    size_t msg = mark + TC_HEADER_LEAST;
    TC_ASSERT(out->len >= msg);
    size_t block = varint_len(h->proto_id) + 1;
    if (h->nreply_info > 0) {
        block +=
            varint_len(TC_HEADER_INFO_KEYVALUE) + varint_len(h->nreply_info) + h->reply_info.len;
    }
    block = (block + 3) & ~(size_t)3;
    if (TC_UNLIKELY(block > LEAST_BLOCK)) {
        /* info headers: the message moves on (a reply without them is not moved) */
        size_t more = block - LEAST_BLOCK;
        size_t len = out->len - msg;
        tc_buf_reserve(out, more);
        memmove(out->data + msg + more, out->data + msg, len);
        out->len += more;
    }
    uint8_t *p = out->data + mark;
    tc_proto_binary_store_be32(p + 4, MAGIC << 16 | h->flags);
    tc_proto_binary_store_be32(p + 8, (uint32_t)h->seqid);
    size_t words = block / 4;
    TC_ASSERT(words <= WORDS_MAX);
    p[12] = (uint8_t)(words >> 8);
    p[13] = (uint8_t)words;
    uint8_t *q = put_varint_at(out->data + at, h->proto_id);
    *q++ = 0; /* transforms */
    if (h->nreply_info > 0) {
        q = put_varint_at(q, TC_HEADER_INFO_KEYVALUE);
        q = put_varint_at(q, h->nreply_info);
        memcpy(q, h->reply_info.data, h->reply_info.len);
        q += h->reply_info.len;
    }
    memset(q, 0, block - (size_t)(q - (out->data + at)));
    size_t n = out->len - mark - 4;
    TC_ASSERT(n <= INT32_MAX);
    tc_proto_binary_store_be32(p, (uint32_t)n);
}

void
tc_header_write_refusal(tc_header_t *h, tc_buf_t *out)
{
    TC_ASSERT(h->refused == TC_APPEX_INVALID_PROTOCOL || h->refused == TC_APPEX_INVALID_TRANSFORM);
    char text[48];
    if (h->refused == TC_APPEX_INVALID_PROTOCOL) {
        /*
         * Apache's C++ server names the unknown id in its reply's header; a
         * client then cannot read the reply (Python's fails in
         * readMessageBegin()): name the protocol it is written in.
         */
        h->proto_id = TC_HEADER_PROTO_BINARY;
        h->protocol = &tc_proto_binary;
        (void)snprintf(text, sizeof(text), "Unknown protocol id: %" PRIu32, h->refused_id);
    } else {
        (void)snprintf(text, sizeof(text), "Unknown transform: %" PRIu32, h->refused_id);
    }
    h->reply_info.len = 0;
    h->nreply_info = 0;
    size_t mark = tc_header_begin(out);
    tc_proto_t p;
    tc_proto_init(&p, h->protocol, NULL, 0, out);
    tc_message_write_appex(&p, "", 0, h->seqid, h->refused, text, strlen(text));
    tc_header_end(h, out, mark);
}

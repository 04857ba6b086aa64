/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Canonical function signatures from the compiled schema, and FNV-1a. The
 * format is part of the plugin ABI: changing it changes every hash, so it
 * only changes with TC_PLUGIN_ABI_MAJOR.
 */
#include "schema/signature.h"

#include "core/alloc.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/*
 * Structs already written out in full in this signature (a struct may
 * contain itself): as many as the function reaches, so that none is
 * written twice and a recursive one ends. 'stop' is the length of 'out'
 * past which nothing more is written (see SIG_TEXT_MAX).
 */
typedef struct seen {
    const tc_struct_t **st;
    size_t n;
    size_t cap;
    size_t stop;
} seen_t;

/* Note 'st' as seen; false if it was already. */
static bool
seen_add(seen_t *seen, const tc_struct_t *st)
{
    for (size_t i = 0; i < seen->n; i++) {
        if (seen->st[i] == st) {
            return false;
        }
    }
    if (seen->n == seen->cap) {
        seen->cap = seen->cap ? 2 * seen->cap : 16;
        /* NOLINTNEXTLINE(bugprone-sizeof-expression): an array of pointers */
        seen->st = tc_xrealloc(seen->st, seen->cap * sizeof(*seen->st));
    }
    seen->st[seen->n++] = st;
    return true;
}

/* FNV-1a over 'n' bytes, from 'h'. */
static uint64_t
fnv(uint64_t h, const uint8_t *p, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        h ^= p[i];
        h *= 0x100000001b3ULL;
    }
    return h;
}

/*
 * The text is cut at this many bytes. Typedefs are shared types, so
 * "typedef map<T0,T0> T1; typedef map<T1,T1> T2; ..." spells out a type
 * twice as long at every step; past the cut the signature ends with a hash
 * of the whole structure instead, which takes time linear in the IDL.
 */
#define SIG_TEXT_MAX 65536

/* ---- the structure hash, for a text over SIG_TEXT_MAX ---- */

/* Hashes of container types already walked: typedefs make the types a DAG. */
typedef struct memo {
    const tc_type_t **key;
    uint64_t *hash;
    size_t cap; /* a power of two */
    size_t n;
} memo_t;

/* 'x' mixed into 'h', its bytes from the lowest. */
static uint64_t
mix(uint64_t h, uint64_t x)
{
    uint8_t b[8];
    for (int i = 0; i < 8; i++) {
        b[i] = (uint8_t)(x >> (8 * i));
    }
    return fnv(h, b, sizeof(b));
}

static uint64_t
mix_text(uint64_t h, const char *s)
{
    h = mix(h, strlen(s));
    return h ^ tc_signature_hash(s, strlen(s));
}

static size_t
memo_slot(const memo_t *m, const tc_type_t *t)
{
    size_t i = ((uintptr_t)t >> 4) & (m->cap - 1);
    while (m->key[i] != NULL && m->key[i] != t) {
        i = (i + 1) & (m->cap - 1);
    }
    return i;
}

static void
memo_put(memo_t *m, const tc_type_t *t, uint64_t h)
{
    if (2 * (m->n + 1) > m->cap) {
        memo_t big = {NULL, NULL, m->cap ? 2 * m->cap : 64, 0};
        /* NOLINTNEXTLINE(bugprone-sizeof-expression): an array of pointers */
        big.key = tc_xcalloc(big.cap, sizeof(*big.key));
        big.hash = tc_xcalloc(big.cap, sizeof(*big.hash));
        for (size_t i = 0; i < m->cap; i++) {
            if (m->key[i] != NULL) {
                memo_put(&big, m->key[i], m->hash[i]);
            }
        }
        free(m->key);
        free(m->hash);
        *m = big;
    }
    size_t i = memo_slot(m, t);
    m->key[i] = t;
    m->hash[i] = h;
    m->n++;
}

static uint64_t hash_type(const tc_type_t *t, memo_t *m, seen_t *seen, uint64_t *acc);

/* Fields of 'st' in id order into 'acc' (as format_fields() writes them). */
static void
hash_fields(const tc_struct_t *st, memo_t *m, seen_t *seen, uint64_t *acc)
{
    *acc = mix(*acc, st->nfields);
    for (uint16_t i = 0; i < st->nfields; i++) {
        const tc_field_t *f = st->_sorted != NULL ? st->_sorted[i] : &st->fields[i];
        uint64_t h = hash_type(&f->type, m, seen, acc);
        *acc = mix(mix(mix(*acc, (uint16_t)f->id), f->req), h);
    }
}

/*
 * Hash of type 't'; a struct is its name here, and its fields go into
 * 'acc' at its first occurrence, once per struct as in the text.
 */
static uint64_t
hash_type(const tc_type_t *t, memo_t *m, seen_t *seen, uint64_t *acc)
{
    uint64_t h = mix(0xcbf29ce484222325ULL, t->kind);
    switch ((tc_kind_t)t->kind) {
    case TC_KIND_ENUM:
        return mix_text(h, t->enum_name != NULL ? t->enum_name : "");
    case TC_KIND_LIST:
    case TC_KIND_SET:
    case TC_KIND_MAP: {
        size_t i = m->cap ? memo_slot(m, t) : 0;
        if (m->cap && m->key[i] == t) {
            return m->hash[i];
        }
        h = mix(h, hash_type(t->elem, m, seen, acc));
        if (t->kind == TC_KIND_MAP) {
            h = mix(h, hash_type(t->value, m, seen, acc));
        }
        memo_put(m, t, h);
        return h;
    }
    case TC_KIND_STRUCT: {
        const tc_struct_t *st = t->st;
        if (!seen_add(seen, st)) {
            return mix_text(h, st->name);
        }
        *acc = mix_text(*acc, st->name);
        hash_fields(st, m, seen, acc);
        return mix_text(h, st->name);
    }
    default:
        return h;
    }
}

/* The structure of 'fn' (what its full signature text spells out), in time linear in the IDL. */
static uint64_t
hash_function(const tc_function_t *fn)
{
    memo_t m = {NULL, NULL, 0, 0};
    seen_t seen = {NULL, 0, 0, 0};
    uint64_t acc = mix(0xcbf29ce484222325ULL, fn->oneway);
    acc = mix(acc, fn->name_len) ^ tc_signature_hash(fn->name, fn->name_len);
    hash_fields(fn->args, &m, &seen, &acc);
    hash_fields(fn->result, &m, &seen, &acc);
    free(m.key);
    free(m.hash);
    free(seen.st);
    return acc;
}

/* ---- the text ---- */

static void
put(tc_buf_t *out, const char *s)
{
    tc_buf_append(out, s, strlen(s));
}

static void format_type(const tc_type_t *t, tc_buf_t *out, seen_t *seen);

static void
format_fields(const tc_struct_t *st, int from_id, bool skip_zero, tc_buf_t *out, seen_t *seen)
{
    bool first = true;
    for (uint16_t i = 0; i < st->nfields && out->len <= seen->stop; i++) {
        const tc_field_t *f = st->_sorted != NULL ? st->_sorted[i] : &st->fields[i];
        if (f->id < from_id || (skip_zero && f->id == 0)) {
            continue;
        }
        char id[16];
        (void)snprintf(id, sizeof(id), "%s%d:", first ? "" : ",", f->id);
        put(out, id);
        if (f->req == TC_REQ_REQUIRED) {
            put(out, "required ");
        } else if (f->req == TC_REQ_OPTIONAL) {
            put(out, "optional ");
        }
        format_type(&f->type, out, seen);
        first = false;
    }
}

static void
format_struct(const tc_struct_t *st, tc_buf_t *out, seen_t *seen)
{
    put(out, st->name);
    if (!seen_add(seen, st)) {
        return;
    }
    put(out, "{");
    format_fields(st, INT16_MIN, false, out, seen);
    put(out, "}");
}

static void
format_type(const tc_type_t *t, tc_buf_t *out, seen_t *seen)
{
    static const char *const names[] = {
        [TC_KIND_BOOL] = "bool",     [TC_KIND_BYTE] = "byte",     [TC_KIND_I16] = "i16",
        [TC_KIND_I32] = "i32",       [TC_KIND_I64] = "i64",       [TC_KIND_DOUBLE] = "double",
        [TC_KIND_STRING] = "string", [TC_KIND_BINARY] = "binary", [TC_KIND_UUID] = "uuid",
    };
    if (out->len > seen->stop) {
        return; /* cut: each call writes something, so the walk ends soon after */
    }
    switch ((tc_kind_t)t->kind) {
    case TC_KIND_ENUM:
        put(out, t->enum_name != NULL ? t->enum_name : "enum");
        return;
    case TC_KIND_LIST:
    case TC_KIND_SET:
        put(out, t->kind == TC_KIND_LIST ? "list<" : "set<");
        format_type(t->elem, out, seen);
        put(out, ">");
        return;
    case TC_KIND_MAP:
        put(out, "map<");
        format_type(t->elem, out, seen);
        put(out, ",");
        format_type(t->value, out, seen);
        put(out, ">");
        return;
    case TC_KIND_STRUCT:
        format_struct(t->st, out, seen);
        return;
    default:
        put(out, t->kind < TC_ARRAY_LEN(names) && names[t->kind] ? names[t->kind] : "?");
        return;
    }
}

void
tc_signature_format(const tc_function_t *fn, tc_buf_t *out)
{
    size_t start = out->len;
    seen_t seen = {NULL, 0, 0, start + SIG_TEXT_MAX};
    if (fn->oneway) {
        put(out, "oneway ");
    }
    const tc_field_t *ret = tc_schema_field_by_id(fn->result, 0);
    if (ret != NULL) {
        format_type(&ret->type, out, &seen);
    } else {
        put(out, "void");
    }
    put(out, " ");
    tc_buf_append(out, fn->name, fn->name_len);
    put(out, "(");
    format_fields(fn->args, INT16_MIN, false, out, &seen);
    put(out, ")");
    bool throws = false;
    for (uint16_t i = 0; i < fn->result->nfields; i++) {
        throws = throws || fn->result->fields[i].id != 0;
    }
    if (throws) {
        put(out, " throws (");
        format_fields(fn->result, INT16_MIN, true, out, &seen);
        put(out, ")");
    }
    free(seen.st);
    if (out->len > seen.stop) {
        char tail[64];
        (void)snprintf(tail, sizeof(tail), "...(cut; structure 0x%016llx)",
                       (unsigned long long)hash_function(fn));
        out->len = seen.stop;
        put(out, tail);
    }
}

uint64_t
tc_signature_hash(const void *data, size_t len)
{
    return fnv(0xcbf29ce484222325ULL, data, len);
}

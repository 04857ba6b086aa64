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
 * written twice and a recursive one ends.
 */
typedef struct seen {
    const tc_struct_t **st;
    size_t n;
    size_t cap;
} seen_t;

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
    for (uint16_t i = 0; i < st->nfields; i++) {
        const tc_field_t *f = st->_sorted != NULL ? st->_sorted[i] : &st->fields[i];
        if (f->id < from_id || (skip_zero && f->id == 0)) {
            continue;
        }
        char id[16];
        snprintf(id, sizeof(id), "%s%d:", first ? "" : ",", f->id);
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
    for (size_t i = 0; i < seen->n; i++) {
        if (seen->st[i] == st) {
            return;
        }
    }
    if (seen->n == seen->cap) {
        seen->cap = seen->cap ? 2 * seen->cap : 16;
        seen->st = tc_xrealloc(seen->st, seen->cap * sizeof(*seen->st));
    }
    seen->st[seen->n++] = st;
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
    seen_t seen = {NULL, 0, 0};
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
}

uint64_t
tc_signature_hash(const void *data, size_t len)
{
    const uint8_t *p = data;
    uint64_t h = 0xcbf29ce484222325ULL;
    for (size_t i = 0; i < len; i++) {
        h ^= p[i];
        h *= 0x100000001b3ULL;
    }
    return h;
}

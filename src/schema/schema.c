/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Compiled IDL descriptors: allocation from one arena per schema, field
 * indexes by id, lookup, and the shared reference count.
 */
#include "schema/schema.h"

#include "core/alloc.h"
#include "core/arena.h"
#include "protocol/protocol.h"

#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

struct tc_schema {
    atomic_int refs;
    tc_arena_t arena;
};

/* Field ids spread wider than this are found by a linear scan instead. */
#define INDEX_SPAN_MAX 1024

tc_schema_t *
tc_schema_new(void)
{
    tc_schema_t *s = tc_xcalloc(1, sizeof(*s));
    atomic_init(&s->refs, 1);
    tc_arena_init(&s->arena, 16384);
    return s;
}

void *
tc_schema_alloc(tc_schema_t *s, size_t size)
{
    return tc_arena_calloc(&s->arena, size);
}

const char *
tc_schema_strdup(tc_schema_t *s, const char *str, size_t len)
{
    char *p = tc_arena_alloc(&s->arena, len + 1);
    memcpy(p, str, len);
    p[len] = '\0';
    return p;
}

tc_struct_t *
tc_schema_struct_new(tc_schema_t *s, const char *name, tc_struct_kind_t kind, uint16_t nfields)
{
    tc_struct_t *st = tc_schema_alloc(s, sizeof(*st));
    st->name = tc_schema_strdup(s, name, strlen(name));
    st->kind = (uint8_t)kind;
    st->nfields = nfields;
    st->fields = tc_schema_alloc(s, sizeof(tc_field_t) * (nfields ? nfields : 1));
    return st;
}

int
tc_schema_struct_seal(tc_schema_t *s, tc_struct_t *st)
{
    int32_t lo = INT16_MAX;
    int32_t hi = INT16_MIN;
    st->has_defaults = false;
    st->has_required = false;
    for (uint16_t i = 0; i < st->nfields; i++) {
        const tc_field_t *f = &st->fields[i];
        lo = f->id < lo ? f->id : lo;
        hi = f->id > hi ? f->id : hi;
        st->has_defaults = st->has_defaults || f->has_default;
        st->has_required = st->has_required || f->req == TC_REQ_REQUIRED;
        for (uint16_t j = 0; j < i; j++) {
            if (st->fields[j].id == f->id) {
                return TC_EINVAL;
            }
        }
    }
    if (st->nfields == 0) {
        lo = 0;
        hi = -1;
    }
    uint32_t span = (uint32_t)(hi - lo + 1);
    if (span > INDEX_SPAN_MAX) {
        /* sparse ids: no index; tc_schema_field_by_id() falls back below */
        span = 0;
    }
    st->_min_id = (int16_t)lo;
    st->_span = (uint16_t)span;
    st->_index = tc_schema_alloc(s, sizeof(uint16_t) * (span ? span : 1));
    for (uint16_t i = 0; i < st->nfields && span > 0; i++) {
        st->_index[st->fields[i].id - lo] = (uint16_t)(i + 1);
    }
    /* insertion sort: structs are small and this runs once per schema */
    st->_sorted = tc_schema_alloc(s, sizeof(tc_field_t *) * (st->nfields ? st->nfields : 1));
    for (uint16_t i = 0; i < st->nfields; i++) {
        const tc_field_t *f = &st->fields[i];
        uint16_t j = i;
        while (j > 0 && st->_sorted[j - 1]->id > f->id) {
            st->_sorted[j] = st->_sorted[j - 1];
            j--;
        }
        st->_sorted[j] = f;
    }
    return TC_OK;
}

tc_function_t *
tc_schema_function_new(tc_schema_t *s, const char *service, const char *name)
{
    tc_function_t *fn = tc_schema_alloc(s, sizeof(*fn));
    fn->name_len = strlen(name);
    fn->name = tc_schema_strdup(s, name, fn->name_len);
    fn->service = tc_schema_strdup(s, service, strlen(service));
    return fn;
}

tc_service_t *
tc_schema_service_new(tc_schema_t *s, const char *name, size_t n)
{
    tc_service_t *svc = tc_schema_alloc(s, sizeof(*svc));
    svc->name = tc_schema_strdup(s, name, strlen(name));
    svc->nfunctions = n;
    svc->functions = tc_schema_alloc(s, sizeof(tc_function_t *) * (n ? n : 1));
    return svc;
}

uint8_t
tc_schema_kind_ttype(tc_kind_t kind)
{
    switch (kind) {
    case TC_KIND_BOOL:
        return TC_TTYPE_BOOL;
    case TC_KIND_BYTE:
        return TC_TTYPE_BYTE;
    case TC_KIND_I16:
        return TC_TTYPE_I16;
    case TC_KIND_I32:
    case TC_KIND_ENUM:
        return TC_TTYPE_I32;
    case TC_KIND_I64:
        return TC_TTYPE_I64;
    case TC_KIND_DOUBLE:
        return TC_TTYPE_DOUBLE;
    case TC_KIND_STRING:
    case TC_KIND_BINARY:
        return TC_TTYPE_STRING;
    case TC_KIND_UUID:
        return TC_TTYPE_UUID;
    case TC_KIND_LIST:
        return TC_TTYPE_LIST;
    case TC_KIND_SET:
        return TC_TTYPE_SET;
    case TC_KIND_MAP:
        return TC_TTYPE_MAP;
    case TC_KIND_STRUCT:
        return TC_TTYPE_STRUCT;
    }
    return TC_TTYPE_STOP;
}

void
tc_schema_type_base(tc_type_t *type, tc_kind_t kind)
{
    memset(type, 0, sizeof(*type));
    type->kind = (uint8_t)kind;
    type->ttype = tc_schema_kind_ttype(kind);
}

tc_schema_t *
tc_schema_ref(tc_schema_t *s)
{
    atomic_fetch_add_explicit(&s->refs, 1, memory_order_relaxed);
    return s;
}

void
tc_schema_unref(tc_schema_t *s)
{
    if (s == NULL) {
        return;
    }
    if (atomic_fetch_sub_explicit(&s->refs, 1, memory_order_acq_rel) == 1) {
        tc_arena_deinit(&s->arena);
        free(s);
    }
}

int
tc_schema_service_index(const tc_service_t *svc, const char *name, size_t len)
{
    /* services are small; a scan comparing lengths first beats hashing here */
    for (size_t i = 0; i < svc->nfunctions; i++) {
        const tc_function_t *fn = svc->functions[i];
        if (fn->name_len == len && memcmp(fn->name, name, len) == 0) {
            return (int)i;
        }
    }
    return -1;
}

const tc_function_t *
tc_schema_service_find(const tc_service_t *svc, const char *name, size_t len)
{
    int i = tc_schema_service_index(svc, name, len);
    return i < 0 ? NULL : svc->functions[i];
}

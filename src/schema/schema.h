/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Compiled IDL: immutable descriptors of types, structs, functions and
 * services that the codecs walk. Built once from the resolved IDL (see
 * bridge/lua_schema.c), then only read, from any thread.
 *
 * Ownership: every descriptor belongs to its tc_schema_t and lives as long
 * as the schema; the schema is shared through tc_schema_ref()/unref().
 */
#ifndef TC_SCHEMA_SCHEMA_H
#define TC_SCHEMA_SCHEMA_H

#include "core/common.h"

#include <stdbool.h>

typedef struct tc_schema tc_schema_t;
typedef struct tc_type tc_type_t;
typedef struct tc_field tc_field_t;
typedef struct tc_struct tc_struct_t;
typedef struct tc_function tc_function_t;
typedef struct tc_service tc_service_t;

/* What a value is in the IDL; finer than the wire type (string vs binary, enum). */
typedef enum {
    TC_KIND_BOOL = 1,
    TC_KIND_BYTE,
    TC_KIND_I16,
    TC_KIND_I32,
    TC_KIND_I64,
    TC_KIND_DOUBLE,
    TC_KIND_STRING,
    TC_KIND_BINARY,
    TC_KIND_UUID,
    TC_KIND_ENUM, /* an i32 on the wire */
    TC_KIND_LIST,
    TC_KIND_SET,
    TC_KIND_MAP,
    TC_KIND_STRUCT, /* struct, union or exception */
} tc_kind_t;

typedef enum {
    TC_REQ_DEFAULT = 0,
    TC_REQ_REQUIRED,
    TC_REQ_OPTIONAL,
} tc_req_t;

typedef enum {
    TC_STRUCT_PLAIN = 0,
    TC_STRUCT_UNION,
    TC_STRUCT_EXCEPTION,
} tc_struct_kind_t;

struct tc_type {
    uint8_t kind;           /* tc_kind_t */
    uint8_t ttype;          /* TC_TTYPE_* written on the wire */
    const tc_type_t *elem;  /* list/set element, map key */
    const tc_type_t *value; /* map value */
    const tc_struct_t *st;  /* TC_KIND_STRUCT */
    const char *enum_name;  /* TC_KIND_ENUM: fully qualified ("tutorial.Operation"), or NULL */
};

struct tc_value; /* thriftcorn/plugin.h */

struct tc_field {
    int16_t id;
    uint8_t req; /* tc_req_t */
    bool has_default;
    const char *name;
    size_t name_len;
    tc_type_t type;
    /* the IDL default as C handlers read it (schema/codec.h), NULL without one */
    const struct tc_value *dflt;
};

struct tc_struct {
    const char *name; /* fully qualified: "tutorial.Work" */
    uint8_t kind;     /* tc_struct_kind_t */
    bool has_defaults;
    bool has_required;
    uint16_t nfields;
    tc_field_t *fields; /* declaration order */
    /* id -> index+1 over [_min_id, _min_id + _span), 0 = unknown id */
    int16_t _min_id;
    uint16_t _span;
    uint16_t *_index;
    const tc_field_t **_sorted; /* fields by ascending id: the order they are written */
};

struct tc_function {
    const char *name;
    size_t name_len;
    bool oneway;
    const tc_struct_t *args;
    const tc_struct_t *result; /* field 0 "success" unless void, then the exceptions */
    const char *service;       /* the service that declares it */
};

struct tc_service {
    const char *name; /* fully qualified */
    size_t nfunctions;
    const tc_function_t **functions; /* inherited ones included */
};

/* ---- building (single-threaded, before the schema is shared) ---- */

/* A new empty schema with one reference. Ownership: the caller's reference. */
tc_schema_t *tc_schema_new(void);

/* Zeroed memory that lives as long as the schema. */
void *tc_schema_alloc(tc_schema_t *s, size_t size);
/* A copy of 'str' that lives as long as the schema. */
const char *tc_schema_strdup(tc_schema_t *s, const char *str, size_t len);

/* A struct with 'nfields' zeroed fields to fill in, then tc_schema_struct_seal(). */
tc_struct_t *tc_schema_struct_new(tc_schema_t *s, const char *name, tc_struct_kind_t kind,
                                  uint16_t nfields);
/*
 * Index the fields by id once all are filled in. Returns TC_OK or TC_EINVAL
 * for a duplicate field id.
 */
int tc_schema_struct_seal(tc_schema_t *s, tc_struct_t *st) TC_NODISCARD;

/* A function; args/result are set by the caller. */
tc_function_t *tc_schema_function_new(tc_schema_t *s, const char *service, const char *name);

/* A service with room for 'n' function pointers. */
tc_service_t *tc_schema_service_new(tc_schema_t *s, const char *name, size_t n);

/* Fill 'type' for a kind that has no parameters (bool ... enum). */
void tc_schema_type_base(tc_type_t *type, tc_kind_t kind);

/* ---- lifetime ---- */

/* Take one more reference (atomic). Returns 's'. */
tc_schema_t *tc_schema_ref(tc_schema_t *s);
/* Drop one reference; the last one frees everything. NULL is a no-op. */
void tc_schema_unref(tc_schema_t *s);

/* ---- lookup (any thread) ---- */

/* The field with wire id 'id', or NULL. */
static inline const tc_field_t *
tc_schema_field_by_id(const tc_struct_t *st, int16_t id)
{
    if (TC_LIKELY(st->_span != 0)) {
        uint32_t i = (uint32_t)((int32_t)id - st->_min_id);
        if (i >= st->_span) {
            return NULL;
        }
        uint16_t k = st->_index[i];
        return k ? &st->fields[k - 1] : NULL;
    }
    /* ids too sparse for an index */
    for (uint16_t i = 0; i < st->nfields; i++) {
        if (st->fields[i].id == id) {
            return &st->fields[i];
        }
    }
    return NULL;
}

/* The function named 'name' (len bytes) in 'svc', or NULL. */
const tc_function_t *tc_schema_service_find(const tc_service_t *svc, const char *name, size_t len);
/* Its index in svc->functions, or -1. */
int tc_schema_service_index(const tc_service_t *svc, const char *name, size_t len);

/* The wire type of a kind ("i32" for enum, "string" for binary). */
uint8_t tc_schema_kind_ttype(tc_kind_t kind);

#endif /* TC_SCHEMA_SCHEMA_H */

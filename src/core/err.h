/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Error values that carry a message: a status code plus a fixed buffer,
 * filled once where the error is found (IDL, config, Lua, plugins).
 */
#ifndef TC_CORE_ERR_H
#define TC_CORE_ERR_H

#include "core/common.h"

#define TC_ERR_MSG_MAX 512

struct tc_err {
    int code;                 /* TC_OK while unset */
    char msg[TC_ERR_MSG_MAX]; /* NUL-terminated, "" while unset */
};

/* Reset 'err' to "no error". 'err' may be NULL. */
void tc_err_clear(tc_err_t *err);

/*
 * Record 'code' with a printf-style message and return 'code', so that
 * `return tc_err_set(err, TC_EPROTO, "...")` reads naturally. The first error
 * set wins; later calls keep it. 'err' may be NULL.
 */
int tc_err_set(tc_err_t *err, int code, const char *fmt, ...) TC_PRINTF(3, 4);

/*
 * Put a printf-style prefix before the message of an error already set
 * ("Struct.field: " before "message truncated"), cutting the message's end
 * if the whole does not fit. A no-op when 'err' is NULL or unset.
 */
void tc_err_prefix(tc_err_t *err, const char *fmt, ...) TC_PRINTF(2, 3);

#endif /* TC_CORE_ERR_H */

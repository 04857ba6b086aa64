/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The text forms of a Thrift uuid (16 bytes on the wire), shared by the Lua
 * codec (values a handler returns, values it is given) and the schema
 * compiler (IDL defaults).
 * A pure function over bytes: no Lua, no allocation.
 */
#ifndef TC_SCHEMA_UUID_H
#define TC_SCHEMA_UUID_H

#include "core/common.h"

/* The length of the canonical text, "xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx". */
#define TC_UUID_TEXT_LEN 36

/*
 * The 16 bytes of the uuid 's' ('len' bytes, NUL not needed): 16 raw bytes
 * as they are, 32 hex digits, or 36 characters with dashes at 8, 13, 18 and
 * 23 and hex digits elsewhere ("xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx").
 * Hex digits may be of either case. Returns TC_OK with 'out' filled, or
 * TC_EINVAL for anything else, with 'out' untouched; callers word their
 * own error.
 */
int tc_uuid_parse(const char *s, size_t len, uint8_t out[16]) TC_NODISCARD;

/* The canonical text of 'u': 36 characters, lower-case, dashed; no NUL. */
void tc_uuid_format(const uint8_t u[16], char out[TC_UUID_TEXT_LEN]);

#endif /* TC_SCHEMA_UUID_H */

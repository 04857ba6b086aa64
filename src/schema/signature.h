/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Canonical signatures of IDL functions and their 64-bit FNV-1a hashes: what
 * a C plugin records at build time (thriftcorn --plugin-header) and the host
 * compares at load, so a plugin never receives bytes of another IDL.
 */
#ifndef TC_SCHEMA_SIGNATURE_H
#define TC_SCHEMA_SIGNATURE_H

#include "core/buf.h"
#include "schema/schema.h"

/*
 * Append the canonical signature of 'fn' to 'out' (not NUL-terminated):
 * "[oneway ]RET NAME(ID:[required |optional ]TYPE,...)[ throws (ID:TYPE,...)]"
 * where base types are IDL names (i8 is "byte"), containers are
 * "list<T>", "set<T>", "map<K,V>", enums are their full name, and a struct
 * is its full name followed, at its first occurrence in the signature, by
 * its fields in id order: "tutorial.Work{1:i32,2:i32,3:tutorial.Operation,
 * 4:optional string}". Field names are left out: they never reach the wire.
 * A text over 65536 bytes (typedefs of typedefs of containers double it at
 * each step) is cut there and ends with "...(cut; structure 0x<16 hex>)", a
 * 64-bit hash of all it would spell out; the call then takes time linear in
 * the IDL, not in the text it would have written.
 */
void tc_signature_format(const tc_function_t *fn, tc_buf_t *out);

/* The 64-bit FNV-1a hash of 'len' bytes. */
uint64_t tc_signature_hash(const void *data, size_t len);

#endif /* TC_SCHEMA_SIGNATURE_H */

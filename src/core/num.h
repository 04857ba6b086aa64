/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Integers to text, digits straight from the integer, byte for byte what
 * the C library's "%lld" and "%0*lld" write, without vsnprintf()'s some
 * 700 instructions: the access log's numeric fields, and the integers the
 * Lua states write as text (bridge/lua_fmt.h).
 */
#ifndef TC_CORE_NUM_H
#define TC_CORE_NUM_H

#include <stddef.h>

/* The longest text of a long long: LLONG_MIN's 19 digits and its sign. */
#define TC_NUM_MAX 20

/*
 * Write 'v' in decimal at 'dst', as snprintf() with "%0*lld" and 'width'
 * does: at least 'width' characters (0 to TC_NUM_MAX), zeros put between
 * a minus sign and the digits to make them up; 0 and 1 are "%lld".
 * Writes no NUL; returns the length, at most TC_NUM_MAX ('dst' has room
 * for that many). Any thread.
 */
size_t tc_num_format(char *dst, long long v, unsigned width);

#endif /* TC_CORE_NUM_H */

/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Integers to text for the Lua states. Lua 5.4 writes an integer as text
 * ("item-" .. id, tostring(n), string.format("%d", n), lua_tostring())
 * with the C library's snprintf() and the format "%lld": some 700
 * instructions of vfprintf's machinery for a few digits, a sixth of a
 * handler call that builds 100 items with two such strings each.
 *
 * thriftcorn therefore defines snprintf() and __snprintf_chk() (what
 * callers built with _FORTIFY_SOURCE call, Debian's liblua among them) in
 * its own objects. A program's own symbols come first in the dynamic
 * linker's lookup, so liblua's calls reach them, as would any other
 * library's. The format "%lld" alone is written here, digits straight from
 * the integer (tc_num_format() of core/num.h), byte for byte what the C
 * library writes; any other format, and a fortified call whose buffer is
 * smaller than it says, goes on to the C library's vsnprintf() or
 * __vsnprintf_chk(), unchanged.
 *
 * An executable gets them when it links tc_core (src/CMakeLists.txt asks
 * the linker for this object); the Lua module thriftcorn.core, loaded by a
 * plain interpreter, does not replace them.
 */
#ifndef TC_BRIDGE_LUA_FMT_H
#define TC_BRIDGE_LUA_FMT_H

#include <stddef.h>

/*
 * snprintf(buf, size, "%lld", v): writes at most size - 1 characters and a
 * NUL ('buf' may be NULL when 'size' is 0); returns the length of the whole
 * text, as snprintf() does.
 */
int tc_lua_fmt_integer(char *buf, size_t size, long long v);

/*
 * How many times this thread wrote "%lld" here rather than through the C
 * library: tests show with it that Lua's calls arrive.
 */
unsigned long tc_lua_fmt_count(void);

#endif /* TC_BRIDGE_LUA_FMT_H */

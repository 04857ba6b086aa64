/* SPDX-License-Identifier: Apache-2.0 */
/* Integers to text for the Lua states: see lua_fmt.h. */

/* snprintf() is defined here: the C library's inline wrappers must not be */
#undef _FORTIFY_SOURCE

#include "bridge/lua_fmt.h"

#include "core/num.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

/* what liblua looks up must be seen outside the program: thriftcorn builds hidden */
#define EXPORTED __attribute__((visibility("default")))

static _Thread_local unsigned long fmt_count;

int
tc_lua_fmt_integer(char *buf, size_t size, long long v)
{
    size_t n;
    if (size > TC_NUM_MAX) { /* Lua's buffers: room for any, written in place */
        n = tc_num_format(buf, v, 0);
        buf[n] = '\0';
        fmt_count++;
        return (int)n;
    }
    char tmp[TC_NUM_MAX];
    n = tc_num_format(tmp, v, 0);
    if (size > 0) {
        size_t copy = n < size ? n : size - 1;
        memcpy(buf, tmp, copy);
        buf[copy] = '\0';
    }
    fmt_count++;
    return (int)n;
}

unsigned long
tc_lua_fmt_count(void)
{
    return fmt_count;
}

/* LUA_INTEGER_FMT of a Lua built with 64-bit integers, as Debian's is */
static inline int
is_lld(const char *fmt)
{
    return fmt != NULL && fmt[0] == '%' && fmt[1] == 'l' && fmt[2] == 'l' && fmt[3] == 'd' &&
           fmt[4] == '\0';
}

EXPORTED int
/* NOLINTNEXTLINE(readability-inconsistent-declaration-parameter-name): replaces libc's */
snprintf(char *restrict buf, size_t size, const char *restrict fmt, ...)
{
    va_list ap;
    int n;
    va_start(ap, fmt);
    if (is_lld(fmt)) {
        n = tc_lua_fmt_integer(buf, size, va_arg(ap, long long));
    } else {
        n = vsnprintf(buf, size, fmt, ap);
    }
    va_end(ap);
    return n;
}

#ifdef __GLIBC__
/* glibc's fortified entry points: 'room' is what the caller knows of 'buf' */
/* NOLINTNEXTLINE(readability-identifier-naming): the name glibc's callers use */
int __snprintf_chk(char *restrict buf, size_t size, int flag, size_t room, const char *restrict fmt,
                   ...);
/* NOLINTNEXTLINE(readability-identifier-naming): the name glibc's callers use */
int __vsnprintf_chk(char *restrict buf, size_t size, int flag, size_t room,
                    const char *restrict fmt, va_list ap);

EXPORTED int
__snprintf_chk(char *restrict buf, size_t size, int flag, size_t room, const char *restrict fmt,
               ...)
{
    va_list ap;
    int n;
    va_start(ap, fmt);
    if (is_lld(fmt) && room >= size) {
        n = tc_lua_fmt_integer(buf, size, va_arg(ap, long long));
    } else {
        /* there, a 'size' over 'room' ends the process, as the caller was built to */
        n = __vsnprintf_chk(buf, size, flag, room, fmt, ap);
    }
    va_end(ap);
    return n;
}
#endif

/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Shared by every layer: status codes, assertions, attributes and forward
 * typedefs of the core types. Keep it small; it must not grow into a catch-all.
 */
#ifndef TC_CORE_COMMON_H
#define TC_CORE_COMMON_H

#include <stddef.h>
#include <stdint.h>

/* ---- status codes ---- */

/*
 * Functions that can fail return int: TC_OK, a negative errno (-ENOMEM, ...)
 * passed through from the system, or one of thriftcorn's own codes below.
 */
enum {
    TC_OK = 0,
    TC_AGAIN = -1000,     /* need more bytes; not an error yet */
    TC_EPROTO = -1001,    /* bytes that break the Thrift protocol */
    TC_ELIMIT = -1002,    /* a size, count or depth over its configured limit */
    TC_ENOTFOUND = -1003, /* no such service, method, file or name */
    TC_ECLOSED = -1004,   /* the peer or the object is closed */
    TC_EINVAL = -1005,    /* an argument or value of the wrong kind */
    TC_ETYPE = -1006,     /* a value whose type does not match the schema */
    TC_EMISSING = -1007,  /* a required field that is not set */
    TC_ESYMLINK = -1008,  /* a symlink another user owns, not followed (tc_log_open_file()) */
    TC_EFIFO = -1009,     /* a FIFO another user owns, not a log of ours (tc_log_open()) */
};

/* A static, thread-safe description of a status code (never NULL). */
const char *tc_strerror(int code);

/* ---- attributes ---- */

#define TC_NODISCARD    __attribute__((warn_unused_result))
#define TC_PRINTF(a, b) __attribute__((format(printf, a, b)))
#define TC_NORETURN     __attribute__((noreturn))
#define TC_UNUSED       __attribute__((unused))
#define TC_LIKELY(x)    __builtin_expect(!!(x), 1)
#define TC_UNLIKELY(x)  __builtin_expect(!!(x), 0)
#define TC_ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

/* ---- assertions ---- */

/*
 * TC_ASSERT guards invariants only, never input. Active in debug and
 * sanitizer builds (NDEBUG unset), compiled out in release builds.
 */
TC_NORETURN void tc_assert_fail(const char *expr, const char *file, int line);
#ifdef NDEBUG
#define TC_ASSERT(e) ((void)0)
#else
#define TC_ASSERT(e) ((e) ? (void)0 : tc_assert_fail(#e, __FILE__, __LINE__))
#endif

/* ---- forward typedefs of the core types ---- */

typedef struct tc_buf tc_buf_t;
typedef struct tc_err tc_err_t;

/*
 * How many of the 'len' bytes at 's' to keep for at most 'max' without
 * splitting a UTF-8 character: a cut moves back over at most 3
 * continuation bytes (10xxxxxx); bytes that are no UTF-8 are cut at 'max'.
 */
static inline size_t
tc_utf8_prefix(const char *s, size_t len, size_t max)
{
    if (len <= max) {
        return len;
    }
    size_t n = max;
    size_t stop = max > 3 ? max - 3 : 0;
    while (n > stop && ((unsigned char)s[n] & 0xC0) == 0x80) {
        n--;
    }
    return n;
}

#endif /* TC_CORE_COMMON_H */

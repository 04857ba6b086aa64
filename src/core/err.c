/* SPDX-License-Identifier: Apache-2.0 */
/* Status code names and the message-carrying tc_err_t. */
#include "core/err.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void
tc_err_clear(tc_err_t *err)
{
    if (err != NULL) {
        err->code = TC_OK;
        err->msg[0] = '\0';
    }
}

int
tc_err_set(tc_err_t *err, int code, const char *fmt, ...)
{
    if (err == NULL || err->code != TC_OK) {
        return code;
    }
    va_list ap;
    va_start(ap, fmt);
    (void)vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
    va_end(ap);
    err->code = code;
    return code;
}

void
tc_err_prefix(tc_err_t *err, const char *fmt, ...)
{
    if (err == NULL || err->code == TC_OK) {
        return;
    }
    char prefix[TC_ERR_MSG_MAX];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(prefix, sizeof(prefix), fmt, ap);
    va_end(ap);
    if (n <= 0 || (size_t)n >= sizeof(prefix)) {
        return;
    }
    size_t plen = (size_t)n;
    size_t mlen = strlen(err->msg);
    if (plen + mlen >= TC_ERR_MSG_MAX) {
        mlen = TC_ERR_MSG_MAX - 1 - plen;
    }
    memmove(err->msg + plen, err->msg, mlen);
    memcpy(err->msg, prefix, plen);
    err->msg[plen + mlen] = '\0';
}

const char *
tc_strerror(int code)
{
    switch (code) {
    case TC_OK:
        return "ok";
    case TC_AGAIN:
        return "need more bytes";
    case TC_EPROTO:
        return "protocol error";
    case TC_ELIMIT:
        return "over a configured limit";
    case TC_ENOTFOUND:
        return "not found";
    case TC_ECLOSED:
        return "closed";
    case TC_EINVAL:
        return "invalid argument";
    case TC_ETYPE:
        return "type mismatch";
    case TC_EMISSING:
        return "required field missing";
    case TC_ESYMLINK:
        return "a symlink another user owns (not followed)";
    case TC_EFIFO:
        return "a FIFO another user owns (not written to)";
    /* the errno values a server meets; strerror() is not thread-safe */
    case -ENOMEM:
        return "out of memory";
    case -ENOENT:
        return "no such file or directory";
    case -EACCES:
        return "permission denied";
    case -EADDRINUSE:
        return "address already in use";
    case -EADDRNOTAVAIL:
        return "address not available";
    case -ECONNRESET:
        return "connection reset by peer";
    case -EPIPE:
        return "broken pipe";
    case -EMFILE:
        return "too many open files";
    case -ENFILE:
        return "too many open files in system";
    case -EINVAL:
        return "invalid argument (system)";
    case -ETIMEDOUT:
        return "timed out";
    case -ECONNREFUSED:
        return "connection refused";
    case -EAGAIN:
        return "resource temporarily unavailable";
    case -EAFNOSUPPORT:
        return "address family not supported";
    case -ENOTDIR:
        return "not a directory";
    case -EROFS:
        return "read-only file system";
    case -EEXIST:
        return "file exists";
    case -EISDIR:
        return "is a directory";
    case -ENOTSOCK:
        return "not a socket";
    case -EBADF:
        return "bad file descriptor";
    case -EPERM:
        return "operation not permitted";
    case -ENOSPC:
        return "no space left on device";
    case -EDQUOT:
        return "disk quota exceeded";
    case -EFBIG:
        return "file too large";
    case -EIO:
        return "input/output error";
    case -ELOOP:
        return "too many levels of symbolic links";
    case -ENXIO:
        return "no such device or address";
    case -ENAMETOOLONG:
        return "file name too long";
    default:
        return code < 0 ? "system error" : "unknown status";
    }
}

void
tc_assert_fail(const char *expr, const char *file, int line)
{
    (void)fprintf(stderr, "thriftcorn: assertion failed: %s (%s:%d)\n", expr, file, line);
    abort();
}

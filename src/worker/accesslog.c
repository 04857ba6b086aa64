/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The access log: %-placeholders expanded per call into one write(2), so
 * lines from the loop threads never mix.
 */
#include "worker/accesslog.h"

#include "core/log.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

int tc_accesslog_fd = -1;

static const char *log_path;
static const char *log_format;

/* TApplicationException types by number (Thrift's TApplicationException.h). */
static const char *const appex_names[] = {
    "UNKNOWN",           "UNKNOWN_METHOD",   "INVALID_MESSAGE_TYPE",    "WRONG_METHOD_NAME",
    "BAD_SEQUENCE_ID",   "MISSING_RESULT",   "INTERNAL_ERROR",          "PROTOCOL_ERROR",
    "INVALID_TRANSFORM", "INVALID_PROTOCOL", "UNSUPPORTED_CLIENT_TYPE",
};

int
tc_accesslog_open(const char *path, const char *format)
{
    log_format = format != NULL ? format : "%t %h %m %s %D";
    log_path = path;
    if (path == NULL) {
        tc_accesslog_fd = -1;
        return TC_OK;
    }
    if (strcmp(path, "-") == 0) {
        tc_accesslog_fd = STDERR_FILENO;
        return TC_OK;
    }
    int fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    if (fd < 0) {
        return -errno;
    }
    tc_accesslog_fd = fd;
    return TC_OK;
}

int
tc_accesslog_reopen(void)
{
    if (tc_accesslog_fd < 0 || log_path == NULL || strcmp(log_path, "-") == 0) {
        return TC_OK;
    }
    int fd = open(log_path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    if (fd < 0) {
        return -errno;
    }
    int rc = dup3(fd, tc_accesslog_fd, O_CLOEXEC) < 0 ? -errno : TC_OK;
    (void)close(fd);
    return rc;
}

/* Append 'len' bytes of 's' at '*n', within 'cap'. */
static void
put(char *buf, size_t cap, size_t *n, const char *s, size_t len)
{
    if (*n + len > cap) {
        len = cap - *n;
    }
    memcpy(buf + *n, s, len);
    *n += len;
}

static void
put_str(char *buf, size_t cap, size_t *n, const char *s)
{
    put(buf, cap, n, s, strlen(s));
}

/* Append bytes a client chose, escaped (tc_log_escape()). */
static void
put_escaped(char *buf, size_t cap, size_t *n, const char *s, size_t len)
{
    *n += tc_log_escape(buf + *n, cap - *n, s, len);
}

static void put_fmt(char *buf, size_t cap, size_t *n, const char *fmt, ...) TC_PRINTF(4, 5);

static void
put_fmt(char *buf, size_t cap, size_t *n, const char *fmt, ...)
{
    char tmp[64];
    va_list ap;
    va_start(ap, fmt);
    int k = vsnprintf(tmp, sizeof(tmp), fmt, ap);
    va_end(ap);
    if (k > 0) {
        put(buf, cap, n, tmp, (size_t)k < sizeof(tmp) ? (size_t)k : sizeof(tmp) - 1);
    }
}

static void
put_status(char *buf, size_t cap, size_t *n, const tc_call_info_t *info)
{
    if (info->status == 0) {
        put_str(buf, cap, n, info->replied ? "ok" : "oneway");
    } else if (info->status == -1) {
        put_str(buf, cap, n, "exception");
    } else if (info->status > 0 && (size_t)info->status < TC_ARRAY_LEN(appex_names)) {
        put_str(buf, cap, n, appex_names[info->status]);
    } else {
        put_fmt(buf, cap, n, "error:%d", info->status);
    }
}

static void
put_time(char *buf, size_t cap, size_t *n)
{
    struct timeval tv;
    struct tm tm;
    char tmp[64];
    gettimeofday(&tv, NULL);
    localtime_r(&tv.tv_sec, &tm);
    size_t k = strftime(tmp, sizeof(tmp), "[%Y-%m-%d %H:%M:%S", &tm);
    put(buf, cap, n, tmp, k);
    put_fmt(buf, cap, n, ".%03d]", (int)(tv.tv_usec / 1000));
}

/* One line into 'buf' (without the newline); returns its length. */
static size_t
format_line(char *buf, size_t cap, const char *format, const char *peer, const tc_call_info_t *info,
            long long ns)
{
    size_t n = 0;
    for (const char *p = format; *p != '\0' && n < cap; p++) {
        if (*p != '%' || p[1] == '\0') {
            buf[n++] = *p;
            continue;
        }
        switch (*++p) {
        case 'h':
            put_str(buf, cap, &n, peer);
            break;
        case 'm': {
            /*
             * Service.method: the service that took the call (the one a
             * multiplexed "Service:method" named, or the default one); a
             * name no service took is shown as sent, its colon as a dot.
             * The client's bytes are escaped: a name cannot end the line.
             */
            const char *colon = NULL;
            if (info->service != NULL) {
                put_str(buf, cap, &n, info->service);
                put(buf, cap, &n, ".", 1);
                put_escaped(buf, cap, &n, info->method, info->method_len);
            } else if ((colon = memchr(info->method, ':', info->method_len)) == NULL) {
                put_escaped(buf, cap, &n, info->method, info->method_len);
            } else {
                size_t k = (size_t)(colon - info->method);
                put_escaped(buf, cap, &n, info->method, k);
                put(buf, cap, &n, ".", 1);
                put_escaped(buf, cap, &n, colon + 1, info->method_len - k - 1);
            }
            break;
        }
        case 's':
            put_status(buf, cap, &n, info);
            break;
        case 'D':
            put_fmt(buf, cap, &n, "%lld", ns / 1000);
            break;
        case 'M':
            put_fmt(buf, cap, &n, "%lld.%03lld", ns / 1000000, (ns / 1000) % 1000);
            break;
        case 'L':
            put_fmt(buf, cap, &n, "%lld.%06lld", ns / 1000000000, (ns / 1000) % 1000000);
            break;
        case 't':
            put_time(buf, cap, &n);
            break;
        case 'p':
            put_fmt(buf, cap, &n, "%d", (int)getpid());
            break;
        case '%':
            buf[n++] = '%';
            break;
        default: /* unknown (the config refuses them): kept as written */
            buf[n++] = '%';
            if (n < cap) {
                buf[n++] = *p;
            }
            break;
        }
    }
    return n;
}

void
tc_accesslog_write(const char *peer, const tc_call_info_t *info, long long ns)
{
    char line[1024];
    size_t n = format_line(line, sizeof(line) - 1, log_format, peer, info, ns);
    line[n++] = '\n';
    ssize_t w;
    do {
        w = write(tc_accesslog_fd, line, n);
    } while (w < 0 && errno == EINTR);
}

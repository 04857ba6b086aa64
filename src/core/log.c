/* SPDX-License-Identifier: Apache-2.0 */
/* Line-oriented logger: one write(2) per line, so lines from threads never mix. */
#include "core/log.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

static tc_log_level_t log_level = TC_LOG_INFO;
static int log_fd = STDERR_FILENO;

static const char *const level_names[] = {"debug", "info", "warning", "error", "critical"};

void
tc_log_set_level(tc_log_level_t level)
{
    log_level = level;
}

int
tc_log_level_parse(const char *name)
{
    for (size_t i = 0; i < TC_ARRAY_LEN(level_names); i++) {
        if (strcmp(name, level_names[i]) == 0) {
            return (int)i;
        }
    }
    return -1;
}

int
tc_log_open(const char *path)
{
    if (path == NULL || strcmp(path, "-") == 0) {
        if (log_fd != STDERR_FILENO) {
            close(log_fd);
        }
        log_fd = STDERR_FILENO;
        return TC_OK;
    }
    int fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    if (fd < 0) {
        return -errno;
    }
    if (log_fd != STDERR_FILENO) {
        /* reopening (log rotation): the number stays, so threads logging meanwhile are safe */
        int rc = dup3(fd, log_fd, O_CLOEXEC) < 0 ? -errno : TC_OK;
        close(fd);
        return rc;
    }
    log_fd = fd;
    return TC_OK;
}

size_t
tc_log_escape(char *dst, size_t cap, const char *src, size_t len)
{
    static const char hex[] = "0123456789abcdef";
    size_t n = 0;
    for (size_t i = 0; i < len; i++) {
        unsigned char b = (unsigned char)src[i];
        if (b >= 0x20 && b != 0x7f && b != '\\') {
            if (n == cap) {
                break;
            }
            dst[n++] = (char)b;
            continue;
        }
        if (cap - n < 4) {
            break;
        }
        dst[n++] = '\\';
        dst[n++] = 'x';
        dst[n++] = hex[b >> 4];
        dst[n++] = hex[b & 0xf];
    }
    return n;
}

void
tc_log(tc_log_level_t level, const char *fmt, ...)
{
    if (level < log_level) {
        return;
    }
    char line[4096];
    struct timeval tv;
    struct tm tm;
    gettimeofday(&tv, NULL);
    localtime_r(&tv.tv_sec, &tm);
    size_t n = strftime(line, sizeof(line), "[%Y-%m-%d %H:%M:%S", &tm);
    int k = snprintf(line + n, sizeof(line) - n, ".%03d] [%d] [%s] ", (int)(tv.tv_usec / 1000),
                     (int)getpid(), level_names[level]);
    n += (size_t)k;
    va_list ap;
    va_start(ap, fmt);
    k = vsnprintf(line + n, sizeof(line) - n - 1, fmt, ap);
    va_end(ap);
    if (k < 0) {
        k = 0;
    }
    n = n + (size_t)k > sizeof(line) - 2 ? sizeof(line) - 2 : n + (size_t)k;
    line[n++] = '\n';
    ssize_t w;
    do {
        w = write(log_fd, line, n);
    } while (w < 0 && errno == EINTR);
}

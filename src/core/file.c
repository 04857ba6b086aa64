/* SPDX-License-Identifier: Apache-2.0 */
/*
 * A whole file read without blocking on it (see core/file.h): the config
 * loader and the IDL loader's reader share it. And a file's name made
 * absolute, for the config loader, the listeners and the upgrade.
 */
#include "core/file.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* Bytes asked for at a time when the file's size does not say how many. */
#define READ_CHUNK 4096

/* Read 'fd' to its end into 'out', refusing more than 'max' bytes. */
static int
read_all(int fd, size_t max, size_t hint, tc_buf_t *out)
{
    size_t start = out->len;
    for (;;) {
        size_t got = out->len - start;
        if (got > max) {
            return TC_ELIMIT;
        }
        /* one byte past 'max' is enough to know the file is over it */
        size_t allowed = max + 1 - got;
        if (out->cap == out->len) {
            size_t want = hint > READ_CHUNK ? hint : READ_CHUNK;
            if (!tc_buf_reserve(out, want < allowed ? want : allowed)) {
                return TC_ELIMIT;
            }
            hint = 0;
        }
        size_t room = out->cap - out->len;
        ssize_t k = read(fd, out->data + out->len, room < allowed ? room : allowed);
        if (k < 0 && errno == EINTR) {
            continue;
        }
        if (k < 0) {
            return -errno;
        }
        if (k == 0) {
            return TC_OK;
        }
        out->len += (size_t)k;
    }
}

int
tc_file_read(const char *path, size_t max, tc_buf_t *out, bool *opened)
{
    TC_ASSERT(max < SIZE_MAX);
    size_t start = out->len;
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
    if (opened != NULL) {
        *opened = fd >= 0;
    }
    if (fd < 0) {
        return -errno;
    }
    struct stat st;
    int rc;
    if (fstat(fd, &st) < 0) {
        rc = -errno;
    } else if (S_ISDIR(st.st_mode)) {
        rc = -EISDIR;
    } else if (!S_ISREG(st.st_mode)) {
        rc = TC_EINVAL;
    } else if (st.st_size > 0 && (unsigned long long)st.st_size > max) {
        rc = TC_ELIMIT; /* refused before reading; the read checks again */
    } else {
        /*
         * room for the size fstat() gives and one byte more, so that a file
         * that did not grow is read in one go and its end seen at once
         */
        rc = read_all(fd, max, (size_t)st.st_size + 1, out);
    }
    (void)close(fd);
    if (rc != TC_OK) {
        out->len = start;
    }
    return rc;
}

#define TC_FILE_STR(x)  #x
#define TC_FILE_XSTR(x) TC_FILE_STR(x)

const char *
tc_file_read_refusal(int rc)
{
    switch (rc) {
    case TC_EINVAL:
        return "not a regular file";
    case TC_ELIMIT:
        return "over " TC_FILE_XSTR(TC_FILE_READ_MAX_MIB) " MiB";
    default:
        return NULL;
    }
}

bool
tc_file_abs_path(const char *path, char *out, size_t n)
{
    size_t len = 0;
    if (path[0] != '/') {
        if (getcwd(out, n) == NULL) {
            return false;
        }
        len = strlen(out);
    }
    for (const char *p = path; *p != '\0';) {
        size_t seg = strcspn(p, "/");
        if (seg > 0 && !(seg == 1 && p[0] == '.')) {
            if (len + 1 + seg >= n) {
                return false;
            }
            if (len == 0 || out[len - 1] != '/') {
                out[len++] = '/';
            }
            memcpy(out + len, p, seg);
            len += seg;
        }
        p += seg + (p[seg] == '/');
    }
    if (len == 0) {
        if (n < 2) {
            return false;
        }
        out[len++] = '/'; /* "/" itself */
    }
    out[len] = '\0';
    return true;
}

int
tc_file_check_folder(const char *path)
{
    char dir[PATH_MAX] = ".";
    const char *slash = strrchr(path, '/');
    if (slash != NULL) {
        size_t len = slash == path ? 1 : (size_t)(slash - path); /* "/name": the root */
        if (len >= sizeof(dir)) {
            return -ENAMETOOLONG;
        }
        memcpy(dir, path, len);
        dir[len] = '\0';
    }
    struct stat st;
    if (stat(dir, &st) < 0) {
        return -errno;
    }
    if (!S_ISDIR(st.st_mode)) {
        return -ENOTDIR;
    }
    return faccessat(AT_FDCWD, dir, W_OK | X_OK, AT_EACCESS) < 0 ? -errno : TC_OK;
}

bool
tc_file_same(const char *a, const char *b)
{
    struct stat as;
    struct stat bs;
    return stat(a, &as) == 0 && stat(b, &bs) == 0 && as.st_dev == bs.st_dev &&
           as.st_ino == bs.st_ino;
}

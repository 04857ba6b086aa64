/* SPDX-License-Identifier: Apache-2.0 */
/* The pidfile, as gunicorn keeps it: "PID\n", replaced atomically. */
#include "arbiter/pidfile.h"

#include "core/file.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/*
 * The PID in 'path', or 0 when there is none to read. Only a regular file
 * is read: a FIFO planted at the name (in /tmp, say) must not hang the
 * start or the exit in open() or read(); nor through a symlink, which
 * another user who may write to the folder could point at any file root
 * may open (a device, whose open alone may act), and which the rename()
 * of tc_pidfile_create() replaces anyway.
 */
static long
read_pid(const char *path)
{
    int fd = open(path, O_RDONLY | O_NONBLOCK | O_NOCTTY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0) {
        return 0;
    }
    struct stat st;
    if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
        (void)close(fd);
        return 0;
    }
    char buf[32];
    ssize_t n = read(fd, buf, sizeof(buf) - 1);
    (void)close(fd);
    if (n <= 0) {
        return 0;
    }
    buf[n] = '\0';
    char *end = NULL;
    long pid = strtol(buf, &end, 10);
    return pid > 0 && end != buf ? pid : 0;
}

int
tc_pidfile_create(const char *path, tc_err_t *err)
{
    long old = read_pid(path);
    if (old > 0 && old != (long)getpid() && (kill((pid_t)old, 0) == 0 || errno == EPERM)) {
        return tc_err_set(err, -EEXIST, "Already running on PID %ld (or pid file '%s' is stale)",
                          old, path);
    }
    char tmp[4096];
    int k = snprintf(tmp, sizeof(tmp), "%s.%d.tmp", path, (int)getpid());
    if (k < 0 || (size_t)k >= sizeof(tmp)) {
        return tc_err_set(err, TC_EINVAL, "pidfile path too long: %s", path);
    }
    /*
     * a new file only: in a folder others can write to, a link planted at
     * the predictable name must not make us write through it (a stale file
     * of a process that had our pid goes first)
     */
    (void)unlink(tmp);
    int fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644);
    if (fd < 0) {
        int rc = -errno;
        return tc_err_set(err, rc, "Cannot write the pidfile %s: %s", path, tc_strerror(rc));
    }
    char buf[32];
    int len = snprintf(buf, sizeof(buf), "%d\n", (int)getpid());
    ssize_t w = write(fd, buf, (size_t)len);
    int rc = w == len ? TC_OK : (w < 0 ? -errno : -EIO);
    (void)close(fd);
    if (rc == TC_OK && rename(tmp, path) < 0) {
        rc = -errno;
    }
    if (rc != TC_OK) {
        (void)unlink(tmp);
        return tc_err_set(err, rc, "Cannot write the pidfile %s: %s", path, tc_strerror(rc));
    }
    return TC_OK;
}

void
tc_pidfile_remove(const char *path)
{
    if (path != NULL && read_pid(path) == (long)getpid()) {
        (void)unlink(path);
    }
}

int
tc_pidfile_move(const char *old, const char *path, tc_err_t *err)
{
    if (path != NULL) {
        int rc = tc_pidfile_create(path, err);
        if (rc != TC_OK) {
            return rc;
        }
    }
    /* 'old' is the file just written when both names lead to it: it stays */
    if (old != NULL && (path == NULL || !tc_file_same(old, path))) {
        tc_pidfile_remove(old);
    }
    return TC_OK;
}

/* SPDX-License-Identifier: Apache-2.0 */
/* One datagram to $NOTIFY_SOCKET: a path, or '@' for Linux's abstract namespace. */
#include "arbiter/sdnotify.h"

#include "core/alloc.h"
#include "core/clock.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

/* NOLINTBEGIN(concurrency-mt-unsafe): the arbiter is single-threaded */

/* the service's main process as far as this one knows; 0: the caller */
static pid_t main_pid;
/* $NOTIFY_SOCKET as tc_sdnotify_init() found it */
static char *socket_path;

void
tc_sdnotify_init(void)
{
    const char *path = getenv("NOTIFY_SOCKET");
    if (path != NULL) {
        free(socket_path);
        socket_path = tc_xstrdup(path);
        (void)unsetenv("NOTIFY_SOCKET");
    }
}

void
tc_sdnotify_export(void)
{
    if (socket_path != NULL) {
        (void)setenv("NOTIFY_SOCKET", socket_path, 1);
    }
}

static void
send_state(const char *state)
{
    const char *path = socket_path != NULL ? socket_path : getenv("NOTIFY_SOCKET");
    if (path == NULL || (path[0] != '/' && path[0] != '@')) {
        return;
    }
    struct sockaddr_un sun;
    memset(&sun, 0, sizeof(sun));
    sun.sun_family = AF_UNIX;
    size_t len = strlen(path);
    if (len >= sizeof(sun.sun_path)) {
        return;
    }
    memcpy(sun.sun_path, path, len);
    if (path[0] == '@') {
        sun.sun_path[0] = '\0';
    }
    int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        return;
    }
    socklen_t sl = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + len);
    /*
     * Never wait: a receiver that stops reading (systemd stuck, or a
     * process that holds the socket and reads nothing) fills its queue,
     * and a blocking send would stall the arbiter, which then reaps,
     * replaces and stops nothing. Dropping the message costs systemd a
     * state change it would have missed anyway (EAGAIN).
     */
    (void)sendto(fd, state, strlen(state), MSG_NOSIGNAL | MSG_DONTWAIT,
                 (const struct sockaddr *)&sun, sl);
    (void)close(fd);
}

/*
 * Append "STATUS=" and 'status' to 'msg' (holding 'n' bytes of 'cap') as a line
 * of its own: systemd ends the field at a newline, so a control character
 * becomes a space, and the text is cut to TC_SDNOTIFY_STATUS_MAX bytes
 * (at a UTF-8 character's start), "..." marking the cut. Returns the new length.
 */
static size_t
append_status(char *msg, size_t n, size_t cap, const char *status)
{
    const char *field = n > 0 ? "\nSTATUS=" : "STATUS=";
    size_t flen = strlen(field);
    size_t len = strlen(status);
    bool cut = len > TC_SDNOTIFY_STATUS_MAX;
    if (cut) {
        len = tc_utf8_prefix(status, len, TC_SDNOTIFY_STATUS_MAX - 3);
    }
    if (n + flen + len + 3 >= cap) {
        return n;
    }
    memcpy(msg + n, field, flen);
    n += flen;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)status[i];
        msg[n++] = (char)(c < 0x20 || c == 0x7F ? ' ' : c);
    }
    if (cut) {
        memcpy(msg + n, "...", 3);
        n += 3;
    }
    msg[n] = '\0';
    return n;
}

/* 'head' (NULL: none), 'state' with MONOTONIC_USEC= after RELOADING=1, then 'status'. */
static void
notify(const char *head, const char *state, const char *status)
{
    char msg[128 + TC_SDNOTIFY_STATUS_MAX];
    size_t n = 0;
    int w = snprintf(msg, sizeof(msg), "%s%s%s", head != NULL ? head : "",
                     head != NULL && state != NULL ? "\n" : "", state != NULL ? state : "");
    if (w < 0 || (size_t)w >= sizeof(msg) - 64) {
        return;
    }
    n = (size_t)w;
    if (state != NULL && strcmp(state, "RELOADING=1") == 0) {
        /*
         * sd_notify(3): with the time in the same datagram, which
         * Type=notify-reload compares with the time it sent SIGHUP (without
         * it, that reload never ends)
         */
        w = snprintf(msg + n, sizeof(msg) - n, "\nMONOTONIC_USEC=%lld", tc_clock_mono_ns() / 1000);
        n += w > 0 ? (size_t)w : 0;
    }
    if (status != NULL) {
        n = append_status(msg, n, sizeof(msg), status);
    }
    if (n > 0) {
        send_state(msg);
    }
}

void
tc_sdnotify(const char *state)
{
    tc_sdnotify_status(state, NULL);
}

void
tc_sdnotify_status(const char *state, const char *status)
{
    if (main_pid != 0 && main_pid != getpid()) {
        return;
    }
    notify(NULL, state, status);
}

void
tc_sdnotify_main(pid_t pid)
{
    main_pid = pid;
}

void
tc_sdnotify_mainpid(pid_t pid, const char *state, const char *status)
{
    char head[32];
    (void)snprintf(head, sizeof(head), "MAINPID=%d", (int)pid);
    notify(head, state, status);
    main_pid = pid;
}

/* NOLINTEND(concurrency-mt-unsafe) */

/* SPDX-License-Identifier: Apache-2.0 */
/* One datagram to $NOTIFY_SOCKET: a path, or '@' for Linux's abstract namespace. */
#include "arbiter/sdnotify.h"

#include "core/alloc.h"

#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
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
    (void)sendto(fd, state, strlen(state), MSG_NOSIGNAL, (const struct sockaddr *)&sun, sl);
    (void)close(fd);
}

void
tc_sdnotify(const char *state)
{
    if (main_pid != 0 && main_pid != getpid()) {
        return;
    }
    if (strcmp(state, "RELOADING=1") != 0) {
        send_state(state);
        return;
    }
    /*
     * sd_notify(3): with the time in the same datagram, which
     * Type=notify-reload compares with the time it sent SIGHUP (without
     * it, that reload never ends)
     */
    struct timespec ts;
    char msg[64];
    (void)clock_gettime(CLOCK_MONOTONIC, &ts);
    (void)snprintf(msg, sizeof(msg), "%s\nMONOTONIC_USEC=%llu", state,
                   (unsigned long long)ts.tv_sec * 1000000ULL +
                       (unsigned long long)ts.tv_nsec / 1000ULL);
    send_state(msg);
}

void
tc_sdnotify_main(pid_t pid)
{
    main_pid = pid;
}

void
tc_sdnotify_mainpid(pid_t pid, const char *state)
{
    char msg[128];
    int n = snprintf(msg, sizeof(msg), "MAINPID=%d%s%s", (int)pid, state != NULL ? "\n" : "",
                     state != NULL ? state : "");
    if (n > 0 && (size_t)n < sizeof(msg)) {
        send_state(msg);
    }
    main_pid = pid;
}

/* NOLINTEND(concurrency-mt-unsafe) */

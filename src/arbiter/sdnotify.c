/* SPDX-License-Identifier: Apache-2.0 */
/* One datagram to $NOTIFY_SOCKET: a path, or '@' for Linux's abstract namespace. */
#include "arbiter/sdnotify.h"

#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

void
tc_sdnotify(const char *state)
{
    const char *path = getenv("NOTIFY_SOCKET"); /* NOLINT(concurrency-mt-unsafe): arbiter only */
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

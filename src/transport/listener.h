/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Listening sockets: opening what a bind spec names (read and checked by
 * transport/bindaddr.h), and closing it. The arbiter opens them before
 * forking; workers inherit them and accept.
 */
#ifndef TC_TRANSPORT_LISTENER_H
#define TC_TRANSPORT_LISTENER_H

#include "core/err.h"

#include <stdbool.h>
#include <sys/types.h>

typedef struct tc_listener {
    int fd;          /* non-blocking, close-on-exec; -1 when closed */
    int family;      /* AF_INET, AF_INET6 or AF_UNIX */
    char *spec;      /* as configured: "127.0.0.1:0", "[::1]:9090", "unix:/x.sock", "fd://3" */
    char *name;      /* as bound, port resolved: "127.0.0.1:40123", "[::1]:9090", "unix:/x.sock" */
    char *unix_path; /* the socket file to remove on stop, or NULL */
    dev_t unix_dev;  /* that file as bound (lstat()): another file at the path is not ours */
    ino_t unix_ino;  /* 0: unknown, never removed */
} tc_listener_t;

/*
 * Parse 'spec' and open a listening socket: HOST:PORT (IPv4 or a name that
 * resolves), [V6]:PORT, unix:PATH (a stale socket file is replaced, any other
 * file is an error), fd://N (an inherited socket, e.g. from systemd). Port 0
 * picks a free port. SO_REUSEADDR is set; 'backlog' is passed to listen().
 * Returns TC_OK or a negative code with 'err' naming the address and the
 * reason ("127.0.0.1:9090: address already in use").
 */
int tc_listener_open(tc_listener_t *l, const char *spec, int backlog, tc_err_t *err) TC_NODISCARD;

/* tc_listener_open(); with 'reuse_port', TCP sockets also get SO_REUSEPORT. */
int tc_listener_open_ex(tc_listener_t *l, const char *spec, int backlog, bool reuse_port,
                        tc_err_t *err) TC_NODISCARD;

/*
 * Whether open listener 'l' is the socket 'spec' asks for, also where 'spec'
 * is written another way than 'l->spec' (a reload keeps such a socket rather
 * than bind its address twice). The same text always is. Otherwise:
 * HOST:PORT or [V6]:PORT when the address 'l' is bound to (getsockname())
 * is one that tc_listener_open() would try for 'spec', whose name is
 * resolved as it resolves it ("localhost:9090", "127.1:9090" and
 * "127.0.0.1:9090" are one address); unix:PATH when PATH and the path 'l'
 * was bound to, each made absolute from the working folder, are one name
 * ("unix:x.sock", "unix:./x.sock"; symlinks and ".." are not resolved).
 * In another text, port 0 (a new port) and fd://N (a descriptor, not an
 * address) never are, nor is a spec tc_bindaddr_check() refuses
 * (tc_bindaddr_names()). May block in a name lookup.
 */
bool tc_listener_serves(const tc_listener_t *l, const char *spec);

/*
 * Take the unix socket file at 'path' as 'l's own, to remove when it
 * closes: the file with inode 'dev'/'ino' as it was bound (by the arbiter
 * that handed 'l' over, say), not whatever is at 'path' now. 'ino' 0: no
 * file is 'l's. 'path' is copied.
 */
void tc_listener_adopt_path(tc_listener_t *l, const char *path, dev_t dev, ino_t ino);

/*
 * Remove the unix socket file of 'l', if it is still the file 'l' was
 * bound to (or adopted): a file put at the path since (another server's
 * socket, anything else) stays.
 */
void tc_listener_unlink(const tc_listener_t *l);

/* Close the socket; with 'unlink_path', tc_listener_unlink() too. */
void tc_listener_close(tc_listener_t *l, bool unlink_path);

/*
 * Close this process's descriptor of 'l' ('fd' becomes -1) and keep the
 * rest: the names, and the socket file, for tc_listener_unlink() or
 * tc_listener_close() later. The socket stops listening once no process
 * holds a descriptor of it any more (a worker, a new arbiter, systemd):
 * then a new client is refused (ECONNREFUSED, also at a unix socket file
 * left in place) and one still waiting in its backlog is reset. A closed
 * 'l' is a no-op.
 */
void tc_listener_stop(tc_listener_t *l);

#endif /* TC_TRANSPORT_LISTENER_H */

/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The I/O ceiling of the load matrix: the least a server can do to answer
 * `ping` over framed binary. One thread, one epoll loop, a read(2) and a
 * write(2) per batch of calls on a connection and nothing else: no Thrift
 * library, no handler, no checks beyond what finding the frames needs.
 * Every framed binary call gets the reply `ping` gets (a REPLY with the
 * call's name and seqid and an empty result struct), whatever its name and
 * arguments, so it serves only `thriftcorn-bench --call ping`.
 *
 *     thriftcorn-raw-ping --port 9090
 *
 * No server can answer `ping` on this machine much faster than this: what
 * is left is the kernel's loopback TCP and the load generator.
 */
#define _GNU_SOURCE /* accept4() */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#define IN_CAP     65536  /* a connection's input buffer: frames up to this size */
#define OUT_CAP    131072 /* its replies to one read's calls (a reply is at most 22 + name) */
#define MAX_EVENTS 256

typedef struct {
    int fd;
    size_t in_len;
    uint8_t in[IN_CAP];
    uint8_t out[OUT_CAP];
} conn_t;

static uint32_t
get32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static void
put32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}

/*
 * Answer every whole frame in c->in; returns the bytes of replies written
 * to c->out, or -1 if a frame is not a strict binary call.
 */
static ssize_t
answer(conn_t *c, size_t *used)
{
    size_t pos = 0;
    size_t out = 0;
    while (c->in_len - pos >= 4) {
        uint32_t flen = get32(c->in + pos);
        if (flen < 12 || flen > IN_CAP - 4) {
            return -1;
        }
        if (c->in_len - pos - 4 < flen) {
            break;
        }
        const uint8_t *m = c->in + pos + 4;
        uint32_t name_len = get32(m + 4);
        if ((get32(m) & 0xffff00ffu) != 0x80010001u || name_len > flen - 12) {
            return -1;
        }
        /* length, version|REPLY, name, seqid, an empty result struct */
        uint32_t body = 4 + 4 + name_len + 4 + 1;
        if (OUT_CAP - out < 4 + body) {
            return -1;
        }
        uint8_t *o = c->out + out;
        put32(o, body);
        put32(o + 4, 0x80010002u);
        put32(o + 8, name_len);
        memcpy(o + 12, m + 8, name_len);
        memcpy(o + 12 + name_len, m + 8 + name_len, 4);
        o[16 + name_len] = 0;
        out += 4 + body;
        pos += 4 + flen;
    }
    *used = pos;
    return (ssize_t)out;
}

/* Read what the connection has, answer it; false when it is to be closed. */
static bool
serve(conn_t *c)
{
    ssize_t n = read(c->fd, c->in + c->in_len, IN_CAP - c->in_len);
    if (n <= 0) {
        return n < 0 && (errno == EAGAIN || errno == EINTR);
    }
    c->in_len += (size_t)n;
    size_t used = 0;
    ssize_t out = answer(c, &used);
    if (out < 0) {
        return false;
    }
    memmove(c->in, c->in + used, c->in_len - used);
    c->in_len -= used;
    for (ssize_t off = 0; off < out;) {
        ssize_t w = write(c->fd, c->out + off, (size_t)(out - off));
        if (w < 0 && (errno == EAGAIN || errno == EINTR)) {
            /* the client is not reading: wait for room, as a blocking write would */
            struct pollfd p = {.fd = c->fd, .events = POLLOUT};
            (void)poll(&p, 1, -1);
            continue;
        }
        if (w <= 0) {
            return false;
        }
        off += w;
    }
    return true;
}

int
main(int argc, char **argv)
{
    int port = 0;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--port") == 0 && i + 1 < argc) {
            port = atoi(argv[++i]);
        } else {
            fprintf(stderr, "usage: %s --port PORT\n", argv[0]);
            return 2;
        }
    }
    if (port <= 0 || port > 65535) {
        fprintf(stderr, "%s: --port PORT is required (1-65535)\n", argv[0]);
        return 2;
    }
    signal(SIGPIPE, SIG_IGN);
    int one = 1;
    int ls = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (ls < 0 || setsockopt(ls, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) != 0 ||
        bind(ls, (struct sockaddr *)&a, sizeof(a)) != 0 || listen(ls, 1024) != 0) {
        fprintf(stderr, "%s: cannot listen on 127.0.0.1:%d: %s\n", argv[0], port, strerror(errno));
        return 1;
    }
    int ep = epoll_create1(EPOLL_CLOEXEC);
    struct epoll_event ev = {.events = EPOLLIN, .data.ptr = NULL};
    if (ep < 0 || epoll_ctl(ep, EPOLL_CTL_ADD, ls, &ev) != 0) {
        fprintf(stderr, "%s: epoll: %s\n", argv[0], strerror(errno));
        return 1;
    }
    struct epoll_event evs[MAX_EVENTS];
    for (;;) {
        int n = epoll_wait(ep, evs, MAX_EVENTS, -1);
        for (int i = 0; i < n; i++) {
            conn_t *c = evs[i].data.ptr;
            if (c == NULL) {
                int fd;
                while ((fd = accept4(ls, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC)) >= 0) {
                    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
                    conn_t *nc = malloc(sizeof(*nc));
                    struct epoll_event cev = {.events = EPOLLIN, .data.ptr = nc};
                    if (nc == NULL || epoll_ctl(ep, EPOLL_CTL_ADD, fd, &cev) != 0) {
                        free(nc);
                        close(fd);
                        continue;
                    }
                    nc->fd = fd;
                    nc->in_len = 0;
                }
                continue;
            }
            if (!serve(c)) {
                close(c->fd); /* also leaves the epoll set */
                free(c);
            }
        }
    }
}

/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Bind addresses: the text of a bind ("127.0.0.1:9090", "[::1]:0",
 * "unix:PATH", "fd://N") checked, read into socket addresses and compared,
 * without opening a socket. transport/listener.c opens what they name.
 */
#ifndef TC_TRANSPORT_BINDADDR_H
#define TC_TRANSPORT_BINDADDR_H

#include "core/err.h"

#include <arpa/inet.h>
#include <netdb.h>
#include <stdbool.h>
#include <stddef.h>
#include <sys/socket.h>
#include <sys/un.h>

#define TC_BINDADDR_UNIX     "unix:"
#define TC_BINDADDR_FD       "fd://"
#define TC_BINDADDR_FORMS    "expected HOST:PORT, [V6]:PORT, unix:PATH or fd://N"
#define TC_BINDADDR_HOST_MAX 256 /* a DNS name is at most 253 bytes */
#define TC_BINDADDR_NAME_LEN (INET6_ADDRSTRLEN + 16)

/*
 * Check the form of 'spec' without opening anything (the config check): a
 * port of 0-65535, an IPv6 address in brackets, a dotted IPv4 address, a
 * unix path that fits, a descriptor number. A host name is not looked up,
 * nor an inherited descriptor checked: that happens when the bind opens.
 * Returns TC_OK or TC_EINVAL with 'err' worded as tc_listener_open() does.
 */
int tc_bindaddr_check(const char *spec, tc_err_t *err) TC_NODISCARD;

/*
 * Whether the file of a unix:PATH bind could be made as tc_listener_open()
 * makes it, found without binding (for --check-config): its folder exists
 * and the process may write to it (tc_file_check_folder()), and nothing
 * but a socket is at PATH. A socket there passes unprobed: it may be the
 * running server's. Any other spec passes (no TCP port is bound to see).
 * Returns TC_OK, or a negative code with 'err' worded as the open's.
 */
int tc_bindaddr_check_path(const char *spec, tc_err_t *err) TC_NODISCARD;

/*
 * Whether bind 'later' of a config cannot open after bind 'earlier' of the
 * same config did, as their text shows without a name lookup or a bind
 * (for --check-config and the start): one address written two ways
 * ("127.0.0.1:9090" and "127.1:09090", "[::1]:9090" and "[0::1]:9090",
 * "unix:x.sock" and "unix:./x.sock"), or, without 'reuse_port', one port
 * at every address of a family ("0.0.0.0:9090", "[::]:9090") and at one
 * of them. A host name, an IPv6 zone, port 0 and fd://N pass, and so does
 * the same text (port 0 twice). Returns TC_OK, or -EADDRINUSE with 'err'
 * naming both binds as the start says it.
 */
int tc_bindaddr_check_pair(const char *earlier, const char *later, bool reuse_port,
                           tc_err_t *err) TC_NODISCARD;

/*
 * Whether 'spec' is HOST:0 or [V6]:0, whose port the kernel picks: a new
 * one at each open, so that it names no address of an open socket, and
 * the same text written twice is two sockets. False for any other form.
 */
bool tc_bindaddr_picks_port(const char *spec);

/*
 * Split HOST:PORT or [V6]:PORT into 'host' (TC_BINDADDR_HOST_MAX bytes)
 * and 'port', both checked for their form; '*v6' is set for the bracketed
 * form. Returns TC_OK or TC_EINVAL with 'err' naming 'spec'.
 */
int tc_bindaddr_split(const char *spec, char *host, unsigned *port, bool *v6,
                      tc_err_t *err) TC_NODISCARD;

/*
 * The addresses of 'host' and 'port' to bind, as getaddrinfo() gives them
 * (a name may be looked up: may block), into '*res', which the caller
 * frees with freeaddrinfo(). Returns getaddrinfo()'s code, with errno
 * set for EAI_SYSTEM.
 */
int tc_bindaddr_resolve(const char *host, unsigned port, bool v6, struct addrinfo **res);

/*
 * The address of unix:PATH into 'sun', or TC_EINVAL for a path that cannot be
 * one: empty, too long, or starting with '@' (an abstract name, not bound).
 */
int tc_bindaddr_unix(const char *spec, struct sockaddr_un *sun, tc_err_t *err) TC_NODISCARD;

/* The descriptor number of fd://N, or TC_EINVAL for one that is not. */
int tc_bindaddr_fd(const char *spec, int *fd, tc_err_t *err) TC_NODISCARD;

/*
 * "127.0.0.1:9090" or "[::1]:9090" for an AF_INET or AF_INET6 address,
 * into 'buf' of 'n' bytes (TC_BINDADDR_NAME_LEN holds every one).
 */
void tc_bindaddr_format(const struct sockaddr *sa, char *buf, size_t n);

/*
 * Whether 'spec' names the address 'bound' ('len' bytes, as getsockname()
 * gave it): HOST:PORT or [V6]:PORT when 'bound' is one of the addresses
 * tc_listener_open() would try for 'spec', whose name is resolved as it
 * resolves it (may block); unix:PATH when PATH and the path 'bound' names,
 * each made absolute from the working folder, are one name. Port 0 (a new
 * port) and fd://N (a descriptor, not an address) never do, nor does a
 * spec tc_bindaddr_check() refuses.
 */
bool tc_bindaddr_names(const struct sockaddr *bound, socklen_t len, const char *spec);

/*
 * Whether HOST:PORT or [V6]:PORT cannot be bound without SO_REUSEPORT
 * beside the socket bound at 'bound' (an IPv4 or IPv6 address): it names,
 * resolved as tc_listener_open() resolves it (may block), the same port
 * in the same family, at every address while 'bound' is one of them, or
 * the other way round ('*bound_any' says which, when true). The same
 * address is tc_bindaddr_names()'s; port 0, unix:PATH and fd://N never.
 */
bool tc_bindaddr_port_clash(const struct sockaddr *bound, const char *spec, bool *bound_any);

#endif /* TC_TRANSPORT_BINDADDR_H */

/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The access log: one line per call (peer, Service.method, status,
 * duration) in the 'access_log_format' of the config. One per process;
 * loop threads write, the main thread opens and reopens it.
 */
#ifndef TC_WORKER_ACCESSLOG_H
#define TC_WORKER_ACCESSLOG_H

#include "worker/dispatch.h"

#include <stdatomic.h>
#include <stdbool.h>

/*
 * The log's descriptor, -1 while it is off: the one branch on the hot path.
 * Atomic: a worker whose open failed sets it when SIGUSR1 opens the log.
 */
extern _Atomic int tc_accesslog_fd;

/* True when calls are logged. */
static inline bool
tc_accesslog_on(void)
{
    return atomic_load_explicit(&tc_accesslog_fd, memory_order_relaxed) >= 0;
}

/*
 * Log calls to 'path' ("-": stdout; NULL: off) as 'format' says, naming
 * methods 'Service.method' (the service that took the call); the file is
 * opened with tc_log_open_file(). Before threads start. Returns TC_OK or a
 * negative code. Ownership: borrows 'format' for the life of the process.
 */
int tc_accesslog_open(const char *path, const char *format) TC_NODISCARD;

/*
 * Reopen the file at its path (log rotation). The descriptor number stays
 * the same (dup3), so threads writing meanwhile are safe; a log whose open
 * failed is opened now. Returns TC_OK or a negative code.
 */
int tc_accesslog_reopen(void) TC_NODISCARD;

/*
 * One line for a call that took 'ns' nanoseconds (loop threads), at most
 * 1024 bytes: a long client name is cut, the other fields never are. A
 * line that cannot be written, or only in part (tc_log_write()), is lost
 * and counted; the error log says so once a minute at most, and when
 * writes work again.
 */
void tc_accesslog_write(const char *peer, const tc_call_info_t *info, long long ns);

#endif /* TC_WORKER_ACCESSLOG_H */

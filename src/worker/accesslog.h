/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The access log: one line per call (peer, Service.method, status,
 * duration) in the 'access_log_format' of the config. One per process;
 * loop threads write, each through a buffer of its own with
 * 'access_log_buffer', the main thread opens and reopens it.
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
 * opened with tc_log_open_file(). Before threads start, in the process
 * whose pid %p writes (a worker opens it after its fork). Returns TC_OK or a
 * negative code. Ownership: borrows 'format' for the life of the process.
 */
int tc_accesslog_open(const char *path, const char *format) TC_NODISCARD;

/*
 * Reopen the file at its path (log rotation), after every buffer's lines
 * are written to the file they were logged in. The descriptor number
 * stays the same (dup3), so threads writing meanwhile are safe; a log
 * whose open failed is opened now. Returns TC_OK or a negative code.
 */
int tc_accesslog_reopen(void) TC_NODISCARD;

/* The lines one loop thread gathers (access_log_buffer). */
typedef struct tc_accesslog_buf tc_accesslog_buf_t;

/*
 * A buffer of 'size' bytes (allocated at its first line) for one loop
 * thread's lines; NULL when 'size' is 0: each line is written at once.
 * Main thread, before the loop threads start. Ownership: the caller's,
 * freed with tc_accesslog_buf_free().
 */
tc_accesslog_buf_t *tc_accesslog_buf_new(size_t size);

/* Write what 'b' holds, and free it (its thread has ended). NULL is a no-op. */
void tc_accesslog_buf_free(tc_accesslog_buf_t *b);

/*
 * One line for a call that took 'ns' nanoseconds (the loop thread of 'b'),
 * at most 1024 bytes: a long client name is cut, the other fields never
 * are. Into 'b' if it is not NULL: what it holds is written first when the
 * line does not fit. Returns true when the line is the first 'b' holds:
 * the caller then makes sure 'b' is written within 'access_log_flush'
 * (tc_accesslog_flush()). A line that cannot be written, or only in part
 * (tc_log_write()), is lost and counted; the error log says so once a
 * minute at most, and when writes work again.
 */
bool tc_accesslog_write(tc_accesslog_buf_t *b, const char *peer, const tc_call_info_t *info,
                        long long ns);

/*
 * Tell the error log how many lines were lost since the last report, if
 * any: when that report is a minute old (the worker's main thread, at
 * each wake-up: a loss is told even when no later write fails), or at
 * once with 'force' (as the worker ends, after its last lines' writes).
 */
void tc_accesslog_report_lost(bool force);

/* Write the lines 'b' holds, whole (any thread). NULL is a no-op. */
void tc_accesslog_flush(tc_accesslog_buf_t *b);

/*
 * Write the lines of every buffer whose first line was logged 'age'
 * nanoseconds ago or more; with 'age' 0, every buffer's. The worker's
 * main thread: for a loop thread inside a long handler call, whose own
 * timer cannot run, and as the worker ends.
 */
void tc_accesslog_flush_older(long long age);

#endif /* TC_WORKER_ACCESSLOG_H */

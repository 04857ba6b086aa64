/* SPDX-License-Identifier: Apache-2.0 */
/*
 * A worker's heartbeat: a page of shared memory the arbiter maps before it
 * forks the worker. The worker's main thread writes a monotonic time stamp
 * while its loops are healthy and says when it is ready; the arbiter reads
 * both, and says when the whole server stops. No file, no syscall per beat.
 */
#ifndef TC_WORKER_HEARTBEAT_H
#define TC_WORKER_HEARTBEAT_H

#include "core/common.h"

#include <stdbool.h>

typedef struct tc_heartbeat tc_heartbeat_t;

/* Map a new heartbeat page (arbiter, before fork). NULL if mmap() fails. */
tc_heartbeat_t *tc_heartbeat_new(void);
/*
 * Arbiter, once the worker of 'hb' is forked: no later child (another
 * worker, a reload check, a new arbiter) inherits the page, so a worker
 * can write to its own page only, never make the arbiter think another
 * worker hangs, stops or is ready. Returns TC_OK or -errno.
 */
int tc_heartbeat_seal(tc_heartbeat_t *hb) TC_NODISCARD;
/* Unmap it. NULL is a no-op. */
void tc_heartbeat_free(tc_heartbeat_t *hb);

/* Worker: a beat now (any thread). */
void tc_heartbeat_beat(tc_heartbeat_t *hb);
/*
 * Worker: a beat dated 'stuck' seconds back, the time a handler call still
 * running started: the arbiter's timeout then counts from the call's start,
 * not from the moment the worker stopped beating.
 */
void tc_heartbeat_beat_since(tc_heartbeat_t *hb, double stuck);
/* Worker: every loop runs and the handler code is loaded. */
void tc_heartbeat_set_ready(tc_heartbeat_t *hb);
/* Worker: a graceful stop began (for whatever reason: max_requests, a SIGTERM). */
void tc_heartbeat_set_stopping(tc_heartbeat_t *hb);
/*
 * Worker: it runs hook 'name' from now on; NULL: none any more. The main
 * thread's Lua hooks (post_fork, post_worker_init, worker_int,
 * worker_abort, worker_exit), or a C plugin's boot hooks ("plugin
 * init_worker", "plugin init_thread"), which the host reports in order from
 * whichever thread runs them. Any other name: none.
 */
void tc_heartbeat_set_hook(tc_heartbeat_t *hb, const char *name);

/* Arbiter: monotonic seconds of the last beat, as dated (the creation time before the first). */
double tc_heartbeat_last(const tc_heartbeat_t *hb);
/* Arbiter: true once the worker said it is ready. */
bool tc_heartbeat_ready(const tc_heartbeat_t *hb);
/*
 * Arbiter: seconds from the page's creation to the worker's ready, as the
 * worker measured them (a boot longer than 'timeout' is one whatever the
 * moment the arbiter looks); -1 while it is not ready.
 */
double tc_heartbeat_boot_time(const tc_heartbeat_t *hb);
/* Arbiter: true once the worker said it is stopping. */
bool tc_heartbeat_stopping(const tc_heartbeat_t *hb);
/* Arbiter: the name of the hook the worker's main thread runs (static), or NULL. */
const char *tc_heartbeat_hook(const tc_heartbeat_t *hb);

/*
 * Arbiter, before it sends the worker SIGTERM: the whole server stops, and
 * no process will accept on its listeners after its workers (no other
 * generation, no other arbiter, no systemd). One of the two words the
 * arbiter writes on the page.
 */
void tc_heartbeat_set_shutdown(tc_heartbeat_t *hb);
/*
 * Worker: true once the arbiter said so. A stopping worker then accepts the
 * clients waiting in its listeners' backlogs before it closes them, where
 * it would otherwise leave them to the workers that stay.
 */
bool tc_heartbeat_shutdown(const tc_heartbeat_t *hb);

/* Arbiter, before it sends the worker SIGABRT: its heartbeat is 'timeout' old. */
void tc_heartbeat_set_timed_out(tc_heartbeat_t *hb);
/*
 * Worker, on SIGABRT: true when the arbiter sent it for a timeout, false for
 * one from another process (or an abort() of its own).
 */
bool tc_heartbeat_timed_out(const tc_heartbeat_t *hb);

#endif /* TC_WORKER_HEARTBEAT_H */

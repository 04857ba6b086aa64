/* SPDX-License-Identifier: Apache-2.0 */
/*
 * A worker process: handler threads, each with an event loop and a Lua
 * state, serving connections accepted from the inherited listeners.
 */
#ifndef TC_WORKER_WORKER_H
#define TC_WORKER_WORKER_H

#include "config/config.h"
#include "transport/listener.h"

/*
 * Run a worker in the current (freshly forked) process until it is told to
 * stop: SIGTERM stops gracefully (stop accepting, finish every request
 * already read, send its reply, then exit), SIGINT and SIGQUIT stop at once.
 * Returns the process exit status: 0 after a normal stop, 3 when the
 * handler code cannot be loaded (the arbiter must not respawn in a loop).
 * 'index' numbers the worker for logs.
 */
int tc_worker_main(const tc_config_t *cfg, const tc_listener_t *listeners, size_t n, int index);

/* Exit status of a worker whose handler code could not be loaded. */
#define TC_WORKER_EXIT_BOOT 3

#endif /* TC_WORKER_WORKER_H */

/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Hooks: Lua functions set in thriftcorn.lua (on_starting, pre_fork, ...),
 * called at points of the process life cycle. Every call is protected: a
 * hook that raises is logged with its name, at the level its caller gives.
 */
#ifndef TC_CONFIG_HOOKS_H
#define TC_CONFIG_HOOKS_H

#include "core/err.h"
#include "core/log.h"

#include <stdbool.h>

typedef struct tc_hooks tc_hooks_t;

/* One field of a table argument: a string when 'str' is not NULL, else the integer 'num'. */
typedef struct tc_hook_field {
    const char *key;
    const char *str;
    long long num;
} tc_hook_field_t;

/* One argument: a table of 'nfields' fields when 'fields' is not NULL, else the integer 'num'. */
typedef struct tc_hook_arg {
    const tc_hook_field_t *fields;
    size_t nfields;
    long long num;
} tc_hook_arg_t;

/*
 * Evaluate 'len' bytes of config text 'source' as the config file 'path' (a
 * real path) in a fresh Lua state and keep its hooks: for a loop thread that
 * calls on_connected/post_connect_closed in a state of its own. The file is
 * not read again. NULL with 'err' filled on failure, or with 'err' clear when
 * the text sets no hook. Ownership: the caller frees it with tc_hooks_free().
 */
tc_hooks_t *tc_hooks_new(const char *path, const char *source, size_t len, tc_err_t *err);

/* Close the state. NULL is a no-op. */
void tc_hooks_free(tc_hooks_t *h);

/* True when 'h' has a function for hook 'name'. 'h' may be NULL. */
bool tc_hooks_has(const tc_hooks_t *h, const char *name);

/*
 * Call hook 'name' with 'nargs' arguments, if it is set ('h' may be NULL).
 * One that raised is logged as "Hook NAME failed: why" at 'level': error
 * when its failure changes nothing else, critical when it stops the start
 * (the arbiter's on_starting). Returns false when it raised, true when it
 * returned or is not set. Only the thread that owns 'h' may call it.
 */
bool tc_hooks_run(tc_hooks_t *h, tc_log_level_t level, const char *name, const tc_hook_arg_t *args,
                  size_t nargs);

/*
 * What on_connected and post_connect_closed receive as their first argument
 * in this process (the worker table of the other worker hooks, plus the
 * loop thread's number): set once by a worker after fork, before its
 * threads start.
 */
void tc_hooks_set_worker(int index, unsigned generation, int threads);

/* Call a connection hook ('name') with the worker table and the peer's address. */
void tc_hooks_run_conn(tc_hooks_t *h, const char *name, int thread, const char *peer);

/* ---- for config.c ---- */

/*
 * Adopt 'L' if the config table at 'idx' sets any hook: the hooks are kept in
 * the registry and 'L' is closed by tc_hooks_free(). Returns NULL (and leaves
 * 'L' to the caller) when no hook is set.
 */
struct lua_State;
tc_hooks_t *tc_hooks_take(struct lua_State *L, int idx);

#endif /* TC_CONFIG_HOOKS_H */

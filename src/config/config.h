/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The configuration: thriftcorn.lua evaluated in a config-only Lua state by
 * lua/thriftcorn/config.lua, validated there, then frozen into this struct.
 * Immutable once loaded; workers inherit it across fork.
 */
#ifndef TC_CONFIG_CONFIG_H
#define TC_CONFIG_CONFIG_H

#include "core/err.h"

#include <stdbool.h>

typedef struct tc_service_conf {
    char *name;    /* service name in the IDL */
    char *idl;     /* absolute path */
    char *handler; /* absolute path of the Lua handler module; "" when a plugin serves all */
    char *plugin;  /* absolute path of the C plugin (docs/plugins.md), or NULL */
    /*
     * services = { ... } only: the name multiplexed calls give the service
     * ("Name:method"), its access log name; NULL: 'name'
     */
    char *mux_name;
} tc_service_conf_t;

/* The name multiplexed calls give service 's'. */
static inline const char *
tc_config_service_mux_name(const tc_service_conf_t *s)
{
    return s->mux_name != NULL ? s->mux_name : s->name;
}

/* The most 'workers' may be (lua/thriftcorn/config/settings.lua); SIGTTIN stops there too. */
#define TC_CONFIG_WORKERS_MAX 4096

/* NOLINTNEXTLINE(clang-analyzer-optin.performance.Padding): one per process */
typedef struct tc_config {
    char *path; /* absolute path of the config file */
    char **binds;
    size_t nbinds;
    int workers;
    int threads;
    char *transport;       /* "auto" | "buffered" | "framed" | "header" */
    char *protocol;        /* "auto" | "binary" | "compact" */
    double client_timeout; /* seconds; 0 = never */
    uint32_t max_frame_size;
    uint32_t max_message_size;
    uint32_t max_depth;
    size_t max_lua_memory; /* bytes each handler thread's Lua state may hold; 0 = no limit */
    bool expose_errors;
    int loglevel; /* tc_log_level_t */
    /* client warnings a handler thread logs a second, after a burst; 0 = no limit */
    unsigned client_warning_rate;
    char *errorlog;
    char **include_dirs;
    size_t ninclude_dirs;
    /*
     * Absolute paths of the files root read as it evaluated the config and
     * loaded its services' IDL, each once: the Lua files and C modules it
     * ran through require, dofile() and loadfile(), and the files the IDL
     * loader read (the IDL files and those they include).
     */
    char **lua_files;
    size_t nlua_files;
    char **idl_files;
    size_t nidl_files;
    /*
     * The IDL loader's warnings about the services' IDL, each once, for
     * tc_config_log_warnings(): logged where the error log and loglevel of
     * this config apply, not while it loads.
     */
    char **idl_warnings;
    size_t nidl_warnings;
    tc_service_conf_t service;
    /*
     * services = { ... }: every service, served multiplexed (calls named
     * Service:method); NULL and 0 with a single 'service'. 'service' is then
     * the default one, or the first.
     */
    tc_service_conf_t *services;
    size_t nservices;
    int default_service; /* index of the service plain method names go to; -1: none */
    /* process management (docs/operations.md) */
    double graceful_timeout; /* seconds */
    double timeout;          /* seconds without a heartbeat; 0 = never */
    int max_requests;        /* 0 = never */
    int max_requests_jitter;
    int backlog;
    int worker_connections; /* connections a worker holds at once */
    bool reuse_port;
    char *pidfile; /* NULL: none */
    bool daemon;
    char *user;      /* name or decimal id; NULL: unchanged */
    char *group;     /* name or decimal id; NULL: unchanged */
    int umask;       /* -1: unchanged */
    char *accesslog; /* NULL: off; "-": stdout */
    char *access_log_format;
    size_t access_log_buffer; /* bytes of lines each loop thread gathers; 0: none */
    double access_log_flush;  /* seconds a gathered line waits at most */
    char *proc_name;          /* never NULL: proc_name or the config file's base name */
    bool workers_set;         /* 'workers' given in the file or on the command line */
    /*
     * How --check-config's lines about the files and binds the arbiter
     * opens, and about the switch to 'user' and 'group', name each
     * setting: where it was set ("FILE:LINE: pidfile" or "--pidfile");
     * NULL where its default is in force.
     */
    struct {
        char *errorlog;
        char *pidfile;
        char *accesslog;
        char *bind;
        char *user;
        char *group;
    } named;
    /*
     * The config's own Lua state with its hook functions, kept alive when any
     * hook is set (NULL otherwise). Used by the arbiter and, inherited across
     * fork, by a worker's main thread; never by two threads.
     */
    struct tc_hooks *hooks;
    bool conn_hooks; /* on_connected or post_connect_closed is set */
    /*
     * The text of the config file as it was read and evaluated (set when
     * conn_hooks is): a loop thread evaluates it again for its connection
     * hooks, so that they come from the same file as every other setting
     * even when the file has since changed or is no longer readable (after
     * 'user' and 'group' took effect).
     */
    char *source;
    size_t source_len;
} tc_config_t;

/* One command-line override: --name value. Borrowed strings. */
typedef struct tc_config_override {
    const char *name; /* setting name with '_' ("client_timeout") */
    const char *value;
} tc_config_override_t;

/*
 * Read 'path' (tc_config_read()) and evaluate it with 'n' overrides in a
 * fresh Lua state, validate it, load
 * the service's IDL and check that the service exists. Returns the frozen
 * config, or NULL with every problem in 'err' (one per line, "file:line:
 * message"). Ownership: the caller frees it with tc_config_free().
 */
tc_config_t *tc_config_load(const char *path, const tc_config_override_t *overrides, size_t n,
                            tc_err_t *err);

/*
 * tc_config_load() of 'len' bytes of config text 'source' as the file
 * 'path' (a real path): the file is not read. A reload reads the file once
 * (tc_config_read()) and checks and then applies that same text.
 * Ownership: 'path' and 'source' are borrowed; the caller frees the config
 * with tc_config_free().
 */
tc_config_t *tc_config_load_text(const char *path, const char *source, size_t len,
                                 const tc_config_override_t *overrides, size_t n, tc_err_t *err);

/*
 * Read the config file 'path' whole: its text, NUL-terminated, with its
 * length in '*len' and its real path in '*real'; or NULL with "path: cannot
 * read the config file (...)" in 'err' ("cannot read the config file: its
 * path is empty" for ""). Only a regular file of at most
 * 16 MiB is read, and never with a blocking open (a FIFO is refused).
 * Ownership: the caller frees the text and '*real'.
 */
char *tc_config_read(const char *path, size_t *len, char **real, tc_err_t *err);

/* Log the IDL warnings of 'cfg' ('idl_warnings'), one line of level warning each. */
void tc_config_log_warnings(const tc_config_t *cfg);

/* Free a config from tc_config_load() or tc_config_load_text(). NULL is a no-op. */
void tc_config_free(tc_config_t *cfg);

/*
 * True when a bind of 'cfg' is written as 'spec': the same text, not only
 * the same address ("localhost:9090" is not "127.0.0.1:9090").
 */
bool tc_config_has_bind(const tc_config_t *cfg, const char *spec);

/*
 * Where 'user' and 'group' were set, for a line about the switch to them:
 * "FILE:LINE: user, --group" written into 'buf' (of 'cap' bytes), which is
 * returned; NULL when neither is set, or one is by its default.
 */
const char *tc_config_named_ids(const tc_config_t *cfg, char *buf, size_t cap);

/* ---- for hooks.c ---- */

/*
 * Bound the CPU time of the Lua code 'L' runs from now (when 'on') until
 * called again with false: the evaluation of a config file. Past 10 s an
 * error is raised where the code runs ("the config file ran for 10 s of
 * CPU time without finishing ..."). Only the thread that owns 'L' may call it.
 */
struct lua_State;
void tc_config_limit_cpu(struct lua_State *L, bool on);

#endif /* TC_CONFIG_CONFIG_H */

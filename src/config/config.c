/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Runs lua/thriftcorn/config.lua on the config file in a Lua state of its
 * own, then copies the validated table into a tc_config_t. The state is
 * closed before returning: nothing of the config's Lua survives into workers.
 */
#include "config/config.h"

#include "bridge/lua_api.h"
#include "bridge/lua_state.h"
#include "config/hooks.h"
#include "core/alloc.h"
#include "core/buf.h"
#include "core/file.h"
#include "core/log.h"

#include <errno.h>
#include <lauxlib.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static char *
get_string(lua_State *L, int idx, const char *key, const char *dflt)
{
    lua_getfield(L, idx, key);
    const char *s = lua_tostring(L, -1);
    char *copy = s != NULL ? tc_xstrdup(s) : (dflt != NULL ? tc_xstrdup(dflt) : NULL);
    lua_pop(L, 1);
    return copy;
}

static lua_Number
get_number(lua_State *L, int idx, const char *key, lua_Number dflt)
{
    lua_getfield(L, idx, key);
    lua_Number v = lua_isnumber(L, -1) ? lua_tonumber(L, -1) : dflt;
    lua_pop(L, 1);
    return v;
}

static bool
get_bool(lua_State *L, int idx, const char *key)
{
    lua_getfield(L, idx, key);
    bool v = lua_toboolean(L, -1);
    lua_pop(L, 1);
    return v;
}

static char **
get_list(lua_State *L, int idx, const char *key, size_t *n)
{
    lua_getfield(L, idx, key);
    size_t len = lua_istable(L, -1) ? (size_t)luaL_len(L, -1) : 0;
    char **list = tc_xcalloc(len + 1, sizeof(char *));
    for (size_t i = 0; i < len; i++) {
        lua_rawgeti(L, -1, (lua_Integer)i + 1);
        list[i] = tc_xstrdup(lua_tostring(L, -1) ? lua_tostring(L, -1) : "");
        lua_pop(L, 1);
    }
    lua_pop(L, 1);
    *n = len;
    return list;
}

/*
 * Put the strings of the list on top of the stack into 'err', one per line:
 * as many whole lines as fit, then how many more there are (a line cut in
 * the middle, or one dropped without a word, would send the reader to
 * the wrong place).
 */
static void
collect_errors(lua_State *L, tc_err_t *err)
{
    enum { MORE_MAX = sizeof("\n(and 4294967295 more)") };
    char msg[TC_ERR_MSG_MAX];
    size_t used = 0;
    msg[0] = '\0';
    size_t n = lua_istable(L, -1) ? (size_t)luaL_len(L, -1) : 0;
    size_t i = 0;
    for (; i < n; i++) {
        lua_rawgeti(L, -1, (lua_Integer)i + 1);
        const char *line = lua_tostring(L, -1);
        line = line != NULL ? line : "?";
        size_t len = strlen(line) + (i > 0);
        /* room for this line, and for the count of those after it if any */
        size_t room = sizeof(msg) - 1 - used - (i + 1 < n ? MORE_MAX : 0);
        if (len > room && i > 0) {
            lua_pop(L, 1);
            break;
        }
        /* the first line is always shown, if need be cut */
        (void)snprintf(msg + used, room + 1, "%s%s", i > 0 ? "\n" : "", line);
        used = strlen(msg);
        lua_pop(L, 1);
    }
    if (i < n) {
        (void)snprintf(msg + used, sizeof(msg) - used, "\n(and %zu more)", n - i);
    }
    tc_err_set(err, TC_EINVAL, "%s", n ? msg : "invalid configuration");
}

static void
freeze(lua_State *L, int idx, tc_config_t *cfg)
{
    cfg->path = get_string(L, idx, "path", NULL);
    cfg->binds = get_list(L, idx, "bind", &cfg->nbinds);
    cfg->workers = (int)get_number(L, idx, "workers", 1);
    cfg->threads = (int)get_number(L, idx, "threads", 1);
    cfg->transport = get_string(L, idx, "transport", "auto");
    cfg->protocol = get_string(L, idx, "protocol", "auto");
    cfg->client_timeout = get_number(L, idx, "client_timeout", 0);
    cfg->max_frame_size = (uint32_t)get_number(L, idx, "max_frame_size", 16384000);
    cfg->max_message_size = (uint32_t)get_number(L, idx, "max_message_size", 16384000);
    cfg->max_depth = (uint32_t)get_number(L, idx, "max_depth", 64);
    cfg->max_lua_memory = (size_t)get_number(L, idx, "max_lua_memory", 0);
    lua_getfield(L, idx, "expose_errors");
    cfg->expose_errors = lua_toboolean(L, -1);
    lua_pop(L, 1);
    char *level = get_string(L, idx, "loglevel", "info");
    cfg->loglevel = tc_log_level_parse(level);
    cfg->loglevel = cfg->loglevel < 0 ? TC_LOG_INFO : cfg->loglevel;
    free(level);
    cfg->client_warning_rate = (unsigned)get_number(L, idx, "client_warning_rate", 10);
    cfg->errorlog = get_string(L, idx, "errorlog", "-");
    cfg->include_dirs = get_list(L, idx, "include_dirs", &cfg->ninclude_dirs);
    lua_getfield(L, idx, "service");
    int svc = lua_gettop(L);
    cfg->service.name = get_string(L, svc, "name", "");
    cfg->service.idl = get_string(L, svc, "idl", "");
    cfg->service.handler = get_string(L, svc, "handler", "");
    cfg->service.plugin = get_string(L, svc, "plugin", NULL);
    lua_pop(L, 1);

    cfg->graceful_timeout = get_number(L, idx, "graceful_timeout", 30);
    cfg->timeout = get_number(L, idx, "timeout", 0);
    cfg->max_requests = (int)get_number(L, idx, "max_requests", 0);
    cfg->max_requests_jitter = (int)get_number(L, idx, "max_requests_jitter", 0);
    cfg->backlog = (int)get_number(L, idx, "backlog", 2048);
    cfg->worker_connections = (int)get_number(L, idx, "worker_connections", 1000);
    cfg->reuse_port = get_bool(L, idx, "reuse_port");
    cfg->pidfile = get_string(L, idx, "pidfile", NULL);
    cfg->daemon = get_bool(L, idx, "daemon");
    cfg->user = get_string(L, idx, "user", NULL);
    cfg->group = get_string(L, idx, "group", NULL);
    cfg->umask = (int)get_number(L, idx, "umask", -1);
    cfg->accesslog = get_string(L, idx, "accesslog", NULL);
    cfg->access_log_format = get_string(L, idx, "access_log_format", "%t %h %m %s %D");
    cfg->access_log_buffer = (size_t)get_number(L, idx, "access_log_buffer", 0);
    cfg->access_log_flush = get_number(L, idx, "access_log_flush", 1);
    cfg->proc_name = get_string(L, idx, "proc_name", NULL);
    if (cfg->proc_name == NULL) {
        const char *slash = cfg->path != NULL ? strrchr(cfg->path, '/') : NULL;
        cfg->proc_name = tc_xstrdup(slash != NULL ? slash + 1 : (cfg->path ? cfg->path : "?"));
    }
    cfg->workers_set = get_bool(L, idx, "workers_set");
    if (lua_getfield(L, idx, "named") == LUA_TTABLE) {
        int named = lua_gettop(L);
        cfg->named.errorlog = get_string(L, named, "errorlog", NULL);
        cfg->named.pidfile = get_string(L, named, "pidfile", NULL);
        cfg->named.accesslog = get_string(L, named, "accesslog", NULL);
        cfg->named.bind = get_string(L, named, "bind", NULL);
        cfg->named.user = get_string(L, named, "user", NULL);
        cfg->named.group = get_string(L, named, "group", NULL);
    }
    lua_pop(L, 1);
    lua_getfield(L, idx, "on_connected");
    lua_getfield(L, idx, "post_connect_closed");
    cfg->conn_hooks = lua_isfunction(L, -1) || lua_isfunction(L, -2);
    lua_pop(L, 2);
    if (cfg->conn_hooks) {
        lua_getfield(L, idx, "source");
        size_t len = 0;
        const char *s = lua_tolstring(L, -1, &len);
        cfg->source = tc_xmalloc(len + 1);
        if (len > 0) {
            memcpy(cfg->source, s, len);
        }
        cfg->source[len] = '\0';
        cfg->source_len = len;
        lua_pop(L, 1);
    }
}

/* services = { ... }, when the config has it. */
static void
freeze_services(lua_State *L, int idx, tc_config_t *cfg)
{
    cfg->default_service = -1;
    if (lua_getfield(L, idx, "services") != LUA_TTABLE) {
        lua_pop(L, 1);
        return;
    }
    size_t n = (size_t)luaL_len(L, -1);
    cfg->services = tc_xcalloc(n + 1, sizeof(*cfg->services));
    cfg->nservices = n;
    for (size_t i = 0; i < n; i++) {
        lua_rawgeti(L, -1, (lua_Integer)i + 1);
        int e = lua_gettop(L);
        cfg->services[i].name = get_string(L, e, "name", "");
        cfg->services[i].idl = get_string(L, e, "idl", "");
        cfg->services[i].handler = get_string(L, e, "handler", "");
        cfg->services[i].plugin = get_string(L, e, "plugin", NULL);
        cfg->services[i].mux_name = get_string(L, e, "multiplexed_name", NULL);
        lua_getfield(L, e, "default");
        if (lua_toboolean(L, -1)) {
            cfg->default_service = (int)i;
        }
        lua_pop(L, 2);
    }
    lua_pop(L, 1);
}

/*
 * The IDL loader's warnings about the services' IDL, kept for
 * tc_config_log_warnings(): the load of the config at start comes before
 * its error log is open and its loglevel set, and a reload's check loads
 * it as the arbiter does after it.
 */
static void
take_idl_warnings(lua_State *L, int tbl, tc_config_t *cfg)
{
    size_t n = 0;
    if (lua_getfield(L, tbl, "idl_warnings") == LUA_TTABLE) {
        n = (size_t)lua_rawlen(L, -1);
    }
    cfg->idl_warnings = tc_xcalloc(n + 1, sizeof(char *));
    for (size_t i = 0; i < n; i++) {
        lua_rawgeti(L, -1, (lua_Integer)i + 1);
        const char *msg = lua_tostring(L, -1);
        if (msg != NULL) {
            cfg->idl_warnings[cfg->nidl_warnings++] = tc_xstrdup(msg);
        }
        lua_pop(L, 1);
    }
    lua_pop(L, 1);
}

void
tc_config_log_warnings(const tc_config_t *cfg)
{
    for (size_t i = 0; i < cfg->nidl_warnings; i++) {
        tc_log(TC_LOG_WARNING, "IDL warning: %s", cfg->idl_warnings[i]);
    }
}

static void
push_overrides(lua_State *L, const tc_config_override_t *ov, size_t n)
{
    lua_createtable(L, (int)n, 0);
    for (size_t i = 0; i < n; i++) {
        lua_createtable(L, 0, 2);
        lua_pushstring(L, ov[i].name);
        lua_setfield(L, -2, "name");
        lua_pushstring(L, ov[i].value);
        lua_setfield(L, -2, "value");
        lua_rawseti(L, -2, (lua_Integer)i + 1);
    }
}

/* ---- a bound on the file's CPU time ---- */

/*
 * CPU seconds of Lua code the config file may run: a file that runs past
 * it is a loop that never ends, which would hang the start, --check-config
 * and the arbiter without a word. Time spent waiting (io.popen(), a
 * sleeping os.execute()) is not counted.
 */
#define CONFIG_CPU_MAX 10
/* Lua instructions between two looks at the clock */
#define CONFIG_CPU_COUNT 100000

static const char cpu_key; /* registry: the deadline, in this thread's CPU seconds */

static double
thread_cpu(void)
{
    struct timespec ts;
    if (clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts) != 0) {
        return 0;
    }
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void
cpu_hook(lua_State *L, lua_Debug *ar)
{
    (void)ar;
    /* none: unbound (a coroutine of the file inherits the hook and may run in a hook later) */
    bool set = lua_rawgetp(L, LUA_REGISTRYINDEX, &cpu_key) == LUA_TNUMBER;
    double deadline = lua_tonumber(L, -1);
    lua_pop(L, 1);
    double now = set ? thread_cpu() : 0;
    if (!set || now < deadline) {
        return;
    }
    /* the next error a second later: a pcall() of the file may catch this one */
    lua_pushnumber(L, now + 1.0);
    lua_rawsetp(L, LUA_REGISTRYINDEX, &cpu_key);
    lua_pushfstring(L,
                    "the config file ran for %d s of CPU time without finishing "
                    "(a loop that never ends?)",
                    CONFIG_CPU_MAX);
    lua_error(L);
}

void
tc_config_limit_cpu(lua_State *L, bool on)
{
    if (on) {
        lua_pushnumber(L, thread_cpu() + CONFIG_CPU_MAX);
        lua_sethook(L, cpu_hook, LUA_MASKCOUNT, CONFIG_CPU_COUNT);
    } else {
        lua_pushnil(L);
        lua_sethook(L, NULL, 0, 0);
    }
    lua_rawsetp(L, LUA_REGISTRYINDEX, &cpu_key);
}

/* ---- the files root loads ---- */

/*
 * While the config is evaluated and its services' IDL loaded (as root, in
 * the arbiter), the state notes each Lua file or C module it loads through
 * require (every searcher but package.preload), dofile() or loadfile(),
 * and each file core.read_file() reads (the IDL files and what they
 * include): tc_trust_warn() checks them.
 */
static const char runs_key; /* registry: the list of files run */

static void
note(lua_State *L, int idx)
{
    if (lua_rawgetp(L, LUA_REGISTRYINDEX, &runs_key) == LUA_TTABLE) {
        lua_pushvalue(L, idx);
        lua_rawseti(L, -2, (lua_Integer)lua_rawlen(L, -2) + 1);
    }
    lua_pop(L, 1);
}

/* A searcher of package.searchers: upvalue 1, noting the file of the loader it finds. */
static int
noting_searcher(lua_State *L)
{
    lua_settop(L, 1);
    lua_pushvalue(L, lua_upvalueindex(1));
    lua_insert(L, 1);
    lua_call(L, 1, 2);
    if (lua_isfunction(L, 1) && lua_type(L, 2) == LUA_TSTRING) {
        note(L, 2);
    }
    return 2;
}

static int
file_loader_done(lua_State *L, int status, lua_KContext ctx)
{
    (void)status;
    (void)ctx;
    return lua_gettop(L);
}

/* dofile() or loadfile(): upvalue 1, noting the file it is given. */
static int
noting_file_loader(lua_State *L)
{
    /* checked here: an error raised by the function wrapped would not know its name */
    if (luaL_optstring(L, 1, NULL) != NULL) {
        note(L, 1);
    }
    int n = lua_gettop(L);
    lua_pushvalue(L, lua_upvalueindex(1));
    lua_insert(L, 1);
    /* a continuation: the chunk dofile() runs may yield, as it may without the note */
    lua_callk(L, n, LUA_MULTRET, 0, file_loader_done);
    return file_loader_done(L, LUA_OK, 0);
}

static void
wrap_global(lua_State *L, const char *name)
{
    lua_getglobal(L, name);
    lua_pushcclosure(L, noting_file_loader, 1);
    lua_setglobal(L, name);
}

static void
start_noting(lua_State *L)
{
    lua_newtable(L);
    lua_rawsetp(L, LUA_REGISTRYINDEX, &runs_key);
    lua_newtable(L);
    lua_rawsetp(L, LUA_REGISTRYINDEX, &tc_lua_api_reads_key);
    lua_getglobal(L, "package");
    if (lua_getfield(L, -1, "searchers") == LUA_TTABLE) {
        lua_Integer n = (lua_Integer)lua_rawlen(L, -1);
        for (lua_Integer i = 2; i <= n; i++) {
            lua_rawgeti(L, -1, i);
            lua_pushcclosure(L, noting_searcher, 1);
            lua_rawseti(L, -2, i);
        }
    }
    lua_pop(L, 2);
    wrap_global(L, "dofile");
    wrap_global(L, "loadfile");
}

/* Stop noting, and take the list noted at 'key': each path once, made absolute. */
static char **
take_noted(lua_State *L, const void *key, size_t *n)
{
    *n = 0;
    lua_rawgetp(L, LUA_REGISTRYINDEX, key);
    size_t len = lua_istable(L, -1) ? (size_t)lua_rawlen(L, -1) : 0;
    char **list = tc_xcalloc(len + 1, sizeof(char *));
    for (size_t i = 0; i < len; i++) {
        lua_rawgeti(L, -1, (lua_Integer)i + 1);
        char buf[PATH_MAX];
        char *abs =
            tc_file_abs_path(lua_tostring(L, -1), buf, sizeof(buf)) ? tc_xstrdup(buf) : NULL;
        lua_pop(L, 1);
        bool again = abs == NULL;
        for (size_t j = 0; j < *n && !again; j++) {
            again = strcmp(list[j], abs) == 0;
        }
        if (again) {
            free(abs);
        } else {
            list[(*n)++] = abs;
        }
    }
    lua_pop(L, 1);
    lua_pushnil(L);
    lua_rawsetp(L, LUA_REGISTRYINDEX, key);
    return list;
}

/* Evaluate 'len' bytes of 'source' as the config file 'path' (a real path). */
static tc_config_t *
load(const char *path, const char *source, size_t len, const tc_config_override_t *overrides,
     size_t n, tc_err_t *err)
{
    lua_State *L = tc_lua_state_new(err);
    if (L == NULL) {
        return NULL;
    }
    tc_config_t *cfg = NULL;
    int rc;
    start_noting(L);
    lua_getglobal(L, "require");
    lua_pushliteral(L, "thriftcorn.config");
    if (tc_lua_pcall(L, 1, 1, err) != TC_OK) {
        goto out;
    }
    int mod = lua_gettop(L);
    lua_getfield(L, mod, "load");
    lua_pushstring(L, path);
    push_overrides(L, overrides, n);
    lua_pushlstring(L, source, len);
    tc_config_limit_cpu(L, true);
    rc = tc_lua_pcall(L, 3, 2, err);
    tc_config_limit_cpu(L, false);
    if (rc != TC_OK) {
        goto out;
    }
    if (lua_isnil(L, -2)) {
        collect_errors(L, err);
        goto out;
    }
    lua_pop(L, 1);
    int tbl = lua_gettop(L);
    lua_getfield(L, mod, "check_services");
    lua_pushvalue(L, tbl);
    if (tc_lua_pcall(L, 1, 2, err) != TC_OK) {
        goto out;
    }
    if (lua_isnil(L, -2)) {
        collect_errors(L, err);
        goto out;
    }
    lua_settop(L, tbl);
    cfg = tc_xcalloc(1, sizeof(*cfg));
    take_idl_warnings(L, tbl, cfg);
    freeze(L, tbl, cfg);
    freeze_services(L, tbl, cfg);
    cfg->lua_files = take_noted(L, &runs_key, &cfg->nlua_files);
    cfg->idl_files = take_noted(L, &tc_lua_api_reads_key, &cfg->nidl_files);
    /* the state lives on when the config sets hooks: they run in it */
    lua_getfield(L, tbl, "service");
    lua_pushnil(L);
    lua_setfield(L, -2, "schema");
    cfg->hooks = tc_hooks_take(L, tbl);
    if (cfg->hooks != NULL) {
        lua_settop(L, 0);
        lua_gc(L, LUA_GCCOLLECT);
        return cfg;
    }
out:
    lua_close(L);
    return cfg;
}

tc_config_t *
tc_config_load(const char *path, const tc_config_override_t *overrides, size_t n, tc_err_t *err)
{
    /* read as a reload reads it: the same rules at start, in --check-config and at SIGHUP */
    size_t len;
    char *real;
    char *text = tc_config_read(path, &len, &real, err);
    if (text == NULL) {
        return NULL;
    }
    tc_config_t *cfg = load(real, text, len, overrides, n, err);
    free(text);
    free(real);
    return cfg;
}

tc_config_t *
tc_config_load_text(const char *path, const char *source, size_t len,
                    const tc_config_override_t *overrides, size_t n, tc_err_t *err)
{
    return load(path, source, len, overrides, n, err);
}

char *
tc_config_read(const char *path, size_t *len, char **real, tc_err_t *err)
{
    if (path[0] == '\0') {
        /* thriftcorn "$CONFIG" with the variable unset: ": cannot read ..." would name nothing */
        tc_err_set(err, TC_EINVAL, "cannot read the config file: its path is empty");
        *real = NULL;
        return NULL;
    }
    int rc;
    tc_buf_t b;
    tc_buf_init(&b);
    *real = realpath(path, NULL);
    if (*real == NULL) {
        rc = -errno;
    } else {
        /* never blocks: a FIFO without a writer must not stop the arbiter (a reload reads here) */
        rc = tc_file_read(*real, TC_FILE_READ_MAX, &b, NULL);
    }
    if (rc != TC_OK) {
        const char *why = tc_file_read_refusal(rc);
        tc_err_set(err, TC_EINVAL, "%s: cannot read the config file (%s)", path,
                   rc == -EISDIR ? "a folder"
                   : why != NULL ? why
                                 : tc_strerror(rc));
        tc_buf_deinit(&b);
        free(*real);
        *real = NULL;
        return NULL;
    }
    tc_buf_reserve(&b, 1);
    b.data[b.len] = '\0';
    *len = b.len;
    return (char *)b.data; /* the buffer's memory, handed over */
}

static void
free_list(char **list, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        free(list[i]);
    }
    free(list);
}

void
tc_config_free(tc_config_t *cfg)
{
    if (cfg == NULL) {
        return;
    }
    free(cfg->path);
    free_list(cfg->binds, cfg->nbinds);
    free(cfg->transport);
    free(cfg->protocol);
    free(cfg->errorlog);
    free_list(cfg->include_dirs, cfg->ninclude_dirs);
    free_list(cfg->lua_files, cfg->nlua_files);
    free_list(cfg->idl_files, cfg->nidl_files);
    free_list(cfg->idl_warnings, cfg->nidl_warnings);
    for (size_t i = 0; i < cfg->nservices; i++) {
        free(cfg->services[i].name);
        free(cfg->services[i].idl);
        free(cfg->services[i].handler);
        free(cfg->services[i].plugin);
        free(cfg->services[i].mux_name);
    }
    free(cfg->services);
    free(cfg->service.name);
    free(cfg->service.idl);
    free(cfg->service.handler);
    free(cfg->service.plugin);
    free(cfg->pidfile);
    free(cfg->user);
    free(cfg->group);
    free(cfg->accesslog);
    free(cfg->access_log_format);
    free(cfg->proc_name);
    free(cfg->named.errorlog);
    free(cfg->named.pidfile);
    free(cfg->named.accesslog);
    free(cfg->named.bind);
    free(cfg->named.user);
    free(cfg->named.group);
    free(cfg->source);
    tc_hooks_free(cfg->hooks);
    free(cfg);
}

const char *
tc_config_named_ids(const tc_config_t *cfg, char *buf, size_t cap)
{
    bool user = cfg->user != NULL;
    bool group = cfg->group != NULL;
    if ((!user && !group) || (user && cfg->named.user == NULL) ||
        (group && cfg->named.group == NULL)) {
        return NULL;
    }
    (void)snprintf(buf, cap, "%s%s%s", user ? cfg->named.user : "", user && group ? ", " : "",
                   group ? cfg->named.group : "");
    return buf;
}

bool
tc_config_has_bind(const tc_config_t *cfg, const char *spec)
{
    for (size_t i = 0; i < cfg->nbinds; i++) {
        if (strcmp(cfg->binds[i], spec) == 0) {
            return true;
        }
    }
    return false;
}

/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The hooks of thriftcorn.lua: a table name -> function kept in the registry
 * of the Lua state that evaluated the config, and the protected calls.
 */
#include "config/hooks.h"

#include "bridge/lua_state.h"
#include "config/config.h"
#include "core/alloc.h"
#include "core/log.h"

#include <lauxlib.h>
#include <stdlib.h>
#include <unistd.h>

/* Keep in step with M.hooks in lua/thriftcorn/config/settings.lua. */
static const char *const hook_names[] = {
    "on_starting",      "on_reload",    "when_ready",          "pre_fork",    "post_fork",
    "post_worker_init", "worker_int",   "worker_abort",        "worker_exit", "nworkers_changed",
    "on_exit",          "on_connected", "post_connect_closed",
};

struct tc_hooks {
    lua_State *L;
    int ref; /* registry: table name -> function */
};

static int worker_index = -1;
static unsigned worker_generation;
static int worker_threads;

tc_hooks_t *
tc_hooks_take(lua_State *L, int idx)
{
    idx = lua_absindex(L, idx);
    lua_createtable(L, 0, 4);
    bool any = false;
    for (size_t i = 0; i < TC_ARRAY_LEN(hook_names); i++) {
        if (lua_getfield(L, idx, hook_names[i]) == LUA_TFUNCTION) {
            lua_setfield(L, -2, hook_names[i]);
            any = true;
        } else {
            lua_pop(L, 1);
        }
    }
    if (!any) {
        lua_pop(L, 1);
        return NULL;
    }
    tc_hooks_t *h = tc_xcalloc(1, sizeof(*h));
    h->L = L;
    h->ref = luaL_ref(L, LUA_REGISTRYINDEX);
    return h;
}

tc_hooks_t *
tc_hooks_new(const char *path, const char *source, size_t len, tc_err_t *err)
{
    lua_State *L = tc_lua_state_new(err);
    if (L == NULL) {
        return NULL;
    }
    lua_getglobal(L, "require");
    lua_pushliteral(L, "thriftcorn.config");
    if (tc_lua_pcall(L, 1, 1, err) != TC_OK) {
        lua_close(L);
        return NULL;
    }
    lua_getfield(L, -1, "load");
    lua_pushstring(L, path);
    lua_pushnil(L); /* no overrides: none of them sets a hook */
    lua_pushlstring(L, source, len);
    tc_config_limit_cpu(L, true);
    int rc = tc_lua_pcall(L, 3, 2, err);
    tc_config_limit_cpu(L, false);
    if (rc != TC_OK) {
        lua_close(L);
        return NULL;
    }
    if (lua_isnil(L, -2)) {
        lua_rawgeti(L, -1, 1);
        tc_err_set(err, TC_EINVAL, "%s", lua_tostring(L, -1) ? lua_tostring(L, -1) : path);
        lua_close(L);
        return NULL;
    }
    tc_hooks_t *h = tc_hooks_take(L, -2);
    if (h == NULL) {
        lua_close(L);
        return NULL;
    }
    lua_settop(L, 0);
    return h;
}

void
tc_hooks_free(tc_hooks_t *h)
{
    if (h == NULL) {
        return;
    }
    lua_close(h->L);
    free(h);
}

/* Push hook 'name' and return true, or push nothing and return false. */
static bool
push_hook(const tc_hooks_t *h, const char *name)
{
    lua_rawgeti(h->L, LUA_REGISTRYINDEX, h->ref);
    if (lua_getfield(h->L, -1, name) != LUA_TFUNCTION) {
        lua_pop(h->L, 2);
        return false;
    }
    lua_remove(h->L, -2);
    return true;
}

bool
tc_hooks_has(const tc_hooks_t *h, const char *name)
{
    if (h == NULL) {
        return false;
    }
    if (!push_hook(h, name)) {
        return false;
    }
    lua_pop(h->L, 1);
    return true;
}

/*
 * Call hook 'name' of 'h': TC_OK when it returned or is not set, else a
 * negative code with 'err' filled (the error as tc_lua_pcall() words it).
 */
static int
call_hook(tc_hooks_t *h, const char *name, const tc_hook_arg_t *args, size_t nargs, tc_err_t *err)
{
    lua_State *L = h->L;
    int top = lua_gettop(L);
    if (!lua_checkstack(L, (int)nargs + 8) || !push_hook(h, name)) {
        lua_settop(L, top);
        return TC_OK;
    }
    for (size_t i = 0; i < nargs; i++) {
        if (args[i].fields == NULL) {
            lua_pushinteger(L, (lua_Integer)args[i].num);
            continue;
        }
        lua_createtable(L, 0, (int)args[i].nfields);
        for (size_t k = 0; k < args[i].nfields; k++) {
            const tc_hook_field_t *f = &args[i].fields[k];
            if (f->str != NULL) {
                lua_pushstring(L, f->str);
            } else {
                lua_pushinteger(L, (lua_Integer)f->num);
            }
            lua_setfield(L, -2, f->key);
        }
    }
    int rc = tc_lua_pcall(L, (int)nargs, 0, err);
    lua_settop(L, top);
    return rc;
}

bool
tc_hooks_run(tc_hooks_t *h, tc_log_level_t level, const char *name, const tc_hook_arg_t *args,
             size_t nargs)
{
    if (h == NULL) {
        return true;
    }
    tc_err_t err;
    tc_err_clear(&err);
    if (call_hook(h, name, args, nargs, &err) != TC_OK) {
        tc_log(level, "Hook %s failed: %s", name, err.msg);
        return false;
    }
    return true;
}

void
tc_hooks_set_worker(int index, unsigned generation, int threads)
{
    worker_index = index;
    worker_generation = generation;
    worker_threads = threads;
}

void
tc_hooks_run_conn(tc_hooks_t *h, const char *name, int thread, const char *peer)
{
    const tc_hook_field_t worker[] = {
        {"pid", NULL, (long long)getpid()},
        {"index", NULL, worker_index},
        {"generation", NULL, (long long)worker_generation},
        {"threads", NULL, worker_threads},
        {"thread", NULL, thread},
    };
    const tc_hook_field_t conn[] = {{"peer", peer, 0}};
    const tc_hook_arg_t args[] = {{worker, TC_ARRAY_LEN(worker), 0}, {conn, 1, 0}};
    tc_hooks_run(h, TC_LOG_ERROR, name, args, 2);
}

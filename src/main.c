/* SPDX-License-Identifier: Apache-2.0 */
/* thriftcorn's command line: argv -> config -> arbiter; nothing else. */
#include "arbiter/arbiter.h"
#include "arbiter/daemon.h"
#include "arbiter/proctitle.h"
#include "bridge/lua_state.h"
#include "build_config.h"
#include "config/config.h"
#include "core/err.h"
#include "core/file.h"
#include "core/log.h"
#include "transport/bindaddr.h"
#include "worker/dispatch.h"

#include <errno.h>
#include <fcntl.h>
#include <lauxlib.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static const char usage[] =
    "usage: thriftcorn [OPTIONS] [CONFIG]\n"
    "\n"
    "Serve the Thrift services of CONFIG (default: thriftcorn.lua).\n"
    "\n"
    "  -c, --config CONFIG   the config file, as gunicorn's -c (or give it last)\n"
    "  --check-config        load and validate CONFIG and its IDL, then exit\n"
    "  --check-idl FILE...   load each IDL file, print its services, then exit\n"
    "  --plugin-header FILE SERVICE\n"
    "                        print the C header a plugin of SERVICE builds with\n"
    "                        (signature hashes, field ids; see docs/plugins.md)\n"
    "  -I, --include-dir DIR folder searched for IDL includes (with --check-idl\n"
    "                        and --plugin-header)\n"
    "  --SETTING VALUE, --SETTING=VALUE\n"
    "                        override a setting of CONFIG, e.g. --workers 4,\n"
    "                        --bind 127.0.0.1:9090 (repeatable), --client-timeout=10\n"
    "  --SETTING, --SETTING=no\n"
    "                        turn a yes/no setting on (the bare flag never takes\n"
    "                        the next argument) or off: --daemon, --reuse-port,\n"
    "                        --expose-errors; =VALUE is true/false, yes/no or 1/0\n"
    "  --                    end of the options: what follows is a file\n"
    "  -v, --version         print the version and exit\n"
    "  -h, --help            print this help and exit\n"
    "\n"
    "Every setting is listed in docs/configuration.md.\n";

typedef enum { MODE_SERVE, MODE_CHECK_CONFIG, MODE_CHECK_IDL, MODE_PLUGIN_HEADER } cli_mode_t;

typedef struct cli {
    cli_mode_t mode;
    const char *config;
    int nfiles;
    char **files;
    int nincludes;
    char **includes;
    const char *include_flag; /* the first of -I, --include-dir, as given */
    int noverrides;
    char **override_names;  /* setting names, as thriftcorn.config.parse_flag() gives them */
    char **override_values; /* their values as text ("true" for a bare yes/no flag) */
    lua_State *flags;       /* thriftcorn.config at index 1, made at the first setting flag */
} cli_t;

/* Load the config as serving would; NULL after printing every problem. */
static tc_config_t *
load_config(const cli_t *cli, const tc_config_override_t *ov)
{
    tc_err_t err;
    tc_err_clear(&err);
    tc_config_t *cfg = tc_config_load(cli->config, ov, (size_t)cli->noverrides, &err);
    if (cfg == NULL) {
        (void)fprintf(stderr, "%s\n", err.msg);
    }
    return cfg;
}

/*
 * One problem of check_files(): 'FILE:LINE: setting: cannot <what> PATH: why'
 * ('--flag: cannot ...' for a flag's), as the start says it. 'named' is where
 * the setting was set (tc_config_t's 'named'); NULL: the setting's name alone.
 */
static int
file_problem(const char *setting, const char *named, const char *what, const char *path, int rc)
{
    if (rc == TC_OK) {
        return 0;
    }
    (void)fprintf(stderr, "%s: cannot %s %s: %s\n", named != NULL ? named : setting, what, path,
                  tc_strerror(rc));
    return 1;
}

/*
 * A log setting: "-" (nil for the access log) is a stream, always there.
 * The error log is checked as the start opens it: no stranger's FIFO.
 */
static int
log_problem(const char *setting, const char *named, const char *what, const char *path,
            bool errorlog)
{
    if (path == NULL || strcmp(path, "-") == 0) {
        return 0;
    }
    return file_problem(setting, named, what, path,
                        errorlog ? tc_log_check_error_file(path) : tc_log_check_file(path));
}

/*
 * --check-config: the files the arbiter makes or opens at start, as the
 * start would, without making or opening one (the server may be running):
 * the logs, the pidfile (a new file in its folder renamed over it), the
 * files of unix binds, and binds that clash with an earlier one as their
 * text shows (no name is looked up). Each problem is printed, worded as
 * the start's; returns how many there are. Run as the arbiter runs,
 * before the check takes the workers' 'user'.
 */
static int
check_files(const tc_config_t *cfg)
{
    int bad =
        log_problem("errorlog", cfg->named.errorlog, "open the error log", cfg->errorlog, true);
    if (cfg->pidfile != NULL) {
        struct stat st;
        int rc = lstat(cfg->pidfile, &st) == 0 && S_ISDIR(st.st_mode)
                     ? -EISDIR
                     : tc_file_check_folder(cfg->pidfile);
        bad += file_problem("pidfile", cfg->named.pidfile, "write the pidfile", cfg->pidfile, rc);
    }
    bad += log_problem("accesslog", cfg->named.accesslog, "open the access log", cfg->accesslog,
                       false);
    for (size_t i = 0; i < cfg->nbinds; i++) {
        tc_err_t err;
        tc_err_clear(&err);
        int rc = tc_bindaddr_check_path(cfg->binds[i], &err);
        /* the first earlier bind it clashes with, as the start finds it */
        for (size_t j = 0; rc == TC_OK && j < i; j++) {
            rc = tc_bindaddr_check_pair(cfg->binds[j], cfg->binds[i], cfg->reuse_port, &err);
        }
        if (rc != TC_OK) {
            (void)fprintf(stderr, "%s: cannot listen: %s\n",
                          cfg->named.bind != NULL ? cfg->named.bind : "bind", err.msg);
            bad++;
        }
    }
    return bad;
}

/*
 * --check-config: load the handlers (plugin and Lua) as a handler thread
 * would; the ok line only when 'files_ok' too.
 */
static int
check_handler(const tc_config_t *cfg, bool files_ok)
{
    tc_err_t err;
    tc_err_clear(&err);
    /*
     * it checks as the workers will load: as 'user' and 'group', with
     * 'umask'; run by another user than root, a switch to a user or group
     * it is not fails here as the workers' would, the line leading with
     * where the settings were set ("FILE:LINE: user, --group: cannot set ...")
     */
    char buf[1024];
    const char *named = tc_config_named_ids(cfg, buf, sizeof(buf));
    if (tc_daemon_become(cfg->user, cfg->group, named, &err) != TC_OK) {
        (void)fprintf(stderr, "%s\n", err.msg);
        return 1;
    }
    if (cfg->umask >= 0) {
        (void)umask((mode_t)cfg->umask);
    }
    /* as long as a worker's boot may take, as a reload's check */
    bool by_timeout = cfg->timeout > 0;
    if (tc_dispatch_check(cfg, by_timeout ? cfg->timeout : TC_DISPATCH_CHECK_TIMEOUT,
                          by_timeout ? "timeout" : "the check's limit", &err) != TC_OK) {
        (void)fprintf(stderr, "%s\n", err.msg);
        return 1;
    }
    if (!files_ok) {
        return 1;
    }
    /* every service of services = { ... }, the default one marked; else the one */
    size_t n = cfg->nservices > 0 ? cfg->nservices : 1;
    printf("%s: ok (", cfg->path);
    for (size_t i = 0; i < n; i++) {
        const tc_service_conf_t *s = cfg->nservices > 0 ? &cfg->services[i] : &cfg->service;
        bool lua = s->handler != NULL && s->handler[0] != '\0';
        bool plugin = s->plugin != NULL;
        /* "service CalculatorV2 (Calculator)": the name calls use, then the IDL's */
        printf("%sservice %s%s%s%s%s from %s%s%s%s%s", i > 0 ? "; " : "",
               tc_config_service_mux_name(s), s->mux_name != NULL ? " (" : "",
               s->mux_name != NULL ? s->name : "", s->mux_name != NULL ? ")" : "",
               cfg->nservices > 0 && (int)i == cfg->default_service ? " (default)" : "", s->idl,
               lua ? ", handler " : "", lua ? s->handler : "", plugin ? ", plugin " : "",
               plugin ? s->plugin : "");
    }
    printf(")\n");
    return 0;
}

/*
 * The setting flag argv[*i] ("--name", "--name=VALUE" or "--name VALUE"),
 * read by thriftcorn.config.parse_flag() into cli's overrides; *i moves past
 * a value it took. Returns 0, or the exit status after printing why not.
 */
static int
setting_flag(cli_t *cli, int argc, char **argv, int *i)
{
    tc_err_t err;
    tc_err_clear(&err);
    lua_State *L = cli->flags;
    if (L == NULL) {
        L = cli->flags = tc_lua_state_new(&err);
        if (L == NULL) {
            (void)fprintf(stderr, "thriftcorn: %s\n", err.msg);
            return 1;
        }
        lua_getglobal(L, "require");
        lua_pushliteral(L, "thriftcorn.config");
        if (tc_lua_pcall(L, 1, 1, &err) != TC_OK) {
            (void)fprintf(stderr, "thriftcorn: %s\n", err.msg);
            return 1;
        }
    }
    lua_settop(L, 1);
    lua_getfield(L, 1, "parse_flag");
    lua_pushstring(L, argv[*i]);
    if (*i + 1 < argc) {
        lua_pushstring(L, argv[*i + 1]);
    } else {
        lua_pushnil(L);
    }
    if (tc_lua_pcall(L, 2, 3, &err) != TC_OK) {
        (void)fprintf(stderr, "thriftcorn: %s\n", err.msg);
        return 1;
    }
    if (!lua_isstring(L, 2) || !lua_isstring(L, 3)) {
        (void)fprintf(stderr, "%s\n", lua_isstring(L, 3) ? lua_tostring(L, 3) : argv[*i]);
        int status = (int)lua_tointeger(L, 4);
        return status != 0 ? status : 1;
    }
    char *name = strdup(lua_tostring(L, 2));
    char *value = strdup(lua_tostring(L, 3));
    if (name == NULL || value == NULL) {
        free(name);
        free(value);
        (void)fprintf(stderr, "thriftcorn: out of memory\n");
        return 1;
    }
    cli->override_names[cli->noverrides] = name;
    cli->override_values[cli->noverrides++] = value;
    *i += lua_toboolean(L, 4) ? 1 : 0;
    return 0;
}

/*
 * A flag of another mode than the one given is refused, never dropped: -I
 * serves the IDL commands only, a setting flag the config. Returns 0, or
 * the exit status after printing why not.
 */
static int
other_mode_flags(const cli_t *cli)
{
    bool idl_mode = cli->mode == MODE_CHECK_IDL || cli->mode == MODE_PLUGIN_HEADER;
    if (!idl_mode && cli->include_flag != NULL) {
        (void)fprintf(stderr,
                      "%s: only with --check-idl and --plugin-header; the server's include folders "
                      "are the setting include_dirs (--include-dirs)\n",
                      cli->include_flag);
        return 2;
    }
    if (idl_mode && cli->noverrides > 0) {
        char flag[128];
        (void)snprintf(flag, sizeof(flag), "--%s", cli->override_names[0]);
        for (char *c = flag; *c != '\0'; c++) {
            if (*c == '_') {
                *c = '-';
            }
        }
        (void)fprintf(stderr, "%s: a setting of the config, which %s does not read\n", flag,
                      cli->mode == MODE_CHECK_IDL ? "--check-idl" : "--plugin-header");
        return 2;
    }
    return 0;
}

/* The config file 'path', given by 'flag' (-c, --config) or alone (NULL). 0, or exit status 2. */
static int
set_config(cli_t *cli, const char *flag, const char *path)
{
    if (flag != NULL && (path == NULL || path[0] == '\0')) {
        (void)fprintf(stderr, "%s: needs a config file\n", flag);
        return 2;
    }
    if (cli->config != NULL) {
        (void)fprintf(stderr, "thriftcorn: more than one config file given (%s, %s)\n", cli->config,
                      path);
        return 2;
    }
    cli->config = path;
    return 0;
}

/* An argument that is no option: a file of --check-idl or --plugin-header, else the config. */
static int
positional(cli_t *cli, char *arg)
{
    if (cli->mode == MODE_CHECK_IDL || cli->mode == MODE_PLUGIN_HEADER) {
        cli->files[cli->nfiles++] = arg;
        return 0;
    }
    return set_config(cli, NULL, arg);
}

/* The lists the arguments fill, a slot for each. Returns 0, or exit status 1. */
static int
alloc_lists(cli_t *cli, int argc)
{
    cli->files = calloc((size_t)argc, sizeof(char *));
    cli->includes = calloc((size_t)argc, sizeof(char *));
    cli->override_names = calloc((size_t)argc, sizeof(char *));
    cli->override_values = calloc((size_t)argc, sizeof(char *));
    if (!cli->files || !cli->includes || !cli->override_names || !cli->override_values) {
        (void)fprintf(stderr, "thriftcorn: out of memory\n");
        return 1;
    }
    return 0;
}

/*
 * After the last argument: the default config, and what the mode needs.
 * Returns 0, or the exit status after printing why not.
 */
static int
check_mode(cli_t *cli)
{
    if (cli->config == NULL) {
        cli->config = "thriftcorn.lua";
    }
    int rc = other_mode_flags(cli);
    if (rc != 0) {
        return rc;
    }
    if (cli->mode == MODE_CHECK_IDL && cli->nfiles == 0) {
        (void)fprintf(stderr, "--check-idl: needs at least one file\n");
        return 2;
    }
    if (cli->mode == MODE_PLUGIN_HEADER && cli->nfiles != 2) {
        (void)fprintf(stderr, "--plugin-header: needs an IDL file and a service name\n");
        return 2;
    }
    return 0;
}

static int
parse_args(cli_t *cli, int argc, char **argv)
{
    if (alloc_lists(cli, argc) != 0) {
        return 1;
    }
    bool options = true; /* until "--": what follows it is a file, whatever its name */
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (options && strcmp(a, "--") == 0) {
            options = false;
        } else if (!options || a[0] != '-' || a[1] == '\0') {
            int rc = positional(cli, argv[i]);
            if (rc != 0) {
                return rc;
            }
        } else if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
            (void)fputs(usage, stdout);
            exit(0); /* NOLINT(concurrency-mt-unsafe) */
        } else if (strcmp(a, "-v") == 0 || strcmp(a, "--version") == 0) {
            printf("thriftcorn %s\n", TC_VERSION_STRING);
            exit(0); /* NOLINT(concurrency-mt-unsafe) */
        } else if (strcmp(a, "--check-config") == 0) {
            cli->mode = MODE_CHECK_CONFIG;
        } else if (strcmp(a, "--check-idl") == 0) {
            cli->mode = MODE_CHECK_IDL;
        } else if (strcmp(a, "--plugin-header") == 0) {
            cli->mode = MODE_PLUGIN_HEADER;
        } else if (strcmp(a, "-I") == 0 || strcmp(a, "--include-dir") == 0) {
            if (i + 1 >= argc) {
                (void)fprintf(stderr, "%s: needs a folder\n", a);
                return 2;
            }
            cli->include_flag = cli->include_flag != NULL ? cli->include_flag : a;
            cli->includes[cli->nincludes++] = argv[++i];
        } else if (strncmp(a, "--include-dir=", 14) == 0) {
            if (a[14] == '\0') {
                (void)fprintf(stderr, "--include-dir: needs a folder\n");
                return 2;
            }
            cli->include_flag = cli->include_flag != NULL ? cli->include_flag : "--include-dir";
            cli->includes[cli->nincludes++] = argv[i] + 14;
        } else if (strcmp(a, "-c") == 0 || strcmp(a, "--config") == 0) {
            int rc = set_config(cli, a, i + 1 < argc ? argv[++i] : NULL);
            if (rc != 0) {
                return rc;
            }
        } else if (strncmp(a, "--config=", 9) == 0) {
            int rc = set_config(cli, "--config", a + 9);
            if (rc != 0) {
                return rc;
            }
        } else if (strncmp(a, "--", 2) == 0 && a[2] != '\0') {
            int rc = setting_flag(cli, argc, argv, &i);
            if (rc != 0) {
                return rc;
            }
        } else {
            (void)fprintf(stderr, "%s: unknown option\n", a);
            return 2;
        }
    }
    return check_mode(cli);
}

static void
push_strings(lua_State *L, char **list, int n)
{
    lua_createtable(L, n, 0);
    for (int i = 0; i < n; i++) {
        lua_pushstring(L, list[i]);
        lua_rawseti(L, -2, i + 1);
    }
}

/*
 * A fresh state with thriftcorn.cli's function 'fn' on top, or NULL with
 * the error printed: what the commands that run in Lua start with.
 */
static lua_State *
cli_function(const char *fn)
{
    tc_err_t err;
    tc_err_clear(&err);
    lua_State *L = tc_lua_state_new(&err);
    if (L == NULL) {
        (void)fprintf(stderr, "thriftcorn: %s\n", err.msg);
        return NULL;
    }
    lua_getglobal(L, "require");
    lua_pushliteral(L, "thriftcorn.cli");
    if (tc_lua_pcall(L, 1, 1, &err) != TC_OK) {
        (void)fprintf(stderr, "thriftcorn: %s\n", err.msg);
        lua_close(L);
        return NULL;
    }
    lua_getfield(L, -1, fn);
    return L;
}

/* --check-idl: thriftcorn.cli.check_idl() prints; the exit status is 1 on any error. */
static int
check_idl(const cli_t *cli)
{
    lua_State *L = cli_function("check_idl");
    if (L == NULL) {
        return 1;
    }
    tc_err_t err;
    tc_err_clear(&err);
    int status = 1;
    push_strings(L, cli->files, cli->nfiles);
    push_strings(L, cli->includes, cli->nincludes);
    if (tc_lua_pcall(L, 2, 1, &err) == TC_OK) {
        status = lua_tointeger(L, -1) == 0 ? 0 : 1;
    } else {
        (void)fprintf(stderr, "thriftcorn: %s\n", err.msg);
    }
    lua_close(L);
    return status;
}

/* --plugin-header FILE SERVICE: thriftcorn.cli.plugin_header() builds the text. */
static int
plugin_header(const cli_t *cli)
{
    lua_State *L = cli_function("plugin_header");
    if (L == NULL) {
        return 1;
    }
    tc_err_t err;
    tc_err_clear(&err);
    int status = 1;
    lua_pushstring(L, cli->files[0]);
    lua_pushstring(L, cli->files[1]);
    push_strings(L, cli->includes, cli->nincludes);
    if (tc_lua_pcall(L, 3, 2, &err) != TC_OK) {
        (void)fprintf(stderr, "thriftcorn: %s\n", err.msg);
    } else if (lua_isstring(L, -2)) {
        (void)fputs(lua_tostring(L, -2), stdout);
        status = 0;
    } else {
        (void)fprintf(stderr, "thriftcorn: %s\n", lua_tostring(L, -1));
    }
    lua_close(L);
    return status;
}

int
main(int argc, char **argv)
{
    /*
     * stdin, stdout and stderr open, on /dev/null if closed: else the first
     * descriptors opened (the signal pipe) would take their numbers, and the
     * log on stderr would write into them
     */
    for (int fd = 0; fd <= 2; fd++) {
        if (fcntl(fd, F_GETFD) < 0 && errno == EBADF && open("/dev/null", O_RDWR) != fd) {
            return 1;
        }
    }
    /* first: saves argv for an upgrade, then lets the arbiter and workers retitle themselves */
    tc_proctitle_init(argc, argv);
    argv = tc_proctitle_argv();
    cli_t cli;
    memset(&cli, 0, sizeof(cli));
    int rc = parse_args(&cli, argc, argv);
    if (cli.flags != NULL) {
        lua_close(cli.flags);
    }
    if (rc == 0) {
        if (cli.mode == MODE_CHECK_IDL) {
            rc = check_idl(&cli);
        } else if (cli.mode == MODE_PLUGIN_HEADER) {
            rc = plugin_header(&cli);
        } else {
            /* the overrides live as long as the arbiter: a reload applies them again */
            tc_config_override_t *ov = calloc((size_t)cli.noverrides + 1, sizeof(*ov));
            for (int i = 0; ov != NULL && i < cli.noverrides; i++) {
                ov[i].name = cli.override_names[i];
                ov[i].value = cli.override_values[i];
            }
            tc_config_t *cfg = ov != NULL ? load_config(&cli, ov) : NULL;
            rc = cfg == NULL ? 1 : 0;
            if (cfg != NULL && cli.mode == MODE_CHECK_CONFIG) {
                tc_config_log_warnings(cfg);
                /* as the arbiter, then as the workers: every problem of both is shown */
                int bad = check_files(cfg);
                rc = check_handler(cfg, bad == 0);
                tc_config_free(cfg);
            } else if (cfg != NULL) {
                const tc_arbiter_opts_t opts = {
                    .config_path = cli.config,
                    .overrides = ov,
                    .noverrides = (size_t)cli.noverrides,
                    .argv = tc_proctitle_argv(),
                };
                rc = tc_arbiter_run(cfg, &opts); /* takes 'cfg' */
            }
            free(ov);
        }
    }
    for (int i = 0; i < cli.noverrides; i++) {
        free(cli.override_names[i]);
        free(cli.override_values[i]);
    }
    free(cli.files);
    free(cli.includes);
    free(cli.override_names);
    free(cli.override_values);
    return rc;
}

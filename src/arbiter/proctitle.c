/* SPDX-License-Identifier: Apache-2.0 */
/*
 * setproctitle() for Linux: argv[0] .. the end of the last contiguous
 * environment string is one writable area that /proc/PID/cmdline shows.
 */
#include "arbiter/proctitle.h"

#include "core/alloc.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

extern char **environ;

static char *area;      /* start of the writable area, or NULL */
static size_t area_len; /* its size in bytes */
static char **saved_argv;
/*
 * The copies environ started with, and the array that held them: unsetenv()
 * and setenv() must not orphan them. Nothing reads these two; volatile keeps
 * an optimising compiler from dropping the stores, which made them leaks.
 */
static char **volatile saved_env;
static char **volatile env_array;

void
tc_proctitle_init(int argc, char **argv)
{
    saved_argv = tc_xcalloc((size_t)argc + 1, sizeof(char *));
    for (int i = 0; i < argc; i++) {
        saved_argv[i] = tc_xstrdup(argv[i]);
    }
    if (argc < 1 || argv[0] == NULL) {
        return;
    }
    char *end = argv[0] + strlen(argv[0]) + 1;
    for (int i = 1; i < argc; i++) {
        if (argv[i] == end) {
            end = argv[i] + strlen(argv[i]) + 1;
        }
    }
    size_t nenv = 0;
    while (environ != NULL && environ[nenv] != NULL) {
        nenv++;
    }
    char **env = tc_xcalloc(nenv + 1, sizeof(char *));
    for (size_t i = 0; i < nenv; i++) {
        if (environ[i] == end) {
            end = environ[i] + strlen(environ[i]) + 1;
        }
        env[i] = tc_xstrdup(environ[i]);
    }
    saved_env = tc_xcalloc(nenv + 1, sizeof(char *));
    memcpy(saved_env, env, nenv * sizeof(char *));
    environ = env;
    env_array = env;
    area = argv[0];
    area_len = (size_t)(end - argv[0]);
    /* the other argv[] pointers now point into the title; nothing reads them after this */
}

char **
tc_proctitle_argv(void)
{
    return saved_argv;
}

void
tc_proctitle_set(const char *fmt, ...)
{
    if (area == NULL || area_len < 2) {
        return;
    }
    va_list ap;
    va_start(ap, fmt);
    memset(area, 0, area_len);
    (void)vsnprintf(area, area_len - 1, fmt, ap);
    va_end(ap);
}

/* SPDX-License-Identifier: Apache-2.0 */
/*
 * What root trusts, checked at start and at every reload: the files the
 * arbiter evaluates or executes as root must not be the workers' to change.
 */
#include "arbiter/trust.h"

#include "core/alloc.h"
#include "core/log.h"

#include <grp.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* ---- the workers' identity ---- */

void
tc_trust_init(tc_trust_t *t, const tc_ids_t *ids)
{
    memset(t, 0, sizeof(*t));
    t->uid = ids->uid;
    /* as tc_daemon_setids(): initgroups() for a named user, else its group alone */
    int n = 16;
    for (int tries = 0; ids->user != NULL && tries < 4; tries++) {
        gid_t *g = tc_xcalloc((size_t)n, sizeof(*g));
        int got = n;
        if (getgrouplist(ids->user, ids->gid, g, &got) >= 0) {
            t->groups = g;
            t->ngroups = (size_t)got;
            return;
        }
        free(g);
        n = got > n ? got : n * 4;
    }
    t->groups = tc_xcalloc(1, sizeof(*t->groups));
    t->groups[0] = ids->gid;
    t->ngroups = 1;
}

void
tc_trust_deinit(tc_trust_t *t)
{
    free(t->groups);
    t->groups = NULL;
    t->ngroups = 0;
}

/* ---- the rule ---- */

typedef struct seen {
    dev_t dev;
    ino_t ino;
} seen_t;

typedef struct walk {
    const tc_trust_t *t;
    tc_trust_cb cb;
    void *ud;
    seen_t *seen;
    size_t nseen;
    size_t cap;
} walk_t;

static bool
in_groups(const tc_trust_t *t, gid_t gid)
{
    for (size_t i = 0; i < t->ngroups; i++) {
        if (t->groups[i] == gid) {
            return true;
        }
    }
    return false;
}

/*
 * Why the workers' user may write 'st', into 'buf'; NULL when it may not.
 * Its owner may chmod it first, so ownership alone is enough.
 */
static const char *
writable(const tc_trust_t *t, const struct stat *st, char *buf, size_t cap)
{
    if (st->st_uid == t->uid) {
        return "owned by it";
    }
    if ((st->st_mode & S_IWGRP) != 0 && in_groups(t, st->st_gid)) {
        char gbuf[4096];
        struct group gr;
        struct group *res = NULL;
        (void)getgrgid_r(st->st_gid, &gr, gbuf, sizeof(gbuf), &res);
        if (res != NULL) {
            (void)snprintf(buf, cap, "group-writable by group %s", res->gr_name);
        } else {
            (void)snprintf(buf, cap, "group-writable by group %d", (int)st->st_gid);
        }
        return buf;
    }
    if ((st->st_mode & S_IWOTH) != 0) {
        return "world-writable";
    }
    return NULL;
}

/* Name 'path' once (a folder may be reached by two names). */
static void
report(walk_t *w, const char *path, const struct stat *st, const char *why)
{
    for (size_t i = 0; i < w->nseen; i++) {
        if (w->seen[i].dev == st->st_dev && w->seen[i].ino == st->st_ino) {
            return;
        }
    }
    if (w->nseen == w->cap) {
        w->cap = w->cap ? w->cap * 2 : 8;
        w->seen = tc_xrealloc(w->seen, w->cap * sizeof(*w->seen));
    }
    w->seen[w->nseen++] = (seen_t){st->st_dev, st->st_ino};
    w->cb(w->ud, path, why);
}

/*
 * The absolute 'path', then each folder up to '/'. The file counts by its
 * own mode; a folder counts as the place of the entry below it on the way,
 * which whoever may write the folder may replace, except a sticky folder
 * that is not the user's: there it may replace only an entry of its own,
 * which is named instead (a file or folder by its owner, a symlink here: a
 * symlink's mode means nothing).
 */
static void
walk_up(walk_t *w, const char *path)
{
    char p[PATH_MAX];
    size_t len = strlen(path);
    if (path[0] != '/' || len >= sizeof(p)) {
        return;
    }
    memcpy(p, path, len + 1);
    while (len > 1 && p[len - 1] == '/') {
        p[--len] = '\0';
    }
    char entry[PATH_MAX]; /* the entry in folder 'p' on the way */
    memcpy(entry, p, len + 1);
    char buf[128];
    struct stat es;
    bool have = lstat(p, &es) == 0;
    const char *why = have && !S_ISLNK(es.st_mode) ? writable(w->t, &es, buf, sizeof(buf)) : NULL;
    if (why != NULL) {
        report(w, p, &es, why);
    }
    while (strcmp(p, "/") != 0) {
        char *slash = strrchr(p, '/');
        if (slash == p) {
            slash[1] = '\0';
        } else {
            *slash = '\0';
        }
        struct stat ds;
        why = have && stat(p, &ds) == 0 ? writable(w->t, &ds, buf, sizeof(buf)) : NULL;
        if (why != NULL && (ds.st_mode & S_ISVTX) != 0 && ds.st_uid != w->t->uid) {
            /*
             * in a sticky folder it may remove or rename only its own: a
             * file or folder of its own is named already, a symlink here
             */
            if (S_ISLNK(es.st_mode) && es.st_uid == w->t->uid) {
                report(w, entry, &es, "owned by it");
            }
        } else if (why != NULL) {
            report(w, p, &ds, why);
        }
        memcpy(entry, p, strlen(p) + 1);
        have = lstat(p, &es) == 0;
    }
}

size_t
tc_trust_check(const tc_trust_t *t, const char *path, tc_trust_cb cb, void *ud)
{
    walk_t w = {.t = t, .cb = cb, .ud = ud};
    /* the file root reads in the end, then the names that lead to it */
    char *real = realpath(path, NULL);
    if (real != NULL) {
        walk_up(&w, real);
    }
    if (real == NULL || strcmp(real, path) != 0) {
        walk_up(&w, path);
    }
    free(real);
    free(w.seen);
    return w.nseen;
}

/* ---- the warnings ---- */

typedef struct warn {
    const char *file;   /* the file root trusts */
    const char *user;   /* the workers' user, by name */
    const char *effect; /* what a worker could do */
} warn_t;

static void
warn_line(void *ud, const char *path, const char *why)
{
    const warn_t *wn = ud;
    tc_log(TC_LOG_WARNING, "%s: %s is writable by the workers' user %s (%s): %s", wn->file, path,
           wn->user, why, wn->effect);
}

/* The files checked so far: by name, and by real path. */
typedef struct checked {
    char **names;
    char **reals; /* NULL where it has none */
    size_t n;
} checked_t;

/*
 * Whether 'file' was checked already: by that name, or it is the real path
 * of one that was (whose check walked its real path too).
 */
static bool
was_checked(const checked_t *c, const char *file, const char *real)
{
    bool is_real = real != NULL && strcmp(real, file) == 0;
    for (size_t i = 0; i < c->n; i++) {
        if (strcmp(c->names[i], file) == 0 ||
            (is_real && c->reals[i] != NULL && strcmp(c->reals[i], real) == 0)) {
            return true;
        }
    }
    return false;
}

static void
warn_file(const tc_trust_t *t, checked_t *c, const char *user, const char *file, const char *effect)
{
    if (file == NULL || file[0] == '\0') {
        return;
    }
    char *real = realpath(file, NULL);
    if (was_checked(c, file, real)) {
        free(real);
        return;
    }
    c->names = tc_xrealloc(c->names, (c->n + 1) * sizeof(*c->names));
    c->reals = tc_xrealloc(c->reals, (c->n + 1) * sizeof(*c->reals));
    c->names[c->n] = tc_xstrdup(file);
    c->reals[c->n] = real;
    c->n++;
    warn_t wn = {file, user, effect};
    (void)tc_trust_check(t, file, warn_line, &wn);
}

void
tc_trust_warn(const tc_config_t *cfg, const tc_ids_t *ids, const char *exe)
{
    /* a worker that stays root, or an arbiter that is not, crosses no line */
    if (geteuid() != 0 || !ids->set_uid || ids->uid == 0) {
        return;
    }
    tc_trust_t t;
    tc_trust_init(&t, ids);
    char uid[32];
    (void)snprintf(uid, sizeof(uid), "%d", (int)ids->uid);
    const char *user = ids->user != NULL ? ids->user : uid;
    checked_t c = {0};
    static const char runs[] = "a worker could change what root runs";
    static const char reads[] = "a worker could change what root reads";
    warn_file(&t, &c, user, cfg->path, runs);
    for (size_t i = 0; i < cfg->nlua_files; i++) {
        warn_file(&t, &c, user, cfg->lua_files[i], runs);
    }
    const tc_service_conf_t *svcs = cfg->nservices > 0 ? cfg->services : &cfg->service;
    size_t n = cfg->nservices > 0 ? cfg->nservices : 1;
    for (size_t i = 0; i < n; i++) {
        warn_file(&t, &c, user, svcs[i].idl, reads);
    }
    /* what the IDL files include, and any other file the IDL loader read */
    for (size_t i = 0; i < cfg->nidl_files; i++) {
        warn_file(&t, &c, user, cfg->idl_files[i], reads);
    }
    warn_file(&t, &c, user, exe, "a worker could change what root runs at SIGUSR2");
    for (size_t i = 0; i < c.n; i++) {
        free(c.names[i]);
        free(c.reals[i]);
    }
    free(c.names);
    free(c.reals);
    tc_trust_deinit(&t);
}

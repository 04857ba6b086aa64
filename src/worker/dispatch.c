/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Message header -> method -> handler. The replies every server owes
 * whatever the handlers are (UNKNOWN_METHOD, INVALID_MESSAGE_TYPE) are
 * written here; a method's own call goes to its handler: the C plugin's
 * when the plugin serves it, else the Lua handler's.
 */
#include "worker/dispatch.h"

#include "bridge/lua_handler.h"
#include "core/alloc.h"
#include "core/buf.h"
#include "core/clock.h"
#include "plugin/host.h"
#include "protocol/message.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

/* NOLINTNEXTLINE(misc-redundant-expression): the two headers must agree */
_Static_assert(TC_HOST_DECLARED_EXCEPTION == TC_CALL_DECLARED_EXCEPTION,
               "one status for declared exceptions");

struct tc_dispatch {
    tc_lua_handler_t *lua;
    const tc_service_t *svc;
    const char *name; /* the service's name, from the config */
    /*
     * How a call's errors name the service, as the call named it: its
     * multiplexed_name, else its full IDL name ('tutorial.Calculator',
     * where the access log has 'Calculator'). Decided here only: the Lua
     * handler is given it with each call, the host thread borrows it. It
     * points into the config, which outlives the dispatcher, or into
     * 'svc', which lives as long as 'lua' (freed after 'plugin').
     */
    const char *called;
    /*
     * services = { ... }: one dispatcher per service, the calls routed by
     * name; 'sub_cfgs' are their views of the config (their service as
     * 'service'), 'dflt' the one plain method names go to (-1: none).
     */
    tc_dispatch_t **subs;
    tc_config_t *sub_cfgs;
    size_t nsubs;
    int dflt;
    tc_host_t *host;          /* the service's C plugin, or NULL */
    tc_host_thread_t *plugin; /* its handlers for this thread */
    bool shared_host;         /* 'host' came from tc_host_acquire() */
};

/*
 * 'err' (set) again, after "service NAME: " ("service MUX (NAME): " with a
 * multiplexed_name, as the --check-config line has it): the operator learns
 * whose handlers failed, with one service as with several. The one place
 * that names the service: the plugin host's and the Lua handler's errors
 * leave it out, so that it is said once.
 */
static void
name_service(tc_err_t *err, const tc_service_conf_t *s)
{
    if (s->mux_name != NULL) {
        tc_err_prefix(err, "service %s (%s): ", s->mux_name, s->name);
    } else {
        tc_err_prefix(err, "service %s: ", s->name);
    }
}

/*
 * Load the plugin (if any), then the Lua side for the methods it leaves
 * out, then bind the plugin's methods to the compiled service. 'worker':
 * share the plugin within the process and run init_worker (a worker);
 * otherwise open it privately (a configuration check), and with
 * 'init_arbiter' run init_arbiter once all of it passed: the check asks
 * that of the first service of each library only, as a worker runs
 * init_worker once per library.
 */
static tc_dispatch_t *
create(const tc_config_t *cfg, bool worker, bool init_arbiter, tc_err_t *err)
{
    tc_dispatch_t *d = tc_xcalloc(1, sizeof(*d));
    d->name = tc_config_service_mux_name(&cfg->service); /* as calls and the access log name it */
    const char *plugin = cfg->service.plugin;
    if (plugin != NULL && plugin[0] != '\0') {
        d->shared_host = worker;
        d->host = worker ? tc_host_acquire(plugin, cfg->service.name, err)
                         : tc_host_open(plugin, cfg->service.name, err);
        if (d->host == NULL) {
            goto fail;
        }
    }
    d->lua = tc_lua_handler_new(cfg, d->host ? tc_host_method_names(d->host) : NULL, err);
    if (d->lua == NULL) {
        goto fail;
    }
    d->svc = tc_lua_handler_service(d->lua);
    d->called = cfg->service.mux_name != NULL ? cfg->service.mux_name : d->svc->name;
    if (d->host != NULL) {
        d->plugin = tc_host_thread_new(d->host, d->svc, d->called, cfg->expose_errors, err);
        if (d->plugin == NULL) {
            goto fail;
        }
        /* after the ABI and signature checks, as thriftcorn/plugin.h promises */
        if (!worker && init_arbiter && tc_host_init_arbiter(d->host, err) != TC_OK) {
            goto fail;
        }
    }
    return d;
fail:
    name_service(err, &cfg->service);
    tc_dispatch_free(d);
    return NULL;
}

/* ---- what a client is told about a name it sent ---- */

/*
 * A text quoting bytes a client sent, built by length, not with "%.*s": a
 * NUL in a name is kept, in the reply (a Thrift string, which Apache's
 * servers also send back with the name as it came) and in the log line
 * (escaped there). Long enough for every text below; longer is cut.
 */
typedef struct told {
    size_t len;
    char text[300];
} told_t;

static void
told_add(told_t *t, const char *s, size_t n)
{
    size_t room = sizeof(t->text) - t->len;
    n = n < room ? n : room;
    memcpy(t->text + t->len, s, n);
    t->len += n;
}

static void
told_str(told_t *t, const char *s)
{
    told_add(t, s, strlen(s));
}

/*
 * The first 'max' bytes of a name, whatever they are, but a cut falls
 * before a UTF-8 character it would split: the client decodes the text as
 * UTF-8 (Apache's Python library raises on a split character, and the
 * connection is lost), and Apache's servers quote the name whole. A
 * character has at most 3 continuation bytes (10xxxxxx).
 */
static void
told_name(told_t *t, const char *name, size_t len, size_t max)
{
    told_add(t, name, tc_utf8_prefix(name, len, max));
}

/*
 * Record 't' as the error for the worker to log: all of its bytes, with
 * its length in 'info->err_len', since err->msg would end at a NUL.
 */
static void
set_told(tc_err_t *err, tc_call_info_t *info, int code, const told_t *t)
{
    if (err == NULL || err->code != TC_OK) {
        return;
    }
    size_t n = t->len < sizeof(err->msg) - 1 ? t->len : sizeof(err->msg) - 1;
    memcpy(err->msg, t->text, n);
    err->msg[n] = '\0';
    err->code = code;
    info->err_len = (uint32_t)n;
}

/* ---- several services: Apache Thrift's TMultiplexedProtocol names ---- */

/*
 * What a check process was doing when loading service 's' ended it: the
 * service and its files, as the config names them.
 */
static void
loading_text(const tc_service_conf_t *s, char *buf, size_t size)
{
    bool lua = s->handler != NULL && s->handler[0] != '\0';
    bool plugin = s->plugin != NULL && s->plugin[0] != '\0';
    (void)snprintf(buf, size, "loading the handlers of service %s%s%s%s%s%s%s%s", s->name,
                   lua || plugin ? " (" : "", lua ? "handler " : "", lua ? s->handler : "",
                   lua && plugin ? ", " : "", plugin ? "plugin " : "", plugin ? s->plugin : "",
                   lua || plugin ? ")" : "");
}

/* A dispatcher that routes to one dispatcher (and Lua state) per service. */
static tc_dispatch_t *
mux_new(const tc_config_t *cfg, tc_dispatch_stage_cb stage, void *arg, tc_err_t *err)
{
    tc_dispatch_t *d = tc_xcalloc(1, sizeof(*d));
    d->dflt = cfg->default_service;
    /* NOLINTNEXTLINE(bugprone-sizeof-expression): an array of pointers */
    d->subs = tc_xcalloc(cfg->nservices, sizeof(*d->subs));
    d->sub_cfgs = tc_xcalloc(cfg->nservices, sizeof(*d->sub_cfgs));
    for (size_t i = 0; i < cfg->nservices; i++) {
        d->sub_cfgs[i] = *cfg;
        d->sub_cfgs[i].service = cfg->services[i];
        d->sub_cfgs[i].services = NULL;
        d->sub_cfgs[i].nservices = 0;
        d->subs[i] = tc_dispatch_new_staged(&d->sub_cfgs[i], stage, arg, err);
        if (d->subs[i] == NULL) {
            tc_dispatch_free(d);
            return NULL;
        }
        d->nsubs++;
    }
    return d;
}

/*
 * The dispatcher of the service a call names: "Service:method" (the name
 * then becomes "method", which is what Apache's multiplexed processors
 * reply with), or the default service for a plain name. NULL: no such
 * service, with 'why' saying why.
 */
static tc_dispatch_t *
route(const tc_dispatch_t *d, tc_msg_hdr_t *m, told_t *why)
{
    const char *colon = memchr(m->name, ':', m->name_len);
    if (colon == NULL) {
        if (d->dflt < 0) {
            told_str(why, "Invalid method name: '");
            told_name(why, m->name, m->name_len, 100);
            told_str(why, "' (no default service: call Service:");
            told_name(why, m->name, m->name_len, 100);
            told_str(why, ")");
            return NULL;
        }
        return d->subs[d->dflt];
    }
    size_t n = (size_t)(colon - m->name);
    for (size_t i = 0; i < d->nsubs; i++) {
        const char *name = tc_config_service_mux_name(&d->sub_cfgs[i].service);
        if (strlen(name) == n && memcmp(name, m->name, n) == 0) {
            m->name = colon + 1;
            m->name_len -= (uint32_t)n + 1;
            return d->subs[i];
        }
    }
    told_str(why, "Unknown service: '");
    told_name(why, m->name, n, 200);
    told_str(why, "'");
    return NULL;
}

tc_dispatch_t *
tc_dispatch_new(const tc_config_t *cfg, tc_err_t *err)
{
    return tc_dispatch_new_staged(cfg, NULL, NULL, err);
}

tc_dispatch_t *
tc_dispatch_new_staged(const tc_config_t *cfg, tc_dispatch_stage_cb stage, void *arg, tc_err_t *err)
{
    if (cfg->nservices > 0) {
        return mux_new(cfg, stage, arg, err);
    }
    if (stage != NULL) {
        char what[TC_ERR_MSG_MAX];
        loading_text(&cfg->service, what, sizeof(what));
        stage(what, arg);
    }
    return create(cfg, true, false, err);
}

void
tc_dispatch_free(tc_dispatch_t *d)
{
    if (d == NULL) {
        return;
    }
    for (size_t i = 0; i < d->nsubs; i++) {
        tc_dispatch_free(d->subs[i]);
    }
    free(d->subs);
    free(d->sub_cfgs);
    tc_host_thread_free(d->plugin); /* before 'lua': it borrows 'svc' and 'called' */
    tc_lua_handler_free(d->lua);
    if (d->shared_host) {
        tc_host_release(d->host);
    } else {
        tc_host_close(d->host);
    }
    free(d);
}

int
tc_dispatch_thread_start(tc_dispatch_t *d, tc_err_t *err)
{
    for (size_t i = 0; i < d->nsubs; i++) {
        int rc = tc_dispatch_thread_start(d->subs[i], err);
        if (rc != TC_OK) {
            return rc;
        }
    }
    return d->plugin != NULL ? tc_host_thread_start(d->plugin, err) : TC_OK;
}

void
tc_dispatch_thread_stop(tc_dispatch_t *d)
{
    for (size_t i = 0; i < d->nsubs; i++) {
        tc_dispatch_thread_stop(d->subs[i]);
    }
    if (d->plugin != NULL) {
        tc_host_thread_stop(d->plugin);
    }
}

/* ---- checking a configuration ---- */

/* Write all 'len' bytes of 'p' to 'fd' (a pipe to the parent); gives up on an error. */
static void
write_all(int fd, const char *p, size_t len)
{
    size_t off = 0;
    while (off < len) {
        ssize_t k = write(fd, p + off, len - off);
        if (k <= 0 && errno != EINTR) {
            break;
        }
        off += k > 0 ? (size_t)k : 0;
    }
}

/* True when service 'i' of 'cfg' has a plugin that no service before it has. */
static bool
first_of_library(const tc_config_t *cfg, size_t i)
{
    const char *plugin = cfg->nservices > 0 ? cfg->services[i].plugin : cfg->service.plugin;
    if (plugin == NULL || plugin[0] == '\0') {
        return false;
    }
    for (size_t j = 0; j < i; j++) {
        const char *other = cfg->services[j].plugin;
        if (other != NULL && other[0] != '\0' && tc_host_same_library(other, plugin)) {
            return false;
        }
    }
    return true;
}

/*
 * The check process: build what a handler thread builds, one service after
 * the other, keeping each until the end as a worker does (a library that
 * serves several services stays loaded, and its init_arbiter() runs once).
 * On 'fd', a NUL for each service that loaded, then the error text of the
 * one that did not (which holds no NUL): so the parent can name the
 * service even when its loading crashed or called exit().
 */
static TC_NORETURN void
check_child(const tc_config_t *cfg, int fd)
{
    tc_err_t err;
    tc_err_clear(&err);
    /* services = { ... }: every one of them, as its own dispatcher */
    size_t n = cfg->nservices > 0 ? cfg->nservices : 1;
    tc_config_t *ones = tc_xcalloc(n, sizeof(*ones));
    /* NOLINTNEXTLINE(bugprone-sizeof-expression): an array of pointers */
    tc_dispatch_t **ds = tc_xcalloc(n, sizeof(*ds));
    bool ok = true;
    for (size_t i = 0; i < n && ok; i++) {
        ones[i] = *cfg;
        if (cfg->nservices > 0) {
            ones[i].service = cfg->services[i];
            ones[i].services = NULL;
            ones[i].nservices = 0;
        }
        ds[i] = create(&ones[i], false, first_of_library(cfg, i), &err);
        ok = ds[i] != NULL;
        if (ok) {
            write_all(fd, "", 1);
        }
    }
    for (size_t i = n; i-- > 0;) {
        tc_dispatch_free(ds[i]);
    }
    free(ds);
    free(ones);
    if (!ok) {
        write_all(fd, err.msg, strlen(err.msg));
    }
    _exit(ok ? 0 : 1);
}

int
tc_dispatch_check(const tc_config_t *cfg, double limit, const char *why, tc_err_t *err)
{
    int fds[2];
    if (pipe2(fds, O_CLOEXEC) != 0) {
        return tc_err_set(err, -errno, "cannot check the handlers: pipe: %s", tc_strerror(-errno));
    }
    pid_t pid = fork();
    if (pid < 0) {
        int rc = -errno;
        close(fds[0]);
        close(fds[1]);
        return tc_err_set(err, rc, "cannot check the handlers: fork: %s", tc_strerror(rc));
    }
    if (pid == 0) {
        close(fds[0]);
        check_child(cfg, fds[1]);
    }
    close(fds[1]);
    /* the leading NULs count the services loaded; the error text follows them */
    size_t loaded = 0;
    char msg[TC_ERR_MSG_MAX];
    size_t len = 0;
    char chunk[256];
    long long t0 = tc_clock_mono_ns();
    bool late = false;
    for (;;) {
        if (limit > 0) {
            /* the pipe ends when the process does: its end, or the deadline's kill */
            double left = limit - (double)(tc_clock_mono_ns() - t0) / 1e9;
            struct pollfd p = {.fd = fds[0], .events = POLLIN};
            /* once killed, a process it started may still hold the pipe: 1 s more */
            int r = poll(&p, 1, late ? 1000 : left > 0 ? (int)(left * 1000) + 1 : 0);
            if (r == 0 && late) {
                break;
            }
            if (r == 0) {
                late = true;
                (void)kill(pid, SIGKILL);
            }
            if (r <= 0) {
                continue;
            }
        }
        ssize_t k = read(fds[0], chunk, sizeof(chunk));
        if (k == 0 || (k < 0 && errno != EINTR)) {
            break;
        }
        for (ssize_t j = 0; j < k; j++) {
            if (len == 0 && chunk[j] == '\0') {
                loaded++;
            } else if (len < sizeof(msg) - 1) {
                msg[len++] = chunk[j];
            }
        }
    }
    msg[len] = '\0';
    close(fds[0]);
    int status = 0;
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
    /* what was running when the process ended: the service after those loaded */
    size_t n = cfg->nservices > 0 ? cfg->nservices : 1;
    char what[TC_ERR_MSG_MAX];
    if (loaded < n) {
        loading_text(cfg->nservices > 0 ? &cfg->services[loaded] : &cfg->service, what,
                     sizeof(what));
    } else {
        (void)snprintf(what, sizeof(what), "the check of the handlers");
    }
    if (late && WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL) {
        return tc_err_set(err, TC_EINVAL, "%s did not finish within %g s (%s)", what, limit, why);
    }
    if (WIFSIGNALED(status)) {
        return tc_err_set(err, TC_EINVAL, "%s crashed (signal %d)%s%s", what, WTERMSIG(status),
                          len ? ": " : "", msg);
    }
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0 || loaded < n) {
        if (len > 0) {
            return tc_err_set(err, TC_EINVAL, "%s", msg);
        }
        /* exit() from the code being loaded (os.exit()), status 0 too: no worker would boot */
        return tc_err_set(err, TC_EINVAL, "%s exited with status %d, giving no reason", what,
                          WIFEXITED(status) ? WEXITSTATUS(status) : -1);
    }
    return TC_OK;
}

/* ---- handling a message ---- */

/*
 * tc_dispatch_handle() but for the reply's size: the message header read in
 * 'm' (its name without "Service:" once routed) and the function whose
 * handler ran in '*fn' (NULL: none did), of the service named '*called' in
 * a call's errors (the one the call was routed to).
 */
static int
handle(tc_dispatch_t *d, tc_proto_t *in, tc_proto_t *out, tc_msg_hdr_t *m, const char **called,
       const tc_function_t **fn, tc_call_info_t *info, tc_err_t *err)
{
    info->err_len = 0;
    int rc = in->ops->read_message_begin(in, m);
    if (rc != TC_OK) {
        return tc_err_set(err, rc == TC_AGAIN ? TC_EPROTO : rc, "invalid message header (%s)",
                          rc == TC_AGAIN ? "truncated" : tc_strerror(rc));
    }
    /*
     * A message of another type than a call is refused before its name is
     * looked at, as Apache's TMultiplexedProcessor does: the type, not the
     * service it names, is what is wrong with it.
     */
    bool call = m->type == TC_MSG_CALL || m->type == TC_MSG_ONEWAY;
    if (d->subs != NULL) {
        told_t unrouted;
        unrouted.len = 0;
        d = route(d, m, &unrouted);
        if (d == NULL && call) {
            info->service = NULL;
            info->method = m->name;
            info->method_len = m->name_len;
            info->replied = m->type != TC_MSG_ONEWAY; /* a oneway call gets no reply */
            info->status = TC_APPEX_UNKNOWN_METHOD;
            /*
             * the client named no service this server has: answered, and
             * logged once (the worker escapes the name in the log line)
             */
            set_told(err, info, TC_ENOTFOUND, &unrouted);
            if (m->type != TC_MSG_ONEWAY) {
                tc_message_write_appex(out, m->name, m->name_len, m->seqid, TC_APPEX_UNKNOWN_METHOD,
                                       unrouted.text, unrouted.len);
            }
            return TC_OK;
        }
    }
    info->service = d != NULL ? d->name : NULL;
    info->method = m->name;
    info->method_len = m->name_len;
    info->replied = true;
    info->status = 0;
    if (!call) {
        /* a REPLY or EXCEPTION sent to a server, or no type at all: answered, and logged once */
        static const char text[] = "Invalid message type";
        info->status = TC_APPEX_INVALID_MESSAGE_TYPE;
        char head[40];
        (void)snprintf(head, sizeof(head), "invalid message type %u for '", m->type);
        told_t why;
        why.len = 0;
        told_str(&why, head);
        told_name(&why, m->name, m->name_len, 100);
        told_str(&why, "' (a server takes CALL or ONEWAY)");
        set_told(err, info, TC_EPROTO, &why);
        tc_message_write_appex(out, m->name, m->name_len, m->seqid, TC_APPEX_INVALID_MESSAGE_TYPE,
                               text, sizeof(text) - 1);
        return TC_OK;
    }
    TC_ASSERT(d != NULL); /* a call that named no service was answered above */
    int idx = tc_schema_service_index(d->svc, m->name, m->name_len);
    if (idx < 0) {
        told_t why;
        why.len = 0;
        told_str(&why, "Invalid method name: '");
        told_name(&why, m->name, m->name_len, 256);
        told_str(&why, "'");
        info->status = TC_APPEX_UNKNOWN_METHOD;
        /*
         * the client named a method its service lacks: logged once, and
         * answered unless it came as a ONEWAY message. Apache's processors
         * answer that too, but its client reads no reply, so it would take
         * this one for its next call's and stay a reply behind for good
         * (a client that knows a oneway method the server does not).
         */
        info->replied = m->type != TC_MSG_ONEWAY;
        set_told(err, info, TC_ENOTFOUND, &why);
        if (info->replied) {
            tc_message_write_appex(out, m->name, m->name_len, m->seqid, TC_APPEX_UNKNOWN_METHOD,
                                   why.text, why.len);
        }
        return TC_OK;
    }
    *called = d->called;
    *fn = d->svc->functions[idx];
    bool oneway = m->type == TC_MSG_ONEWAY || (*fn)->oneway;
    info->replied = !oneway;
    /*
     * The header is the connection's, which may close before the next call:
     * only the handler that runs holds it, and only while it runs (Lua code
     * may run later in its state: a finalizer when the state closes)
     */
    if (d->plugin != NULL && tc_host_thread_serves(d->plugin, idx)) {
        tc_host_thread_set_header(d->plugin, info->header);
        info->status = tc_host_call(d->plugin, idx, m, oneway, in, out, err);
        tc_host_thread_set_header(d->plugin, NULL);
    } else {
        tc_lua_handler_set_header(d->lua, info->header);
        info->status =
            tc_lua_handler_call(d->lua, d->called, idx, m, oneway, in, out, err); /* (clears it) */
    }
    return TC_OK;
}

/*
 * The reply at 'mark' is over 'max_reply' bytes, more than its frame's
 * length can say: dropped for the INTERNAL_ERROR a failed handler gets,
 * whose text names the limit (it holds nothing of the handler's, so
 * 'expose_errors' does not hide it). The log line names the method whose
 * handler made the reply, or the reply the dispatcher made. 'bound' is the
 * output's (tc_dispatch_handle()), still in force.
 */
static void
refuse_reply(tc_proto_t *out, size_t mark, size_t bound, size_t max_reply, const tc_msg_hdr_t *m,
             const char *called, const tc_function_t *fn, tc_call_info_t *info, tc_err_t *err)
{
    tc_buf_t *buf = out->out;
    char text[96];
    int len =
        snprintf(text, sizeof(text), "reply is over the largest frame (%zu bytes)", max_reply);
    tc_err_clear(err); /* the client hears of this, not of what the dropped reply said */
    info->err_len = 0;
    if (fn != NULL) {
        tc_err_set(err, TC_ELIMIT, "%s.%s: %s", called, fn->name, text);
    } else {
        tc_err_set(err, TC_ELIMIT, "%s: %s", tc_appex_type_name(info->status), text);
    }
    info->status = TC_APPEX_INTERNAL_ERROR;
    buf->len = mark;
    tc_buf_set_max(buf, bound);
    tc_message_write_appex(out, m->name, m->name_len, m->seqid, TC_APPEX_INTERNAL_ERROR, text,
                           (size_t)len);
    if (TC_UNLIKELY(tc_buf_refused(buf) || buf->len - mark > max_reply)) {
        /* only a name about as long as the limit makes it so long: the name goes */
        buf->len = mark;
        tc_buf_set_max(buf, 0);
        tc_message_write_appex(out, "", 0, m->seqid, TC_APPEX_INTERNAL_ERROR, text, (size_t)len);
    }
}

/*
 * How many bytes of 'in' follow the message that starts at 'start': framed
 * and THeader hand over a frame, which may hold more than the message. A
 * handler that decoded its arguments left 'in' at the message's end, so a
 * frame that is just the message costs one comparison; otherwise (the
 * arguments not read, or not whole, or bytes after them) the message is
 * walked again from its start. 0 too when its bytes do not walk as one
 * message: that the client hears of otherwise, if at all.
 */
static size_t
rest_after(const tc_proto_t *in, const uint8_t *start)
{
    if (TC_LIKELY(in->rp == in->rend)) {
        return 0;
    }
    tc_proto_t p;
    tc_proto_init(&p, in->ops, start, (size_t)(in->rend - start), NULL);
    p.max_depth = in->max_depth;
    p.max_string = in->max_string;
    tc_msg_hdr_t m;
    if (p.ops->read_message_begin(&p, &m) != TC_OK || tc_proto_skip(&p, TC_TTYPE_STRUCT) != TC_OK) {
        return 0;
    }
    return tc_proto_left(&p);
}

int
tc_dispatch_handle(tc_dispatch_t *d, tc_proto_t *in, tc_proto_t *out, size_t max_reply,
                   tc_call_info_t *info, tc_err_t *err)
{
    tc_buf_t *buf = out->out;
    size_t mark = buf->len;
    const uint8_t *start = in->rp;
    /*
     * The output refuses to grow past what the frame can carry (and the
     * room a write may ask beyond what it writes), so that a reply over it
     * is stopped where it crosses, not encoded whole first: a handler's
     * value may encode to any size. Whether it crossed is looked at once.
     */
    size_t bound = max_reply < SIZE_MAX - TC_PROTO_WRITE_SLACK - mark
                       ? mark + max_reply + TC_PROTO_WRITE_SLACK
                       : 0;
    tc_buf_set_max(buf, bound);
    tc_msg_hdr_t m;
    const char *called = NULL;
    const tc_function_t *fn = NULL;
    int rc = handle(d, in, out, &m, &called, &fn, info, err);
    if (TC_UNLIKELY(tc_buf_refused(buf) || buf->len - mark > max_reply) && rc == TC_OK &&
        info->replied) {
        refuse_reply(out, mark, bound, max_reply, &m, called, fn, info, err);
    }
    tc_buf_set_max(buf, 0);
    info->rest = rc == TC_OK ? rest_after(in, start) : 0;
    return rc;
}

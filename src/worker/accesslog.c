/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The access log: %-placeholders expanded per call into a line written
 * whole, at once in one write(2), or gathered with the thread's other
 * lines into a buffer written whole (access_log_buffer): lines from the
 * loop threads and the workers never mix.
 */
#include "worker/accesslog.h"

#include "core/alloc.h"
#include "core/clock.h"
#include "core/log.h"
#include "core/num.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

_Atomic int tc_accesslog_fd = -1;

static const char *log_path;
static const char *log_format;

/*
 * %p: the process that opened the log. A worker opens it after its fork
 * (tc_accesslog_open() in the child), so this is the worker's pid, kept
 * because getpid() is a system call in this C library: one per line.
 */
static pid_t log_pid;

/*
 * The log is no regular file (a pipe, a FIFO, a socket, a terminal): a
 * buffer goes out in writes of whole lines of at most PIPE_BUF bytes,
 * which a pipe keeps whole among the other writers' (one line is never
 * longer). A regular file opened O_APPEND takes each write whole.
 */
static atomic_bool chunked;

/* Whether lines to 'fd' go out PIPE_BUF bytes at a time ('chunked'). */
static bool
is_chunked(int fd)
{
    struct stat st;
    return fstat(fd, &st) != 0 || !S_ISREG(st.st_mode);
}

/* The longest line, its newline included. */
#define LINE_MAX_LEN 1024

/* TApplicationException types by number (Thrift's TApplicationException.h). */
static const char *const appex_names[] = {
    "UNKNOWN",           "UNKNOWN_METHOD",   "INVALID_MESSAGE_TYPE",    "WRONG_METHOD_NAME",
    "BAD_SEQUENCE_ID",   "MISSING_RESULT",   "INTERNAL_ERROR",          "PROTOCOL_ERROR",
    "INVALID_TRANSFORM", "INVALID_PROTOCOL", "UNSUPPORTED_CLIENT_TYPE",
};

int
tc_accesslog_open(const char *path, const char *format)
{
    log_format = format != NULL ? format : "%t %h %m %s %D";
    log_path = path;
    log_pid = getpid();
    if (path == NULL) {
        tc_accesslog_fd = -1;
        return TC_OK;
    }
    if (strcmp(path, "-") == 0) {
        atomic_store(&chunked, is_chunked(STDOUT_FILENO));
        tc_accesslog_fd = STDOUT_FILENO; /* as gunicorn's: the error log's "-" is stderr */
        return TC_OK;
    }
    /* a worker opens it before it drops root: only a symlink root owns is followed */
    int fd = tc_log_open_file(path);
    if (fd < 0) {
        return fd;
    }
    atomic_store(&chunked, is_chunked(fd));
    tc_accesslog_fd = fd;
    return TC_OK;
}

/* Append 'len' bytes of 's' at '*n', within 'cap' (what does not fit is cut). */
static void
put(char *buf, size_t cap, size_t *n, const char *s, size_t len)
{
    size_t room = *n < cap ? cap - *n : 0; /* the compiler cannot see that *n <= cap */
    if (len > room) {
        len = room;
    }
    memcpy(buf + *n, s, len);
    *n += len;
}

static void
put_str(char *buf, size_t cap, size_t *n, const char *s)
{
    put(buf, cap, n, s, strlen(s));
}

/* Append bytes a client chose, escaped (tc_log_escape()). */
static void
put_escaped(char *buf, size_t cap, size_t *n, const char *s, size_t len)
{
    *n += tc_log_escape(buf + *n, cap - *n, s, len);
}

/*
 * Append 'v' as snprintf()'s "%0*lld" with 'width' writes it (0: "%lld"),
 * without its some 700 instructions: the numbers' text is the C library's.
 */
static void
put_num(char *buf, size_t cap, size_t *n, long long v, unsigned width)
{
    if (cap - *n >= TC_NUM_MAX) {
        *n += tc_num_format(buf + *n, v, width);
        return;
    }
    char tmp[TC_NUM_MAX];
    put(buf, cap, n, tmp, tc_num_format(tmp, v, width));
}

static void
put_status(char *buf, size_t cap, size_t *n, const tc_call_info_t *info)
{
    if (info->status == 0) {
        put_str(buf, cap, n, info->replied ? "ok" : "oneway");
    } else if (info->status == -1) {
        put_str(buf, cap, n, "exception");
    } else if (info->status > 0 && (size_t)info->status < TC_ARRAY_LEN(appex_names)) {
        put_str(buf, cap, n, appex_names[info->status]);
    } else {
        put_str(buf, cap, n, "error:");
        put_num(buf, cap, n, info->status, 0);
    }
}

/* What one line tells of a call. */
typedef struct line {
    const char *peer;
    const tc_call_info_t *info;
    long long ns;
    char
        time[TC_LOG_TIME_MAX]; /* %t, rendered once per line (format_line() may expand it thrice) */
    size_t time_len;
} line_t;

static void
put_time(char *buf, size_t cap, size_t *n, line_t *l)
{
    if (l->time_len == 0) {
        l->time_len = tc_log_time(l->time, sizeof(l->time)); /* as the error log's lines */
    }
    put(buf, cap, n, l->time, l->time_len);
}

/*
 * The call's name (%m): the service that took the call (the one a
 * multiplexed "Service:method" named, or the default one); a name no
 * service took is shown as sent, its colon as a dot. The client's bytes
 * are escaped: a name cannot end the line.
 */
static void
put_name(char *buf, size_t cap, size_t *n, const tc_call_info_t *info)
{
    const char *colon = NULL;
    if (info->service != NULL) {
        put_str(buf, cap, n, info->service);
        put(buf, cap, n, ".", 1);
        put_escaped(buf, cap, n, info->method, info->method_len);
    } else if ((colon = memchr(info->method, ':', info->method_len)) == NULL) {
        put_escaped(buf, cap, n, info->method, info->method_len);
    } else {
        size_t k = (size_t)(colon - info->method);
        put_escaped(buf, cap, n, info->method, k);
        put(buf, cap, n, ".", 1);
        put_escaped(buf, cap, n, colon + 1, info->method_len - k - 1);
    }
}

/*
 * Expand 'format' into 'buf' (at most 'cap' bytes, no newline), each %m
 * within 'room' bytes; '*names' counts the %m. Returns the length.
 */
static size_t
expand(char *buf, size_t cap, const char *format, line_t *l, size_t room, size_t *names)
{
    size_t n = 0;
    for (const char *p = format; *p != '\0' && n < cap; p++) {
        if (*p != '%' || p[1] == '\0') {
            buf[n++] = *p;
            continue;
        }
        switch (*++p) {
        case 'h':
            put_str(buf, cap, &n, l->peer);
            break;
        case 'm':
            (*names)++;
            put_name(buf, cap - n > room ? n + room : cap, &n, l->info);
            break;
        case 's':
            put_status(buf, cap, &n, l->info);
            break;
        /*
         * snprintf()'s "%lld", "%lld.%03lld" and "%lld.%06lld" of these,
         * to the byte (a negative time too, which the clock never gives)
         */
        case 'D':
            put_num(buf, cap, &n, l->ns / 1000, 0);
            break;
        case 'M':
            put_num(buf, cap, &n, l->ns / 1000000, 0);
            put(buf, cap, &n, ".", 1);
            put_num(buf, cap, &n, (l->ns / 1000) % 1000, 3);
            break;
        case 'L':
            put_num(buf, cap, &n, l->ns / 1000000000, 0);
            put(buf, cap, &n, ".", 1);
            put_num(buf, cap, &n, (l->ns / 1000) % 1000000, 6);
            break;
        case 't':
            put_time(buf, cap, &n, l);
            break;
        case 'p':
            put_num(buf, cap, &n, log_pid, 0);
            break;
        case '%':
            buf[n++] = '%';
            break;
        default: /* unknown (the config refuses them): kept as written */
            buf[n++] = '%';
            if (n < cap) {
                buf[n++] = *p;
            }
            break;
        }
    }
    return n;
}

/*
 * One line into 'buf' (without the newline); returns its length. The
 * names (%m) are the client's and of any length: a line they fill gets
 * made again, each name within its share of the room the rest of the line
 * leaves, so that a long one is cut rather than the fields after it (a
 * name ending in " ok 5" cannot pass for them).
 */
static size_t
format_line(char *buf, size_t cap, const char *format, line_t *l)
{
    size_t names = 0;
    size_t n = expand(buf, cap, format, l, cap, &names);
    if (n < cap || names == 0) {
        return n; /* whole */
    }
    names = 0;
    size_t rest = expand(buf, cap, format, l, 0, &names);
    return expand(buf, cap, format, l, (cap - rest) / names, &names);
}

/*
 * The length of the 'n' bytes of a full line at 'buf' less a character
 * cut short at its end: the format's own text (UTF-8) may run past the
 * line, and the log stays UTF-8. The client's bytes are escaped whole.
 */
static size_t
whole_chars(const char *buf, size_t n)
{
    size_t i = n;
    size_t tail = 0; /* continuation bytes at the end */
    while (i > 0 && tail < 3 && ((unsigned char)buf[i - 1] & 0xc0) == 0x80) {
        i--;
        tail++;
    }
    if (i == 0) {
        return n;
    }
    unsigned char lead = (unsigned char)buf[i - 1];
    size_t len = lead >= 0xf0 ? 4 : lead >= 0xe0 ? 3 : 2;
    return lead >= 0xc0 && len > tail + 1 ? i - 1 : n;
}

/*
 * A failed write (a full disk, a quota) loses its line. The error log says
 * so once a minute at most, not once a line: the first loss at once, then
 * how many lines were lost since, at the next failure a minute or more
 * later; and the first write that works again says so, with the lines
 * lost since the last report, if any.
 */
#define REPORT_EVERY 60 /* seconds */

static atomic_ullong lost;       /* lines lost since the last report */
static atomic_bool failing;      /* a line was lost since the last write that worked */
static atomic_llong last_report; /* CLOCK_MONOTONIC seconds of it, plus one; 0: none yet */
static atomic_int last_why;      /* the last loss's code (a line written in part: 0) */

static void
report_lost(const char *why, int code, unsigned long long lines)
{
    atomic_store(&last_why, code);
    atomic_fetch_add(&lost, lines);
    atomic_store(&failing, true);
    long long now = tc_clock_mono_ns() / TC_CLOCK_NS_PER_S + 1;
    long long last = atomic_load(&last_report);
    if ((last != 0 && now - last < REPORT_EVERY) ||
        !atomic_compare_exchange_strong(&last_report, &last, now)) {
        return; /* reported lately, or by another thread just now */
    }
    unsigned long long n = atomic_exchange(&lost, 0);
    tc_log(TC_LOG_ERROR,
           "Cannot write the access log %s: %s; %llu line%s lost%s (reported at most once a "
           "minute)",
           log_path, why, n, n == 1 ? "" : "s", last != 0 ? " since the last report" : "");
}

/*
 * The lines lost since the last report, told once a minute at most even
 * when no write fails any more (no call came since), and at once with
 * 'force': as the worker ends, they would be forgotten with it.
 */
void
tc_accesslog_report_lost(bool force)
{
    if (TC_LIKELY(atomic_load_explicit(&lost, memory_order_relaxed) == 0)) {
        return;
    }
    long long now = tc_clock_mono_ns() / TC_CLOCK_NS_PER_S + 1;
    long long last = atomic_load(&last_report);
    if ((!force && now - last < REPORT_EVERY) ||
        !atomic_compare_exchange_strong(&last_report, &last, now)) {
        return;
    }
    unsigned long long n = atomic_exchange(&lost, 0);
    int code = atomic_load(&last_why);
    if (n > 0) {
        tc_log(TC_LOG_ERROR,
               "Cannot write the access log %s: %s; %llu line%s lost since the last report "
               "(reported at most once a minute)",
               log_path, code != 0 ? tc_strerror(code) : "lines written in part", n,
               n == 1 ? "" : "s");
    }
}

/* A write worked after a loss: say so, and how many lines were lost since the last report. */
static void
report_recovery(void)
{
    if (!atomic_exchange(&failing, false)) {
        return; /* told by another thread just now */
    }
    unsigned long long n = atomic_exchange(&lost, 0);
    if (n > 0) {
        tc_log(TC_LOG_WARNING, "The access log %s is written again; %llu line%s lost before",
               log_path, n, n == 1 ? "" : "s");
    } else {
        tc_log(TC_LOG_WARNING, "The access log %s is written again", log_path);
    }
}

/*
 * Write 'n' bytes of whole lines in one write(2); the lines of one that
 * fails, or writes only in part, are lost (counted then).
 */
static void
put_out(const char *data, size_t n)
{
    ssize_t w = tc_log_write(tc_accesslog_fd, data, n);
    if (TC_LIKELY((size_t)w == n)) {
        if (TC_UNLIKELY(atomic_load_explicit(&failing, memory_order_relaxed))) {
            report_recovery();
        }
        return;
    }
    char why[64];
    if (w < 0) {
        (void)snprintf(why, sizeof(why), "%s", tc_strerror((int)w));
    } else {
        (void)snprintf(why, sizeof(why), "only %zd of its %zu bytes fit", w, n);
    }
    unsigned long long lines = 0;
    for (const char *p = data; (p = memchr(p, '\n', n - (size_t)(p - data))) != NULL; p++) {
        lines++;
    }
    report_lost(why, w < 0 ? (int)w : 0, lines);
}

/* Write the 'n' bytes of whole lines at 'data': in one write(2), or PIPE_BUF at a time. */
static void
write_lines(const char *data, size_t n)
{
    if (!atomic_load_explicit(&chunked, memory_order_relaxed)) {
        put_out(data, n);
        return;
    }
    while (n > 0) {
        /* the whole lines within PIPE_BUF bytes: one at least, each line being shorter */
        size_t k = 0;
        const char *end;
        while (k < n && (end = memchr(data + k, '\n', n - k)) != NULL &&
               (size_t)(end - data) < PIPE_BUF) {
            k = (size_t)(end - data) + 1;
        }
        k = k > 0 ? k : n; /* (never 0: a line is shorter than PIPE_BUF and ends the data) */
        put_out(data, k);
        data += k;
        n -= k;
    }
}

/* One line into 'buf' (1024 bytes), its newline last; returns its length. */
static size_t
make_line(char *buf, const char *peer, const tc_call_info_t *info, long long ns)
{
    line_t l = {.peer = peer, .info = info, .ns = ns};
    size_t n = format_line(buf, LINE_MAX_LEN - 1, log_format, &l);
    if (n == LINE_MAX_LEN - 1) {
        n = whole_chars(buf, n);
    }
    buf[n++] = '\n';
    return n;
}

/* ---- buffers (access_log_buffer) ---- */

/*
 * A loop thread's lines, written whole when the next does not fit, by its
 * timer ('access_log_flush' after the first), by the worker's main thread
 * (a loop inside a long call, SIGUSR1, a quick stop, an abort), and as the
 * thread ends. 'lock' is the loop thread's but while another thread writes
 * the lines out: so a line is in the file it was logged in, after the
 * lines logged before it on its thread.
 */
struct tc_accesslog_buf {
    pthread_mutex_t lock;
    char *data; /* 'cap' bytes, allocated at the first line; guarded by 'lock' */
    size_t cap;
    size_t len;               /* guarded by 'lock' */
    atomic_llong since;       /* CLOCK_MONOTONIC ns of the first line held; 0: none held */
    tc_accesslog_buf_t *next; /* in 'bufs' */
};

/* Every buffer of the process, for the main thread's writes; guarded by 'bufs_lock'. */
static pthread_mutex_t bufs_lock = PTHREAD_MUTEX_INITIALIZER;
static tc_accesslog_buf_t *bufs;

/* Write out what 'b' holds ('lock' held). */
static void
flush_locked(tc_accesslog_buf_t *b)
{
    if (b->len == 0) {
        return;
    }
    if (atomic_load_explicit(&tc_accesslog_fd, memory_order_relaxed) >= 0) {
        write_lines(b->data, b->len);
    }
    b->len = 0;
    atomic_store_explicit(&b->since, 0, memory_order_relaxed);
}

tc_accesslog_buf_t *
tc_accesslog_buf_new(size_t size)
{
    if (size == 0) {
        return NULL;
    }
    tc_accesslog_buf_t *b = tc_xcalloc(1, sizeof(*b));
    pthread_mutex_init(&b->lock, NULL);
    b->cap = size;
    pthread_mutex_lock(&bufs_lock);
    b->next = bufs;
    bufs = b;
    pthread_mutex_unlock(&bufs_lock);
    return b;
}

void
tc_accesslog_buf_free(tc_accesslog_buf_t *b)
{
    if (b == NULL) {
        return;
    }
    pthread_mutex_lock(&bufs_lock);
    tc_accesslog_buf_t **p = &bufs;
    while (*p != b) {
        p = &(*p)->next;
    }
    *p = b->next;
    pthread_mutex_unlock(&bufs_lock);
    tc_accesslog_flush(b);
    pthread_mutex_destroy(&b->lock);
    free(b->data);
    free(b);
}

void
tc_accesslog_flush(tc_accesslog_buf_t *b)
{
    if (b == NULL) {
        return;
    }
    pthread_mutex_lock(&b->lock);
    flush_locked(b);
    pthread_mutex_unlock(&b->lock);
}

void
tc_accesslog_flush_older(long long age)
{
    long long now = tc_clock_mono_ns();
    pthread_mutex_lock(&bufs_lock);
    for (tc_accesslog_buf_t *b = bufs; b != NULL; b = b->next) {
        long long since = atomic_load_explicit(&b->since, memory_order_relaxed);
        if (since != 0 && (age <= 0 || now - since >= age)) {
            tc_accesslog_flush(b);
        }
    }
    pthread_mutex_unlock(&bufs_lock);
}

/* Keep 'n' bytes of a whole line in 'b'; true when it is the first 'b' holds. */
static bool
keep(tc_accesslog_buf_t *b, const char *line, size_t n)
{
    pthread_mutex_lock(&b->lock);
    if (b->len + n > b->cap) {
        flush_locked(b);
    }
    bool first = false;
    if (n > b->cap) {
        put_out(line, n); /* a buffer smaller than a line: it goes out alone */
    } else {
        if (b->data == NULL) {
            b->data = tc_xmalloc(b->cap);
        }
        if (b->len == 0) {
            atomic_store_explicit(&b->since, tc_clock_mono_ns(), memory_order_relaxed);
            first = true;
        }
        memcpy(b->data + b->len, line, n);
        b->len += n;
    }
    pthread_mutex_unlock(&b->lock);
    return first;
}

bool
tc_accesslog_write(tc_accesslog_buf_t *b, const char *peer, const tc_call_info_t *info,
                   long long ns)
{
    char line[LINE_MAX_LEN];
    size_t n = make_line(line, peer, info, ns);
    if (b != NULL) {
        return keep(b, line, n);
    }
    put_out(line, n);
    return false;
}

/* ---- reopening ---- */

int
tc_accesslog_reopen(void)
{
    if (log_path == NULL || strcmp(log_path, "-") == 0) {
        return TC_OK;
    }
    int fd = tc_log_open_file(log_path);
    if (fd < 0) {
        return fd;
    }
    /*
     * Every buffer held while the lines it has are written to the old
     * file and the descriptor moves to the new one: each line goes to the
     * file that was open when it was logged, and the lines logged after
     * the reopen all go to the new one.
     */
    pthread_mutex_lock(&bufs_lock);
    for (tc_accesslog_buf_t *b = bufs; b != NULL; b = b->next) {
        pthread_mutex_lock(&b->lock);
        flush_locked(b);
    }
    int rc = TC_OK;
    int cur = atomic_load(&tc_accesslog_fd);
    bool kind = is_chunked(fd);
    if (cur < 0) {
        /* the open at the worker's start failed (a FIFO no process read): log from now on */
        atomic_store(&chunked, kind);
        atomic_store(&tc_accesslog_fd, fd);
    } else {
        rc = dup3(fd, cur, O_CLOEXEC) < 0 ? -errno : TC_OK;
        if (rc == TC_OK) {
            atomic_store(&chunked, kind);
        }
        (void)close(fd);
    }
    for (tc_accesslog_buf_t *b = bufs; b != NULL; b = b->next) {
        pthread_mutex_unlock(&b->lock);
    }
    pthread_mutex_unlock(&bufs_lock);
    return rc;
}

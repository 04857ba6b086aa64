/* SPDX-License-Identifier: Apache-2.0 */
/* Line-oriented logger: one write(2) per line, so lines from threads never mix. */
#include "core/log.h"

#include "core/file.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/magic.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/vfs.h>
#include <time.h>
#include <unistd.h>

static tc_log_level_t log_level = TC_LOG_INFO;
static int log_fd = STDERR_FILENO;
/*
 * Set while the log could not be reopened: its lines go to a file the
 * operator has most likely moved away, so those of level error and above
 * go to stderr as well (nginx reports there too), where stderr is
 * somewhere else (stderr_apart()).
 */
static atomic_bool also_stderr;
/* Set by tc_log_take_stderr(): each log file opened becomes stderr too. */
static bool stderr_follows;

static const char *const level_names[] = {"debug", "info", "warning", "error", "critical"};

/* What ends a line cut to fit tc_log()'s buffer. */
#define CUT_MARK     "..."
#define CUT_MARK_LEN (sizeof(CUT_MARK) - 1)

void
tc_log_set_level(tc_log_level_t level)
{
    log_level = level;
}

int
tc_log_level_parse(const char *name)
{
    for (size_t i = 0; i < TC_ARRAY_LEN(level_names); i++) {
        if (strcmp(name, level_names[i]) == 0) {
            return (int)i;
        }
    }
    return -1;
}

/* ---- opening a log file ---- */

#define LINK_HOPS 40 /* as the kernel's MAXSYMLINKS */

/* A symlink the process may follow: root's, or its own user's. */
static bool
trusted_link(const struct stat *st)
{
    return S_ISLNK(st->st_mode) && (st->st_uid == 0 || st->st_uid == geteuid());
}

static bool
same_file(const struct stat *a, const struct stat *b)
{
    return a->st_dev == b->st_dev && a->st_ino == b->st_ino;
}

/*
 * Follow the symlinks from 'path' on, one hop at a time, each looked at
 * through a descriptor of the link itself (O_PATH), so that the owner
 * checked is that of the target read. True when every link is trusted and
 * the chain ends at file 'fs', or, with 'fs' NULL (before the open), at a
 * file or at a name that does not exist yet. A trusted link may lead to a
 * name no path reaches (/dev/stdout to /proc/self/fd/1 to "pipe:[...]"):
 * then 'path' must lead to 'fs' as stat() sees it. The folders on the way
 * are not looked at. 'end' (PATH_MAX bytes, may be NULL) gets the name
 * that does not exist yet, where the chain ends at one.
 */
static bool
trusted_chain(const char *path, const struct stat *fs, char *end)
{
    char name[PATH_MAX];
    if ((size_t)snprintf(name, sizeof(name), "%s", path) >= sizeof(name)) {
        return false;
    }
    for (int hop = 0; hop <= LINK_HOPS; hop++) {
        struct stat st;
        int lfd = open(name, O_PATH | O_NOFOLLOW | O_CLOEXEC);
        if (lfd < 0) {
            bool absent = errno == ENOENT && hop > 0;
            if (absent && end != NULL) {
                memcpy(end, name, strlen(name) + 1);
            }
            return absent && (fs == NULL || (stat(path, &st) == 0 && same_file(&st, fs)));
        }
        char target[PATH_MAX];
        ssize_t n = -1;
        bool link = fstatat(lfd, "", &st, AT_EMPTY_PATH) == 0 && S_ISLNK(st.st_mode);
        if (link && trusted_link(&st)) {
            n = readlinkat(lfd, "", target, sizeof(target) - 1);
        }
        (void)close(lfd);
        if (!link) {
            return fs == NULL || same_file(&st, fs);
        }
        if (n <= 0 || (size_t)n >= sizeof(target) - 1) {
            return false; /* another user's link, or one that cannot be read */
        }
        target[n] = '\0';
        /* a relative target is relative to the link's folder */
        const char *slash = strrchr(name, '/');
        int dir = target[0] == '/' || slash == NULL ? 0 : (int)(slash - name + 1);
        if ((size_t)snprintf(name + dir, sizeof(name) - (size_t)dir, "%s", target) >=
            sizeof(name) - (size_t)dir) {
            return false;
        }
    }
    return false;
}

/*
 * 'path' names a symlink (open() with O_NOFOLLOW said so): follow it if
 * every link on the way is trusted_link(), looked at before the open (so
 * that nothing is created where another user's link points) and again
 * after it, down to the file opened (a link swapped meanwhile is refused).
 */
static int
open_through_link(const char *path, int flags)
{
    struct stat ls;
    if (lstat(path, &ls) < 0) {
        return -errno; /* ELOOP too: a loop in the folders on the way */
    }
    if (!S_ISLNK(ls.st_mode)) {
        return -EAGAIN; /* replaced meanwhile: look again */
    }
    if (!trusted_chain(path, NULL, NULL)) {
        return TC_ESYMLINK;
    }
    int fd = open(path, flags, 0644);
    if (fd < 0) {
        return -errno;
    }
    struct stat fs;
    if (fstat(fd, &fs) < 0 || !trusted_chain(path, &fs, NULL)) {
        (void)close(fd);
        return TC_ESYMLINK;
    }
    return fd;
}

/*
 * The standard stream that 'path' names (1 for "/dev/stdout", 2 for
 * "/dev/stderr"), or -1. Such a stream is used as inherited rather than
 * opened again through its link: a socket (systemd's journal) cannot be
 * opened by name, and a file the shell opened without O_APPEND (`> out`)
 * opened again with it would be written at two offsets, the lines sent to
 * the stream itself (the other log, at "-") overwriting the others.
 */
int
tc_log_std_stream(const char *path)
{
    if (strcmp(path, "/dev/stdout") == 0) {
        return STDOUT_FILENO;
    }
    return strcmp(path, "/dev/stderr") == 0 ? STDERR_FILENO : -1;
}

int
tc_log_open_file(const char *path)
{
    int std = tc_log_std_stream(path);
    if (std >= 0) {
        int fd = fcntl(std, F_DUPFD_CLOEXEC, STDERR_FILENO + 1);
        return fd < 0 ? -errno : fd;
    }
    /* O_NONBLOCK: a FIFO nobody reads fails with ENXIO instead of hanging the open */
    const int flags = O_WRONLY | O_CREAT | O_APPEND | O_NONBLOCK | O_NOCTTY | O_CLOEXEC;
    int fd = -1;
    for (int tries = 0; tries < 3 && fd < 0; tries++) {
        fd = open(path, flags | O_NOFOLLOW, 0644);
        if (fd < 0) {
            fd = errno == ELOOP ? open_through_link(path, flags) : -errno;
        }
        if (fd != -EAGAIN) {
            break;
        }
    }
    if (fd < 0) {
        return fd;
    }
    int fl = fcntl(fd, F_GETFL);
    if (fl < 0 || fcntl(fd, F_SETFL, fl & ~O_NONBLOCK) < 0) {
        int rc = -errno;
        (void)close(fd);
        return rc;
    }
    return fd;
}

/*
 * Whether 'fd' (opened, or an O_PATH descriptor) is a FIFO neither root
 * nor the process's user owns, which tc_log_open_error_file() refuses.
 * A FIFO with a name, that is: an anonymous pipe (the stderr of
 * 'sudo thriftcorn ... 2>&1 | tee', made by the user's shell, given as
 * /dev/stderr) is one the process inherited, not a file someone planted.
 */
static bool
stranger_fifo(int fd)
{
    struct stat st;
    struct statfs fs;
    return fstat(fd, &st) == 0 && S_ISFIFO(st.st_mode) && st.st_uid != 0 &&
           st.st_uid != geteuid() && fstatfs(fd, &fs) == 0 && fs.f_type != PIPEFS_MAGIC;
}

int
tc_log_open_error_file(const char *path)
{
    int fd = tc_log_open_file(path);
    if (fd >= 0 && stranger_fifo(fd)) {
        (void)close(fd);
        return TC_EFIFO;
    }
    return fd;
}

int
tc_log_check_file(const char *path)
{
    int std = tc_log_std_stream(path);
    if (std >= 0) {
        return fcntl(std, F_GETFD) < 0 ? -errno : TC_OK;
    }
    struct stat st;
    if (lstat(path, &st) < 0) {
        return errno == ENOENT ? tc_file_check_folder(path) : -errno;
    }
    if (S_ISLNK(st.st_mode)) {
        char end[PATH_MAX];
        end[0] = '\0';
        if (!trusted_chain(path, NULL, end)) {
            return TC_ESYMLINK;
        }
        if (stat(path, &st) < 0) {
            /* a link to a name not made yet: the open makes the file there */
            return errno == ENOENT && end[0] != '\0' ? tc_file_check_folder(end) : -errno;
        }
    }
    if (S_ISDIR(st.st_mode)) {
        return -EISDIR;
    }
    if (S_ISSOCK(st.st_mode)) {
        return -ENXIO; /* what open() says of a socket */
    }
    /* a FIFO's reader is not looked for: opening it to see would end one such as `cat FIFO` */
    return faccessat(AT_FDCWD, path, W_OK, AT_EACCESS) < 0 ? -errno : TC_OK;
}

int
tc_log_check_error_file(const char *path)
{
    int rc = tc_log_check_file(path);
    if (rc != TC_OK) {
        return rc;
    }
    int std = tc_log_std_stream(path);
    if (std >= 0) {
        return stranger_fifo(std) ? TC_EFIFO : TC_OK;
    }
    /*
     * O_PATH opens no FIFO for writing (a reader such as `cat FIFO` sees no
     * end); the links on the way were found trusted above, as the open's
     */
    int fd = open(path, O_PATH | O_CLOEXEC);
    if (fd < 0) {
        return errno == ENOENT ? TC_OK : -errno; /* a new file: made by the start */
    }
    rc = stranger_fifo(fd) ? TC_EFIFO : TC_OK;
    (void)close(fd);
    return rc;
}

static bool
is_dev_null(const struct stat *st)
{
    struct stat null;
    return S_ISCHR(st->st_mode) && stat("/dev/null", &null) == 0 && st->st_rdev == null.st_rdev;
}

/*
 * Whether stderr leads somewhere the log does not: neither the log's own
 * file (where tc_log_take_stderr() points it) nor /dev/null.
 */
static bool
stderr_apart(void)
{
    struct stat es;
    struct stat ls;
    if (fstat(STDERR_FILENO, &es) < 0 || (fstat(log_fd, &ls) == 0 && same_file(&es, &ls))) {
        return false;
    }
    return !is_dev_null(&es);
}

/* stderr becomes the log file, if it follows the log (a duplicate: it stays across exec). */
static void
point_stderr(void)
{
    if (stderr_follows && log_fd != STDERR_FILENO) {
        (void)dup2(log_fd, STDERR_FILENO);
    }
}

bool
tc_log_take_stderr(void)
{
    struct stat es;
    struct stat ls;
    if (fstat(STDERR_FILENO, &es) < 0) {
        return false;
    }
    /* the log's own file only when it is a regular one: not a terminal, a pipe, the journal */
    bool own = log_fd != STDERR_FILENO && fstat(log_fd, &ls) == 0 && S_ISREG(ls.st_mode) &&
               same_file(&es, &ls);
    stderr_follows = own || is_dev_null(&es);
    point_stderr();
    return stderr_follows;
}

int
tc_log_open(const char *path)
{
    if (path == NULL || strcmp(path, "-") == 0) {
        if (log_fd != STDERR_FILENO) {
            close(log_fd);
        }
        log_fd = STDERR_FILENO;
        atomic_store(&also_stderr, false);
        return TC_OK;
    }
    int fd = tc_log_open_error_file(path);
    if (log_fd == STDERR_FILENO) {
        if (fd >= 0) {
            log_fd = fd;
            point_stderr();
        }
        return fd < 0 ? fd : TC_OK; /* a first open that fails is reported on stderr anyway */
    }
    /* reopening (log rotation): the number stays, so threads logging meanwhile are safe */
    int rc = fd;
    if (fd >= 0) {
        rc = dup3(fd, log_fd, O_CLOEXEC) < 0 ? -errno : TC_OK;
        close(fd);
        if (rc == TC_OK) {
            point_stderr();
        }
    }
    atomic_store(&also_stderr, rc != TC_OK && stderr_apart());
    return rc;
}

/*
 * The length of the well-formed UTF-8 sequence of two to four bytes at
 * s[0..left) (RFC 3629: no overlong form, no surrogate, nothing past
 * U+10FFFF), or 0. 'c1': also 0 for a C1 control (U+0080-U+009F, NEL
 * among them).
 */
static size_t
utf8_len(const unsigned char *s, size_t left, bool c1)
{
    unsigned char b = s[0];
    size_t len;
    unsigned char lo = 0x80; /* the range of the second byte */
    unsigned char hi = 0xbf;
    if (b >= 0xc2 && b <= 0xdf) {
        len = 2;
        lo = b == 0xc2 && c1 ? 0xa0 : 0x80; /* C2 80-9F: C1 controls */
    } else if (b >= 0xe0 && b <= 0xef) {
        len = 3;
        lo = b == 0xe0 ? 0xa0 : 0x80;
        hi = b == 0xed ? 0x9f : 0xbf;
    } else if (b >= 0xf0 && b <= 0xf4) {
        len = 4;
        lo = b == 0xf0 ? 0x90 : 0x80;
        hi = b == 0xf4 ? 0x8f : 0xbf;
    } else {
        return 0;
    }
    if (left < len || s[1] < lo || s[1] > hi) {
        return 0;
    }
    for (size_t i = 2; i < len; i++) {
        if (s[i] < 0x80 || s[i] > 0xbf) {
            return 0;
        }
    }
    return len;
}

/*
 * The length of the well-formed UTF-8 sequence at s[0..left) that a log
 * may show as it is, or 0: a stray byte, a C1 control or a line or
 * paragraph separator (U+2028, U+2029), which some readers take for the
 * end of a line.
 */
static size_t
utf8_shown(const unsigned char *s, size_t left)
{
    size_t len = utf8_len(s, left, true);
    if (len == 3 && s[0] == 0xe2 && s[1] == 0x80 && (s[2] == 0xa8 || s[2] == 0xa9)) {
        return 0; /* U+2028, U+2029 */
    }
    return len;
}

/* "\xHH" for byte 'b' at 'dst'. */
static void
put_escape(char *dst, unsigned char b)
{
    static const char hex[] = "0123456789abcdef";
    dst[0] = '\\';
    dst[1] = 'x';
    dst[2] = hex[b >> 4];
    dst[3] = hex[b & 0xf];
}

/* How many bytes at s[0..left) a log line shows as they are (0: escape s[0]). */
static size_t
kept_in_log(const unsigned char *s, size_t left)
{
    if (s[0] >= 0x80) {
        return utf8_shown(s, left);
    }
    return s[0] >= 0x20 && s[0] < 0x7f && s[0] != '\\' ? 1 : 0;
}

/* How many bytes at s[0..left) a UTF-8 text keeps as they are (0: escape s[0]). */
static size_t
kept_in_text(const unsigned char *s, size_t left)
{
    return s[0] < 0x80 ? 1 : utf8_len(s, left, false);
}

/*
 * Copy 'len' bytes of 'src' into 'dst' (at most 'cap' bytes), the runs
 * 'kept' keeps as they are and every other byte as \xHH, never cut in
 * the middle of either; returns how many bytes were written.
 */
static size_t
copy_escaped(char *dst, size_t cap, const char *src, size_t len,
             size_t (*kept)(const unsigned char *, size_t))
{
    const unsigned char *s = (const unsigned char *)src;
    size_t n = 0;
    for (size_t i = 0; i < len;) {
        size_t keep = kept(s + i, len - i);
        size_t need = keep > 0 ? keep : 4;
        if (cap - n < need) {
            break;
        }
        if (keep > 0) {
            memcpy(dst + n, s + i, keep);
            i += keep;
        } else {
            put_escape(dst + n, s[i++]);
        }
        n += need;
    }
    return n;
}

size_t
tc_log_escape(char *dst, size_t cap, const char *src, size_t len)
{
    return copy_escaped(dst, cap, src, len, kept_in_log);
}

size_t
tc_log_utf8(char *dst, size_t cap, const char *src, size_t len)
{
    return copy_escaped(dst, cap, src, len, kept_in_text);
}

/*
 * Take back the 'cut' bytes a short write left at the end of regular file
 * 'fd', where the next line would join them, if they are its end still
 * (another writer may have appended since, when room came back meanwhile:
 * then they stay). The offset goes back too, for a file not in O_APPEND
 * mode.
 */
static void
take_back(int fd, off_t cut)
{
    struct stat st;
    off_t end = lseek(fd, 0, SEEK_CUR);
    if (end < cut || fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || st.st_size != end) {
        return;
    }
    /*
     * Appending, the offset is each write's end, read just above; moving it
     * here would make another thread's take-back read this one's instead
     */
    int flags = fcntl(fd, F_GETFL);
    if (ftruncate(fd, end - cut) == 0 && flags >= 0 && !(flags & O_APPEND)) {
        (void)lseek(fd, end - cut, SEEK_SET);
    }
}

ssize_t
tc_log_write(int fd, const char *line, size_t len)
{
    ssize_t w;
    do {
        w = write(fd, line, len);
    } while (w < 0 && errno == EINTR);
    if (w < 0) {
        return -errno;
    }
    if (w > 0 && (size_t)w < len) {
        take_back(fd, (off_t)w);
    }
    return w;
}

/* ---- the time of a line ---- */

/*
 * The text of a time but its milliseconds, kept per thread: strftime()
 * and the formatting of the milliseconds were most of what a line costs
 * (an access log line's %t). The key is every field of localtime_r()'s
 * 'tm' that the text shows, so the text is strftime()'s for that 'tm' by
 * construction: a new second makes it again, and so does a zone that
 * tzset() changed, at once, as when each line made it. localtime_r()
 * stays per line, since only it tells that the zone changed.
 */
typedef struct time_text {
    struct tm tm;               /* the fields 'head' and 'tail' show */
    char head[TC_LOG_TIME_MAX]; /* "[2026-11-26 01:14:11"; "": none made yet */
    char tail[TC_LOG_TIME_MAX]; /* " +0530]" */
    size_t head_len;
    size_t tail_len;
} time_text_t;

static _Thread_local time_text_t time_text;
static _Thread_local unsigned long time_made;

/* Whether the text of 'a' is that of 'b': strftime()'s %Y-%m-%d %H:%M:%S and %z. */
static bool
same_text(const struct tm *a, const struct tm *b)
{
    return a->tm_sec == b->tm_sec && a->tm_min == b->tm_min && a->tm_hour == b->tm_hour &&
           a->tm_mday == b->tm_mday && a->tm_mon == b->tm_mon && a->tm_year == b->tm_year &&
           a->tm_gmtoff == b->tm_gmtoff && a->tm_isdst == b->tm_isdst;
}

/*
 * The milliseconds go between the seconds and the offset: two strftime()
 * calls. Neither is ever cut: the longest year and offset leave room in
 * TC_LOG_TIME_MAX for the whole line.
 */
static void
make_text(time_text_t *t, const struct tm *tm)
{
    t->tm = *tm;
    t->head_len = strftime(t->head, sizeof(t->head), "[%Y-%m-%d %H:%M:%S", tm);
    t->tail_len = strftime(t->tail, sizeof(t->tail), " %z]", tm);
    time_made++;
}

size_t
tc_log_time_at(char *buf, size_t cap, time_t sec, long usec)
{
    TC_ASSERT(cap >= TC_LOG_TIME_MAX && usec >= 0 && usec < 1000000);
    (void)cap;
    struct tm tm;
    localtime_r(&sec, &tm);
    time_text_t *t = &time_text;
    if (TC_UNLIKELY(t->head_len == 0 || !same_text(&t->tm, &tm))) {
        make_text(t, &tm);
    }
    size_t n = t->head_len;
    memcpy(buf, t->head, n);
    int ms = (int)(usec / 1000);
    buf[n++] = '.';
    buf[n++] = (char)('0' + ms / 100);
    buf[n++] = (char)('0' + ms / 10 % 10);
    buf[n++] = (char)('0' + ms % 10);
    memcpy(buf + n, t->tail, t->tail_len);
    n += t->tail_len;
    buf[n] = '\0';
    return n;
}

size_t
tc_log_time(char *buf, size_t cap)
{
    struct timeval tv;
    gettimeofday(&tv, NULL);
    return tc_log_time_at(buf, cap, tv.tv_sec, (long)tv.tv_usec);
}

unsigned long
tc_log_time_made(void)
{
    return time_made;
}

/* ---- the error log's lines ---- */

void
tc_log(tc_log_level_t level, const char *fmt, ...)
{
    if (level < log_level) {
        return;
    }
    char line[4096];
    size_t n = tc_log_time(line, TC_LOG_TIME_MAX);
    int k = snprintf(line + n, sizeof(line) - n, " [%d] [%s] ", (int)getpid(), level_names[level]);
    n += (size_t)k;
    va_list ap;
    va_start(ap, fmt);
    /* room for the text, its NUL, and the '\n' that takes the NUL's place */
    size_t room = sizeof(line) - n - 2;
    k = vsnprintf(line + n, room + 1, fmt, ap);
    va_end(ap);
    if (k < 0) {
        k = 0;
    }
    if ((size_t)k > room) {
        /*
         * Cut between two UTF-8 characters, not inside one (a log shipper
         * refuses a line that is not UTF-8), and marked as cut
         */
        n += tc_utf8_prefix(line + n, room, room - CUT_MARK_LEN);
        memcpy(line + n, CUT_MARK, CUT_MARK_LEN);
        n += CUT_MARK_LEN;
    } else {
        n += (size_t)k;
    }
    line[n++] = '\n';
    (void)tc_log_write(log_fd, line, n); /* a line that cannot be written has nowhere to say so */
    if (level >= TC_LOG_ERROR && atomic_load_explicit(&also_stderr, memory_order_relaxed)) {
        (void)tc_log_write(STDERR_FILENO, line, n);
    }
}

/* ---- rate limit ---- */

/*
 * The generic cell rate algorithm's form of a token bucket: no count of
 * tokens to refill, only the time 'full_at' when the bucket is full again.
 * A line takes one 'interval' from it, and may be written while the bucket
 * holds one: 'full_at' is less than a whole 'burst' ahead of 'now'.
 */
void
tc_log_ratelimit_init(tc_log_ratelimit_t *rl, unsigned rate, unsigned burst, long long period)
{
    rl->interval = 1000000000LL / (rate > 0 ? rate : 1);
    rl->burst = (long long)(burst > 0 ? burst : 1) * rl->interval;
    rl->full_at = LLONG_MIN / 2; /* full at any time */
    rl->period = period;
    rl->dropped = 0;
    rl->since = 0;
}

bool
tc_log_ratelimit_allow(tc_log_ratelimit_t *rl, long long now)
{
    long long from = rl->full_at > now ? rl->full_at : now;
    if (from + rl->interval - now > rl->burst) {
        if (rl->dropped++ == 0) {
            rl->since = now;
        }
        return false;
    }
    rl->full_at = from + rl->interval;
    return true;
}

uint64_t
tc_log_ratelimit_report(tc_log_ratelimit_t *rl, long long now, bool force, long long *since)
{
    if (rl->dropped == 0 || (!force && now - rl->since < rl->period)) {
        return 0;
    }
    uint64_t n = rl->dropped;
    *since = rl->since;
    rl->dropped = 0;
    return n;
}

bool
tc_log_ratelimit_pending(const tc_log_ratelimit_t *rl, long long *due)
{
    *due = rl->since + rl->period;
    return rl->dropped > 0;
}

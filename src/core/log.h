/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Logging for the server layers (library layers return errors instead).
 * One line per call, prefixed with time, pid and level. Thread-safe.
 */
#ifndef TC_CORE_LOG_H
#define TC_CORE_LOG_H

#include "core/common.h"

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

typedef enum {
    TC_LOG_DEBUG = 0,
    TC_LOG_INFO,
    TC_LOG_WARNING,
    TC_LOG_ERROR,
    TC_LOG_CRITICAL,
} tc_log_level_t;

/* Messages below 'level' are dropped. Call before starting threads. */
void tc_log_set_level(tc_log_level_t level);
/* Parse "debug", "info", "warning", "error", "critical"; -1 if unknown. */
int tc_log_level_parse(const char *name);
/*
 * Open log file 'path' to append to, created (mode 0644 less the umask) if
 * missing, close-on-exec, as a process that may run as root must: a
 * symlink at 'path', and each further one it leads through, is followed
 * only when root or the process's own user owns it (TC_ESYMLINK otherwise,
 * with nothing created: a link that a user who may write to the log's
 * folder, such as the workers' 'user', planted there must not point root
 * at a file of its choosing), and a FIFO that no process reads fails with
 * -ENXIO rather than blocking. The folders on the way are not looked at.
 * "/dev/stdout" and "/dev/stderr" are not opened: the descriptor is a
 * duplicate of the process's own standard output or error, as inherited
 * (a socket, such as systemd's journal, cannot be opened by name). Returns
 * the descriptor or a negative code. Any thread.
 */
int tc_log_open_file(const char *path) TC_NODISCARD;
/*
 * The standard stream 'path' names (STDOUT_FILENO for "/dev/stdout",
 * STDERR_FILENO for "/dev/stderr"), used as inherited, or -1. Any thread.
 */
int tc_log_std_stream(const char *path);
/*
 * Open the process's own log 'path' as tc_log_open_file() does, but a
 * FIFO that neither root nor the process's own user owns is refused
 * (TC_EFIFO): its owner could hold the read end, read nothing, and block
 * every later line, and the process with it, in write(). Any thread.
 */
int tc_log_open_error_file(const char *path) TC_NODISCARD;
/*
 * Whether tc_log_open_file() of 'path' would open, found without opening,
 * creating or changing anything (for --check-config): TC_OK, or the code
 * the open would fail with. A name that does not exist (or a trusted
 * symlink to one) needs a folder the process may write to
 * (tc_file_check_folder()); a folder is -EISDIR, a socket -ENXIO, another
 * file must be writable (access() with the effective ids: root passes but
 * on a read-only file system); a symlink that tc_log_open_file() would
 * not follow is TC_ESYMLINK. Whether a FIFO has a reader is not looked at.
 * Any thread.
 */
int tc_log_check_file(const char *path) TC_NODISCARD;
/*
 * tc_log_check_file() for the process's own log, as
 * tc_log_open_error_file() would open it: a FIFO that neither root nor
 * the process's own user owns is TC_EFIFO, found without opening it for
 * writing. Any thread.
 */
int tc_log_check_error_file(const char *path) TC_NODISCARD;
/*
 * Send log lines to 'path' ("-" or NULL: stderr), opened with
 * tc_log_open_error_file(). Returns TC_OK or a negative code. Calling it again
 * reopens the file (log rotation); when that fails, the lines go on to the
 * file open so far, and until a call succeeds those of level error and
 * above (the caller's report of the failure first) go to stderr as well,
 * unless stderr is that file or /dev/null. Main thread.
 */
int tc_log_open(const char *path) TC_NODISCARD;
/*
 * Make stderr (fd 2) the error log where it leads nowhere else: /dev/null
 * (a daemon's) or the log's own regular file (the stderr an upgrade gives
 * a daemon's new arbiter, or a shell's `2>>` to it). From then on each
 * tc_log_open() that opens a file points stderr at it too, as nginx does,
 * so that what a library, a plugin or a handler writes to fd 2 lands in
 * the current log, not in a file that a rotation moved away. A log on
 * stderr ("-") leaves stderr as it is. Returns whether stderr follows the
 * log. Main thread, after tc_log_open() and before any thread starts; the
 * processes forked later inherit the setting.
 */
bool tc_log_take_stderr(void);
/* Room for tc_log_time()'s text with its NUL, whatever the year. */
#define TC_LOG_TIME_MAX 48

/*
 * The time now as the log lines start: "[2026-11-26 01:14:11.433 +0530]",
 * the local time with milliseconds and its offset from UTC (strftime's
 * %z, as gunicorn's error log writes it), into 'buf' of TC_LOG_TIME_MAX
 * bytes, NUL-terminated. Returns its length (31 for a 4-digit year). Any
 * thread.
 */
size_t tc_log_time(char *buf, size_t cap);
/*
 * tc_log_time() of the time 'sec' seconds and 'usec' microseconds (0 to
 * 999999) after the epoch, as gettimeofday() gives it. The text but the
 * milliseconds is made once per second and thread: it is kept with the
 * fields of localtime_r()'s result it shows, and made again when they
 * change (the next second, another zone after a tzset()). Any thread.
 */
size_t tc_log_time_at(char *buf, size_t cap, time_t sec, long usec);
/*
 * How many times the calling thread made the text of a second
 * (tc_log_time_at()), for the tests.
 */
unsigned long tc_log_time_made(void);
/*
 * Write one line at 'level', after tc_log_time(), the pid and the level's
 * name. A line is at most 4095 bytes with its '\n' (under
 * PIPE_BUF: one write(2) to a pipe keeps it whole); a longer one is cut
 * between two UTF-8 characters, never inside one, and ends with "...".
 */
void tc_log(tc_log_level_t level, const char *fmt, ...) TC_PRINTF(2, 3);

/*
 * Write the 'len' bytes of one line (its '\n' last) to 'fd' in one
 * write(2), retried on EINTR. A short write (a full disk, a file size
 * limit: the kernel writes what fits) leaves a cut line at the end of a
 * regular file, which the next line would join: it is taken back
 * (ftruncate()) while it is still the file's end. Returns 'len'; when
 * fewer bytes were written, how many (none of them kept); or a negative
 * errno. Any thread.
 */
ssize_t tc_log_write(int fd, const char *line, size_t len);

/* The longest tc_log_escape() makes of 'len' bytes. */
#define TC_LOG_ESCAPED_MAX(len) (4 * (len))

/*
 * Copy 'len' bytes a client chose (a name, or an error text quoting one)
 * into 'dst' for a log line: printable ASCII and well-formed UTF-8 stay;
 * each other byte becomes \xHH: control bytes (0x00-0x1f), DEL (0x7f),
 * backslash, bytes that are not well-formed UTF-8, and the characters some
 * readers take for a line break (C1 controls such as NEL, U+2028, U+2029).
 * So the bytes can neither end the line, write one of their own, nor pass
 * for an escape, and the log stays valid UTF-8. Writes at most 'cap' bytes
 * and no NUL, never half an escape or half a character; returns how many.
 * Any thread.
 */
size_t tc_log_escape(char *dst, size_t cap, const char *src, size_t len);

/*
 * Copy 'len' bytes of a text the server's own code or a plugin made (an
 * error for a TApplicationException, which is a Thrift string, and for its
 * log line) into 'dst' as UTF-8: well-formed UTF-8 stays as it is, control
 * bytes and backslashes too; each other byte becomes \xHH. Writes at most
 * 'cap' bytes and no NUL, never half an escape or half a character (a
 * text cut short ends before the character that does not fit); returns
 * how many. Any thread.
 */
size_t tc_log_utf8(char *dst, size_t cap, const char *src, size_t len);

/*
 * A token bucket for log lines that others can cause at will (a client's
 * bad messages): after a burst, at most 'rate' lines a second; those
 * refused are counted, for one line that says how many. Times are
 * nanoseconds of CLOCK_MONOTONIC, passed in (a test injects its own). Not
 * thread-safe: each thread keeps its own, so that the check takes no lock.
 */
typedef struct {
    long long interval; /* ns a line costs: one second / rate */
    long long burst;    /* ns of lines the bucket holds: burst * interval */
    long long full_at;  /* when the bucket is full again (no line taken since) */
    long long period;   /* ns between two reports of refused lines */
    uint64_t dropped;   /* lines refused since the last report */
    long long since;    /* when the first of them was refused */
} tc_log_ratelimit_t;

/*
 * Allow a burst of 'burst' lines (at least 1), refilled at 'rate' lines a
 * second (at least 1), the first 'burst' at once; refused lines are
 * reported at most once a 'period' ns.
 */
void tc_log_ratelimit_init(tc_log_ratelimit_t *rl, unsigned rate, unsigned burst, long long period);
/*
 * Whether one more line may be written at 'now': takes a token, or counts
 * the line as refused.
 */
bool tc_log_ratelimit_allow(tc_log_ratelimit_t *rl, long long now);
/*
 * How many lines were refused since the last report, when a report is due
 * at 'now' ('period' after the first of them, or at once with 'force'),
 * else 0; '*since' is when the first was refused. A count returned is
 * reported: the next starts from 0.
 */
uint64_t tc_log_ratelimit_report(tc_log_ratelimit_t *rl, long long now, bool force,
                                 long long *since);
/* Whether lines were refused since the last report; '*due': when the next is. */
bool tc_log_ratelimit_pending(const tc_log_ratelimit_t *rl, long long *due);

#endif /* TC_CORE_LOG_H */

/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Files the server was told to read (the config file, an IDL file): read
 * whole without ever blocking on them, one open, fstat and read loop for
 * config/config.c and core.read_file() (bridge/lua_api.c); and names of
 * files made absolute, as the working folder gives them.
 */
#ifndef TC_CORE_FILE_H
#define TC_CORE_FILE_H

#include "core/buf.h"
#include "core/common.h"

#include <stdbool.h>
#include <stddef.h>

/*
 * Most bytes of a config or IDL file read whole: far beyond any real one,
 * and small enough that a reload (the arbiter reads the config) or a
 * mistaken path cannot take much memory.
 */
#define TC_FILE_READ_MAX_MIB 16
#define TC_FILE_READ_MAX     ((size_t)TC_FILE_READ_MAX_MIB << 20)

/*
 * Append the whole regular file at 'path', at most 'max' bytes (less than
 * SIZE_MAX), to 'out'. It is opened non-blocking, close-on-exec and never as
 * a controlling terminal, and anything but a regular file is refused before
 * a byte is read: a FIFO without a writer may never answer, /dev/zero never
 * ends. Returns TC_OK; -errno when open(), fstat() or read() fails; -EISDIR
 * for a folder; TC_EINVAL for any other file that is not regular;
 * TC_ELIMIT when it has more than 'max' bytes (no more than 'max' + 1 are
 * read), or 'out' has a bound (tc_buf_set_max()) the bytes do not fit in.
 * '*opened' (may be NULL) is set to whether open() succeeded. On failure,
 * 'out' keeps its length. Any thread.
 */
int tc_file_read(const char *path, size_t max, tc_buf_t *out, bool *opened) TC_NODISCARD;

/*
 * Why tc_file_read() with 'max' TC_FILE_READ_MAX refused a file, for its
 * own codes: "not a regular file" (TC_EINVAL), "over 16 MiB" (TC_ELIMIT);
 * NULL for any other (-errno, -EISDIR included: each caller words those).
 */
const char *tc_file_read_refusal(int rc);

/*
 * 'path' made absolute from the working folder, without its "." parts and
 * repeated slashes, into 'out' ('n' bytes). Symlinks and ".." are left as
 * written: a folder a name passes through may change. False when the
 * working folder cannot be read, or the name does not fit.
 */
bool tc_file_abs_path(const char *path, char *out, size_t n);

/*
 * Whether a new file could be made at 'path' (by open() with O_CREAT, the
 * bind() of a unix socket, a rename() to it), found without making one:
 * its folder (the name up to its last '/'; "." without one) is a folder
 * the process may write to and search, as access() with the effective ids
 * tells (root passes but on a read-only file system). What is at 'path'
 * itself is not looked at. Returns TC_OK, or the -errno the making would
 * fail with: -ENOENT (no such folder), -ENOTDIR, -EACCES, -EROFS. Any
 * thread.
 */
int tc_file_check_folder(const char *path) TC_NODISCARD;

/* Whether 'a' and 'b' both exist and are one file (another spelling, a symlink, a hard link). */
bool tc_file_same(const char *a, const char *b);

#endif /* TC_CORE_FILE_H */

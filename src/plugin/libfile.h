/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Why a plugin library did not load, in words an operator can act on:
 * dlopen()'s reason, or what the file's ELF header says where that reason
 * misleads (glibc calls a library built for another machine "No such file
 * or directory", and a text file "file too short").
 */
#ifndef TC_PLUGIN_LIBFILE_H
#define TC_PLUGIN_LIBFILE_H

#include <stddef.h>

/*
 * Into 'buf' ('cap' bytes, NUL-terminated, cut to fit): why dlopen('path')
 * failed, given dlerror()'s text 'dlerr' (NULL: none), without naming
 * 'path' (the caller does). A file that is not a shared object (no ELF
 * header, an ar archive, an object file) or is one for another machine,
 * word size or byte order says so; otherwise 'dlerr', with the path it
 * starts with left out, or said to be about a library the plugin needs
 * when it starts with the name of another file. Reads at most the first
 * 64 bytes of 'path'. Any thread.
 */
void tc_libfile_why(const char *path, const char *dlerr, char *buf, size_t cap);

#endif /* TC_PLUGIN_LIBFILE_H */

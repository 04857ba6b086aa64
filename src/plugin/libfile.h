/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Why a plugin library did not load, in words an operator can act on:
 * dlopen()'s reason, or what the file's ELF header says where that reason
 * misleads (glibc calls a library built for another machine "No such file
 * or directory", and a text file "file too short").
 */
#ifndef TC_PLUGIN_LIBFILE_H
#define TC_PLUGIN_LIBFILE_H

#include <stdbool.h>
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

/*
 * Before dlopen('path'): true, with why in 'buf' as tc_libfile_why() puts
 * it, when the file is an ELF object of this machine cut short (an
 * interrupted copy or build), whose segments end past the end of the
 * file. dlopen() maps those pages all the same, and the first access to
 * one, in the loader itself, is a SIGBUS that kills the process: a worker
 * would die at boot again and again, saying nothing. False for any other
 * file, and for a 'path' without a '/' (dlopen() searches for those).
 * Reads the file's ELF and program headers. Any thread.
 */
bool tc_libfile_truncated(const char *path, char *buf, size_t cap);

#endif /* TC_PLUGIN_LIBFILE_H */

/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Allocation that never returns NULL: running out of memory aborts the
 * process (a worker is then replaced). Sizes that come from the wire are
 * checked against configured limits before they reach these functions.
 */
#ifndef TC_CORE_ALLOC_H
#define TC_CORE_ALLOC_H

#include "core/common.h"

/* Report that 'size' bytes could not be had, and abort. */
TC_NORETURN void tc_oom(size_t size);
/* malloc() that aborts on failure. Ownership: the caller frees with free(). */
void *tc_xmalloc(size_t size);
/* calloc() that aborts on failure or overflow. */
void *tc_xcalloc(size_t n, size_t size);
/* realloc() that aborts on failure. */
void *tc_xrealloc(void *ptr, size_t size);
/* strdup()/strndup() that abort on failure. */
char *tc_xstrdup(const char *s);
char *tc_xstrndup(const char *s, size_t n);

#endif /* TC_CORE_ALLOC_H */

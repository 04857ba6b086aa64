/* SPDX-License-Identifier: Apache-2.0 */
/* Aborting allocators: the out-of-memory policy in one place. */
#include "core/alloc.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void
tc_oom(size_t size)
{
    (void)fprintf(stderr, "thriftcorn: out of memory allocating %zu bytes\n", size);
    abort();
}

void *
tc_xmalloc(size_t size)
{
    void *p = malloc(size ? size : 1);
    if (p == NULL) {
        tc_oom(size);
    }
    return p;
}

void *
tc_xcalloc(size_t n, size_t size)
{
    void *p = calloc(n ? n : 1, size ? size : 1);
    if (p == NULL) {
        tc_oom(n * size);
    }
    return p;
}

void *
tc_xrealloc(void *ptr, size_t size)
{
    void *p = realloc(ptr, size ? size : 1);
    if (p == NULL) {
        tc_oom(size);
    }
    return p;
}

char *
tc_xstrndup(const char *s, size_t n)
{
    char *p = tc_xmalloc(n + 1);
    memcpy(p, s, n);
    p[n] = '\0';
    return p;
}

char *
tc_xstrdup(const char *s)
{
    return tc_xstrndup(s, strlen(s));
}

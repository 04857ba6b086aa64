/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The one include for unit tests: cmocka needs these system headers first,
 * in this order.
 */
#ifndef TC_TEST_H
#define TC_TEST_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <string.h>
#include <sys/resource.h>

/* Assert that 'len' bytes at 'got' equal the bytes at 'want'. */
#define TC_ASSERT_BYTES(got, want, len) assert_memory_equal((got), (want), (len))

/*
 * Set the soft file size limit (RLIMIT_FSIZE) to 'max' bytes: a write past
 * it is cut to what fits, as on a full disk (the caller ignores SIGXFSZ).
 */
static inline void
tc_test_limit_file_size(rlim_t max)
{
    struct rlimit rl;
    assert_int_equal(getrlimit(RLIMIT_FSIZE, &rl), 0);
    rl.rlim_cur = max;
    assert_int_equal(setrlimit(RLIMIT_FSIZE, &rl), 0);
}

#endif /* TC_TEST_H */

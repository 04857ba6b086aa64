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

/* Assert that 'len' bytes at 'got' equal the bytes at 'want'. */
#define TC_ASSERT_BYTES(got, want, len) assert_memory_equal((got), (want), (len))

#endif /* TC_TEST_H */

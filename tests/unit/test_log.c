/* SPDX-License-Identifier: Apache-2.0 */
/* Unit tests for core/log.c: escaping the bytes a client chose for a log line. */
#include "tc_test.h"

#include "core/log.h"

#include <stdio.h>

/* tc_log_escape() of 'len' bytes of 'src' into a buffer of 'cap' gives 'want'. */
static void
assert_escapes(const char *src, size_t len, size_t cap, const char *want)
{
    char dst[256];
    assert_true(cap <= sizeof(dst) - 1);
    memset(dst, '#', sizeof(dst));
    size_t n = tc_log_escape(dst, cap, src, len);
    assert_int_equal(n, strlen(want));
    TC_ASSERT_BYTES(dst, want, n);
    /* nothing past what it wrote, not even a NUL */
    assert_int_equal(dst[n], '#');
}

static void
test_plain_bytes_stay(void **state)
{
    (void)state;
    assert_escapes("", 0, 16, "");
    assert_escapes("echo", 4, 16, "echo");
    assert_escapes("Calculator:add 'x' \"y\" %s ~", 27, 64, "Calculator:add 'x' \"y\" %s ~");
    /* bytes of 0x80 and up (UTF-8) stay as sent */
    assert_escapes("h\xc3\xa9\xff", 4, 16, "h\xc3\xa9\xff");
}

static void
test_control_bytes_del_and_backslash(void **state)
{
    (void)state;
    assert_escapes("no\npe", 5, 64, "no\\x0ape");
    assert_escapes("a\r\nb", 4, 64, "a\\x0d\\x0ab");
    assert_escapes("\x1b[31mred\x7f", 9, 64, "\\x1b[31mred\\x7f");
    /* a NUL is a byte like the others */
    assert_escapes("a\0b", 3, 64, "a\\x00b");
    /* a backslash too: what the log shows as \x0a was a newline */
    assert_escapes("\\x0a", 4, 64, "\\x5cx0a");
    /* every byte below 0x20 */
    for (int b = 0; b < 0x20; b++) {
        char src = (char)b;
        char want[8];
        snprintf(want, sizeof(want), "\\x%02x", b);
        assert_escapes(&src, 1, 8, want);
    }
    assert_escapes(" ", 1, 8, " ");
}

static void
test_cut_to_fit(void **state)
{
    (void)state;
    assert_escapes("echo", 4, 0, "");
    assert_escapes("echo", 4, 2, "ec");
    /* an escape is written whole or not at all */
    assert_escapes("a\nb", 3, 4, "a");
    assert_escapes("a\nb", 3, 5, "a\\x0a");
    assert_escapes("a\nb", 3, 6, "a\\x0ab");
    assert_escapes("\n\n", 2, 7, "\\x0a");
    /* the stated worst case is enough */
    assert_escapes("\n\n", 2, TC_LOG_ESCAPED_MAX(2), "\\x0a\\x0a");
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_plain_bytes_stay),
        cmocka_unit_test(test_control_bytes_del_and_backslash),
        cmocka_unit_test(test_cut_to_fit),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

/* SPDX-License-Identifier: Apache-2.0 */
/* Unit tests for schema/uuid.c: the uuid forms accepted and refused, and the one written. */
#include "tc_test.h"

#include "schema/uuid.h"

static const uint8_t want[16] = {0x00, 0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77,
                                 0x88, 0x99, 0xaa, 0xbb, 0xcc, 0xdd, 0xee, 0xff};

/* tc_uuid_parse() of the NUL-terminated 's', checked to give 'want'. */
static void
assert_parses(const char *s)
{
    uint8_t u[16];
    memset(u, 0x5a, sizeof(u));
    assert_int_equal(tc_uuid_parse(s, strlen(s), u), TC_OK);
    TC_ASSERT_BYTES(u, want, 16);
}

/* 's' ('len' bytes) is refused and the output left as it was. */
static void
assert_refused(const char *s, size_t len)
{
    uint8_t u[16];
    uint8_t before[16];
    memset(u, 0x5a, sizeof(u));
    memcpy(before, u, sizeof(u));
    assert_int_equal(tc_uuid_parse(s, len, u), TC_EINVAL);
    TC_ASSERT_BYTES(u, before, 16);
}

static void
test_accepted(void **state)
{
    (void)state;
    assert_parses("00112233-4455-6677-8899-aabbccddeeff");
    assert_parses("00112233-4455-6677-8899-AABBCCDDEEFF");
    assert_parses("00112233445566778899aabbccddeeff");
    assert_parses("00112233445566778899AaBbCcDdEeFf");
    /* 16 bytes are the uuid itself, whatever they are, NULs included */
    uint8_t u[16];
    assert_int_equal(tc_uuid_parse((const char *)want, 16, u), TC_OK);
    TC_ASSERT_BYTES(u, want, 16);
    assert_int_equal(tc_uuid_parse("0123456789abcdef", 16, u), TC_OK);
    TC_ASSERT_BYTES(u, "0123456789abcdef", 16);
}

static void
test_refused_lengths(void **state)
{
    (void)state;
    static const char hex[] = "00112233445566778899aabbccddeeff00112233";
    for (size_t len = 0; len < sizeof(hex); len++) {
        if (len != 16 && len != 32) {
            assert_refused(hex, len);
        }
    }
    static const char dashed[] = "00112233-4455-6677-8899-aabbccddeeff-0";
    for (size_t len = 33; len < sizeof(dashed); len++) {
        if (len != 36) {
            assert_refused(dashed, len);
        }
    }
}

static void
test_refused_chars(void **state)
{
    (void)state;
    static const char *const bad[] = {
        "0011223344556677889gaabbccddeeff",     /* 'g' */
        "00112233445566778899aabbccddeef ",     /* a space */
        "0x112233445566778899aabbccddeeff",     /* a prefix */
        "00112233-4455-6677-8899aabbccddeeff",  /* 35: a dash missing */
        "0011223-34455-6677-8899-aabbccddeeff", /* a dash one early */
        "00112233-44556-677-8899-aabbccddeeff", /* a dash one late */
        "00112233-4455-6677-8899-aabbccddee-f", /* a fifth dash */
        "00112233_4455_6677_8899_aabbccddeeff", /* not dashes */
        "00112233445566778899aabbccddeeff----", /* 32 digits, then the dashes */
        "{0112233-4455-6677-8899-aabbccddeef}", /* braces */
        "00112233-4455-6677-8899-aabbccddeefg", /* 'g' at the end */
        "001122334455-6677-8899-aabb-ccddeeff", /* dashes in other places */
    };
    for (size_t i = 0; i < TC_ARRAY_LEN(bad); i++) {
        assert_refused(bad[i], strlen(bad[i]));
    }
    /* a NUL among the digits counts as a character, not an end */
    assert_refused("00112233445566778899aabbccdd\0eff", 32);
    assert_refused("00112233-4455-6677-8899-aabbccdd\0eff", 36);
}

/* The canonical text, and back: every byte value in every position. */
static void
test_format(void **state)
{
    (void)state;
    char text[TC_UUID_TEXT_LEN + 1];
    memset(text, '#', sizeof(text));
    tc_uuid_format(want, text);
    assert_int_equal(text[TC_UUID_TEXT_LEN], '#');
    TC_ASSERT_BYTES(text, "00112233-4455-6677-8899-aabbccddeeff", TC_UUID_TEXT_LEN);
    for (int b = 0; b < 256; b++) {
        uint8_t u[16];
        for (int i = 0; i < 16; i++) {
            u[i] = (uint8_t)(b + i * 17);
        }
        tc_uuid_format(u, text);
        uint8_t back[16];
        assert_int_equal(tc_uuid_parse(text, TC_UUID_TEXT_LEN, back), TC_OK);
        TC_ASSERT_BYTES(back, u, 16);
    }
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_accepted),
        cmocka_unit_test(test_refused_lengths),
        cmocka_unit_test(test_refused_chars),
        cmocka_unit_test(test_format),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

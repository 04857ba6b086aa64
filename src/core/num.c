/* SPDX-License-Identifier: Apache-2.0 */
/* Integers to text: see num.h. */
#include "core/num.h"

#include "core/common.h"

/* "00" to "99": two digits per division. */
static const char pairs[] = "00010203040506070809"
                            "10111213141516171819"
                            "20212223242526272829"
                            "30313233343536373839"
                            "40414243444546474849"
                            "50515253545556575859"
                            "60616263646566676869"
                            "70717273747576777879"
                            "80818283848586878889"
                            "90919293949596979899";

/* How many digits 'u' has: 1 to 20. */
static size_t
count_digits(unsigned long long u)
{
    size_t n = 1;
    while (u >= 10000) {
        u /= 10000;
        n += 4;
    }
    return n + (u >= 10) + (u >= 100) + (u >= 1000);
}

size_t
tc_num_format(char *dst, long long v, unsigned width)
{
    TC_ASSERT(width <= TC_NUM_MAX);
    /* LLONG_MIN has no positive long long: its magnitude is taken unsigned */
    unsigned long long u = v < 0 ? 0ULL - (unsigned long long)v : (unsigned long long)v;
    size_t sign = v < 0 ? 1 : 0;
    size_t len = sign + count_digits(u);
    len = len < width ? width : len;
    char *p = dst + len;
    while (u >= 100) {
        const char *two = pairs + 2 * (u % 100);
        u /= 100;
        *--p = two[1];
        *--p = two[0];
    }
    if (u >= 10) {
        *--p = pairs[2 * u + 1];
        *--p = pairs[2 * u];
    } else {
        *--p = (char)('0' + u);
    }
    while (p > dst + sign) {
        *--p = '0';
    }
    if (sign != 0) {
        *dst = '-';
    }
    return len;
}

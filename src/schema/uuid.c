/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Uuid text to bytes and back, for the Lua codec and the schema compiler
 * alike: one parser, so a uuid a handler may return and one the IDL may
 * hold as a default are the same set of strings.
 */
#include "schema/uuid.h"

#include <string.h>

static int
hexval(unsigned char ch)
{
    if (ch >= '0' && ch <= '9') {
        return ch - '0';
    }
    if (ch >= 'a' && ch <= 'f') {
        return ch - 'a' + 10;
    }
    if (ch >= 'A' && ch <= 'F') {
        return ch - 'A' + 10;
    }
    return -1;
}

int
tc_uuid_parse(const char *s, size_t len, uint8_t out[16])
{
    if (len == 16) {
        memcpy(out, s, 16);
        return TC_OK;
    }
    if (len != 32 && len != 36) {
        return TC_EINVAL;
    }
    /* 'out' is written only once the whole text is known good */
    uint8_t u[16];
    size_t k = 0;
    for (size_t i = 0; i < len; i++) {
        if (len == 36 && (i == 8 || i == 13 || i == 18 || i == 23)) {
            if (s[i] != '-') {
                return TC_EINVAL;
            }
            continue;
        }
        int h = hexval((unsigned char)s[i]);
        if (h < 0) {
            return TC_EINVAL;
        }
        u[k / 2] = (uint8_t)(k % 2 ? u[k / 2] | h : h << 4);
        k++;
    }
    memcpy(out, u, 16);
    return TC_OK;
}

void
tc_uuid_format(const uint8_t u[16], char out[TC_UUID_TEXT_LEN])
{
    static const char hex[] = "0123456789abcdef";
    size_t k = 0;
    for (int i = 0; i < 16; i++) {
        if (i == 4 || i == 6 || i == 8 || i == 10) {
            out[k++] = '-';
        }
        out[k++] = hex[u[i] >> 4];
        out[k++] = hex[u[i] & 15];
    }
}

/* SPDX-License-Identifier: Apache-2.0 */
/* Transports by name, for the config ("framed", "buffered", "header"). */
#include "transport/transport.h"

#include "transport/header.h"

#include <string.h>

const tc_transport_t *
tc_transport_find(const char *name)
{
    if (name == NULL) {
        return NULL;
    }
    if (strcmp(name, tc_transport_framed.name) == 0) {
        return &tc_transport_framed;
    }
    if (strcmp(name, tc_transport_buffered.name) == 0) {
        return &tc_transport_buffered;
    }
    if (strcmp(name, tc_transport_header.name) == 0) {
        return &tc_transport_header;
    }
    return NULL;
}

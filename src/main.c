/* SPDX-License-Identifier: Apache-2.0 */
/* thriftcorn's command line: argv -> config -> arbiter; nothing else. */
#include "build_config.h"

#include <stdio.h>
#include <string.h>

int
main(int argc, char **argv)
{
    if (argc > 1 && strcmp(argv[1], "--version") == 0) {
        printf("thriftcorn %s\n", TC_VERSION_STRING);
        return 0;
    }
    return 0;
}

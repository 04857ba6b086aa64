/* SPDX-License-Identifier: Apache-2.0 */
/*
 * thriftcorn's version, for plugins and tools that build against the
 * installed headers. Self-contained C99.
 */
#ifndef THRIFTCORN_VERSION_H
#define THRIFTCORN_VERSION_H

#define THRIFTCORN_VERSION_MAJOR 0
#define THRIFTCORN_VERSION_MINOR 1
#define THRIFTCORN_VERSION_PATCH 0
/** The version as a string, "MAJOR.MINOR.PATCH". */
#define THRIFTCORN_VERSION "0.1.0"

#endif /* THRIFTCORN_VERSION_H */

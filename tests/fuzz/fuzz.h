/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Shared by the fuzz drivers and the corpus replay: the libFuzzer entry
 * point, the verdict the replay checks seeds against, and a check that
 * aborts (so that libFuzzer and the replay both report it as a crash).
 */
#ifndef TC_FUZZ_FUZZ_H
#define TC_FUZZ_FUZZ_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

struct tc_proto_ops;

/* Run one input. Always returns 0; a broken invariant aborts. */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/*
 * Set by every driver before it returns: 1 when the input was accepted as
 * a whole (each driver says what that means), else 0. The replay checks it
 * against the seed's name: "ok-*" seeds must be accepted, "bad-*" refused.
 */
extern int tc_fuzz_verdict;

/*
 * The body of fuzz_binary and fuzz_compact (fuzz_proto.c): skip every
 * message of the input, skip each type, read each primitive, with checks.
 * Returns the verdict: 1 when the input is one or more whole messages.
 */
int tc_fuzz_proto_run(const struct tc_proto_ops *ops, const uint8_t *data, size_t size);

/* Abort with a message when 'cond' does not hold: a finding. */
#define TC_FUZZ_CHECK(cond, ...)                                                                   \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf(stderr, "%s:%d: check failed: %s: ", __FILE__, __LINE__, #cond);               \
            fprintf(stderr, __VA_ARGS__);                                                          \
            fputc('\n', stderr);                                                                   \
            abort();                                                                               \
        }                                                                                          \
    } while (0)

#endif /* TC_FUZZ_FUZZ_H */

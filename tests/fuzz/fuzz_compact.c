/* SPDX-License-Identifier: Apache-2.0 */
/*
 * libFuzzer target for the compact protocol: the input is compact messages
 * back to back (fuzz_proto.c says what is run and checked). Accepted: one or
 * more whole messages and nothing else.
 */
#include "fuzz.h"

#include "protocol/protocol.h"

int tc_fuzz_verdict;

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    tc_fuzz_verdict = tc_fuzz_proto_run(&tc_proto_compact, data, size);
    return 0;
}

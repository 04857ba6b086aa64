/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Codec micro-benchmark, Apache Thrift side: the bench IDL's Item read by
 * the C++ code `thrift --gen cpp` makes (Item::read) and written back
 * (Item::write) over TMemoryBuffer, with TBinaryProtocol or
 * TCompactProtocol. The same value and loop as codec_bench.c.
 *
 *   codec_bench_cpp [binary|compact|all] [iterations]
 */
#include "bench_types.h"

#include <thrift/protocol/TBinaryProtocol.h>
#include <thrift/protocol/TCompactProtocol.h>
#include <thrift/transport/TBufferTransports.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>

using apache::thrift::protocol::TBinaryProtocol;
using apache::thrift::protocol::TCompactProtocol;
using apache::thrift::transport::TMemoryBuffer;

namespace
{

const long DEFAULT_ITERATIONS = 1000000L;

bench::Item
make_item()
{
    bench::Item item;
    item.__set_id(42);
    item.__set_name("item-42");
    item.__set_score(21.0);
    item.__set_tags({42, 43, 44});
    item.__set_attrs({{"k", "v42"}, {"unit", "ms"}});
    item.__set_flag(true);
    return item;
}

/* Decode and encode 'iterations' times; returns the encoded size. */
template <class Proto>
uint32_t
loop(const std::string &bytes, long iterations)
{
    auto in = std::make_shared<TMemoryBuffer>();
    auto out = std::make_shared<TMemoryBuffer>();
    Proto iprot(in);
    Proto oprot(out);
    auto *data = reinterpret_cast<uint8_t *>(const_cast<char *>(bytes.data()));
    for (long i = 0; i < iterations; i++) {
        in->resetBuffer(data, static_cast<uint32_t>(bytes.size()));
        out->resetBuffer();
        bench::Item item;
        item.read(&iprot);
        item.write(&oprot);
    }
    return out->available_read();
}

template <class Proto>
void
run(const char *name, long iterations)
{
    auto buf = std::make_shared<TMemoryBuffer>();
    Proto prot(buf);
    make_item().write(&prot);
    std::string bytes = buf->getBufferAsString();

    /* warm-up, as codec_bench.c does */
    if (loop<Proto>(bytes, iterations / 10 + 1) != bytes.size()) {
        std::fprintf(stderr, "codec_bench_cpp: %s round trip changes the size\n", name);
        std::exit(1);
    }
    auto t0 = std::chrono::steady_clock::now();
    loop<Proto>(bytes, iterations);
    std::chrono::duration<double> dt = std::chrono::steady_clock::now() - t0;
    std::printf(
        "codec=apache-cpp protocol=%s bytes=%zu iterations=%ld seconds=%.3f ops_per_sec=%.0f\n",
        name, bytes.size(), iterations, dt.count(), static_cast<double>(iterations) / dt.count());
}

} // namespace

int
main(int argc, char **argv)
{
    const char *which = argc > 1 ? argv[1] : "all";
    long iterations = argc > 2 ? std::strtol(argv[2], nullptr, 10) : DEFAULT_ITERATIONS;
    bool all = std::strcmp(which, "all") == 0;
    bool binary = all || std::strcmp(which, "binary") == 0;
    bool compact = all || std::strcmp(which, "compact") == 0;
    if (iterations <= 0 || !(binary || compact)) {
        std::fprintf(stderr, "usage: %s [binary|compact|all] [iterations]\n", argv[0]);
        return 2;
    }
    if (binary) {
        run<TBinaryProtocol>("binary", iterations);
    }
    if (compact) {
        run<TCompactProtocol>("compact", iterations);
    }
    return 0;
}

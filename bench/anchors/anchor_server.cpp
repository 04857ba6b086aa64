// SPDX-License-Identifier: Apache-2.0
// The anchors of the benchmarks: Apache Thrift's own C++ servers (Debian's
// libthrift 0.17) serving bench/bench.thrift with the same semantics as
// bench/handler.lua, so thriftcorn's numbers can be given as ratios to them.
#include "Bench.h"

#include <thrift/concurrency/ThreadFactory.h>
#include <thrift/concurrency/ThreadManager.h>
#include <thrift/protocol/TBinaryProtocol.h>
#include <thrift/protocol/TCompactProtocol.h>
#include <thrift/server/TNonblockingServer.h>
#include <thrift/server/TThreadPoolServer.h>
#include <thrift/server/TThreadedServer.h>
#include <thrift/transport/TBufferTransports.h>
#include <thrift/transport/TNonblockingServerSocket.h>
#include <thrift/transport/TServerSocket.h>

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <memory>
#include <string>
#include <thread>

using apache::thrift::TProcessor;
using apache::thrift::concurrency::ThreadFactory;
using apache::thrift::concurrency::ThreadManager;
using apache::thrift::protocol::TBinaryProtocolFactory;
using apache::thrift::protocol::TCompactProtocolFactory;
using apache::thrift::protocol::TProtocolFactory;
using apache::thrift::server::TNonblockingServer;
using apache::thrift::server::TServer;
using apache::thrift::server::TThreadedServer;
using apache::thrift::server::TThreadPoolServer;
using apache::thrift::transport::TBufferedTransportFactory;
using apache::thrift::transport::TFramedTransportFactory;
using apache::thrift::transport::TNonblockingServerSocket;
using apache::thrift::transport::TServerSocket;
using apache::thrift::transport::TTransportFactory;

namespace
{

// a + b wrapping around as Lua's integers (bench/handler.lua) and the C plugin
// do: a signed overflow in C++ is undefined, and kills a sanitizer build.
int64_t
wrap_add(int64_t a, int64_t b)
{
    return static_cast<int64_t>(static_cast<uint64_t>(a) + static_cast<uint64_t>(b));
}

// bench.thrift's comments are the contract; bench/handler.lua is the same in Lua.
class BenchHandler : public bench::BenchIf
{
  public:
    void ping() override
    {
    }

    void echo(std::string &ret, const std::string &s) override
    {
        ret = s;
    }

    int64_t add(const int64_t a, const int64_t b) override
    {
        return wrap_add(a, b);
    }

    void roundtrip(bench::Item &ret, const bench::Item &item) override
    {
        ret = item;
        ret.id = wrap_add(item.id, 1);
    }

    void batch(std::vector<bench::Item> &ret, const int32_t n) override
    {
        ret.resize(n > 0 ? static_cast<size_t>(n) : 0);
        for (int32_t i = 0; i < n; i++) {
            bench::Item &it = ret[static_cast<size_t>(i)];
            it.id = i;
            it.name = "item-" + std::to_string(i);
            it.score = i / 2.0;
            it.tags = {i, i + 1, i + 2};
            it.attrs = {{"k", "v" + std::to_string(i)}};
        }
    }

    void fail(const int32_t code) override
    {
        bench::BenchError e;
        e.code = code;
        e.message = "fail " + std::to_string(code);
        throw e;
    }

    void fire(const int32_t x) override
    {
        (void)x;
    }

    void sleep(const int32_t ms) override
    {
        std::this_thread::sleep_for(std::chrono::milliseconds(ms));
    }
};

struct Options {
    std::string server = "nonblocking";
    std::string host = "127.0.0.1";
    int port = 9090;
    int workers = 0;
    int io_threads = 1;
    std::string transport = "framed";
    std::string protocol = "binary";
};

const char usage[] =
    "Usage: thriftcorn-anchor-server [OPTIONS]\n"
    "Apache Thrift C++ servers of bench/bench.thrift, the anchors of the benchmarks.\n"
    "  --server S       nonblocking | threadpool | threaded (default nonblocking)\n"
    "  --workers N      thread manager size: nonblocking hands every call from its I/O\n"
    "                   thread to N workers (0: handlers run on the I/O thread);\n"
    "                   threadpool serves each connection on one of N threads\n"
    "                   (default 0; threadpool needs at least 1)\n"
    "  --io-threads N   nonblocking only: I/O threads (default 1)\n"
    "  --host H         address to listen on (default 127.0.0.1)\n"
    "  --port P         port (default 9090)\n"
    "  --transport T    framed | buffered (default framed; nonblocking is framed only)\n"
    "  --protocol P     binary | compact (default binary)\n";

[[noreturn]] void
bad_usage(const std::string &msg)
{
    std::fprintf(stderr, "thriftcorn-anchor-server: %s\n%s", msg.c_str(), usage);
    std::exit(2);
}

int
parse_int(const char *s, const char *what, int lo, int hi)
{
    char *end = nullptr;
    long v = std::strtol(s, &end, 10);
    if (end == s || *end != '\0' || v < lo || v > hi) {
        bad_usage(std::string(what) + ": expected an integer from " + std::to_string(lo) + " to " +
                  std::to_string(hi));
    }
    return static_cast<int>(v);
}

Options
parse(int argc, char **argv)
{
    Options o;
    for (int i = 1; i < argc; i++) {
        std::string a = argv[i];
        if (a == "-h" || a == "--help") {
            std::fputs(usage, stdout);
            std::exit(0);
        }
        if (i + 1 >= argc) {
            bad_usage("missing value after " + a);
        }
        const char *v = argv[++i];
        if (a == "--server") {
            o.server = v;
        } else if (a == "--workers") {
            o.workers = parse_int(v, "--workers", 0, 100000);
        } else if (a == "--io-threads") {
            o.io_threads = parse_int(v, "--io-threads", 1, 1024);
        } else if (a == "--host") {
            o.host = v;
        } else if (a == "--port") {
            o.port = parse_int(v, "--port", 1, 65535);
        } else if (a == "--transport") {
            o.transport = v;
        } else if (a == "--protocol") {
            o.protocol = v;
        } else {
            bad_usage("unknown option " + a);
        }
    }
    if (o.server != "nonblocking" && o.server != "threadpool" && o.server != "threaded") {
        bad_usage("--server " + o.server + ": expected nonblocking, threadpool or threaded");
    }
    if (o.transport != "framed" && o.transport != "buffered") {
        bad_usage("--transport " + o.transport + ": expected framed or buffered");
    }
    if (o.protocol != "binary" && o.protocol != "compact") {
        bad_usage("--protocol " + o.protocol + ": expected binary or compact");
    }
    if (o.server == "nonblocking" && o.transport != "framed") {
        bad_usage("TNonblockingServer speaks the framed transport only");
    }
    if (o.server == "threadpool" && o.workers < 1) {
        bad_usage("threadpool needs --workers 1 or more");
    }
    return o;
}

std::shared_ptr<ThreadManager>
thread_manager(int workers)
{
    if (workers == 0) {
        return nullptr;
    }
    auto tm = ThreadManager::newSimpleThreadManager(static_cast<size_t>(workers));
    tm->threadFactory(std::make_shared<ThreadFactory>());
    tm->start();
    return tm;
}

} // namespace

int
main(int argc, char **argv)
{
    Options o = parse(argc, argv);
    auto processor = std::make_shared<bench::BenchProcessor>(std::make_shared<BenchHandler>());
    std::shared_ptr<TProtocolFactory> proto;
    if (o.protocol == "compact") {
        proto = std::make_shared<TCompactProtocolFactory>();
    } else {
        proto = std::make_shared<TBinaryProtocolFactory>();
    }
    std::shared_ptr<TTransportFactory> trans;
    if (o.transport == "framed") {
        trans = std::make_shared<TFramedTransportFactory>();
    } else {
        trans = std::make_shared<TBufferedTransportFactory>();
    }
    std::shared_ptr<TServer> server;
    if (o.server == "nonblocking") {
        auto sock = std::make_shared<TNonblockingServerSocket>(o.host, o.port);
        auto nb =
            std::make_shared<TNonblockingServer>(processor, proto, sock, thread_manager(o.workers));
        nb->setNumIOThreads(static_cast<size_t>(o.io_threads));
        server = nb;
    } else if (o.server == "threadpool") {
        auto sock = std::make_shared<TServerSocket>(o.host, o.port);
        server = std::make_shared<TThreadPoolServer>(processor, sock, trans, proto,
                                                     thread_manager(o.workers));
    } else {
        auto sock = std::make_shared<TServerSocket>(o.host, o.port);
        server = std::make_shared<TThreadedServer>(processor, sock, trans, proto);
    }
    std::printf("thriftcorn-anchor-server: %s, %d workers, %s %s on %s:%d\n", o.server.c_str(),
                o.workers, o.transport.c_str(), o.protocol.c_str(), o.host.c_str(), o.port);
    std::fflush(stdout);
    try {
        server->serve();
    } catch (const std::exception &e) {
        // a port in use, mostly: say so and exit, rather than abort()
        std::fprintf(stderr, "thriftcorn-anchor-server: %s\n", e.what());
        return 1;
    }
    return 0;
}

// SPDX-License-Identifier: Apache-2.0
// Apache Thrift's C++ client of examples/pingpong, run against thriftcorn by
// tests/integration/test_cpp_client.py.
//   ping_client PORT buffered|framed binary|compact pong|exception
// Exits 0 and prints "ok" when ping() answers "pong" (or raises
// AboutToShutDownException, with "exception"); 1 otherwise.
#include "PingService.h"

#include <thrift/protocol/TBinaryProtocol.h>
#include <thrift/protocol/TCompactProtocol.h>
#include <thrift/transport/TBufferTransports.h>
#include <thrift/transport/TSocket.h>

#include <cstdlib>
#include <iostream>
#include <memory>
#include <string>

using namespace apache::thrift;
using namespace apache::thrift::protocol;
using namespace apache::thrift::transport;

int
main(int argc, char **argv)
{
    if (argc != 5) {
        std::cerr << "usage: ping_client PORT buffered|framed binary|compact pong|exception\n";
        return 2;
    }
    auto sock = std::make_shared<TSocket>("127.0.0.1", std::atoi(argv[1]));
    sock->setRecvTimeout(10000);
    std::shared_ptr<TTransport> trans;
    if (std::string(argv[2]) == "framed") {
        trans = std::make_shared<TFramedTransport>(sock);
    } else {
        trans = std::make_shared<TBufferedTransport>(sock);
    }
    std::shared_ptr<TProtocol> proto;
    if (std::string(argv[3]) == "compact") {
        proto = std::make_shared<TCompactProtocol>(trans);
    } else {
        proto = std::make_shared<TBinaryProtocol>(trans);
    }
    bool want_exception = std::string(argv[4]) == "exception";
    PingServiceClient client(proto);
    try {
        trans->open();
        for (int i = 0; i < 3; i++) {
            std::string reply;
            try {
                client.ping(reply);
                if (want_exception || reply != "pong") {
                    std::cerr << "unexpected reply '" << reply << "'\n";
                    return 1;
                }
            } catch (AboutToShutDownException &) {
                if (!want_exception) {
                    std::cerr << "unexpected AboutToShutDownException\n";
                    return 1;
                }
            }
        }
        trans->close();
    } catch (TException &e) {
        std::cerr << "exception: " << e.what() << "\n";
        return 1;
    }
    std::cout << "ok\n";
    return 0;
}

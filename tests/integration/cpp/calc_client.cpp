// SPDX-License-Identifier: Apache-2.0
// Apache Thrift's C++ client of the tutorial Calculator, run against
// thriftcorn by tests/integration/test_cpp_client.py.
//   calc_client PORT buffered|framed|header binary|compact [mux]
// With "mux", calls go through TMultiplexedProtocol as service "Calculator".
// Prints one line per failed check and exits 1 on any; prints "ok" otherwise.
#include "Calculator.h"

#include <thrift/protocol/TBinaryProtocol.h>
#include <thrift/protocol/TCompactProtocol.h>
#include <thrift/protocol/THeaderProtocol.h>
#include <thrift/protocol/TMultiplexedProtocol.h>
#include <thrift/transport/TBufferTransports.h>
#include <thrift/transport/TSocket.h>

#include <cstdlib>
#include <iostream>
#include <memory>
#include <string>

using namespace apache::thrift;
using namespace apache::thrift::protocol;
using namespace apache::thrift::transport;

static int failures = 0;

#define CHECK(cond)                                                                                \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            std::cerr << "check failed: " #cond " (line " << __LINE__ << ")\n";                    \
            failures++;                                                                            \
        }                                                                                          \
    } while (0)

int
main(int argc, char **argv)
{
    if (argc != 4 && argc != 5) {
        std::cerr << "usage: calc_client PORT buffered|framed|header binary|compact [mux]\n";
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
    if (std::string(argv[2]) == "header") {
        trans = sock; /* THeaderProtocol wraps it in a THeaderTransport */
        proto = std::make_shared<THeaderProtocol>(
            sock, std::string(argv[3]) == "compact" ? T_COMPACT_PROTOCOL : T_BINARY_PROTOCOL);
    } else if (std::string(argv[3]) == "compact") {
        proto = std::make_shared<TCompactProtocol>(trans);
    } else {
        proto = std::make_shared<TBinaryProtocol>(trans);
    }
    if (argc == 5 && std::string(argv[4]) == "mux") {
        proto = std::make_shared<TMultiplexedProtocol>(proto, "Calculator");
    }
    tutorial::CalculatorClient client(proto);
    try {
        trans->open();
        client.ping();
        CHECK(client.add(1, 1) == 2);
        CHECK(client.add(-7, 3) == -4);

        tutorial::Work work;
        work.op = tutorial::Operation::MULTIPLY;
        work.num1 = 6;
        work.num2 = 7;
        CHECK(client.calculate(1, work) == 42);

        work.op = tutorial::Operation::DIVIDE;
        work.num1 = 1;
        work.num2 = 0;
        bool raised = false;
        try {
            client.calculate(2, work);
        } catch (tutorial::InvalidOperation &io) {
            raised = true;
            CHECK(io.whatOp == tutorial::Operation::DIVIDE);
            CHECK(io.why == "Cannot divide by 0");
        }
        CHECK(raised);

        work.op = tutorial::Operation::SUBTRACT;
        work.num1 = 15;
        work.num2 = 10;
        CHECK(client.calculate(3, work) == 5);

        client.zip();
        shared::SharedStruct ss;
        client.getStruct(ss, 1);
        CHECK(ss.key == 1);
        CHECK(ss.value == "42");
        client.getStruct(ss, 3);
        CHECK(ss.value == "5");
        trans->close();
    } catch (TException &e) {
        std::cerr << "exception: " << e.what() << "\n";
        return 1;
    }
    if (failures == 0) {
        std::cout << "ok\n";
    }
    return failures == 0 ? 0 : 1;
}

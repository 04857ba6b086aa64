// SPDX-License-Identifier: Apache-2.0
// Interop client on Apache Thrift's C++ library (libthrift-dev).
//   interop_client_cpp PORT buffered|framed|header|header-zlib binary|compact [SERVICE]
// With SERVICE, every call goes through TMultiplexedProtocol under that name.
// Calls every method of interop.thrift, prints one line per failed check,
// exits 1 on any failure, else prints "ok". header-zlib is THeader with the
// ZLIB transform on every request, and makes only the calls of run_zlib()
// (tests/integration/test_cpp_client.py).
#include "Interop.h"

#include <thrift/TApplicationException.h>
#include <thrift/protocol/TBinaryProtocol.h>
#include <thrift/protocol/TCompactProtocol.h>
#include <thrift/protocol/THeaderProtocol.h>
#include <thrift/protocol/TMultiplexedProtocol.h>
#include <thrift/transport/TBufferTransports.h>
#include <thrift/transport/THeaderTransport.h>
#include <thrift/transport/TSocket.h>

#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <iostream>
#include <limits>
#include <memory>
#include <string>

using namespace apache::thrift;
using namespace apache::thrift::protocol;
using namespace apache::thrift::transport;
using namespace interop;

static int failures = 0;

#define CHECK(cond)                                                                                \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            std::cout << "FAIL " #cond " (line " << __LINE__ << ")\n";                             \
            failures++;                                                                            \
        }                                                                                          \
    } while (0)

#define RAISES(call, Exc, var, body)                                                               \
    do {                                                                                           \
        bool raised_ = false;                                                                      \
        try {                                                                                      \
            call;                                                                                  \
        } catch (Exc & var) {                                                                      \
            raised_ = true;                                                                        \
            body;                                                                                  \
        } catch (std::exception & e_) {                                                            \
            std::cout << "FAIL " #call " raised " << e_.what() << "\n";                            \
            failures++;                                                                            \
            raised_ = true;                                                                        \
        }                                                                                          \
        if (!raised_) {                                                                            \
            std::cout << "FAIL " #call " did not raise " #Exc "\n";                                \
            failures++;                                                                            \
        }                                                                                          \
    } while (0)

static bool
same_bits(double a, double b)
{
    return std::memcmp(&a, &b, sizeof a) == 0;
}

static const int64_t I64_MIN = std::numeric_limits<int64_t>::min();
static const int64_t I64_MAX = std::numeric_limits<int64_t>::max();
static const double INF = std::numeric_limits<double>::infinity();
static const std::string UTF8 = "h\xc3\xa9llo w\xc3\xb6rld \xe2\x9c\x93 "
                                "\xe6\x97\xa5\xe6\x9c\xac\xe8\xaa\x9e \xf0\x9f\xa6\x84";

static Point
point(int32_t x, int32_t y)
{
    Point p;
    p.__set_x(x);
    p.__set_y(y);
    return p;
}

static Everything
everything_full()
{
    Everything e;
    e.__set_flag(true);
    e.__set_tiny(-5);
    e.__set_small(-300);
    e.__set_medium(70000);
    e.__set_large(-(int64_t(1) << 40));
    e.__set_real(-0.25);
    e.__set_text("\xc3\xbc\xe2\x9c\x93");
    e.__set_data(std::string("\x00\x01\xff\x00", 4));
    e.__set_color(Color::NEGATIVE);
    e.__set_point(point(3, 4));
    Shape s;
    s.__set_name("circle");
    e.__set_shape(s);
    e.__set_points({point(1, 2), point(-3, -4)});
    e.__set_named({{"origin", point(0, 0)}, {"\xc3\xbc", point(5, 6)}});
    e.__set_ids({-1, 0, int64_t(1) << 62});
    e.__set_bits({true, false, true});
    e.__set_by_id({{-9, "neg"}, {int64_t(1) << 40, "big"}});
    e.__set_reals({1.5, -2.25, 1e300});
    e.__set_by_color({{Color::RED, {"r"}}, {Color::BLUE, {}}});
    e.__set_opt_text("set");
    e.__set_opt_number(0);
    e.__set_opt_list({});
    e.__set_far("far");
    e.__set_last(I64_MAX);
    return e;
}

static void
check_extremes(const Extremes &e)
{
    CHECK(e.i8_min == -128);
    CHECK(e.i8_max == 127);
    CHECK(e.i16_min == -32768);
    CHECK(e.i16_max == 32767);
    CHECK(e.i32_min == std::numeric_limits<int32_t>::min());
    CHECK(e.i32_max == 2147483647);
    CHECK(e.i64_min == I64_MIN);
    CHECK(e.i64_max == I64_MAX);
    CHECK(e.d_max == std::numeric_limits<double>::max());
    CHECK(e.d_min_normal == std::numeric_limits<double>::min());
    CHECK(e.d_min_subnormal == std::numeric_limits<double>::denorm_min());
    CHECK(e.d_lowest == std::numeric_limits<double>::lowest());
    CHECK(e.d_inf == INF);
    CHECK(e.d_ninf == -INF);
    CHECK(std::isnan(e.d_nan));
    CHECK(same_bits(e.d_negzero, -0.0));
    CHECK(e.d_tenth == 0.1);
}

static void
run(InteropClient &c)
{
    c.ping();
    CHECK(c.echo_bool(true) == true);
    CHECK(c.echo_bool(false) == false);
    for (int8_t v : {-128, 0, 127}) {
        CHECK(c.echo_byte(v) == v);
    }
    for (int16_t v : {-32768, -1, 32767}) {
        CHECK(c.echo_i16(v) == v);
    }
    for (int32_t v : {std::numeric_limits<int32_t>::min(), 0, 2147483647}) {
        CHECK(c.echo_i32(v) == v);
    }
    for (int64_t v : {I64_MIN, int64_t(-1), int64_t(1) << 32, I64_MAX}) {
        CHECK(c.echo_i64(v) == v);
    }
    for (double v : {0.1, -1.5, std::numeric_limits<double>::max(),
                     std::numeric_limits<double>::min(), std::numeric_limits<double>::denorm_min(),
                     std::numeric_limits<double>::lowest(), INF, -INF}) {
        CHECK(c.echo_double(v) == v);
    }
    CHECK(std::isnan(c.echo_double(std::nan(""))));
    CHECK(same_bits(c.echo_double(-0.0), -0.0));
    std::string s;
    for (const std::string &v : {std::string(), UTF8}) {
        c.echo_string(s, v);
        CHECK(s == v);
    }
    std::string all(256, '\0');
    for (int i = 0; i < 256; i++) {
        all[i] = char(i);
    }
    std::string big(1 << 20, '\0');
    for (size_t i = 0; i < big.size(); i++) {
        big[i] = char(i % 251);
    }
    for (const std::string &v : {std::string(), all, big}) {
        c.echo_binary(s, v);
        CHECK(s == v);
    }
    for (Color::type v : {Color::RED, Color::NEGATIVE, Color::BIG}) {
        CHECK(c.echo_enum(v) == v);
    }
    std::vector<int32_t> l;
    for (const std::vector<int32_t> &v : {std::vector<int32_t>(), {1, -2, 2147483647}}) {
        c.echo_list(l, v);
        CHECK(l == v);
    }
    std::set<std::string> st;
    for (const std::set<std::string> &v : {std::set<std::string>(), {"a", "b", "\xc3\xbc"}}) {
        c.echo_set(st, v);
        CHECK(st == v);
    }
    std::map<std::string, int32_t> m;
    for (const std::map<std::string, int32_t> &v :
         {std::map<std::string, int32_t>(), {{"one", 1}, {"minus", -1}, {"\xc3\xbc", 3}}}) {
        c.echo_map(m, v);
        CHECK(m == v);
    }
    std::map<std::string, std::vector<std::vector<int32_t>>> nested = {{"a", {{1, 2}, {}, {3}}},
                                                                       {"b", {}}};
    std::map<std::string, std::vector<std::vector<int32_t>>> nested_got;
    c.echo_nested(nested_got, nested);
    CHECK(nested_got == nested);
    Point p;
    c.echo_point(p, point(1, -2));
    CHECK(p == point(1, -2));

    Everything full = everything_full();
    Everything got;
    c.echo_everything(got, full);
    CHECK(got == full);
    Everything minimal;
    Everything got_minimal; /* a fresh one: read() does not clear __isset */
    c.echo_everything(got_minimal, minimal);
    CHECK(got_minimal == minimal);
    CHECK(!got_minimal.__isset.opt_text && !got_minimal.__isset.opt_number &&
          !got_minimal.__isset.opt_point && !got_minimal.__isset.opt_list);

    Shape shapes[5];
    shapes[0].__set_number(-1);
    shapes[1].__set_name(UTF8);
    shapes[2].__set_point(point(7, 8));
    shapes[3].__set_numbers({1, 2, 3});
    shapes[4].__set_blob(std::string("\x00z\x00", 3));
    for (const Shape &v : shapes) {
        Shape r;
        c.echo_shape(r, v);
        CHECK(r == v);
    }

    Defaults d;
    c.defaults(d);
    CHECK(d.number == 42);
    CHECK(d.big == 1234567890123);
    CHECK(d.ratio == -1.5);
    CHECK(d.text == "h\xc3\xa9llo w\xc3\xb6rld");
    CHECK(d.flag == true);
    CHECK(d.color == Color::BLUE);
    CHECK(d.numbers == std::vector<int32_t>({1, 2, 3}));
    CHECK(d.counts == (std::map<std::string, int32_t>{{"a", 1}, {"b", 2}}));
    CHECK(d.origin == point(1, -1));
    CHECK(!d.__isset.unset);
    CHECK(d.__isset.opt_number && d.opt_number == 5);
    CHECK(d.tags == (std::set<std::string>{"x", "y"}));

    Extremes e;
    c.extremes(e);
    check_extremes(e);
    Extremes mine;
    mine.__set_i8_min(-128);
    mine.__set_i8_max(127);
    mine.__set_i16_min(-32768);
    mine.__set_i16_max(32767);
    mine.__set_i32_min(std::numeric_limits<int32_t>::min());
    mine.__set_i32_max(2147483647);
    mine.__set_i64_min(I64_MIN);
    mine.__set_i64_max(I64_MAX);
    mine.__set_d_max(std::numeric_limits<double>::max());
    mine.__set_d_min_normal(std::numeric_limits<double>::min());
    mine.__set_d_min_subnormal(std::numeric_limits<double>::denorm_min());
    mine.__set_d_lowest(std::numeric_limits<double>::lowest());
    mine.__set_d_inf(INF);
    mine.__set_d_ninf(-INF);
    mine.__set_d_nan(std::nan(""));
    mine.__set_d_negzero(-0.0);
    mine.__set_d_tenth(0.1);
    c.check_extremes(s, mine);
    CHECK(s == "");
    if (!s.empty()) {
        std::cout << "check_extremes: " << s << "\n";
    }
    c.multi(s, -1, -300, 70000, int64_t(1) << 40, 2.5, "x \xc3\xbc", true,
            std::string("\x00\x01\x02", 3), Color::BIG);
    CHECK(s == "-1|-300|70000|1099511627776|2.5|x \xc3\xbc|true|3|2147483647");

    CHECK(c.fail(0) == 0);
    RAISES(c.fail(1), NotFound, nf, CHECK(nf.thing == "thing" && nf.code == 404));
    RAISES(c.fail(2), Invalid, inv, CHECK(inv.why == "bad" && inv.where == point(1, 2)));
    RAISES(c.fail(3), TApplicationException, ae,
           CHECK(ae.getType() == TApplicationException::INTERNAL_ERROR));
    c.ping();
    c.fail_void(0);
    RAISES(c.fail_void(1), NotFound, nf, CHECK(nf.thing == "void" && nf.code == 1));
    RAISES(c.nothing(p), TApplicationException, ae,
           CHECK(ae.getType() == TApplicationException::MISSING_RESULT));
    c.remember("cpp", 5);
    c.remember("cpp", 37);
    CHECK(c.remembered("cpp") == 42);
    c.ping();
}

// Echoes of several KB over ZLIB: each reply is larger than the compressed
// request. libthrift 0.17's THeaderTransport inflates a compressed reply into
// a buffer sized for the frame it read, and overran it (thriftcorn once
// compressed its replies to compressed requests; it no longer does, as
// Apache's own servers do not).
static void
run_zlib(InteropClient &c)
{
    c.ping();
    std::string got;
    for (size_t size : {size_t(4096), size_t(16384), size_t(65536)}) {
        std::string v(size, '\0');
        for (size_t i = 0; i < size; i++) {
            v[i] = char(i % 7 == 0 ? i % 251 : 'a' + i % 5); // compresses well, not to nothing
        }
        c.echo_binary(got, v);
        CHECK(got == v);
        std::string text(size, 'z');
        text.replace(0, UTF8.size(), UTF8);
        c.echo_string(got, text);
        CHECK(got == text);
    }
    CHECK(c.echo_i32(42) == 42);
}

int
main(int argc, char **argv)
{
    if (argc != 4 && argc != 5) {
        std::cerr << "usage: interop_client_cpp PORT buffered|framed|header|header-zlib "
                     "binary|compact [SERVICE]\n";
        return 2;
    }
    auto sock = std::make_shared<TSocket>("127.0.0.1", std::atoi(argv[1]));
    sock->setRecvTimeout(30000);
    bool compact = std::string(argv[3]) == "compact";
    std::shared_ptr<TTransport> trans;
    std::shared_ptr<TProtocol> proto;
    bool zlib = std::string(argv[2]) == "header-zlib";
    if (std::string(argv[2]) == "header" || zlib) {
        // THeaderProtocol wraps the socket in its own THeaderTransport and
        // names the protocol inside each frame.
        proto = std::make_shared<THeaderProtocol>(sock,
                                                  compact ? T_COMPACT_PROTOCOL : T_BINARY_PROTOCOL);
        trans = proto->getTransport();
        if (zlib) {
            std::dynamic_pointer_cast<THeaderTransport>(trans)->setTransform(
                THeaderTransport::ZLIB_TRANSFORM);
        }
    } else {
        if (std::string(argv[2]) == "framed") {
            trans = std::make_shared<TFramedTransport>(sock);
        } else {
            trans = std::make_shared<TBufferedTransport>(sock);
        }
        if (compact) {
            proto = std::make_shared<TCompactProtocol>(trans);
        } else {
            proto = std::make_shared<TBinaryProtocol>(trans);
        }
    }
    if (argc == 5) {
        proto = std::make_shared<TMultiplexedProtocol>(proto, argv[4]);
    }
    InteropClient client(proto);
    try {
        trans->open();
        if (zlib) {
            run_zlib(client);
        } else {
            run(client);
        }
        trans->close();
    } catch (std::exception &e) {
        std::cout << "FAIL exception: " << e.what() << "\n";
        return 1;
    }
    if (failures) {
        return 1;
    }
    std::cout << "ok\n";
    return 0;
}

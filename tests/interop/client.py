# SPDX-License-Identifier: Apache-2.0
"""Interop client on Apache Thrift's Python library (python3-thrift).
    client.py [--accelerated] GEN_PY_DIR PORT buffered|framed|header binary|compact [SERVICE]
With SERVICE, every call goes through TMultiplexedProtocol under that name.
With --accelerated, structs go through fastbinary, the library's C
extension (TBinaryProtocolAccelerated, TCompactProtocolAccelerated), as
most Python services in production use it; THeaderProtocol uses it anyway.
Calls every method of interop.thrift, prints one line per failed check,
exits 1 on any failure, else prints "ok"."""

import math
import struct
import sys

ACCELERATED = len(sys.argv) > 1 and sys.argv[1] == "--accelerated"
if ACCELERATED:
    del sys.argv[1]
sys.path.insert(0, sys.argv[1])

from interop import Interop  # noqa: E402
from interop.ttypes import (Color, Defaults, Everything, Extremes, Invalid,  # noqa: E402
                            NotFound, Point, Shape)
from thrift.protocol import (TBinaryProtocol, TCompactProtocol, THeaderProtocol,  # noqa: E402
                             TMultiplexedProtocol)
from thrift.Thrift import TApplicationException  # noqa: E402
from thrift.transport import THeaderTransport, TSocket, TTransport  # noqa: E402

failures = 0


def check(cond, what):
    global failures
    if not cond:
        failures += 1
        print("FAIL " + what)


def eq(got, want, what):
    check(got == want, "%s: got %r, want %r" % (what, got, want))


def raises(fn, exc, what):
    try:
        fn()
    except exc as e:
        return e
    except Exception as e:  # noqa: BLE001
        check(False, "%s: raised %r, want %s" % (what, e, exc.__name__))
        return None
    check(False, "%s: returned, want %s" % (what, exc.__name__))
    return None


def bits(d):
    return struct.pack(">d", d)


UTF8 = "h\u00e9llo w\u00f6rld \u2713 \u65e5\u672c\u8a9e \U0001f984"
ALL_BYTES = bytes(range(256))
BIG_BLOB = bytes(i % 251 for i in range(1 << 20))
I64_MIN, I64_MAX = -(1 << 63), (1 << 63) - 1
DOUBLES = [0.1, -1.5, 1.7976931348623157e308, 2.2250738585072014e-308, 5e-324,
           -1.7976931348623157e308, math.inf, -math.inf]


def everything_full():
    return Everything(
        flag=True, tiny=-5, small=-300, medium=70000, large=-(1 << 40), real=-0.25,
        text="\u00fc\u2713", data=b"\x00\x01\xff\x00", color=Color.NEGATIVE,
        point=Point(x=3, y=4), shape=Shape(name="circle"),
        points=[Point(x=1, y=2), Point(x=-3, y=-4)],
        named={"origin": Point(x=0, y=0), "\u00fc": Point(x=5, y=6)},
        ids={-1, 0, 1 << 62}, bits=[True, False, True],
        by_id={-9: "neg", 1 << 40: "big"}, reals=[1.5, -2.25, 1e300],
        by_color={Color.RED: ["r"], Color.BLUE: []},
        opt_text="set", opt_number=0, opt_point=None, opt_list=[],
        far="far", last=I64_MAX)


def extremes_ok(e, what):
    eq(e.i8_min, -128, what + ".i8_min")
    eq(e.i8_max, 127, what + ".i8_max")
    eq(e.i16_min, -32768, what + ".i16_min")
    eq(e.i16_max, 32767, what + ".i16_max")
    eq(e.i32_min, -2147483648, what + ".i32_min")
    eq(e.i32_max, 2147483647, what + ".i32_max")
    eq(e.i64_min, I64_MIN, what + ".i64_min")
    eq(e.i64_max, I64_MAX, what + ".i64_max")
    eq(e.d_max, 1.7976931348623157e308, what + ".d_max")
    eq(e.d_min_normal, 2.2250738585072014e-308, what + ".d_min_normal")
    eq(e.d_min_subnormal, 5e-324, what + ".d_min_subnormal")
    eq(e.d_lowest, -1.7976931348623157e308, what + ".d_lowest")
    eq(e.d_inf, math.inf, what + ".d_inf")
    eq(e.d_ninf, -math.inf, what + ".d_ninf")
    check(math.isnan(e.d_nan), what + ".d_nan: not NaN: %r" % e.d_nan)
    eq(bits(e.d_negzero), bits(-0.0), what + ".d_negzero")
    eq(e.d_tenth, 0.1, what + ".d_tenth")


def run(c):
    c.ping()
    for v in (True, False):
        eq(c.echo_bool(v), v, "echo_bool(%r)" % v)
    for v in (-128, 0, 127):
        eq(c.echo_byte(v), v, "echo_byte(%r)" % v)
    for v in (-32768, -1, 32767):
        eq(c.echo_i16(v), v, "echo_i16(%r)" % v)
    for v in (-2147483648, 0, 2147483647):
        eq(c.echo_i32(v), v, "echo_i32(%r)" % v)
    for v in (I64_MIN, -1, 1 << 32, I64_MAX):
        eq(c.echo_i64(v), v, "echo_i64(%r)" % v)
    for v in DOUBLES:
        eq(c.echo_double(v), v, "echo_double(%r)" % v)
    check(math.isnan(c.echo_double(math.nan)), "echo_double(nan) is not NaN")
    eq(bits(c.echo_double(-0.0)), bits(-0.0), "echo_double(-0.0) sign")
    for v in ("", UTF8):
        eq(c.echo_string(v), v, "echo_string(%r)" % v)
    for v in (b"", ALL_BYTES, BIG_BLOB):
        eq(c.echo_binary(v), v, "echo_binary(%d bytes)" % len(v))
    for v in (Color.RED, Color.NEGATIVE, Color.BIG):
        eq(c.echo_enum(v), v, "echo_enum(%r)" % v)
    for v in ([], [1, -2, 2147483647]):
        eq(c.echo_list(v), v, "echo_list(%r)" % v)
    for v in (set(), {"a", "b", "\u00fc"}):
        eq(c.echo_set(v), v, "echo_set(%r)" % v)
    for v in ({}, {"one": 1, "minus": -1, "\u00fc": 3}):
        eq(c.echo_map(v), v, "echo_map(%r)" % v)
    v = {"a": [[1, 2], [], [3]], "b": []}
    eq(c.echo_nested(v), v, "echo_nested")
    eq(c.echo_point(Point(x=1, y=-2)), Point(x=1, y=-2), "echo_point")
    full = everything_full()
    eq(c.echo_everything(full), full, "echo_everything(full)")
    minimal = Everything(flag=False, tiny=0)
    got = c.echo_everything(minimal)
    eq(got, minimal, "echo_everything(minimal)")
    check(got.opt_text is None and got.opt_number is None and got.opt_point is None
          and got.opt_list is None, "echo_everything(minimal): optional fields came back set")
    for s in (Shape(number=-1), Shape(name=UTF8), Shape(point=Point(x=7, y=8)),
              Shape(numbers=[1, 2, 3]), Shape(blob=b"\x00z\x00")):
        eq(c.echo_shape(s), s, "echo_shape(%r)" % s)
    d = c.defaults()
    eq(d.number, 42, "defaults.number")
    eq(d.big, 1234567890123, "defaults.big")
    eq(d.ratio, -1.5, "defaults.ratio")
    eq(d.text, "h\u00e9llo w\u00f6rld", "defaults.text")
    eq(d.flag, True, "defaults.flag")
    eq(d.color, Color.BLUE, "defaults.color")
    eq(d.numbers, [1, 2, 3], "defaults.numbers")
    eq(d.counts, {"a": 1, "b": 2}, "defaults.counts")
    eq(d.origin, Point(x=1, y=-1), "defaults.origin")
    eq(d.unset, None, "defaults.unset")
    eq(d.opt_number, 5, "defaults.opt_number")
    eq(d.tags, {"x", "y"}, "defaults.tags")
    eq(d, Defaults(), "defaults() == Defaults()")
    extremes_ok(c.extremes(), "extremes()")
    mine = Extremes(i8_min=-128, i8_max=127, i16_min=-32768, i16_max=32767,
                    i32_min=-2147483648, i32_max=2147483647, i64_min=I64_MIN, i64_max=I64_MAX,
                    d_max=1.7976931348623157e308, d_min_normal=2.2250738585072014e-308,
                    d_min_subnormal=5e-324, d_lowest=-1.7976931348623157e308,
                    d_inf=math.inf, d_ninf=-math.inf, d_nan=math.nan, d_negzero=-0.0,
                    d_tenth=0.1)
    eq(c.check_extremes(mine), "", "check_extremes")
    eq(c.multi(-1, -300, 70000, 1 << 40, 2.5, "x \u00fc", True, b"\x00\x01\x02", Color.BIG),
       "-1|-300|70000|1099511627776|2.5|x \u00fc|true|3|2147483647", "multi")
    eq(c.fail(0), 0, "fail(0)")
    e = raises(lambda: c.fail(1), NotFound, "fail(1)")
    if e:
        eq((e.thing, e.code), ("thing", 404), "fail(1) NotFound")
    e = raises(lambda: c.fail(2), Invalid, "fail(2)")
    if e:
        eq((e.why, e.where), ("bad", Point(x=1, y=2)), "fail(2) Invalid")
    e = raises(lambda: c.fail(3), TApplicationException, "fail(3)")
    if e:
        eq(e.type, TApplicationException.INTERNAL_ERROR, "fail(3) type")
    c.ping()
    eq(c.fail_void(0), None, "fail_void(0)")
    e = raises(lambda: c.fail_void(1), NotFound, "fail_void(1)")
    if e:
        eq((e.thing, e.code), ("void", 1), "fail_void(1) NotFound")
    e = raises(c.nothing, TApplicationException, "nothing()")
    if e:
        eq(e.type, TApplicationException.MISSING_RESULT, "nothing() type")
    c.remember("py", 5)
    c.remember("py", 37)
    eq(c.remembered("py"), 42, "remembered after two oneway remember()")
    c.ping()


def main():
    port, transport, protocol = int(sys.argv[2]), sys.argv[3], sys.argv[4]
    service = sys.argv[5] if len(sys.argv) > 5 else None
    sock = TSocket.TSocket("127.0.0.1", port)
    sock.setTimeout(30000)
    if transport == "header":
        # THeaderProtocol makes its own THeaderTransport over the socket and
        # names the protocol inside each frame.
        pid = (THeaderTransport.THeaderSubprotocolID.COMPACT if protocol == "compact"
               else THeaderTransport.THeaderSubprotocolID.BINARY)
        proto = THeaderProtocol.THeaderProtocol(
            sock, [THeaderTransport.THeaderClientType.HEADERS], default_protocol=pid)
        trans = proto.trans
    else:
        trans = (TTransport.TFramedTransport(sock) if transport == "framed"
                 else TTransport.TBufferedTransport(sock))
        if ACCELERATED:
            proto = (TCompactProtocol.TCompactProtocolAccelerated(trans, fallback=False)
                     if protocol == "compact"
                     else TBinaryProtocol.TBinaryProtocolAccelerated(trans, fallback=False))
        else:
            proto = (TCompactProtocol.TCompactProtocol(trans) if protocol == "compact"
                     else TBinaryProtocol.TBinaryProtocol(trans))
    if service is not None:
        proto = TMultiplexedProtocol.TMultiplexedProtocol(proto, service)
    # The generated code takes the C path only with both of these; without
    # them an --accelerated run would quietly test pure Python again.
    if ACCELERATED and not (proto._fast_encode and proto._fast_decode
                            and isinstance(trans, TTransport.CReadableTransport)):
        print("FAIL --accelerated: fastbinary is not in use")
        sys.exit(1)
    trans.open()
    try:
        run(Interop.Client(proto))
    finally:
        trans.close()
    if failures:
        sys.exit(1)
    print("ok")


if __name__ == "__main__":
    main()

#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""Golden bytes from Apache Thrift's Python library, for
tests/spec/golden_spec.lua. Generates Python code for an IDL (default:
tests/fixtures/golden.thrift, which includes idl/alltypes.thrift) with
`thrift -r --gen py` into a temporary folder, then:

  golden_py.py gen [IDL]
      Build the fixed list of named samples below and print, as JSON on
      stdout, each sample's bytes in the binary and compact protocols (hex)
      and the canonical form of the sample's value.

  golden_py.py decode [IDL] < input.json
      Read {"samples": [{name, struct, binary, compact}], "messages":
      [{name, binary, compact}]} with hex bytes made by thriftcorn, decode
      each with Python and print the canonical forms of what Python read.

The canonical form is a string that the Lua spec builds the same way from
Lua values (canon() there): a struct is Name(id:value;...) over its set
fields in id order, a list [a,b], a set <a,b> and a map {k=>v,...} sorted by
their canonical strings, strings and binary s:<hex>, integers i<n>, doubles
d<hex of the big-endian IEEE bits> (any NaN: dnan), booleans T and F. Both
sides sort ASCII strings bytewise, so sets and maps compare by value.

Uses the pure-Python protocols, the reference implementation of the wire
format (the C-accelerated ones write the same bytes). This file is not a
test by itself: tests/CMakeLists.txt only runs integration/test_*.
"""

import importlib
import json
import math
import os
import shutil
import struct
import subprocess
import sys
import tempfile

from thrift.Thrift import TApplicationException, TMessageType, TType
from thrift.protocol import TBinaryProtocol, TCompactProtocol
from thrift.transport import TTransport

HERE = os.path.dirname(os.path.abspath(__file__))
DEFAULT_IDL = os.path.join(HERE, "..", "fixtures", "golden.thrift")
THRIFT = os.environ.get("THRIFT") or shutil.which("thrift") or "/usr/bin/thrift"

PROTOCOLS = {
    "binary": TBinaryProtocol.TBinaryProtocol,
    "compact": TCompactProtocol.TCompactProtocol,
}

INT64_MIN = -(2**63)
INT64_MAX = 2**63 - 1
INT32_MIN = -(2**31)
INT32_MAX = 2**31 - 1
MIB_STRING = "0123456789abcdef" * 65536  # 1 MiB
UTF8_TEXT = "h\u00e9llo w\u00f6rld \u2014 \u2603 \U0001d11e \u65e5\u672c\u8a9e"


def generate(idl, out):
    subprocess.run([THRIFT, "-r", "--gen", "py", "-out", out, idl], check=True,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    sys.path.insert(0, out)


# ---- samples ----

def samples():
    """(name, "module.Struct", value to encode, value expected after decode).
    golden_spec.lua builds the same list in Lua, under the same names; any
    map or set of more than one element is marked unordered there."""
    at = importlib.import_module("alltypes.ttypes")
    g = importlib.import_module("golden.ttypes")
    P = at.Point
    V = at.Value
    C = at.Color
    out = []

    def add(name, sname, value, expect=None):
        out.append((name, sname, value, value if expect is None else expect))

    base = "alltypes.AllBase"
    add("base_zero", base, at.AllBase(a_bool=False, a_byte=0, a_i8=0, a_i16=0, a_i32=0,
                                      a_i64=0, a_double=0.0, a_string="", a_binary=b""))
    add("base_max", base, at.AllBase(a_bool=True, a_byte=127, a_i8=127, a_i16=32767,
                                     a_i32=INT32_MAX, a_i64=INT64_MAX,
                                     a_double=1.7976931348623157e308, a_string="max",
                                     a_binary=b"\xff\xfe\xfd"))
    add("base_min", base, at.AllBase(a_bool=False, a_byte=-128, a_i8=-128, a_i16=-32768,
                                     a_i32=INT32_MIN, a_i64=INT64_MIN, a_double=-5e-324,
                                     a_string="min", a_binary=b"\x00"))
    add("base_minus_one", base, at.AllBase(a_byte=-1, a_i8=-1, a_i16=-1, a_i32=-1, a_i64=-1,
                                           a_double=-1.0))
    add("bool_true_only", base, at.AllBase(a_bool=True))
    add("bool_false_only", base, at.AllBase(a_bool=False))
    add("double_nan", base, at.AllBase(a_double=float("nan")))
    add("double_pinf", base, at.AllBase(a_double=float("inf")))
    add("double_ninf", base, at.AllBase(a_double=float("-inf")))
    add("double_negzero", base, at.AllBase(a_double=-0.0))
    add("double_subnormal", base, at.AllBase(a_double=1e-310))
    add("double_pi", base, at.AllBase(a_double=math.pi))
    add("string_empty", base, at.AllBase(a_string="", a_binary=b""))
    add("string_1mib", base, at.AllBase(a_string=MIB_STRING))
    add("binary_zero_bytes", base, at.AllBase(a_binary=b"\x00\x01\x00\xff\x00"))
    add("binary_all_bytes", base, at.AllBase(a_binary=bytes(range(256))))
    add("string_utf8", base, at.AllBase(a_string=UTF8_TEXT))
    add("string_128", base, at.AllBase(a_string="y" * 128))
    add("empty_struct", base, at.AllBase())

    add("point_optional_unset", "alltypes.Point", P(x=1, y=2))
    add("point_optional_set", "alltypes.Point", P(x=1, y=2, label="L"))
    add("requiredness_min", "alltypes.Requiredness", at.Requiredness(req=0))
    add("requiredness_all", "alltypes.Requiredness", at.Requiredness(req=-7, opt=8, dflt=9))

    add("defaults_alltypes", "alltypes.Defaults", at.Defaults())
    add("defaults_constructed", "golden.WithDefaults", g.WithDefaults())
    absent = g.WithDefaults(n=None, s=None, l=None, opt_s=None, c=None, p=None, mp=None,
                            d=None, flag=None)
    add("defaults_absent", "golden.WithDefaults", absent, g.WithDefaults())
    add("defaults_overridden", "golden.WithDefaults",
        g.WithDefaults(n=-1, s="", l=[], opt=5, opt_s="p", c=C.RED, p=P(x=0, y=0), mp={},
                       d=-0.5, flag=True))

    add("union_int", "alltypes.Value", V(int_value=INT64_MIN))
    add("union_double", "alltypes.Value", V(double_value=2.5))
    add("union_string", "alltypes.Value", V(string_value="u"))
    add("union_list", "alltypes.Value",
        V(list_value=[V(int_value=1), V(list_value=[]), V(map_value={"k": V(string_value="v")})]))
    add("union_map", "alltypes.Value", V(map_value={"only": V(double_value=-0.0)}))
    add("union_empty", "alltypes.Value", V())

    add("enums", "alltypes.Everything",
        at.Everything(color=C.BLUE, implicit=at.Implicit.NEG_NEXT))
    add("enums_in_containers", "alltypes.Containers",
        at.Containers(color_maps=[{C.RED: P(x=1, y=1)}, {}], color_sets={C.GREEN: {C.BLUE}}))

    add("lists", "golden.Lists", g.Lists(
        short14=list(range(14)), long15=list(range(-7, 8)), bools=[True, False, True],
        doubles=[0.0, -0.0, 1.5, -2.25, 1e-310, 5e-324, 1.7976931348623157e308,
                 float("inf"), float("-inf")],
        bytes=[-128, -1, 0, 127], strings=["", "a", "\u00e9", "x" * 200],
        one_set={"x"}, one_map={-1: 0.25}, empties=[[], [], []], empty_map={},
        empty_set=set(), points=[P(x=1, y=2), P(x=3, y=4, label="")],
        blobs=[b"", b"\x00", b"\x00\x00"], bool_keys={True: -1},
        longs=[0, 1, -1, 63, -64, 64, -65, 8191, -8192, 8192, INT32_MAX, INT32_MIN,
               2**32, 2**53 + 1, 2**62, INT64_MAX, INT64_MIN]))
    add("lists_long", "golden.Lists", g.Lists(
        short14=list(range(1000)), bools=[i % 3 == 0 for i in range(40)],
        doubles=[float(i) / 8 for i in range(20)], strings=["s%d" % i for i in range(16)]))
    add("empty_containers", "golden.Lists", g.Lists(
        short14=[], long15=[], bools=[], doubles=[], bytes=[], strings=[], one_set=set(),
        one_map={}, empties=[], empty_map={}, empty_set=set(), points=[], blobs=[],
        bool_keys={}, longs=[]))
    add("empty_containers_alltypes", "alltypes.Containers", at.Containers(
        bools=[], shorts=[], longs=set(), deep={}, points_by_id={}, color_maps=[], tags=set(),
        cube=[], named_points={}, ints=[], blobs=[], color_sets={}))

    add("nested", "golden.Nested", g.Nested(
        lmli=[{"a": [1, 2, 3]}, {}, {"b": []}],
        struct_in_list_in_map={"k": [P(x=1, y=2), P(x=-3, y=-4, label="lbl")]},
        values=[V(int_value=1), V(string_value="s")],
        value_by_id={7: V(list_value=[V(double_value=2.5),
                                      V(map_value={"m": V(int_value=-1)})])},
        list_of_sets=[{"only"}, set()]))
    add("nested_unordered", "golden.Nested", g.Nested(
        lmli=[{"a": [1], "b": [2, 3], "c": []}, {"d": [-1], "e": [INT32_MIN, INT32_MAX]}],
        struct_in_list_in_map={"p": [P(x=1, y=1)], "q": [], "r": [P(x=2, y=2, label="r")]},
        value_by_id={1: V(int_value=1), -1: V(map_value={"x": V(int_value=2),
                                                         "y": V(string_value="z")})},
        list_of_sets=[{"a", "b", "c"}, {"d"}]))
    add("containers_one", "alltypes.Containers", at.Containers(
        bools=[True], shorts=[-32768, 32767], longs={INT64_MIN},
        deep={"d": [{1}, set()]}, points_by_id={5: {"p": P(x=5, y=6)}},
        color_maps=[{C.BLUE: P(x=0, y=0, label="o")}], tags={"t"},
        cube=[[[1.0, 2.0], []], []], named_points={"n": P(x=9, y=9)}, ints=[3, 2, 1],
        blobs=[b"\x00\xff"], color_sets={C.RED: set()}))
    add("containers_unordered", "alltypes.Containers", at.Containers(
        longs={1, 2, 3, INT64_MIN, INT64_MAX}, deep={"a": [{1, 2, 3}], "b": []},
        points_by_id={1: {"p": P(x=1, y=1), "q": P(x=2, y=2)}, 2: {}},
        tags={"x", "y", "z", ""}, named_points={"n": P(x=1, y=1), "m": P(x=2, y=2)},
        color_sets={C.RED: {C.GREEN, C.BLUE}, C.BLUE: {C.RED}}))

    add("sparse_all", "golden.Sparse", g.Sparse(
        hundred=True, first=False, twenty=-1.5, last="z", second=INT64_MAX, seventeen=True))
    add("sparse_some", "golden.Sparse", g.Sparse(hundred=False, last=""))
    add("tree", "alltypes.Tree", at.Tree(name="root", children=[
        at.Tree(name="a", children=[at.Tree(name="b")]), at.Tree(name="c", children=[])]))
    add("exception", "alltypes.Failure", at.Failure(message="m", code=INT32_MIN))
    add("everything", "alltypes.Everything", at.Everything(
        base=at.AllBase(a_bool=True, a_byte=1, a_i8=2, a_i16=3, a_i32=4, a_i64=5,
                        a_double=6.5, a_string="seven", a_binary=b"\x08"),
        containers=at.Containers(ints=[1], tags={"tag"}),
        value=V(string_value="v"),
        tree=at.Tree(name="t"),
        color=C.GREEN,
        implicit=at.Implicit.ZERO,
        defaults=at.Defaults(),
        point_lists={"pl": [P(x=1, y=2)]},
        req=at.Requiredness(req=1, opt=2)))
    return out


def messages():
    """(name, service function, message type, seqid, args/result value or a
    TApplicationException). The Lua spec builds the same list."""
    at = importlib.import_module("alltypes.ttypes")
    svc = importlib.import_module("alltypes.AllTypes")
    gsvc = importlib.import_module("golden.Golden")
    g = importlib.import_module("golden.ttypes")
    appex = TApplicationException
    return [
        ("call_add", "add", TMessageType.CALL, 1, svc.add_args(a=1, b=-2)),
        ("reply_add", "add", TMessageType.REPLY, INT32_MAX, svc.add_result(success=3)),
        ("reply_add_failure", "add", TMessageType.REPLY, -1,
         svc.add_result(failure=at.Failure(message="boom", code=7))),
        ("call_nothing", "nothing", TMessageType.CALL, 0, svc.nothing_args()),
        ("reply_nothing", "nothing", TMessageType.REPLY, INT32_MIN, svc.nothing_result()),
        ("oneway_fire", "fire", TMessageType.ONEWAY, 12345, svc.fire_args(what="x")),
        ("call_sparse", "sparse", TMessageType.CALL, 300,
         gsvc.sparse_args(s=g.Sparse(hundred=True, last="l"), n=INT64_MIN)),
        ("reply_defaults", "defaults", TMessageType.REPLY, 2,
         gsvc.defaults_result(success=g.WithDefaults())),
        ("exception_unknown_method", "nope", TMessageType.EXCEPTION, 5,
         appex(appex.UNKNOWN_METHOD, "Invalid method name: 'nope'")),
        ("exception_no_message", "add", TMessageType.EXCEPTION, -2,
         appex(appex.INTERNAL_ERROR)),
    ]


# ---- canonical form ----

def hexs(b):
    return b.hex()


def canon(v):
    if isinstance(v, bool):
        return "T" if v else "F"
    if isinstance(v, int):
        return "i%d" % v
    if isinstance(v, float):
        if math.isnan(v):
            return "dnan"
        return "d" + struct.pack(">d", v).hex()
    if isinstance(v, str):
        return "s:" + hexs(v.encode("utf-8"))
    if isinstance(v, (bytes, bytearray)):
        return "s:" + hexs(bytes(v))
    if isinstance(v, list):
        return "[" + ",".join(canon(x) for x in v) + "]"
    if isinstance(v, (set, frozenset)):
        return "<" + ",".join(sorted(canon(x) for x in v)) + ">"
    if isinstance(v, dict):
        return "{" + ",".join(sorted(canon(k) + "=>" + canon(x) for k, x in v.items())) + "}"
    if isinstance(v, TApplicationException):
        msg = "-" if v.message is None else canon(v.message)
        return "appex(i%d;%s)" % (v.type, msg)
    spec = getattr(v, "thrift_spec", None)
    if spec is not None:
        parts = []
        for f in sorted((f for f in spec if f is not None), key=lambda f: f[0]):
            x = getattr(v, f[2])
            if x is not None:
                parts.append("%d:%s" % (f[0], canon(x)))
        return "%s(%s)" % (type(v).__name__, ";".join(parts))
    raise TypeError("no canonical form for %r" % (v,))


# ---- bytes ----

def encode(value, proto):
    buf = TTransport.TMemoryBuffer()
    value.write(PROTOCOLS[proto](buf))
    return buf.getvalue()


def encode_message(fname, mtype, seqid, value, proto):
    buf = TTransport.TMemoryBuffer()
    p = PROTOCOLS[proto](buf)
    p.writeMessageBegin(fname, mtype, seqid)
    value.write(p)
    p.writeMessageEnd()
    return buf.getvalue()


def leftover(buf, data):
    n = len(data) - buf._buffer.tell()
    return "" if n == 0 else " +%d bytes left" % n


def struct_class(sname):
    mod, name = sname.split(".")
    return getattr(importlib.import_module(mod + ".ttypes"), name)


def decode(sname, data, proto):
    buf = TTransport.TMemoryBuffer(data)
    obj = struct_class(sname)()
    # exceptions are immutable: their read() is a classmethod returning the value
    read = obj.read(PROTOCOLS[proto](buf))
    return canon(obj if read is None else read) + leftover(buf, data)


def message_class(fname, mtype):
    suffix = "_result" if mtype == TMessageType.REPLY else "_args"
    for mod in ("golden.Golden", "alltypes.AllTypes"):
        cls = getattr(importlib.import_module(mod), fname + suffix, None)
        if cls is not None:
            return cls
    raise KeyError("no function %s" % fname)


def decode_message(data, proto):
    buf = TTransport.TMemoryBuffer(data)
    p = PROTOCOLS[proto](buf)
    fname, mtype, seqid = p.readMessageBegin()
    if mtype == TMessageType.EXCEPTION:
        body = TApplicationException()
    else:
        body = message_class(fname, mtype)()
    body.read(p)
    p.readMessageEnd()
    return "msg(%s;i%d;i%d;%s)%s" % (canon(fname), mtype, seqid, canon(body),
                                     leftover(buf, data))


def guarded(fn, *args):
    """Python's verdict on thriftcorn's bytes: a canonical form or an error."""
    try:
        return fn(*args)
    except Exception as e:  # noqa: BLE001 - any failure is a finding
        return "error: %s: %s" % (type(e).__name__, e)


# ---- modes ----

def mode_gen():
    out = {"samples": {}, "messages": {}}
    for name, sname, value, expect in samples():
        entry = {"struct": sname, "canon": canon(value), "expect": canon(expect)}
        for proto in PROTOCOLS:
            entry[proto] = encode(value, proto).hex()
        out["samples"][name] = entry
    for name, fname, mtype, seqid, value in messages():
        entry = {"canon": "msg(%s;i%d;i%d;%s)" % (canon(fname), mtype, seqid, canon(value))}
        for proto in PROTOCOLS:
            entry[proto] = encode_message(fname, mtype, seqid, value, proto).hex()
        out["messages"][name] = entry
    return out


def mode_decode(inp):
    out = {"samples": {}, "messages": {}}
    for s in inp.get("samples", []):
        out["samples"][s["name"]] = {
            proto: guarded(decode, s["struct"], bytes.fromhex(s[proto]), proto)
            for proto in PROTOCOLS if proto in s}
    for m in inp.get("messages", []):
        out["messages"][m["name"]] = {
            proto: guarded(decode_message, bytes.fromhex(m[proto]), proto)
            for proto in PROTOCOLS if proto in m}
    return out


def main(argv):
    if len(argv) < 2 or argv[1] not in ("gen", "decode"):
        sys.stderr.write("usage: golden_py.py gen|decode [IDL] [< input.json]\n")
        return 2
    idl = os.path.abspath(argv[2] if len(argv) > 2 else DEFAULT_IDL)
    with tempfile.TemporaryDirectory(prefix="tc-golden-py-") as tmp:
        generate(idl, tmp)
        if argv[1] == "gen":
            out = mode_gen()
        else:
            out = mode_decode(json.load(sys.stdin))
    json.dump(out, sys.stdout, sort_keys=True)
    sys.stdout.write("\n")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))

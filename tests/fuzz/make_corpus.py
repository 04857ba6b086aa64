#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""Write the seed corpus of the fuzz drivers: tests/fuzz/corpus/<target>/.

Valid messages come from Apache Thrift's Python library (python3-thrift)
over code that `thrift --gen py` makes from the fixture IDL and the bench
IDL; invalid ones are cut, patched or written by hand. Names say what the
replay expects: "ok-*" must be accepted, "bad-*" refused (see fuzz.h).
The output is deterministic; run it again after changing the fixtures:

    /usr/bin/python3 tests/fuzz/make_corpus.py

Crashers found by fuzzing are kept by hand as corpus/<target>/crash-*.
"""
import math
import os
import shutil
import struct
import subprocess
import sys
import tempfile
import zlib

# Sets of strings are written in hash order: fix the seed so the output is the same every run.
if os.environ.get("PYTHONHASHSEED") != "0":
    os.environ["PYTHONHASHSEED"] = "0"
    os.execv(sys.executable, [sys.executable] + sys.argv)

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
CORPUS = os.path.join(HERE, "corpus")
IDLS = [os.path.join(ROOT, "tests", "fixtures", "idl", "alltypes.thrift"),
        os.path.join(ROOT, "tests", "fixtures", "multi", "headers.thrift"),
        os.path.join(ROOT, "bench", "bench.thrift")]

# The structs fuzz_decode picks from with its first byte, in its order.
DECODE_STRUCTS = ["Everything", "AllBase", "Containers", "Value", "Tree", "Defaults",
                  "Requiredness", "Point", "Failure", "echo_args", "evaluate_args",
                  "evaluate_result", "add_result"]

gen = tempfile.mkdtemp(prefix="tc-corpus-")
for idl in IDLS:
    subprocess.run(["thrift", "--gen", "py", "-out", gen, idl], check=True,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
sys.path.insert(0, gen)

from thrift.Thrift import TApplicationException, TMessageType  # noqa: E402
from thrift.protocol import TBinaryProtocol, TCompactProtocol  # noqa: E402
from thrift.transport import THeaderTransport, TTransport  # noqa: E402

import alltypes.AllTypes as svc  # noqa: E402
from alltypes.ttypes import (AllBase, Color, Containers, Defaults, Everything,  # noqa: E402
                             Failure, Implicit, Point, Requiredness, Tree, Value)
import bench.Bench as bench_svc  # noqa: E402
import headers.HeaderService as hdr_svc  # noqa: E402
from bench.ttypes import Item  # noqa: E402


def proto(kind, trans):
    if kind == "binary":
        return TBinaryProtocol.TBinaryProtocol(trans)
    if kind == "binary-nonstrict":
        return TBinaryProtocol.TBinaryProtocol(trans, strictWrite=False)
    return TCompactProtocol.TCompactProtocol(trans)


def struct_bytes(kind, obj):
    buf = TTransport.TMemoryBuffer()
    obj.write(proto(kind, buf))
    return buf.getvalue()


def message(kind, name, mtype, seqid, obj):
    buf = TTransport.TMemoryBuffer()
    p = proto(kind, buf)
    p.writeMessageBegin(name, mtype, seqid)
    obj.write(p)
    p.writeMessageEnd()
    return buf.getvalue()


def framed(msg):
    return struct.pack(">i", len(msg)) + msg


# ---- values ----

def tree(depth):
    t = Tree(name="leaf")
    for i in range(depth):
        t = Tree(name="n%d" % i, children=[t])
    return t


def nested_value(depth):
    v = Value(int_value=1)
    for i in range(depth):
        v = Value(list_value=[v]) if i % 2 else Value(map_value={"k": v})
    return v


ALLBASE = AllBase(a_bool=True, a_byte=-128, a_i8=127, a_i16=-32768, a_i32=2**31 - 1,
                  a_i64=-2**63, a_double=-0.0, a_string="h\u00e9llo \u2603",
                  a_binary=b"\x00\xff\x80")
CONTAINERS = Containers(
    bools=[True, False, True], shorts=[0, -1, 32767], longs={2**40, -7},
    deep={"a": [{1, 2}, set()], "": []},
    points_by_id={1: {"p": Point(x=1, y=2, label="one")}, -2: {}},
    color_maps=[{Color.RED: Point(x=0, y=0)}, {}], tags={"x", "y", "z"},
    cube=[[[1.5, float("inf")], []], [[float("nan"), -2.25]]],
    named_points={"o": Point(x=0, y=0)}, ints=list(range(20)), blobs=[b"", b"\x01" * 17],
    color_sets={Color.BLUE: {Color.RED, Color.GREEN}})
EVERYTHING = Everything(
    base=ALLBASE, containers=CONTAINERS, value=Value(string_value="v"), tree=tree(3),
    color=Color.GREEN, implicit=Implicit.NEG_NEXT, defaults=Defaults(),
    point_lists={"line": [Point(x=1, y=1), Point(x=2, y=2, label="b")]},
    req=Requiredness(req=1, opt=2, dflt=3))

DECODE_VALUES = {
    "Everything": [EVERYTHING, Everything()],
    "AllBase": [ALLBASE, AllBase(a_double=math.pi, a_string="")],
    "Containers": [CONTAINERS, Containers(bools=[], deep={})],
    "Value": [Value(double_value=1e300), nested_value(8)],
    "Tree": [tree(0), tree(20)],
    "Defaults": [Defaults(), Defaults(li=[], m={}, p=Point(x=-1, y=-2))],
    "Requiredness": [Requiredness(req=0), Requiredness(req=-1, opt=5, dflt=6)],
    "Point": [Point(x=1, y=2), Point(x=3, y=4, label="p" * 40)],
    "Failure": [Failure(message="boom", code=418)],
    "echo_args": [svc.echo_args(e=EVERYTHING)],
    "evaluate_args": [svc.evaluate_args(v=nested_value(3), env={"x": Value(int_value=2)})],
    "evaluate_result": [svc.evaluate_result(success=Value(int_value=-5)),
                        svc.evaluate_result(failure=Failure(message="no", code=1))],
    "add_result": [svc.add_result(success=3)],
}

ITEM = Item(id=42, name="item-42", score=21.0, tags=[42, 43, 44], attrs={"k": "v42"}, flag=True)


# ---- hand-made bytes ----

def binary_struct_deep(depth):
    """A struct holding a struct ... 'depth' levels, field 1 each time."""
    return b"\x0c\x00\x01" * (depth - 1) + b"\x00" * depth


def compact_struct_deep(depth):
    return b"\x1c" * (depth - 1) + b"\x00" * depth


def binary_call(body, name=b"echo", mtype=1, seqid=7):
    return struct.pack(">Ii", 0x80010000 | mtype, len(name)) + name + struct.pack(">i", seqid) + body


def compact_call(body, name=b"echo", mtype=1, seqid=7):
    return bytes([0x82, 0x01 | (mtype << 5), seqid, len(name)]) + name + body


# Every wire type as an unknown field, uuid included (Thrift 0.17's Python has none).
BINARY_ALL_TYPES = (
    b"\x02\x00\x01\x01" b"\x03\x00\x02\xff" b"\x04\x00\x03" + struct.pack(">d", 2.5) +
    b"\x06\x00\x04\x80\x00" b"\x08\x00\x05\x7f\xff\xff\xff" b"\x0a\x00\x06" + b"\x01" * 8 +
    b"\x0b\x00\x07\x00\x00\x00\x03abc" b"\x0c\x00\x08\x08\x00\x01\x00\x00\x00\x01\x00" +
    b"\x0d\x00\x09\x0b\x08\x00\x00\x00\x01\x00\x00\x00\x01k\x00\x00\x00\x02" +
    b"\x0e\x00\x0a\x0a\x00\x00\x00\x01" + b"\x00" * 8 +
    b"\x0f\x00\x0b\x0f\x00\x00\x00\x02\x02\x00\x00\x00\x00\x03\x00\x00\x00\x01\x05" +
    b"\x10\x00\x0c" + bytes(range(16)) + b"\x00")
COMPACT_ALL_TYPES = (
    b"\x11" b"\x13\xff" b"\x17" + struct.pack("<d", 2.5) + b"\x14\x03" b"\x15\xfe\xff\xff\xff\x0f"
    b"\x16\x02" b"\x18\x03abc" b"\x1c\x15\x02\x00" b"\x1b\x01\x85\x01k\x04" b"\x1a\x16\x02"
    b"\x19\x29\x11\x01\x05" b"\x1d" + bytes(range(16)) + b"\x00")


def write(target, name, data):
    d = os.path.join(CORPUS, target)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, name), "wb") as f:
        f.write(data)


def proto_seeds():
    calls = {
        "echo": (TMessageType.CALL, svc.echo_args(e=EVERYTHING)),
        "echo-empty": (TMessageType.CALL, svc.echo_args(e=Everything())),
        "nothing": (TMessageType.CALL, svc.nothing_args()),
        "fire": (TMessageType.ONEWAY, svc.fire_args(what="x" * 20)),
        "add": (TMessageType.CALL, svc.add_args(a=1, b=-2)),
        "add-reply": (TMessageType.REPLY, svc.add_result(success=-1)),
        "add-failure": (TMessageType.REPLY, svc.add_result(failure=Failure(message="m"))),
        "evaluate": (TMessageType.CALL, svc.evaluate_args(v=nested_value(6), env={})),
        "appex": (TMessageType.EXCEPTION, TApplicationException(1, "unknown method")),
        "bench-roundtrip": (TMessageType.CALL, bench_svc.roundtrip_args(item=ITEM)),
    }
    for kind, target, call, deep in (("binary", "fuzz_binary", binary_call, binary_struct_deep),
                                     ("compact", "fuzz_compact", compact_call,
                                      compact_struct_deep)):
        msgs = {}
        for name, (mtype, obj) in calls.items():
            fname = name.split("-")[0] if name != "bench-roundtrip" else "roundtrip"
            msgs[name] = message(kind, fname, mtype, 7, obj)
            write(target, "ok-%s" % name, msgs[name])
        if kind == "binary":
            write(target, "ok-nonstrict", message("binary-nonstrict", "add", TMessageType.CALL,
                                                  9, svc.add_args(a=5, b=6)))
            alltypes = BINARY_ALL_TYPES
        else:
            alltypes = COMPACT_ALL_TYPES
        write(target, "ok-pipelined", msgs["add"] + msgs["nothing"] + msgs["fire"])
        write(target, "ok-unknown-fields", call(alltypes))
        write(target, "ok-depth-63", call(deep(63)))
        write(target, "bad-depth-70", call(deep(70)))
        write(target, "bad-empty", b"")
        write(target, "bad-truncated", msgs["echo"][: len(msgs["echo"]) // 2])
        write(target, "bad-trailing", msgs["add"] + b"\x80")
        write(target, "bad-type-0", call(b"\x00", mtype=0))
        write(target, "bad-type-5", call(b"\x00", mtype=5))
        if kind == "binary":
            write(target, "bad-version", b"\x80\x02\x00\x01" + msgs["add"][4:])
            write(target, "bad-field-type", call(b"\x05\x00\x01\x00"))
            write(target, "bad-negative-string", call(b"\x0b\x00\x01\xff\xff\xff\xff\x00"))
            write(target, "bad-negative-list", call(b"\x0f\x00\x01\x08\xff\xff\xff\xfe\x00"))
            write(target, "bad-list-count", call(b"\x0f\x00\x01\x08\x10\x00\x00\x00\x00"))
            write(target, "bad-map-key-type", call(b"\x0d\x00\x01\x01\x08\x00\x00\x00\x00\x00"))
            write(target, "bad-empty-list-type", call(b"\x0f\x00\x01\x11\x00\x00\x00\x00\x00"))
        else:
            write(target, "bad-protocol-id", b"\x81" + msgs["add"][1:])
            write(target, "bad-version", b"\x82\x22" + msgs["add"][2:])
            write(target, "bad-field-type", call(b"\x1e\x00"))
            # varints of 10 bytes are taken for every width (as Apache C++), 11 are not
            write(target, "ok-padded-varints", call(b"\x15\x82" + b"\x80" * 8 + b"\x00\x00"))
            write(target, "bad-long-varint", call(b"\x15" + b"\xff" * 10 + b"\x01\x00"))
            write(target, "bad-negative-string", call(b"\x18\xff\xff\xff\xff\x0f\x00"))
            write(target, "bad-list-count", call(b"\x19\xf5\x80\x80\x04\x00"))
            write(target, "bad-map-types", call(b"\x1b\x01\xe5\x00\x00\x00"))
            write(target, "bad-empty-list-type", call(b"\x19\x0e\x00"))


def framing_seeds():
    add = svc.add_args(a=1, b=2)
    for pbit, kind in ((0, "binary"), (1, "compact")):
        msgs = [message(kind, "add", TMessageType.CALL, i, add) for i in range(3)]
        echo = message(kind, "echo", TMessageType.CALL, 1, svc.echo_args(e=EVERYTHING))
        bench = message(kind, "roundtrip", TMessageType.CALL, 1,
                        bench_svc.roundtrip_args(item=ITEM))
        for tbit, tname in ((0, "framed"), (2, "buffered")):
            wrap = framed if tname == "framed" else (lambda m: m)

            def sel(limit):
                return bytes([pbit | tbit | (limit << 2)])

            pre = "%s-%s" % (tname, kind)
            write("fuzz_framing", "ok-%s-one" % pre, sel(3) + wrap(msgs[0]))
            write("fuzz_framing", "ok-%s-pipelined" % pre, sel(2) + b"".join(map(wrap, msgs)))
            write("fuzz_framing", "ok-%s-echo" % pre, sel(3) + wrap(echo))
            write("fuzz_framing", "ok-%s-bench" % pre, sel(2) + wrap(bench))
            write("fuzz_framing", "bad-%s-over-limit" % pre, sel(0) + wrap(echo))
            write("fuzz_framing", "bad-%s-partial" % pre,
                  sel(3) + wrap(msgs[0]) + wrap(msgs[1])[:-3])
            write("fuzz_framing", "bad-%s-garbage" % pre, sel(3) + b"\xff\xfe\xfd\xfc\xfb\xfa")
        write("fuzz_framing", "bad-framed-%s-zero" % kind, bytes([pbit]) + b"\x00\x00\x00\x00")
        write("fuzz_framing", "bad-framed-%s-negative" % kind,
              bytes([pbit | 12]) + b"\xff\xff\xff\xf0" + msgs[0])
        write("fuzz_framing", "bad-framed-%s-body" % kind,
              bytes([pbit | 12]) + framed(b"\x00\x01garbage"))
        write("fuzz_framing", "bad-framed-%s-body-trailing" % kind,
              bytes([pbit | 12]) + framed(msgs[0] + b"\x00"))


def theader(pid, msg, seqid=7, headers=(), transforms=(), flags=0):
    """A THeader frame as python3-thrift's THeaderTransport writes it."""
    buf = TTransport.TMemoryBuffer()
    t = THeaderTransport.THeaderTransport(buf, [THeaderTransport.THeaderClientType.HEADERS], pid)
    t.sequence_id = seqid
    t.flags = flags
    for k, v in headers:
        t.set_header(k, v)
    for x in transforms:
        t.add_transform(x)
    t.write(msg)
    t.flush()
    return buf.getvalue()


def theader_raw(block, payload, seqid=7, words=None):
    """A THeader frame by hand: `block` padded to whole words (or `words` claimed)."""
    block += b"\x00" * (-len(block) % 4)
    body = (struct.pack(">HHiH", 0x0FFF, 0, seqid, len(block) // 4 if words is None else words)
            + block + payload)
    return struct.pack(">i", len(body)) + body


def header_seeds():
    zlib_id = THeaderTransport.THeaderTransformID.ZLIB
    kv = [(b"k", b"v"), (b"request-id", b"42"), (b"", b""), (b"bin", bytes(range(256)))]
    for kind, pid in (("binary", 0), ("compact", 2)):
        add = message(kind, "add", TMessageType.CALL, 7, svc.add_args(a=1, b=2))
        echo = message(kind, "echo", TMessageType.CALL, 8, svc.echo_args(e=EVERYTHING))
        write("fuzz_header", "ok-%s" % kind, theader(pid, add))
        write("fuzz_header", "ok-%s-echo" % kind, theader(pid, echo, seqid=8))
        write("fuzz_header", "ok-%s-headers" % kind, theader(pid, add, headers=kv))
        # an odd sequence id: the driver also fills the reply's headers to their limit
        write("fuzz_header", "ok-%s-headers-fill" % kind,
              theader(pid, add, seqid=9, headers=kv[:2]))
        write("fuzz_header", "ok-%s-zlib" % kind,
              theader(pid, echo, seqid=8, headers=kv[:1], transforms=[zlib_id]))
        write("fuzz_header", "ok-%s-zlib-twice" % kind,
              theader(pid, echo, seqid=8, transforms=[zlib_id, zlib_id]))
        write("fuzz_header", "ok-%s-pipelined" % kind,
              theader(pid, add, seqid=1) + theader(pid, echo, seqid=2, headers=kv)
              + theader(pid, add, seqid=3, transforms=[zlib_id]))
        write("fuzz_header", "bad-%s-transform-snappy" % kind,
              theader_raw(bytes([pid, 1, 3]), add))
        write("fuzz_header", "bad-%s-transform-after-zlib" % kind,
              theader_raw(bytes([pid, 2, 1, 3]), add))
        write("fuzz_header", "bad-%s-zlib-garbage" % kind, theader_raw(bytes([pid, 1, 1]), add))
    add = message("binary", "add", TMessageType.CALL, 7, svc.add_args(a=1, b=2))
    write("fuzz_header", "ok-many-headers",
          theader(0, add, headers=[(b"h%d" % i, b"v" * i) for i in range(20)]))
    write("fuzz_header", "ok-flags", theader(2, add, flags=1, seqid=-1))
    # an info header type thriftcorn does not know ends the info headers
    write("fuzz_header", "ok-unknown-info-type",
          theader_raw(b"\x00\x00\x01\x01\x01k\x01v\x07\x01\x01x", add))
    write("fuzz_header", "bad-protocol-json", theader_raw(b"\x01\x00", add))
    write("fuzz_header", "bad-protocol-max", theader_raw(b"\xff\xff\xff\xff\x0f\x00", add))
    write("fuzz_header", "bad-zlib-over-cap",
          theader(0, b"\x00" * 100000, transforms=[zlib_id]))
    # 3 ZLIB layers of 3000 bytes each (stored inside): each within the driver's cap of 4096,
    # together over twice it
    layers = b"\x00" * 3000
    for level in (0, 0, 9):
        z = zlib.compressobj(level)
        layers = z.compress(layers) + z.flush()
    write("fuzz_header", "bad-zlib-layers-over-budget",
          theader_raw(b"\x00\x03\x01\x01\x01", layers))
    write("fuzz_header", "bad-too-many-transforms", theader_raw(b"\x00\x11" + b"\x01" * 17, add))
    write("fuzz_header", "bad-header-size", theader_raw(b"\x00\x00", add, words=100))
    write("fuzz_header", "bad-info-past-block", theader_raw(b"\x00\x00\x01" + b"\xe8\x07", add))
    write("fuzz_header", "bad-varint-long", theader_raw(b"\x80\x80\x80\x80\x80\x01", add))
    ok = theader(0, add, headers=kv[:1])
    write("fuzz_header", "bad-truncated", ok[:-3])
    write("fuzz_header", "bad-trailing", ok + b"\x00\x00")
    write("fuzz_header", "bad-short-frame", struct.pack(">iHHH", 6, 0x0FFF, 0, 0))
    write("fuzz_header", "bad-no-magic", framed(add))
    write("fuzz_header", "bad-empty", b"")


def conn_sel(transport="auto", protocol="auto", small=False, pieces=0, lazy=False):
    """fuzz_conn's byte 0: transport, protocol ("moves": auto, and the connection moves between
    two loops), small limits, how the stream is cut, lazy reader."""
    t = ("auto", "framed", "buffered", "header").index(transport)
    p = ("auto", "binary", "compact", "moves").index(protocol)
    return bytes([t | p << 2 | small << 4 | pieces << 5 | lazy << 7])


def conn_seeds():
    zlib_id = THeaderTransport.THeaderTransformID.ZLIB
    add = {kind: [message(kind, "add", TMessageType.CALL, i, svc.add_args(a=1, b=2))
                  for i in range(3)] for kind in ("binary", "compact")}
    echo = message("compact", "echo", TMessageType.CALL, 8, svc.echo_args(e=EVERYTHING))
    ping = binary_call(b"\x00", name=b"ping", seqid=1)

    def w(name, data):
        write("fuzz_conn", name, data)

    w("ok-framed-binary-ping", conn_sel("framed", "binary", pieces=2) + framed(ping))
    # detected from the first bytes, which arrive one at a time
    w("ok-auto-buffered-compact-add", conn_sel(pieces=1) + add["compact"][0])
    w("ok-buffered-compact-echo", conn_sel("buffered", "compact", pieces=3) + echo)
    w("ok-auto-framed-compact-pipelined",
      conn_sel(pieces=3) + b"".join(map(framed, add["compact"])))
    w("ok-auto-buffered-binary-pipelined", conn_sel(protocol="binary", pieces=2)
      + b"".join(add["binary"]))
    w("ok-header-binary", conn_sel("header", pieces=2)
      + theader(0, add["binary"][0], headers=[(b"k", b"v")]))
    w("ok-auto-header-compact-zlib", conn_sel() + theader(2, echo, seqid=8, transforms=[zlib_id]))
    # a message ending in 0xfe gets no reply
    w("ok-framed-no-reply", conn_sel("framed", "binary", pieces=2)
      + framed(add["binary"][0]) + framed(b"no reply\xfe") + framed(add["binary"][1]))
    # a client that does not read: 18 replies of 256 KiB, more than OUT_HIGH_WATER
    w("ok-framed-binary-backpressure", conn_sel("framed", "binary", lazy=True)
      + b"".join(framed(message("binary", "add", TMessageType.CALL, i, svc.add_args(a=i, b=1)))
                 for i in range(24)))
    # moved between two loops while its calls come in pieces, and while it lingers
    w("ok-moves-buffered-binary-pipelined", conn_sel(protocol="moves", pieces=2)
      + b"".join(add["binary"]) + add["binary"][0])
    w("bad-moves-owner-refuses", conn_sel(protocol="moves", pieces=1)
      + framed(add["binary"][0]) + framed(b"refused\xff") + framed(add["binary"][1]))
    # a graceful stop after the last call (0xfd), and the end of its wait with replies owed (0xfc)
    w("ok-framed-stop-after-last", conn_sel("framed", "binary")
      + framed(add["binary"][0]) + framed(add["binary"][1]) + framed(b"stop\xfd"))
    w("ok-lazy-stop-replies-owed", conn_sel("framed", "binary", lazy=True)
      + b"".join(map(framed, add["binary"])) + framed(b"stop\xfd"))
    w("ok-lazy-stop-wait-ends", conn_sel("framed", "binary", lazy=True)
      + b"".join(map(framed, add["binary"])) + framed(b"hurry\xfc"))
    # the stop comes while the next call is still on its way: the connection closes before it
    w("bad-stop-mid-stream", conn_sel("framed", "binary", pieces=1)
      + framed(add["binary"][0]) + framed(b"stop\xfd") + framed(add["binary"][1]))
    w("bad-garbage", conn_sel() + b"\xff\xfe\xfd\xfc\xfb\xfa")
    w("bad-empty", conn_sel())
    w("bad-framed-partial", conn_sel("framed", "binary", pieces=2)
      + framed(add["binary"][0]) + framed(add["binary"][1])[:-3])
    w("bad-framed-over-limit", conn_sel("framed", "binary", small=True) + framed(echo))
    w("bad-buffered-over-limit", conn_sel("buffered", "compact", small=True, pieces=2) + echo)
    w("bad-protocol-mismatch", conn_sel(protocol="binary") + framed(add["compact"][0]))
    # a THeader client where transport and protocol are both fixed: closed from its first bytes
    w("bad-fixed-framed-theader", conn_sel("framed", "binary", pieces=1)
      + theader(0, add["binary"][0]))
    w("bad-fixed-buffered-theader", conn_sel("buffered", "compact") + theader(2, add["compact"][0]))
    # a message ending in 0xff is refused by the owner: the one after it is never handled
    w("bad-owner-refuses", conn_sel("framed", "binary", pieces=3)
      + framed(add["binary"][0]) + framed(b"refused\xff") + framed(add["binary"][1]))
    # a THeader frame with a transform thriftcorn lacks: the client is told, the next not handled
    w("bad-header-snappy", conn_sel("header", pieces=3) + theader(0, add["binary"][0])
      + theader_raw(bytes([0, 1, 3]), add["binary"][1]) + theader(0, add["binary"][2]))
    # a graceful stop (0xfd) while a frame naming protocol id 1 (JSON) is on its way (the piece
    # that ends the first frame holds 5 bytes of the second): the stop finishes that frame and
    # answers it with the refusal it would get without a stop
    w("bad-header-stop-mid-frame-json", conn_sel("header", pieces=2)
      + theader(0, b"stop\xfd", seqid=1) + theader_raw(bytes([1, 0]), add["binary"][1], seqid=2))


def decode_seeds():
    for i, name in enumerate(DECODE_STRUCTS):
        for j, obj in enumerate(DECODE_VALUES[name]):
            for kind in ("binary", "compact"):
                write("fuzz_decode", "ok-%s-%d-%s" % (name, j, kind),
                      bytes([i]) + struct_bytes(kind, obj))
    sel = DECODE_STRUCTS.index
    for kind in ("binary", "compact"):
        write("fuzz_decode", "bad-Everything-truncated-%s" % kind,
              bytes([sel("Everything")]) + struct_bytes(kind, EVERYTHING)[:200])
        write("fuzz_decode", "bad-Tree-too-deep-%s" % kind,
              bytes([sel("Tree")]) + struct_bytes(kind, tree(40)))
    # A Point without its required y; a list of i64 where the IDL has list<bool>.
    write("fuzz_decode", "bad-Point-missing-y-binary",
          bytes([sel("Point")]) + b"\x08\x00\x01\x00\x00\x00\x07\x00")
    write("fuzz_decode", "bad-Point-missing-y-compact", bytes([sel("Point")]) + b"\x15\x0e\x00")
    write("fuzz_decode", "bad-Containers-elem-type-binary",
          bytes([sel("Containers")]) + b"\x0f\x00\x01\x0a\x00\x00\x00\x01" + b"\x00" * 8 + b"\x00")
    write("fuzz_decode", "bad-Containers-elem-type-compact",
          bytes([sel("Containers")]) + b"\x19\x16\x02\x00")


def dispatch_seeds():
    """Byte 0 picks the protocol (bit 0), tight limits (bit 1) and the config (bits 2-3);
    then one request. Config 0 (one service, Lua) here, the others in dispatch_config_seeds()."""
    env = {"x": Value(int_value=2), "l": Value(list_value=[Value(string_value="s")])}
    calls = {
        "echo": ("echo", TMessageType.CALL, svc.echo_args(e=EVERYTHING)),
        "echo-empty": ("echo", TMessageType.CALL, svc.echo_args(e=Everything())),
        "echo-no-args": ("echo", TMessageType.CALL, svc.echo_args()),
        "nothing": ("nothing", TMessageType.CALL, svc.nothing_args()),
        "fire": ("fire", TMessageType.ONEWAY, svc.fire_args(what="x" * 20)),
        "fire-raise": ("fire", TMessageType.ONEWAY, svc.fire_args(what="raise")),
        "fire-as-call": ("fire", TMessageType.CALL, svc.fire_args(what="y")),
        "add": ("add", TMessageType.CALL, svc.add_args(a=1, b=-2)),
        "add-as-oneway": ("add", TMessageType.ONEWAY, svc.add_args(a=1, b=2)),
        "add-error-nul": ("add", TMessageType.CALL, svc.add_args(a=-1, b=0)),
        "add-error-table": ("add", TMessageType.CALL, svc.add_args(a=-2, b=7)),
        "add-failure": ("add", TMessageType.CALL, svc.add_args(a=-3, b=418)),
        "add-undeclared": ("add", TMessageType.CALL, svc.add_args(a=-4, b=1)),
        "add-bad-return": ("add", TMessageType.CALL, svc.add_args(a=-5, b=1)),
        "add-overflow": ("add", TMessageType.CALL, svc.add_args(a=2**31 - 1, b=1)),
        "add-missing-b": ("add", TMessageType.CALL, svc.add_args(a=1)),
        "evaluate": ("evaluate", TMessageType.CALL,
                     svc.evaluate_args(v=nested_value(6), env=env)),
        "evaluate-vars": ("evaluate", TMessageType.CALL, svc.evaluate_args(
            v=Value(map_value={"a": Value(string_value="x"), "b": Value(string_value="l")}),
            env=env)),
        "evaluate-unbound": ("evaluate", TMessageType.CALL,
                             svc.evaluate_args(v=Value(string_value="nope"), env={})),
        "evaluate-no-env": ("evaluate", TMessageType.CALL,
                            svc.evaluate_args(v=Value(string_value="x"))),
    }
    for sel, kind in ((0, "binary"), (1, "compact")):
        call = binary_call if kind == "binary" else compact_call
        msgs = {}
        for name, (method, mtype, obj) in calls.items():
            msgs[name] = message(kind, method, mtype, 7, obj)
            write("fuzz_dispatch", "ok-%s-%s" % (kind, name), bytes([sel]) + msgs[name])
        write("fuzz_dispatch", "ok-%s-tight-add" % kind, bytes([sel | 2]) + msgs["add"])
        write("fuzz_dispatch", "bad-%s-tight-echo" % kind, bytes([sel | 2]) + msgs["echo"])
        write("fuzz_dispatch", "bad-%s-tree-too-deep" % kind, bytes([sel]) + message(
            kind, "echo", TMessageType.CALL, 7, svc.echo_args(e=Everything(tree=tree(70)))))
        write("fuzz_dispatch", "bad-%s-unknown-method" % kind,
              bytes([sel]) + message(kind, "subtract", TMessageType.CALL, 7, svc.add_args(a=1)))
        write("fuzz_dispatch", "bad-%s-unknown-oneway" % kind,
              bytes([sel]) + message(kind, "launch", TMessageType.ONEWAY, 7, svc.fire_args()))
        write("fuzz_dispatch", "bad-%s-reply" % kind, bytes([sel]) + message(
            kind, "add", TMessageType.REPLY, 7, svc.add_result(success=3)))
        write("fuzz_dispatch", "bad-%s-exception" % kind, bytes([sel]) + message(
            kind, "add", TMessageType.EXCEPTION, 7, TApplicationException(1, "x")))
        write("fuzz_dispatch", "bad-%s-type-0" % kind, bytes([sel]) + call(b"\x00", mtype=0))
        write("fuzz_dispatch", "bad-%s-truncated" % kind,
              bytes([sel]) + msgs["echo"][: len(msgs["echo"]) // 2])
        write("fuzz_dispatch", "bad-%s-truncated-header" % kind, bytes([sel]) + msgs["add"][:6])
        write("fuzz_dispatch", "bad-%s-trailing" % kind, bytes([sel]) + msgs["add"] + b"\x00")
        write("fuzz_dispatch", "bad-%s-empty" % kind, bytes([sel]))
        # add(a: string, b: list<i32>) where the IDL says i32, i32: skipped as Apache does,
        # the handler gets nil and raises (INTERNAL_ERROR)
        if kind == "binary":
            other = b"\x0b\x00\x01\x00\x00\x00\x01x\x0f\x00\x02\x08\x00\x00\x00\x00\x00"
            elems = b"\x0d\x00\x02\x0b\x08\x00\x00\x00\x01\x00\x00\x00\x01k\x00\x00\x00\x02\x00"
        else:
            other = b"\x18\x01x\x19\x05\x00"
            elems = b"\x2b\x01\x85\x01k\x04\x00"
        write("fuzz_dispatch", "ok-%s-args-of-other-types" % kind,
              bytes([sel]) + call(other, name=b"add"))
        # evaluate(env: map<string, i32>) where the IDL says map<string, Value>: refused
        write("fuzz_dispatch", "bad-%s-element-type" % kind,
              bytes([sel]) + call(elems, name=b"evaluate"))
    write("fuzz_dispatch", "ok-binary-nonstrict-add", b"\x00" + message(
        "binary-nonstrict", "add", TMessageType.CALL, 9, svc.add_args(a=5, b=6)))
    add = message("binary", "add", TMessageType.CALL, 7, svc.add_args(a=1, b=2))
    write("fuzz_dispatch", "bad-binary-version", b"\x00\x80\x02" + add[2:])
    write("fuzz_dispatch", "bad-compact-as-binary", b"\x00" + message(
        "compact", "add", TMessageType.CALL, 7, svc.add_args(a=1, b=2)))


# Configs 1-3 of fuzz_dispatch: "multi" (AllTypes in Lua, the default, and HeaderService),
# "plugin" (AllTypes: echo, add, evaluate in C, the rest in Lua), "multi-plugin" (AllTypes
# as in "plugin" and HeaderService, no default). Each call: (seed name, method name as
# sent, message type, arguments, accepted?).
def dispatch_config_seeds():
    env = {"x": Value(int_value=2), "l": Value(list_value=[Value(string_value="s")])}
    call, oneway = TMessageType.CALL, TMessageType.ONEWAY
    alltypes = [
        ("echo", "echo", call, svc.echo_args(e=EVERYTHING), True),
        ("echo-empty", "echo", call, svc.echo_args(e=Everything()), True),
        ("echo-no-args", "echo", call, svc.echo_args(), True),
        ("nothing", "nothing", call, svc.nothing_args(), True),
        ("fire", "fire", oneway, svc.fire_args(what="x" * 20), True),
        ("add", "add", call, svc.add_args(a=1, b=-2), True),
        ("add-error", "add", call, svc.add_args(a=-1, b=0), True),
        ("add-error-no-text", "add", call, svc.add_args(a=-2, b=7), True),
        ("add-failure", "add", call, svc.add_args(a=-3, b=418), True),
        ("add-undeclared", "add", call, svc.add_args(a=-4, b=1), True),
        ("add-bad-return", "add", call, svc.add_args(a=-5, b=1), True),
        ("add-overflow", "add", call, svc.add_args(a=2**31 - 1, b=1), True),
        ("add-missing-b", "add", call, svc.add_args(a=1), True),
        ("evaluate", "evaluate", call, svc.evaluate_args(v=nested_value(6), env=env), True),
        ("evaluate-vars", "evaluate", call, svc.evaluate_args(
            v=Value(map_value={"a": Value(string_value="x"), "b": Value(string_value="l")}),
            env=env), True),
        ("evaluate-unbound", "evaluate", call, svc.evaluate_args(
            v=Value(list_value=[Value(int_value=1), Value(string_value="nope")]), env=env), True),
        ("evaluate-empty-value", "evaluate", call, svc.evaluate_args(v=Value(), env={}), True),
        ("unknown-method", "subtract", call, svc.add_args(a=1), False),
        ("reply", "add", TMessageType.REPLY, svc.add_result(success=3), False),
        ("tree-too-deep", "echo", call, svc.echo_args(e=Everything(tree=tree(70))), False),
    ]
    headers = [
        ("headers-echo", "HeaderService:echo", call, hdr_svc.echo_args(s="hi"), True),
        ("headers-headers", "HeaderService:headers", call,
         hdr_svc.headers_args(reply_key="k", reply_value="v"), True),
        ("headers-unknown-method", "HeaderService:add", call, svc.add_args(a=1, b=2), False),
    ]
    unknown = [
        ("unknown-service", "Nope:add", call, svc.add_args(a=1, b=2), False),
        ("unknown-service-oneway", "Nope:fire", oneway, svc.fire_args(what="x"), False),
        # no call and no service: refused for its type, before its name is looked at
        ("unknown-service-reply", "Nope:add", TMessageType.REPLY, svc.add_result(success=3),
         False),
        ("empty-service", ":echo", call, svc.echo_args(), False),
        ("unknown-service-case", "alltypes:add", call, svc.add_args(a=1, b=2), False),
        ("empty-method", "AllTypes:", call, svc.add_args(a=1, b=2), False),
        ("two-colons", "AllTypes:AllTypes:add", call, svc.add_args(a=1, b=2), False),
    ]

    def mux(calls):
        return [("mux-" + n, "AllTypes:" + m, t, o, ok) for n, m, t, o, ok in calls]

    configs = [
        (1, "multi", mux(alltypes) + headers + unknown + [
            ("default-add", "add", call, svc.add_args(a=1, b=2), True),
            ("default-fire", "fire", oneway, svc.fire_args(what="y"), True)]),
        (2, "plugin", alltypes + [
            ("colon-name", "AllTypes:add", call, svc.add_args(a=1, b=2), False)]),
        (3, "multi-plugin", mux(alltypes) + headers + unknown + [
            ("no-default-add", "add", call, svc.add_args(a=1, b=2), False),
            ("no-default-fire", "fire", oneway, svc.fire_args(what="y"), False),
            ("no-default-reply", "add", TMessageType.REPLY, svc.add_result(success=3), False)]),
    ]
    for config, cname, calls in configs:
        for sel, kind in ((0, "binary"), (1, "compact")):
            pre = bytes([sel | config << 2])
            msgs = {}
            for name, method, mtype, obj, ok in calls:
                msgs[name] = message(kind, method, mtype, 7, obj)
                write("fuzz_dispatch", "%s-%s-%s-%s" % ("ok" if ok else "bad", cname, kind, name),
                      pre + msgs[name])
            echo = msgs.get("echo", msgs.get("mux-echo"))
            write("fuzz_dispatch", "bad-%s-%s-tight-echo" % (cname, kind),
                  bytes([sel | 2 | config << 2]) + echo)
            write("fuzz_dispatch", "bad-%s-%s-truncated" % (cname, kind),
                  pre + echo[:len(echo) // 2])
            write("fuzz_dispatch", "bad-%s-%s-trailing" % (cname, kind), pre + echo + b"\x00")


def main():
    for target in ("fuzz_binary", "fuzz_compact", "fuzz_framing", "fuzz_header", "fuzz_decode",
                   "fuzz_dispatch", "fuzz_conn"):
        d = os.path.join(CORPUS, target)
        if os.path.isdir(d):
            for f in os.listdir(d):
                if f.startswith(("ok-", "bad-")):
                    os.unlink(os.path.join(d, f))
    proto_seeds()
    framing_seeds()
    header_seeds()
    decode_seeds()
    dispatch_seeds()
    dispatch_config_seeds()
    conn_seeds()
    shutil.rmtree(gen)
    total = sum(os.path.getsize(os.path.join(dp, f))
                for dp, _, fs in os.walk(CORPUS) for f in fs)
    print("corpus: %d bytes in %s" % (total, CORPUS))


if __name__ == "__main__":
    main()

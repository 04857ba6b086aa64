# SPDX-License-Identifier: Apache-2.0
"""Differential test of the codecs against Apache Thrift's Python library:
random values of every Thrift type and nesting
(tests/fixtures/fuzz_echo.thrift) go through a real server whose handler
echoes them, a Lua handler and a C plugin (tests/plugins/echo_plugin.c),
called in the binary and compact protocols, pure Python and accelerated
(fastbinary), buffered and framed. What comes back must be what Apache
Thrift itself reads from what it sent: the same value, doubles compared by
their bits (NaN payloads, -0.0), sets and maps without order, a field left
out coming back as its IDL default or not at all.

The values are drawn from a fixed seed (TC_FUZZ_SEED, TC_FUZZ_COUNT values
per combination) and a failure prints the seed, the combination and the
index of the value, so a failure can be run again alone."""

import math
import os
import random
import re
import struct
import sys
import time
import unittest

import harness
from thrift.protocol import TBinaryProtocol, TCompactProtocol
from thrift.Thrift import TApplicationException, TFrozenDict, TMessageType, TType
from thrift.transport import TSocket, TTransport

IDL = os.path.join(harness.SOURCE_DIR, "tests", "fixtures", "fuzz_echo.thrift")
PLUGIN_SOURCE = os.path.join(harness.SOURCE_DIR, "tests", "plugins", "echo_plugin.c")
BUILD = os.environ.get("TC_BUILD_DIR", os.path.join(harness.SOURCE_DIR, "build"))
PLUGIN = os.path.join(BUILD, "tests", "plugins", "libtp_echo.so")
SEED = int(os.environ.get("TC_FUZZ_SEED", "20261126"))
COUNT = int(os.environ.get("TC_FUZZ_COUNT", "300"))

# Methods and how often each is drawn. The last four have lists, sets and
# maps as keys, which Apache Python cannot decode: their replies are read
# by read_value().
METHODS = [("echo_all", 30), ("echo_alls", 4), ("echo_opts", 6), ("echo_dflt", 6),
           ("echo_choice", 8), ("echo_key", 3), ("echo_key_sets", 4), ("echo_deep", 5),
           ("echo_double", 8), ("echo_i64", 4), ("echo_i32", 2), ("echo_i16", 2),
           ("echo_byte", 2), ("echo_bool", 1), ("echo_kind", 2), ("echo_string", 4),
           ("echo_binary", 4), ("echo_list_keys", 3), ("echo_list_set", 3),
           ("echo_set_keys", 3), ("echo_map_keys", 3), ("raise_oops", 4)]
RAW_METHODS = {"echo_list_keys", "echo_list_set", "echo_set_keys", "echo_map_keys"}

# The Lua handler: every method returns its argument; raise_oops() raises it
# (a decoded exception has its type's metatable, which error() needs).
HANDLER = ("local M = {}\n"
           + "".join("function M.%s(v) return v end\n" % m for m, _ in METHODS
                     if m != "raise_oops")
           + "function M.raise_oops(v) error(v) end\n"
           + "return M\n")

UNIONS = {"Choice"}  # the generated code does not tell a union from a struct
INT_BITS = {TType.BYTE: 8, TType.I16: 16, TType.I32: 32, TType.I64: 64}
DBL_MAX = 1.7976931348623157e308
SPECIAL_DOUBLES = [0.0, -0.0, math.inf, -math.inf, 5e-324, -5e-324, 2.2250738585072014e-308,
                   2.225073858507201e-308, DBL_MAX, -DBL_MAX, 1.0, -1.0, 0.1, 0.5, 2.0 ** 53,
                   2.0 ** 53 + 2, 2.0 ** 63, -2.0 ** 63, 2.0 ** 64, 1e300, -1e-300, 255.0, 3.0]
NAN_BITS = [0x7FF8000000000000, 0xFFF8000000000000, 0x7FF0000000000001, 0x7FF4000000000000,
            0xFFFFFFFFFFFFFFFF, 0x7FFFFFFFFFFFFFFF, 0x7FF8000000000001]
BIG = 65536  # the size of the largest strings and binaries drawn


def from_bits(b):
    return struct.unpack(">d", b.to_bytes(8, "big"))[0]


def bits(d):
    return struct.pack(">d", d).hex()


# ---- random values, driven by the generated code's thrift_spec ----

class Gen:
    """Random values of a thrift_spec type. `budget` bounds the number of
    values in one draw, so that nesting stays small. With `lua_keys`, no set
    element or map key is NaN or -0.0: a Lua table cannot hold NaN as a key
    and stores -0.0 as the integer 0 (docs/lua-api.md); C handlers get
    them."""

    def __init__(self, rng, lua_keys):
        self.rng = rng
        self.lua_keys = lua_keys
        self.budget = 0

    def value(self, ttype, args, key=False, depth=0):
        """A value of `ttype`; `key`: it is a set element or a map key, so it
        must be hashable (tuples, frozensets and frozen dicts)."""
        self.budget -= 1
        r = self.rng
        if ttype == TType.BOOL:
            return r.random() < 0.5
        if ttype in INT_BITS:
            return self.integer(INT_BITS[ttype])
        if ttype == TType.DOUBLE:
            d = self.double()
            while key and self.lua_keys and (math.isnan(d) or bits(d) == bits(-0.0)):
                d = self.double()
            return d
        if ttype == TType.STRING:
            return self.text() if args == "UTF8" else self.blob()
        if ttype == TType.STRUCT:
            return self.struct(args[0], args[1], depth)
        n = self.size(depth, args[0])
        if ttype == TType.LIST:
            items = [self.value(args[0], args[1], False, depth + 1) for _ in range(n)]
            return tuple(items) if key else items
        if ttype == TType.SET:
            items = {self.value(args[0], args[1], True, depth + 1) for _ in range(n)}
            return frozenset(items) if key else items
        if ttype == TType.MAP:
            items = {self.value(args[0], args[1], True, depth + 1):
                     self.value(args[2], args[3], False, depth + 1) for _ in range(n)}
            return TFrozenDict(items) if key else items
        raise AssertionError("no generator for ttype %d" % ttype)

    def size(self, depth, elem):
        r = self.rng
        if self.budget <= 0 or r.random() < 0.2:
            return 0
        if (elem in INT_BITS or elem in (TType.BOOL, TType.DOUBLE)) and r.random() < 0.1:
            # across the compact protocol's short list header (sizes up to 14)
            # and the one- and two-byte varints of a size
            return r.choice((14, 15, 16, 127, 128, 129, 300))
        if depth >= 6:
            return r.choice((0, 1, 1, 2))
        return r.randint(1, 6)

    def integer(self, nbits):
        r = self.rng
        lo, hi = -(1 << (nbits - 1)), (1 << (nbits - 1)) - 1
        pick = r.random()
        if pick < 0.3:
            return r.choice((lo, hi, 0, -1, 1, lo + 1, hi - 1))
        if pick < 0.6:
            # around a power of two: the varint and zigzag boundaries
            p = 1 << r.randint(0, nbits - 2)
            return max(lo, min(hi, r.choice((p, -p)) + r.randint(-2, 1)))
        return r.randint(lo, hi)

    def double(self):
        r = self.rng
        pick = r.random()
        if pick < 0.35:
            return r.choice(SPECIAL_DOUBLES)
        if pick < 0.45:
            return from_bits(r.choice(NAN_BITS))
        if pick < 0.55:
            return from_bits(r.getrandbits(52))  # subnormal
        if pick < 0.7:
            return float(r.randint(-(1 << 62), 1 << 62))  # integral
        if pick < 0.85:
            return r.uniform(-1e6, 1e6)
        return from_bits(r.getrandbits(64))

    def text(self):
        r = self.rng
        pick = r.random()
        if pick < 0.15:
            return ""
        if pick < 0.17:
            return "\u00e9" * (BIG // 2)  # 64 KiB of 2-byte sequences
        alphabet = ("a", "Z", "0", " ", "\x00", "\x7f", "\u00e9", "\u07ff", "\u0800", "\u2713",
                    "\uffff", "\U00010000", "\U0001f984", "\U0010ffff")
        out = []
        for _ in range(r.randint(1, 24) if r.random() < 0.8 else r.randint(25, 200)):
            if r.random() < 0.5:
                out.append(r.choice(alphabet))
            else:
                c = r.randint(1, 0x10FFFF)
                out.append(chr(c) if not 0xD800 <= c <= 0xDFFF else "x")
        return "".join(out)

    def blob(self):
        r = self.rng
        pick = r.random()
        if pick < 0.15:
            return b""
        if pick < 0.17:
            return r.randbytes(BIG)
        if pick < 0.4:
            # not UTF-8: lone continuation bytes, overlong forms, surrogates, 0xff
            return r.choice((b"\xff", b"\xc0\x80", b"\x80", b"\xed\xa0\x80", b"\xf5\x80\x80\x80",
                             b"a\xfeb", b"\x00\xff\x00"))
        if pick < 0.5:
            # the one-, two- and three-byte varints of a length
            return r.randbytes(r.choice((127, 128, 16383, 16384)))
        return r.randbytes(r.randint(1, 40))

    def struct(self, cls, spec, depth):
        r = self.rng
        fields = [f for f in spec if f is not None]
        kwargs = {}
        if cls.__name__ in UNIONS:
            f = r.choice(fields)
            kwargs[f[2]] = self.value(f[1], f[3], False, depth + 1)
            return cls(**kwargs)
        for f in fields:
            fid, ttype, name, args, default = f
            pick = r.random()
            if cls.__name__ == "All" and fid == 1:
                pick = 1.0  # required
            if pick < 0.2:
                kwargs[name] = None  # left out: comes back as its default, or not at all
            elif pick < 0.3 and default is not None:
                kwargs[name] = default
            else:
                kwargs[name] = self.value(ttype, args, False, depth + 1)
        return cls(**kwargs)


# ---- canonical forms: what is compared ----

def canon(v, ttype, args):
    """A comparable form of a Python value of a thrift_spec type: doubles as
    their bits, sets and maps in a fixed order, structs as their set fields
    (a field that is None takes its IDL default, as a decoder fills it)."""
    if v is None:
        return None
    if ttype == TType.BOOL:
        return ("bool", bool(v))
    if ttype in INT_BITS:
        return int(v)
    if ttype == TType.DOUBLE:
        return ("double", bits(v))
    if ttype == TType.STRING:
        return v
    if ttype == TType.LIST:
        return ("list",) + tuple(canon(x, args[0], args[1]) for x in v)
    if ttype == TType.SET:
        return ("set",) + tuple(sorted((canon(x, args[0], args[1]) for x in v), key=repr))
    if ttype == TType.MAP:
        return ("map",) + tuple(sorted(((canon(k, args[0], args[1]), canon(x, args[2], args[3]))
                                        for k, x in v.items()), key=repr))
    if ttype == TType.STRUCT:
        out = []
        for f in args[1]:
            if f is None:
                continue
            x = getattr(v, f[2])
            if x is None:
                x = f[4]
            if x is not None:
                out.append((f[0], canon(x, f[1], f[3])))
        return (args[0].__name__,) + tuple(out)
    raise AssertionError("no canonical form for ttype %d" % ttype)


# ---- a reader for the replies Apache Python cannot decode ----

def read_value(iprot, ttype, args):
    """A value read with the protocol's own methods, straight into its
    canonical form (lists, sets and maps as keys are fine here)."""
    if ttype == TType.BOOL:
        return ("bool", iprot.readBool())
    if ttype == TType.BYTE:
        return iprot.readByte()
    if ttype == TType.I16:
        return iprot.readI16()
    if ttype == TType.I32:
        return iprot.readI32()
    if ttype == TType.I64:
        return iprot.readI64()
    if ttype == TType.DOUBLE:
        return ("double", bits(iprot.readDouble()))
    if ttype == TType.STRING:
        b = iprot.readBinary()
        return b.decode("utf-8") if args == "UTF8" else b
    if ttype in (TType.LIST, TType.SET):
        etype, n = iprot.readListBegin() if ttype == TType.LIST else iprot.readSetBegin()
        items = [read_value(iprot, args[0], args[1]) for _ in range(n)]
        if ttype == TType.LIST:
            iprot.readListEnd()
        else:
            iprot.readSetEnd()
        if n:
            assert etype == args[0], "element type %d, want %d" % (etype, args[0])
        if ttype == TType.LIST:
            return ("list",) + tuple(items)
        return ("set",) + tuple(sorted(items, key=repr))
    if ttype == TType.MAP:
        ktype, vtype, n = iprot.readMapBegin()
        items = [(read_value(iprot, args[0], args[1]), read_value(iprot, args[2], args[3]))
                 for _ in range(n)]
        iprot.readMapEnd()
        if n:
            assert (ktype, vtype) == (args[0], args[2]), "map types %r" % ((ktype, vtype),)
        return ("map",) + tuple(sorted(items, key=repr))
    raise AssertionError("read_value: no reader for ttype %d" % ttype)


def raw_call(client, method, value, spec):
    """Call `method` with the generated client's send_, read the reply here."""
    getattr(client, "send_" + method)(value)
    iprot = client._iprot
    _, mtype, _ = iprot.readMessageBegin()
    if mtype == TMessageType.EXCEPTION:
        x = TApplicationException()
        x.read(iprot)
        iprot.readMessageEnd()
        raise x
    got = None
    iprot.readStructBegin()
    while True:
        _, ftype, fid = iprot.readFieldBegin()
        if ftype == TType.STOP:
            break
        assert fid == 0 and ftype == spec[1], "reply field %d of type %d" % (fid, ftype)
        got = read_value(iprot, spec[1], spec[3])
        iprot.readFieldEnd()
    iprot.readStructEnd()
    iprot.readMessageEnd()
    return got


# ---- the client and the run ----

PROTOCOLS = {
    "binary": lambda t: TBinaryProtocol.TBinaryProtocol(t),
    # the old message header, without the version word
    "binary-nonstrict": lambda t: TBinaryProtocol.TBinaryProtocol(t, strictRead=False,
                                                                  strictWrite=False),
    "compact": lambda t: TCompactProtocol.TCompactProtocol(t),
    "binary-accel": lambda t: TBinaryProtocol.TBinaryProtocolAccelerated(t, fallback=False),
    "compact-accel": lambda t: TCompactProtocol.TCompactProtocolAccelerated(t, fallback=False),
}


def connect(module, port, transport, protocol):
    sock = TSocket.TSocket("127.0.0.1", port)
    sock.setTimeout(30000)
    trans = (TTransport.TFramedTransport(sock) if transport == "framed"
             else TTransport.TBufferedTransport(sock))
    trans.open()
    return module.Client(PROTOCOLS[protocol](trans)), trans


def draw(rng, module, handler):
    """One method and a random argument for it."""
    names = [m for m, _ in METHODS]
    method = rng.choices(names, weights=[w for _, w in METHODS])[0]
    spec = getattr(module, method + "_args").thrift_spec[1]
    gen = Gen(rng, lua_keys=handler == "lua")
    gen.budget = 1000
    return method, spec, gen.value(spec[1], spec[3])


def describe(v, limit=600):
    text = repr(v)
    return text if len(text) <= limit else text[:limit] + "... (%d characters)" % len(text)


class FuzzEchoTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        harness.gen_py(IDL)
        cls.FuzzEcho = harness.load_gen("fuzz_echo.FuzzEcho")
        cls.Oops = harness.load_gen("fuzz_echo.ttypes").Oops

    def test_plugin_probes_every_field_id(self):
        """The C plugin copies a struct by probing a list of field ids: a
        field of the IDL missing from it would not be echoed."""
        ttypes = harness.load_gen("fuzz_echo.ttypes")
        ids = {f[0] for cls in (ttypes.Key, ttypes.Choice, ttypes.Opts, ttypes.Dflt, ttypes.All,
                                ttypes.Oops)
               for f in cls.thrift_spec if f is not None}
        with open(PLUGIN_SOURCE) as f:
            source = f.read()
        probed = re.search(r"struct_ids\[\] = \{([^}]*)\}", source).group(1)
        self.assertEqual(ids - {int(x) for x in probed.split(",")}, set())

    def settings(self, handler):
        service = 'service = { idl = "%s", name = "FuzzEcho", ' % IDL
        if handler == "lua":
            service += 'handler = "echo.lua" }\n'
        else:
            service += 'plugin = "%s" }\n' % PLUGIN
        return "workers = 1\nthreads = 1\n" + service

    def raised(self, client, value, spec):
        try:
            client.raise_oops(value)
        except self.Oops as e:
            return canon(e, spec[1], spec[3])
        return "returned without raising"

    def run_combination(self, srv, handler, transport, protocol):
        """COUNT random calls on one connection; the first mismatch fails,
        naming what reproduces it."""
        name = "%s/%s/%s" % (handler, transport, protocol)
        rng = random.Random("%d/%s" % (SEED, name))
        client, trans = connect(self.FuzzEcho, srv.port, transport, protocol)
        try:
            for i in range(COUNT):
                method, spec, value = draw(rng, self.FuzzEcho, handler)
                where = ("seed %d, %s, value %d (TC_FUZZ_SEED=%d TC_FUZZ_COUNT=%d): %s(%s)"
                         % (SEED, name, i, SEED, i + 1, method, describe(value)))
                want = canon(value, spec[1], spec[3])
                try:
                    if method in RAW_METHODS:
                        got = raw_call(client, method, value, spec)
                    elif method == "raise_oops":
                        got = self.raised(client, value, spec)
                    else:
                        got = canon(getattr(client, method)(value), spec[1], spec[3])
                except Exception as e:  # noqa: BLE001
                    self.fail("%s\nraised %r\nserver log:\n%s" % (where, e, srv.log()[-3000:]))
                if got != want:
                    self.fail("%s\nsent (canonical):     %s\nreceived (canonical): %s"
                              % (where, describe(want, 3000), describe(got, 3000)))
        finally:
            trans.close()

    def test_random_values_echo_unchanged(self):
        start = time.monotonic()
        for handler in ("lua", "c"):
            files = {"echo.lua": HANDLER} if handler == "lua" else {}
            with harness.Server(self.settings(handler), files=files) as srv:
                for transport in ("buffered", "framed"):
                    for protocol in PROTOCOLS:
                        with self.subTest(handler=handler, transport=transport,
                                          protocol=protocol):
                            self.run_combination(srv, handler, transport, protocol)
        sys.stderr.write("%d values x %d combinations in %.1fs\n"
                         % (COUNT, 2 * 2 * len(PROTOCOLS), time.monotonic() - start))


if __name__ == "__main__":
    unittest.main(verbosity=2)

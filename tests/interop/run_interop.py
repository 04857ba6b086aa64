#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""The interop matrix driver. For one client library it serves
tests/interop/interop.thrift with thriftcorn once per cell (transport x
protocol, plain or multiplexed, and THeader with each protocol inside), runs
that library's client program against it and writes the cells' pass/fail to
a JSON file. With --assemble it reads those files and writes the matrix into
docs/interop.md (from tests/interop/interop.md.in).

    run_interop.py run --lang go --handler lua --results DIR -- CLIENT [ARGS]
    run_interop.py assemble --results DIR --out BUILD/interop.md [--doc docs/interop.md]

The client is run as `CLIENT [ARGS] PORT TRANSPORT PROTOCOL [SERVICE]`, where
TRANSPORT is buffered, framed or header and PROTOCOL binary or compact; with
SERVICE it calls through TMultiplexedProtocol under that service name. It
prints one line per failed check and exits non-zero on any, or prints
"ok"."""

import argparse
import datetime
import json
import os
import re
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "integration"))
import harness  # noqa: E402

# The name multiplexed clients call the service by (a service of services =
# { ... } is named as in its IDL). The multiplexed server also serves Base
# (Interop's parent service in interop.thrift) as the default service, so a
# client that does not prefix its calls reaches Base and fails every method
# but ping().
MUX_SERVICE = "Interop"


class Cell:
    """One column of the matrix. The plain cells run a server configured with
    the cell's transport and protocol; the multiplexed and THeader cells one
    with the defaults, transport = "auto" and protocol = "auto", and check
    that the server detected the cell's form (`detect`) on every connection."""

    def __init__(self, transport, protocol, multiplexed=False):
        self.transport, self.protocol, self.multiplexed = transport, protocol, multiplexed
        self.key = ("multiplexed " if multiplexed else "") + "%s/%s" % (transport, protocol)
        self.heading = ("multiplexed " if multiplexed else "") + "%s %s" % (transport, protocol)
        if transport == "header":
            self.detect = "header"  # each THeader frame names its protocol
        elif multiplexed:
            self.detect = "%s %s" % (transport, protocol)
        else:
            self.detect = None


CELLS = ([Cell(t, p) for t in harness.TRANSPORTS for p in harness.PROTOCOLS]
         + [Cell(t, p, True) for t in harness.TRANSPORTS for p in harness.PROTOCOLS]
         + [Cell("header", p) for p in harness.PROTOCOLS])

# Each library: its name in the matrix, the Debian package whose version is
# reported, and what it cannot run ("compact", "header" or "multiplexed")
# with the reason, found in what the package installs. Every library's
# package has TMultiplexedProtocol.
LANGS = {
    "py": ("Python", "python3-thrift", {}),
    "py_accel": ("Python, accelerated (fastbinary)", "python3-thrift", {}),
    "cpp": ("C++", "libthrift-dev", {}),
    "c_glib": ("C (c_glib)", "libthrift-c-glib-dev", {
        "header": "libthrift-c-glib-dev 0.17 has no THeader transport or protocol (its "
                  "transports: thrift_buffered_transport, thrift_framed_transport, "
                  "thrift_fd_transport, thrift_memory_buffer, thrift_socket, "
                  "thrift_ssl_socket, thrift_zlib_transport)"}),
    "go": ("Go", "golang-thrift-dev", {}),
    "java": ("Java", "libthrift-java", {
        "header": "libthrift-java 0.16's thrift.jar has no THeader transport or protocol "
                  "(its protocols: TBinaryProtocol, TCompactProtocol, TJSONProtocol, "
                  "TMultiplexedProtocol, TSimpleJSONProtocol, TTupleProtocol)"}),
    "rb": ("Ruby", "ruby-thrift", {
        "header": "ruby-thrift 0.14 has no THeader transport or protocol (its transports: "
                  "buffered, framed, HTTP client, IO stream, memory buffer, sockets; its "
                  "protocols: binary, compact, JSON, multiplexed)"}),
    "perl": ("Perl", "libthrift-perl", {
        "compact": "libthrift-perl 0.17 has no compact protocol (only Thrift::BinaryProtocol)",
        "header": "libthrift-perl 0.17 has no THeader transport (only Thrift::BufferedTransport, "
                  "Thrift::FramedTransport, Thrift::HttpClient, Thrift::MemoryBuffer and "
                  "sockets)"}),
    "php": ("PHP", "php-thrift", {
        "header": "php-thrift 0.17 has no THeader transport (its transports: TBufferedTransport, "
                  "TFramedTransport, TCurlClient, THttpClient, TMemoryBuffer, TNullTransport, "
                  "TPhpStream, TSocket, TSocketPool)"}),
}
# Libraries without a client program yet, with the reason the matrix shows.
NOT_YET = {}
HANDLERS = {
    "lua": "Lua handler (tests/interop/handler.lua)",
    "c": "C plugin handler (tests/interop/plugin/interop_plugin.c, remember/remembered in handler.lua)",
}
CLIENT_TIMEOUT = 120


def settings(cell, handler):
    idl = os.path.join(HERE, "interop.thrift")
    lua = os.path.join(HERE, "handler.lua")
    if handler == "lua":
        interop = '{ idl = "%s", name = "Interop", handler = "%s" }' % (idl, lua)
    else:
        # The plugin leaves remember() and remembered() to handler.lua
        # (service.handler serves what service.plugin does not).
        interop = ('{ idl = "%s", name = "Interop", plugin = "%s", handler = "%s" }'
                   % (idl, os.environ["TC_INTEROP_PLUGIN"], lua))
    if cell.multiplexed:
        service = ('services = {\n  %s,\n  { idl = "%s", name = "Base", handler = "%s", '
                   'default = true },\n}\n' % (interop, idl, lua))
    else:
        service = "service = %s\n" % interop
    if cell.detect:
        # The debug log names what each connection was detected as.
        fixed = 'transport = "auto"\nprotocol = "auto"\nloglevel = "debug"\n'
    else:
        fixed = 'transport = "%s"\nprotocol = "%s"\n' % (cell.transport, cell.protocol)
    # One handler thread: remember() and remembered() share its state.
    return 'workers = 1\nthreads = 1\n%s%s' % (fixed, service)


DETECTED = re.compile(r"\[debug\] \S+: ((?:buffered|framed) (?:binary|compact)|header)"
                      r"(?: \(non-strict\))?$", re.M)
# A THeader connection's first frame, and any later one that changes it,
# names the protocol inside.
CARRIES = re.compile(r"\[debug\] \S+: THeader carries (\S+)$", re.M)


def detection_error(cell, log):
    """Why the server's log does not show `cell`'s form on every connection
    (None when it does)."""
    seen = DETECTED.findall(log)
    if not seen:
        return "the server logged no detected transport and protocol"
    wrong = sorted(set(f for f in seen if f != cell.detect))
    if wrong:
        return "the server detected %s, not %s" % (", ".join(wrong), cell.detect)
    if cell.transport == "header":
        inside = CARRIES.findall(log)
        if len(inside) < len(seen):
            return "%d THeader connections, %d said what they carry" % (len(seen), len(inside))
        wrong = sorted(set(p for p in inside if p != cell.protocol))
        if wrong:
            return "THeader carried %s, not %s" % (", ".join(wrong), cell.protocol)
    return None


def unsupported(lang, cell):
    """(what, reason) when `lang` cannot run `cell`, else None."""
    reasons = LANGS[lang][2]
    for what, applies in (("header", cell.transport == "header"),
                          ("multiplexed", cell.multiplexed),
                          (cell.protocol, True)):
        if applies and what in reasons:
            return what, reasons[what]
    return None

# The clients are test programs built with the project's flags, sanitizers
# included: their memory errors still fail a cell, but what a short-lived
# client leaves unfreed at exit (c_glib's generated code leaks by design) is
# not thriftcorn's to report.
CLIENT_ENV = dict(os.environ, ASAN_OPTIONS="detect_leaks=0")


def run_cell(client, cell, handler):
    start = time.monotonic()
    args = [cell.transport, cell.protocol] + ([MUX_SERVICE] if cell.multiplexed else [])
    try:
        with harness.Server(settings(cell, handler)) as srv:
            try:
                out = subprocess.run(client + [str(srv.port)] + args,
                                     capture_output=True, text=True, errors="replace",
                                     timeout=CLIENT_TIMEOUT, env=CLIENT_ENV)
                ok = out.returncode == 0 and out.stdout.strip().endswith("ok")
                detail = (out.stdout + out.stderr).strip()
                if not ok:
                    detail = "exit %d\n%s" % (out.returncode, detail)
                elif cell.detect:
                    why = detection_error(cell, srv.log())
                    if why:
                        ok = False
                        detail = "%s\n%s" % (why, detail)
            except OSError as e:
                ok = False
                detail = "cannot run the client: %s" % e
            except subprocess.TimeoutExpired as e:
                ok = False
                detail = "client timed out after %ss\n%s" % (CLIENT_TIMEOUT, e.stderr or "")
            if not ok:
                detail += "\n--- server log ---\n" + srv.log()[-4000:]
    except (RuntimeError, AssertionError) as e:
        ok = False
        detail = "server: %s" % e
    return {"status": "pass" if ok else "fail", "detail": detail[-8000:],
            "seconds": round(time.monotonic() - start, 2)}


def package_version(pkg):
    out = subprocess.run(["dpkg-query", "-W", "-f=${Version}", pkg],
                         capture_output=True, text=True)
    return out.stdout.strip() if out.returncode == 0 else "?"


def cmd_run(args):
    out = os.path.join(args.results, "%s-%s.json" % (args.lang, args.handler))
    if os.path.exists(out):
        os.unlink(out)  # never leave a previous run's result behind a crash
    cells = {}
    failed = 0
    for cell in CELLS:
        why = unsupported(args.lang, cell)
        if why:
            c = {"status": "n/a", "what": why[0], "detail": why[1]}
        else:
            c = run_cell(args.client, cell, args.handler)
            failed += c["status"] == "fail"
        cells[cell.key] = c
        print("%-8s %-5s %-28s %s" % (args.lang, args.handler, cell.key, c["status"]))
        if c["status"] == "fail":
            print("    " + c["detail"].replace("\n", "\n    "))
    os.makedirs(args.results, exist_ok=True)
    result = {"lang": args.lang, "handler": args.handler, "cells": cells,
              "package": LANGS[args.lang][1], "version": package_version(LANGS[args.lang][1])}
    with open(out, "w") as f:
        json.dump(result, f, indent=1)
    ran = sum(c["status"] != "n/a" for c in cells.values())
    print("%d passed, %d failed" % (ran - failed, failed))
    return 1 if failed else 0


NOT_SUPPORTED = "not supported by the library"


def matrix(results, handler):
    head = ["library", "Debian package"] + [c.heading for c in CELLS]
    rows = ["| " + " | ".join(head) + " |", "|" + " --- |" * len(head)]
    notes = []
    for lang, (name, pkg, _) in LANGS.items():
        r = results.get((lang, handler))
        if r is None:
            rows.append("| %s | %s | %s |" % (name, pkg, " | ".join(["not run"] * len(CELLS))))
            why = NOT_YET.get(lang, "its toolchain or library was not found when the build "
                                    "was configured")
            notes.append("not run, %s: %s" % (name, why))
            continue
        cells = []
        for cell in CELLS:
            c = r["cells"].get(cell.key, {"status": "not run", "detail": ""})
            cells.append(NOT_SUPPORTED if c["status"] == "n/a" else c["status"])
            note = "%s, the %s cells: %s" % (name, c.get("what", "n/a"), c["detail"])
            if c["status"] == "n/a" and note not in notes:
                notes.append(note)
        rows.append("| %s | %s %s | %s |" % (name, pkg, r["version"], " | ".join(cells)))
    text = "\n".join(rows) + "\n"
    if notes:
        text += "\n" + "\n".join("- " + n for n in notes) + "\n"
    return text


def cmd_assemble(args):
    results = {}
    for name in sorted(os.listdir(args.results)):
        if name.endswith(".json"):
            with open(os.path.join(args.results, name)) as f:
                r = json.load(f)
            results[(r["lang"], r["handler"])] = r
    with open(os.path.join(HERE, "interop.md.in")) as f:
        template = f.read()
    handlers = [h for h in HANDLERS if any(k[1] == h for k in results)]
    body = ""
    for h in handlers:
        body += "### %s\n\n%s\n" % (HANDLERS[h], matrix(results, h))
    missing = [h for h in HANDLERS if h not in handlers]
    for h in missing:
        body += "### %s\n\nNot run: %s.\n\n" % (HANDLERS[h], args.why_not.get(h, "not built"))
    failed = [(k, cell) for k, r in results.items() for cell, c in r["cells"].items()
              if c["status"] == "fail"]
    complete = all((lang, h) in results for lang in LANGS if lang not in NOT_YET
                   for h in args.handlers)
    stamp = "Generated by `ctest -L interop` on %s (Debian %s, thrift-compiler %s)." % (
        datetime.date.today().isoformat(), debian_version(), package_version("thrift-compiler"))
    text = template.replace("@MATRIX@", body.rstrip() + "\n").replace("@GENERATED@", stamp)
    with open(args.out, "w") as f:
        f.write(text)
    print("wrote %s" % args.out)
    if args.doc:
        if not complete or failed:
            print("not updating %s: %s" % (args.doc, "some cells failed" if failed
                                            else "some libraries were not run"))
        elif not same_but_stamp(args.doc, text):
            with open(args.doc, "w") as f:
                f.write(text)
            print("updated %s" % args.doc)
        else:
            print("%s is up to date" % args.doc)
    for (lang, handler), cell in failed:
        print("FAIL %s %s %s" % (lang, handler, cell))
    missing_langs = [lang for lang in LANGS if (lang, "lua") not in results and lang not in NOT_YET]
    for lang in missing_langs:
        print("NOT RUN %s (its toolchain or library was not found at configure time)" % lang)
    lost = [(lang, h) for lang in args.expect.split(",") for h in args.handlers
            if lang and (lang, h) not in results]
    for lang, h in lost:
        print("FAIL %s %s: its test was registered but wrote no results" % (lang, h))
    return 1 if failed or lost else 0


def debian_version():
    try:
        with open("/etc/debian_version") as f:
            return f.read().strip()
    except OSError:
        return "?"


def same_but_stamp(path, text):
    """True when `path` differs from `text` at most in the "Generated by" line,
    so that a rerun with the same results leaves the file alone."""
    try:
        with open(path) as f:
            old = f.read()
    except FileNotFoundError:
        return False

    def strip(s):
        return [line for line in s.splitlines() if not line.startswith("Generated by")]
    return strip(old) == strip(text)


def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)
    r = sub.add_parser("run")
    r.add_argument("--lang", required=True, choices=sorted(LANGS))
    r.add_argument("--handler", default="lua", choices=sorted(HANDLERS))
    r.add_argument("--results", required=True)
    r.add_argument("client", nargs="+")
    a = sub.add_parser("assemble")
    a.add_argument("--results", required=True)
    a.add_argument("--out", required=True)
    a.add_argument("--doc")
    a.add_argument("--expect", default="",
                   help="comma-separated libraries whose results must be there")
    a.add_argument("--handlers", default="lua",
                   help="comma-separated handlers every expected library must have run with")
    a.add_argument("--why-not", action="append", default=[],
                   help="HANDLER=REASON for a handler that was not run")
    args = ap.parse_args()
    if args.cmd == "run":
        return cmd_run(args)
    args.why_not = dict(w.split("=", 1) for w in args.why_not)
    args.handlers = [h for h in args.handlers.split(",") if h]
    return cmd_assemble(args)


if __name__ == "__main__":
    sys.exit(main())

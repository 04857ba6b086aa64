#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""The interop matrix driver. For one client library it serves
tests/interop/interop.thrift with thriftcorn once per transport x protocol
cell, runs that library's client program against it and writes the cells'
pass/fail to a JSON file. With --assemble it reads those files and writes
the matrix into docs/interop.md (from tests/interop/interop.md.in).

    run_interop.py run --lang go --handler lua --results DIR -- CLIENT [ARGS]
    run_interop.py assemble --results DIR --out BUILD/interop.md [--doc docs/interop.md]

The client is run as `CLIENT [ARGS] PORT TRANSPORT PROTOCOL`. It prints one
line per failed check and exits non-zero on any, or prints "ok"."""

import argparse
import datetime
import json
import os
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "integration"))
import harness  # noqa: E402

CELLS = [(t, p) for t in harness.TRANSPORTS for p in harness.PROTOCOLS]

# Each library: its name in the matrix, the Debian package whose version is
# reported, and the cells it cannot run with the reason.
LANGS = {
    "py": ("Python", "python3-thrift", {}),
    "cpp": ("C++", "libthrift-dev", {}),
    "c_glib": ("C (c_glib)", "libthrift-c-glib-dev", {}),
    "go": ("Go", "golang-thrift-dev", {}),
    "java": ("Java", "libthrift-java", {}),
    "rb": ("Ruby", "ruby-thrift", {}),
    "perl": ("Perl", "libthrift-perl", {
        "compact": "the Perl library has no compact protocol (only Thrift::BinaryProtocol)"}),
    "php": ("PHP", "php-thrift", {}),
}
# Libraries without a client program yet, with the reason the matrix shows.
NOT_YET = {}
HANDLERS = {
    "lua": "Lua handler (tests/interop/handler.lua)",
    "c": "C plugin handler (tests/interop/plugin/interop_plugin.c, remember/remembered in handler.lua)",
}
CLIENT_TIMEOUT = 120


def settings(transport, protocol, handler):
    if handler == "lua":
        service = ('service = { idl = "%s", name = "Interop", handler = "%s" }\n'
                   % (os.path.join(HERE, "interop.thrift"), os.path.join(HERE, "handler.lua")))
    else:
        # The plugin leaves remember() and remembered() to handler.lua
        # (service.handler serves what service.plugin does not).
        plugin = os.environ["TC_INTEROP_PLUGIN"]
        service = ('service = { idl = "%s", name = "Interop", plugin = "%s", handler = "%s" }\n'
                   % (os.path.join(HERE, "interop.thrift"), plugin,
                      os.path.join(HERE, "handler.lua")))
    # One handler thread: remember() and remembered() share its state.
    return ('workers = 1\nthreads = 1\ntransport = "%s"\nprotocol = "%s"\n%s'
            % (transport, protocol, service))


def unsupported(lang, transport, protocol):
    reasons = LANGS[lang][2]
    return reasons.get(transport) or reasons.get(protocol)

# The clients are test programs built with the project's flags, sanitizers
# included: their memory errors still fail a cell, but what a short-lived
# client leaves unfreed at exit (c_glib's generated code leaks by design) is
# not thriftcorn's to report.
CLIENT_ENV = dict(os.environ, ASAN_OPTIONS="detect_leaks=0")


def run_cell(client, transport, protocol, handler):
    start = time.monotonic()
    try:
        with harness.Server(settings(transport, protocol, handler)) as srv:
            try:
                out = subprocess.run(client + [str(srv.port), transport, protocol],
                                     capture_output=True, text=True, errors="replace",
                                     timeout=CLIENT_TIMEOUT, env=CLIENT_ENV)
                ok = out.returncode == 0 and out.stdout.strip().endswith("ok")
                detail = (out.stdout + out.stderr).strip()
                if not ok:
                    detail = "exit %d\n%s" % (out.returncode, detail)
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
    for transport, protocol in CELLS:
        key = "%s/%s" % (transport, protocol)
        reason = unsupported(args.lang, transport, protocol)
        if reason:
            cells[key] = {"status": "n/a", "detail": reason}
        else:
            cells[key] = run_cell(args.client, transport, protocol, args.handler)
            failed += cells[key]["status"] == "fail"
        print("%-8s %-5s %-16s %s" % (args.lang, args.handler, key, cells[key]["status"]))
        if cells[key]["status"] == "fail":
            print("    " + cells[key]["detail"].replace("\n", "\n    "))
    os.makedirs(args.results, exist_ok=True)
    result = {"lang": args.lang, "handler": args.handler, "cells": cells,
              "package": LANGS[args.lang][1], "version": package_version(LANGS[args.lang][1])}
    with open(os.path.join(args.results, "%s-%s.json" % (args.lang, args.handler)), "w") as f:
        json.dump(result, f, indent=1)
    ran = sum(c["status"] != "n/a" for c in cells.values())
    print("%d passed, %d failed" % (ran - failed, failed))
    return 1 if failed else 0


def matrix(results, handler):
    head = ["library", "Debian package"] + ["%s %s" % c for c in CELLS]
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
        for t, p in CELLS:
            c = r["cells"]["%s/%s" % (t, p)]
            cells.append(c["status"])
            note = "n/a, %s: %s" % (name, c["detail"])
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

# SPDX-License-Identifier: Apache-2.0
"""The command line: --version, --check-config and --check-idl, errors that
stop the server at start (bad config, missing IDL or handler method, port in
use) with exit status 1, command-line flags over the file (bare yes/no flags,
flag errors as `--flag: message`), unix and IPv6 binds, expose_errors."""

import contextlib
import os
import re
import shutil
import signal
import socket
import subprocess
import time
import unittest

import harness
from thrift.Thrift import TApplicationException
from thrift.protocol import TBinaryProtocol
from thrift.transport import TSocket, TTransport

FIXTURE = os.path.join(harness.SOURCE_DIR, "tests", "fixtures", "server")
SERVICE = ('service = { idl = "%s/svc.thrift", name = "TestService", handler = "%s/handler.lua" }\n'
           % (FIXTURE, FIXTURE))


def set_at(cfg, setting):
    """How --check-config names a setting of file 'cfg' in a line about a
    file or bind: 'CFG:LINE: setting', at the last line that sets it."""
    with open(cfg) as f:
        line = [n for n, text in enumerate(f, 1) if text.startswith(setting + " = ")][-1]
    return "%s:%d: %s" % (os.path.realpath(cfg), line, setting)


def run(args, timeout=30, **kw):
    return subprocess.run([harness.BIN] + args, capture_output=True, text=True, timeout=timeout,
                          **kw)


def cpu_seconds(pid):
    """The CPU time process 'pid' has used (user and system), in seconds."""
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


@contextlib.contextmanager
def port_in_use():
    """A loopback TCP port that a listening socket holds for the block."""
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    s.listen()
    try:
        yield s.getsockname()[1]
    finally:
        s.close()


def write(folder, name, text):
    path = os.path.join(folder, name)
    with open(path, "w") as f:
        f.write(text)
    return path


class CliTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        harness.gen_py(os.path.join(FIXTURE, "svc.thrift"))
        cls.S = harness.load_gen("svc.TestService")

    def setUp(self):
        self.dir = harness.tempdir("tc-cli-")

    def test_version(self):
        out = run(["--version"])
        self.assertEqual(out.returncode, 0)
        self.assertRegex(out.stdout, r"^thriftcorn \d+\.\d+\.\d+\n$")

    def test_check_config_ok(self):
        out = run(["--check-config", os.path.join(harness.SOURCE_DIR, "thriftcorn.lua")])
        self.assertEqual(out.returncode, 0, out.stderr)
        self.assertIn("ok (service PingService", out.stdout)

    def test_config_given_with_c_as_gunicorn_does(self):
        cfg = os.path.join(harness.SOURCE_DIR, "thriftcorn.lua")
        for args in (["-c", cfg, "--check-config"], ["--check-config", "--config", cfg],
                     ["--config=" + cfg, "--check-config"]):
            out = run(args)
            self.assertEqual(out.returncode, 0, (args, out.stderr))
            self.assertIn("ok (service PingService", out.stdout)
        for args, why in ((["--check-config", "-c"], "-c: needs a config file\n"),
                          (["--config=", "--check-config"], "--config: needs a config file\n"),
                          (["-c", cfg, "other.lua"],
                           "thriftcorn: more than one config file given (%s, other.lua)\n" % cfg)):
            out = run(args)
            self.assertEqual(out.returncode, 2, args)
            self.assertEqual(out.stderr, why)

    def test_check_config_reports_every_problem_with_its_line(self):
        cfg = write(self.dir, "bad.lua", "workers = 'x'\nthreads = 0\n" + SERVICE)
        out = run(["--check-config", cfg])
        self.assertEqual(out.returncode, 1)
        self.assertIn("bad.lua:1: workers: expected an integer, got string", out.stderr)
        self.assertIn("bad.lua:2: threads: must be at least 1, got 0", out.stderr)

    def test_check_config_with_many_problems_shows_whole_lines_and_counts_the_rest(self):
        n = 40
        cfg = write(self.dir, "many.lua", "".join("unknown_%02d = 1\n" % i for i in range(n))
                    + SERVICE)
        out = run(["--check-config", cfg])
        self.assertEqual(out.returncode, 1)
        lines = [x for x in out.stderr.splitlines() if "many.lua:" in x]
        self.assertGreater(len(lines), 1, out.stderr)
        for i, line in enumerate(lines):  # whole, and in the file's order
            self.assertTrue(line.endswith("(helpers in the config should be local)"), line)
            self.assertIn("many.lua:%d: unknown setting 'unknown_%02d'" % (i + 1, i), line)
        m = re.search(r"^\(and (\d+) more\)$", out.stderr, re.M)
        self.assertIsNotNone(m, out.stderr)
        self.assertEqual(len(lines) + int(m.group(1)), n)

    def test_config_tables_with_metatables_are_read_as_plain_copies(self):
        cfg = write(self.dir, "meta.lua",
                    'include_dirs = setmetatable({ "." }, { __len = function() return -1 end })\n'
                    + SERVICE)
        out = run(["--check-config", cfg])
        self.assertEqual(out.returncode, 0, out.stderr)
        self.assertNotIn("AddressSanitizer", out.stderr)

    def test_config_that_calls_os_exit_is_refused_with_its_line(self):
        """os.exit() in the config, even with status 0, would end the check
        (and a start) without a word: it is an error naming the line."""
        cfg = write(self.dir, "exits.lua", SERVICE + 'bind = "127.0.0.1:0"\nos.exit(0)\n')
        why = ("%s:3: os.exit() called while the config file runs: the server would end here "
               "(raise an error to refuse the config)\n" % os.path.realpath(cfg))
        for args in (["--check-config", cfg], [cfg]):
            out = run(args)
            self.assertEqual(out.returncode, 1, (args, out.stderr))
            self.assertTrue(out.stderr.endswith(why), (args, out.stderr))

    def test_config_strings_with_a_nul_byte_are_refused_not_cut(self):
        """C would cut the error log's path at the NUL and log to another
        file; a bind or user with one made the check raise with no place."""
        log = os.path.join(self.dir, "error.log")
        cfg = write(self.dir, "nul.lua", SERVICE + 'errorlog = "%s\\0.old"\n'
                    'bind = "127.0.0.1:0\\0"\nuser = "root\\0"\n' % log)
        where = os.path.realpath(cfg)
        for args in (["--check-config", cfg], [cfg]):
            out = run(args)
            self.assertEqual(out.returncode, 1, (args, out.stderr))
            self.assertEqual(out.stderr, "%s:2: errorlog: contains a NUL byte (at byte %d)\n"
                             "%s:3: bind: item 1: contains a NUL byte (at byte 12)\n"
                             "%s:4: user: contains a NUL byte (at byte 5)\n"
                             % (where, len(log) + 1, where, where))
            self.assertFalse(os.path.exists(log))

    def test_missing_idl_is_an_error_at_start(self):
        cfg = write(self.dir, "c.lua",
                    'bind = "127.0.0.1:0"\nservice = { idl = "nope.thrift", name = "X", '
                    'handler = "h.lua" }\n')
        for args in (["--check-config", cfg], [cfg]):
            out = run(args)
            self.assertEqual(out.returncode, 1, args)
            self.assertIn("nope.thrift", out.stderr)

    def test_bad_idl_names_file_line_and_column(self):
        write(self.dir, "bad.thrift", "struct S {\n  1: i32 a,\n  2: \n}\n")
        out = run(["--check-idl", os.path.join(self.dir, "bad.thrift")])
        self.assertEqual(out.returncode, 1)
        self.assertRegex(out.stderr, r"bad\.thrift:4:1: expected a field type, found '}'")

    def test_idl_warnings_are_shown(self):
        """The IDL loader's warnings reach the user: on stderr for
        --check-idl, in the log for --check-config and the server."""
        idl = write(self.dir, "w.thrift",
                    "enum A { X = 1, Y = 2 }\nenum B { Y = 7 }\n"
                    "struct S { 1: B b = A.Y }\n"
                    "service W { oneway i32 push(1: S s) }\n")
        want = ["w.thrift:3:21: default of field 'b': 'A.Y' is taken as B.Y (7)",
                "w.thrift:4:13: oneway function 'push' should return void"]
        out = run(["--check-idl", idl])
        self.assertEqual(out.returncode, 0, out.stderr)
        for w in want:
            self.assertIn("warning: " + os.path.realpath(self.dir) + "/" + w, out.stderr)
        write(self.dir, "h.lua", "return { push = function() end }\n")
        cfg = write(self.dir, "c.lua",
                    'service = { idl = "w.thrift", name = "W", handler = "h.lua" }\n')
        out = run(["--check-config", cfg])
        self.assertEqual(out.returncode, 0, out.stderr)
        for w in want:
            self.assertIn("IDL warning: " + os.path.realpath(self.dir) + "/" + w, out.stderr)
        self.assertEqual(out.stderr.count("IDL warning: "), 2, out.stderr)

    def test_check_idl_lists_services_with_inherited_methods(self):
        out = run(["--check-idl", os.path.join(FIXTURE, "svc.thrift")])
        self.assertEqual(out.returncode, 0, out.stderr)
        self.assertIn("service TestService extends svc.Base", out.stdout)
        self.assertIn("string base_hello()  [inherited from svc.Base]", out.stdout)
        self.assertIn("void fail(1: i32 code) throws (1: Oops err)", out.stdout)
        self.assertIn("oneway void fire(1: string note)", out.stdout)

    def test_check_idl_include_dir_in_each_form(self):
        inc = os.path.join(self.dir, "inc")
        os.mkdir(inc)
        write(inc, "shared.thrift", "struct Shared { 1: i32 x }\n")
        idl = write(self.dir, "top.thrift",
                    'include "shared.thrift"\nservice Top { shared.Shared get() }\n')
        out = run(["--check-idl", idl])
        self.assertNotEqual(out.returncode, 0)
        self.assertIn("shared.thrift", out.stderr)
        for flag in (["-I", inc], ["--include-dir", inc], ["--include-dir=" + inc]):
            out = run(["--check-idl"] + flag + [idl])
            self.assertEqual(out.returncode, 0, (flag, out.stderr))
            self.assertIn("shared.Shared get()", out.stdout, flag)
        out = run(["--check-idl", "--include-dir=", idl])
        self.assertEqual((out.returncode, out.stderr), (2, "--include-dir: needs a folder\n"))

    def test_check_idl_include_search_stops_at_a_file_it_may_not_read(self):
        """An include in the first -I folder that is there but may not be
        read is an error, as with Apache's compiler and gcc's #include, not
        passed over for the one in a later folder. Root may read any file,
        so as root the check runs as nobody."""
        if os.geteuid() == 0 and shutil.which("setpriv") is None:
            self.skipTest("needs setpriv to run the check as a user that is not root")
        prefix = (["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"]
                  if os.geteuid() == 0 else [])
        d = harness.readable_service("tc-cli-")
        first, second = os.path.join(d, "first"), os.path.join(d, "second")
        for folder in (first, second):
            os.mkdir(folder)
            os.chmod(folder, 0o755)
        os.chmod(write(second, "x.thrift", "struct X { 1: i32 a }\n"), 0o644)
        top = write(d, "top.thrift", 'include "x.thrift"\nservice Top { x.X get() }\n')
        os.chmod(top, 0o644)
        args = prefix + [harness.BIN, "--check-idl", "-I", first, "-I", second, top]
        out = subprocess.run(args, capture_output=True, text=True, timeout=30)
        self.assertEqual(out.returncode, 0, out.stderr)
        self.assertIn("x.X get()", out.stdout)
        locked = write(first, "x.thrift", "struct X { 1: i32 a }\n")
        os.chmod(locked, 0)
        out = subprocess.run(args, capture_output=True, text=True, timeout=30)
        self.assertEqual(out.returncode, 1, out.stdout)
        self.assertEqual(out.stderr, "%s:1:1: cannot read include file 'x.thrift' (%s): "
                         "Permission denied\n" % (top, locked))

    def test_flags_of_another_mode_are_refused_not_ignored(self):
        """-I serves --check-idl and --plugin-header only, and a setting
        flag needs a config: each elsewhere stops the command with status 2
        instead of being dropped without a word."""
        cfg = write(self.dir, "c.lua", SERVICE)
        idl = os.path.join(FIXTURE, "svc.thrift")
        only_idl = ("%s: only with --check-idl and --plugin-header; the server's include folders "
                    "are the setting include_dirs (--include-dirs)\n")
        no_config = "%s: a setting of the config, which %s does not read\n"
        for args, line in (
                (["--check-config", "-I", self.dir, cfg], only_idl % "-I"),
                (["-I", self.dir, "--check-config", cfg], only_idl % "-I"),
                (["--check-config", "--include-dir=" + self.dir, cfg],
                 only_idl % "--include-dir"),
                (["--check-idl", "--include-dirs", self.dir, idl],
                 no_config % ("--include-dirs", "--check-idl")),
                (["--workers=2", "--plugin-header", idl, "TestService"],
                 no_config % ("--workers", "--plugin-header"))):
            out = run(args, cwd=self.dir)
            self.assertEqual((out.returncode, out.stderr, out.stdout), (2, line, ""), args)

    def test_check_config_names_the_file_of_every_problem_of_the_file_itself(self):
        """What the config file does when it runs is checked as what it sets:
        a runtime error names the file and line whatever was raised, a
        long path is named whole, and a returned value or an empty 'bind'
        is refused rather than dropped."""
        deep = os.path.join(self.dir, *(["a-folder-with-a-long-name"] * 3))
        os.makedirs(deep)
        for text, line, err in (
                ("error({})\n", 2, "(error object is a table value)"),
                ("error('boom', 0)\n", 2, "boom"),
                ("local x = nil + 1\n", 2, "attempt to perform arithmetic on a nil value"),
                ("bind = {}\n", 2, "bind: expected at least one address, got an empty list"),
                ("errorlog = ''\n", 2, "errorlog: expected a file path or '-', got an empty string"),
                ("workers = = 2\n", 2, "unexpected symbol near '='")):
            cfg = write(deep, "thriftcorn.lua", "workers = 2.0\n" + text + SERVICE)
            out = run(["--check-config", cfg])
            self.assertEqual((out.returncode, out.stderr, out.stdout),
                             (1, "%s:%d: %s\n" % (cfg, line, err), ""), text)
        cfg = write(deep, "thriftcorn.lua", SERVICE + "return { workers = 4 }\n")
        out = run(["--check-config", cfg])
        self.assertEqual((out.returncode, out.stderr), (1, "%s: the file returned a value (a table); "
                         "settings are set as globals (workers = 4), not returned\n" % cfg))

    def test_config_that_never_finishes_is_stopped_with_its_line(self):
        """A config file that loops forever hung the start and --check-config
        without a word: after 10 s of CPU time it is stopped at the line it
        runs, and again a second later when a pcall() of the file caught it."""
        cfg = write(self.dir, "spin.lua", SERVICE + 'bind = "127.0.0.1:0"\n'
                    "local function spin()\n  local n = 0\n  while true do n = n + 1 end\nend\n"
                    "pcall(spin)\nspin()\n")
        why = ("%s:5: the config file ran for 10 s of CPU time without finishing "
               "(a loop that never ends?)\n" % os.path.realpath(cfg))
        outs = [os.path.join(self.dir, name) for name in ("check.out", "check.err",
                                                          "start.out", "start.err")]
        files = [open(path, "w+") for path in outs]
        procs = [subprocess.Popen([harness.BIN] + args, stdout=files[2 * i],
                                  stderr=files[2 * i + 1], text=True)
                 for i, args in enumerate((["--check-config", cfg], [cfg]))]
        try:
            # timed by CPU, not by the clock: on a loaded machine 10 s of CPU take longer
            while any(p.poll() is None for p in procs):
                for p in procs:
                    self.assertTrue(p.poll() is not None or cpu_seconds(p.pid) < 30,
                                    "still running after 30 s of CPU: %s" % p.args)
                time.sleep(0.2)
            for i, (p, args) in enumerate(zip(procs, ("--check-config", "start"))):
                files[2 * i].seek(0)
                files[2 * i + 1].seek(0)
                self.assertEqual((p.returncode, files[2 * i + 1].read(), files[2 * i].read()),
                                 (1, why, ""), args)
        finally:
            for p in procs:
                if p.poll() is None:
                    p.kill()
                    p.wait()
            for f in files:
                f.close()

    def test_config_mistakes_once_taken_without_a_word_are_refused(self):
        """A misspelt setting set to nil (from an environment variable that
        is unset), a setting put in Lua's global table and an empty include
        folder were taken without a word; a precompiled file's error and an
        empty path's ("$CONFIG" unset) named no file."""
        os.environ.pop("TC_TEST_UNSET_VARIABLE", None)
        cfg = os.path.join(os.path.realpath(self.dir), "c.lua")
        for text, err in (
                ('wokers = os.getenv("TC_TEST_UNSET_VARIABLE")\n',
                 ":2: unknown setting 'wokers' (did you mean 'workers'?) "
                 "(helpers in the config should be local)"),
                ("_G.workers = 4\n", ": '_G.workers' was set, which is Lua's global table, not "
                 "the settings: set it as a global (workers = ...)"),
                ('include_dirs = { "idl", "" }\n',
                 ":2: include_dirs: item 2: expected a folder, got an empty string")):
            write(self.dir, "c.lua", SERVICE + text)
            out = run(["--check-config", cfg])
            self.assertEqual((out.returncode, out.stderr, out.stdout), (1, cfg + err + "\n", ""),
                             text)
        with open(cfg, "wb") as f:
            f.write(b"\x1bLua\x54\x00")
        out = run(["--check-config", cfg])
        self.assertEqual((out.returncode, out.stderr, out.stdout),
                         (1, cfg + ": attempt to load a binary chunk (mode is 't')\n", ""))
        for args in (["--check-config", ""], [""]):
            out = run(args)
            self.assertEqual((out.returncode, out.stderr, out.stdout),
                             (1, "cannot read the config file: its path is empty\n", ""), args)

    def test_unknown_settings_point_to_the_one_meant(self):
        """A typo names the setting nearest in spelling; a key of 'service'
        set on its own, or a host or port, says where it belongs."""
        cfg = write(self.dir, "c.lua", SERVICE + 'worker = 4\nhandler = "h.lua"\nport = 9000\n')
        out = run(["--check-config", cfg])
        where, local = os.path.realpath(cfg), " (helpers in the config should be local)\n"
        self.assertEqual((out.returncode, out.stdout), (1, ""))
        self.assertEqual(out.stderr,
                         "%s:2: unknown setting 'worker' (did you mean 'workers'?)%s"
                         "%s:3: unknown setting 'handler' ('handler' is a key of service = "
                         "{ idl = ..., name = ..., handler = ... })%s"
                         "%s:4: unknown setting 'port' (did you mean bind = \"HOST:PORT\"?)%s"
                         % (where, local, where, local, where, local))

    def test_config_of_16_mib_is_read_and_one_byte_more_refused(self):
        """The largest config file is 16 MiB, that size included."""
        head = 'bind = "127.0.0.1:0"\n' + SERVICE
        for size, rc in ((16 << 20, 0), ((16 << 20) + 1, 1)):
            cfg = os.path.join(self.dir, "big.lua")
            with open(cfg, "w") as f:
                f.write(head + "--" + "x" * (size - len(head) - 3) + "\n")
            self.assertEqual(os.path.getsize(cfg), size)
            out = run(["--check-config", cfg])
            self.assertEqual(out.returncode, rc, out.stderr)
            if rc:
                self.assertIn("over 16 MiB", out.stderr)

    def test_handler_missing_a_method(self):
        write(self.dir, "h.lua", "return { echo = function(s) return s end }\n")
        cfg = write(self.dir, "c.lua",
                    'bind = "127.0.0.1:0"\nservice = { idl = "%s/svc.thrift", '
                    'name = "TestService", handler = "h.lua" }\n' % FIXTURE)
        for args in (["--check-config", cfg], [cfg, "--errorlog", os.path.join(self.dir, "l")]):
            out = run(args)
            self.assertEqual(out.returncode, 1, args)
            text = out.stderr
            if os.path.exists(os.path.join(self.dir, "l")):
                with open(os.path.join(self.dir, "l")) as f:
                    text += f.read()
            self.assertIn("service TestService: %s/h.lua: no function for method 'base_hello'\n"
                          % os.path.realpath(self.dir), text)

    def test_handler_missing_a_method_says_what_it_has(self):
        """A value of another type under the method's name is named; a
        function of the handler spelled nearly as the method is offered
        ("did you mean"), as the config does for a setting, but never the
        function of another method of the service."""
        write(self.dir, "ping.thrift", "service P { void ping(), void pong() }\n")
        cfg = write(self.dir, "c.lua",
                    'bind = "127.0.0.1:0"\nservice = { idl = "ping.thrift", name = "P", '
                    'handler = "h.lua" }\n')
        path = os.path.join(os.path.realpath(self.dir), "h.lua")
        fn = "function() end"
        cases = [
            ('ping = "pong", pong = %s' % fn, "handler.ping is a string, not a function"),
            ("ping = {}, pong = %s" % fn, "handler.ping is a table, not a function"),
            ("Ping = %s, pong = %s" % (fn, fn),
             "no function for method 'ping' (did you mean 'Ping'?)"),
            ("pnig = %s, pong = %s" % (fn, fn),
             "no function for method 'ping' (did you mean 'pnig'?)"),
            ("ping = %s, Pogn = %s" % (fn, fn),
             "no function for method 'pong' (did you mean 'Pogn'?)"),
            # 'pong' is one letter from 'ping', but it is pong's function
            ("pong = %s, other = %s" % (fn, fn), "no function for method 'ping'\n"),
        ]
        for handler, want in cases:
            write(self.dir, "h.lua", "return { %s }\n" % handler)
            out = run(["--check-config", cfg])
            self.assertEqual(out.returncode, 1, out.stderr)
            self.assertIn("service P: %s: %s" % (path, want), out.stderr)
        # the hint needs require(): a module that took it away, or made it
        # raise, still hears of the method it lacks, without a hint
        for require in ("nil", "function(m) error('no module ' .. m) end",
                        "function() return {} end"):
            write(self.dir, "h.lua", "require = %s\nreturn { Ping = %s, pong = %s }\n"
                  % (require, fn, fn))
            out = run(["--check-config", cfg])
            self.assertEqual(out.returncode, 1, out.stderr)
            self.assertIn("service P: %s: no function for method 'ping'\n" % path, out.stderr)

    def test_a_missing_handler_names_the_service(self):
        """One service names itself in its loading errors, as an entry of
        services = { ... } does."""
        real = os.path.realpath(self.dir)
        cfg = write(self.dir, "c.lua",
                    'bind = "127.0.0.1:0"\nservice = { idl = "%s/svc.thrift", '
                    'name = "TestService", handler = "nothere.lua" }\n' % FIXTURE)
        want = ("service TestService: cannot open %s/nothere.lua: No such file or directory"
                % real)
        out = run(["--check-config", cfg])
        self.assertEqual((out.returncode, out.stdout, out.stderr), (1, "", want + "\n"))
        # at start: the worker's boot fails, and the server exits 1
        out = run([cfg])
        self.assertEqual(out.returncode, 1, out.stderr)
        self.assertIn("] worker failed to load the handler: " + want + "\n", out.stderr)

    def test_handler_with_a_syntax_error(self):
        write(self.dir, "h.lua", "return { echo = function(s) return s end\n")
        cfg = write(self.dir, "c.lua", 'service = { idl = "%s/svc.thrift", '
                    'name = "TestService", handler = "h.lua" }\n' % FIXTURE)
        out = run(["--check-config", cfg])
        self.assertEqual(out.returncode, 1)
        # the error alone: no traceback of thriftcorn's own call into Lua
        self.assertEqual(out.stderr, "service TestService: %s:2: '}' expected (to close '{' at "
                         "line 1) near <eof>\n" % os.path.join(os.path.realpath(self.dir), "h.lua"))

    def test_handler_that_raises_at_load(self):
        """The error with its file:line and the handler's own frames, at
        --check-config and in the worker's log at start; no [C] frame of
        thriftcorn's setup."""
        self.dir = os.path.realpath(self.dir)
        write(self.dir, "h.lua", "local function check(x)\n  return x.field\nend\n"
              "check(nil)\nreturn {}\n")
        write(self.dir, "e.lua", "local x = 1\nerror('no database')\nreturn { x = x }\n")
        h, e = os.path.join(self.dir, "h.lua"), os.path.join(self.dir, "e.lua")
        cases = (("h.lua", "service TestService: %s:2: attempt to index a nil value (local 'x')"
                  "\nstack traceback:\n\t%s:2: in local 'check'\n\t%s:4: in main chunk\n"
                  % (h, h, h)),
                 ("e.lua", "service TestService: %s:2: no database\nstack traceback:\n"
                  "\t[C]: in function 'error'\n\t%s:2: in main chunk\n" % (e, e)))
        for handler, want in cases:
            with self.subTest(handler=handler):
                cfg = write(self.dir, "c.lua", 'bind = "127.0.0.1:0"\nservice = { idl = '
                            '"%s/svc.thrift", name = "TestService", handler = "%s" }\n'
                            % (FIXTURE, handler))
                out = run(["--check-config", cfg])
                self.assertEqual(out.returncode, 1)
                self.assertEqual(out.stderr, want)
                out = run([cfg])
                self.assertEqual(out.returncode, 1)
                self.assertIn("] worker failed to load the handler: " + want + "[", out.stderr)
                self.assertNotIn("[C]: in ?", out.stderr)

    def test_handler_that_ends_the_check_is_named_with_its_file(self):
        """A handler module that ends --check-config's loading process (a
        signal, os.exit(), even with status 0) fails it, naming the service
        and the handler file it was loading."""
        handler = os.path.join(os.path.realpath(self.dir), "h.lua")
        cfg = write(self.dir, "c.lua", 'service = { idl = "%s/svc.thrift", name = "TestService",'
                    ' handler = "h.lua" }\n' % FIXTURE)
        kill = ('local f = assert(io.open("/proc/self/stat"))\n'
                'local pid = f:read("n")\nf:close()\n'
                'os.execute("kill -KILL " .. pid)\n')
        for text, how in ((kill, "crashed (signal 9)"),
                          ("os.exit(2)\n", "exited with status 2, giving no reason"),
                          ("os.exit(0)\n", "exited with status 0, giving no reason")):
            with self.subTest(how=how):
                write(self.dir, "h.lua", text)
                out = run(["--check-config", cfg])
                self.assertEqual((out.returncode, out.stderr),
                                 (1, "loading the handlers of service TestService (handler %s) "
                                  "%s\n" % (handler, how)), out.stdout)

    def test_check_config_stops_handler_code_that_never_returns(self):
        """Handler code that loops at load, or a plugin whose init_arbiter
        never returns, does not hang --check-config: as a reload's check,
        it gets `timeout` (2 s here), is killed then, and the message names
        the step it was in. Nothing is left running."""
        handler = os.path.join(os.path.realpath(self.dir), "h.lua")
        write(self.dir, "h.lua", "while true do end\n")
        calc = os.path.join(harness.SOURCE_DIR, "examples", "calculator", "tutorial.thrift")
        plugin = os.path.join(os.environ.get("TC_BUILD_DIR", os.path.join(harness.SOURCE_DIR,
                                                                          "build")),
                              "tests", "plugins", "libtp_hang_init.so")
        write(self.dir, "rest.lua", "return { ping = function() end, getStruct = function() end,"
              " zip = function() end }\n")
        rest = os.path.join(os.path.realpath(self.dir), "rest.lua")
        cases = (('service = { idl = "%s/svc.thrift", name = "TestService", handler = "h.lua" }\n'
                  % FIXTURE, "service TestService (handler %s)" % handler),
                 ('service = { idl = "%s", name = "Calculator", plugin = "%s",'
                  ' handler = "rest.lua" }\n' % (calc, plugin),
                  "service Calculator (handler %s, plugin %s)" % (rest, plugin)))
        for text, what in cases:
            with self.subTest(what=what):
                cfg = write(self.dir, "c.lua", "timeout = 2\n" + text)
                t0 = time.monotonic()
                proc = subprocess.Popen([harness.BIN, "--check-config", cfg],
                                        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
                try:
                    out, err = proc.communicate(timeout=20)
                finally:
                    proc.kill()
                    proc.wait()
                self.assertLess(time.monotonic() - t0, 15)
                self.assertEqual((proc.returncode, err),
                                 (1, "loading the handlers of %s did not finish within 2 s "
                                  "(timeout)\n" % what), out)
                # the check's process is gone too: none has the config on its command line
                left = subprocess.run(["pgrep", "-f", "--", "--check-config " + cfg],
                                      capture_output=True, text=True)
                self.assertEqual(left.stdout, "")

    def test_check_config_refuses_an_idl_that_is_not_a_regular_file(self):
        """An IDL (or an include of it) that is a device or a FIFO is
        refused at once, naming it: /dev/zero would never end, and a FIFO
        without a writer would block the check forever."""
        fifo = os.path.join(os.path.realpath(self.dir), "svc.fifo")
        os.mkfifo(fifo)
        includer = write(self.dir, "inc.thrift", 'include "svc.fifo"\nservice S {}\n')
        cases = (("/dev/zero", "service.idl: /dev/zero: cannot read file: not a regular file"),
                 (fifo, "service.idl: %s: cannot read file: not a regular file" % fifo),
                 (includer, "service.idl: %s:1:1: cannot read include file 'svc.fifo' (%s): "
                  "not a regular file" % (os.path.realpath(includer), fifo)))
        for idl, want in cases:
            with self.subTest(idl=idl):
                cfg = write(self.dir, "c.lua", 'service = { idl = "%s", name = "S", '
                            'handler = "%s/handler.lua" }\n' % (idl, FIXTURE))
                t0 = time.monotonic()
                out = run(["--check-config", cfg], timeout=20)
                self.assertLess(time.monotonic() - t0, 10)
                self.assertEqual((out.returncode, out.stderr), (1, "%s:1: %s\n" % (os.path.realpath(cfg), want)),
                                 out.stdout)
        out = run(["--check-idl", fifo], timeout=20)
        self.assertEqual((out.returncode, out.stderr),
                         (1, "%s: cannot read file: not a regular file\n" % fifo), out.stdout)

    def test_idl_of_16_mib_is_read_and_one_byte_more_refused(self):
        """An IDL file is held to 16 MiB, as the config file is, that size
        included: the bigger one is refused without being parsed."""
        idl = os.path.join(os.path.realpath(self.dir), "big.thrift")
        head = "service S {}\n"
        for size, want in ((16 << 20, ""), ((16 << 20) + 1, "%s: cannot read file: over 16 MiB\n"
                                             % idl)):
            with open(idl, "w") as f:
                f.write(head + "//" + "x" * (size - len(head) - 3) + "\n")
            self.assertEqual(os.path.getsize(idl), size)
            out = run(["--check-idl", idl], timeout=120)
            self.assertEqual((out.returncode, out.stderr), (1 if want else 0, want), out.stdout)

    def check_then_start(self, settings, prefix=()):
        """--check-config of the test service with 'settings' (run behind
        'prefix', such as setpriv), then a start of the same config: (the
        check's result, the start's result)."""
        cfg = self.files_cfg = write(self.dir, "files.lua",
                                     SERVICE + 'bind = "127.0.0.1:0"\n' + settings)
        check = subprocess.run(list(prefix) + [harness.BIN, "--check-config", cfg],
                               capture_output=True, text=True, timeout=30)
        start = subprocess.run(list(prefix) + [harness.BIN, cfg], capture_output=True, text=True,
                               timeout=30)
        return check, start

    def test_check_config_refuses_logs_and_pidfile_the_start_cannot_open(self):
        """A log or pidfile in a folder that is missing, at a folder, under
        a file: the start exits 1 (`Cannot open the error log PATH: REASON`);
        --check-config, which passed them, now exits 1 too, with the
        setting's name and the start's words, each problem on its line, and
        no ok line."""
        a_file = write(self.dir, "a-file", "")
        folder = os.path.join(self.dir, "folder")
        os.mkdir(folder)
        bad = ((os.path.join(self.dir, "missing", "x.log"), "no such file or directory"),
               (folder, "is a directory"),
               (os.path.join(a_file, "x.log"), "not a directory"))
        words = {"errorlog": "open the error log", "accesslog": "open the access log",
                 "pidfile": "write the pidfile"}
        for setting, what in words.items():
            for path, why in bad:
                check, start = self.check_then_start('%s = "%s"\n' % (setting, path))
                self.assertEqual(check.returncode, 1, (setting, path, check.stderr))
                self.assertEqual(check.stdout, "", (setting, path))
                self.assertEqual(check.stderr, "%s: cannot %s %s: %s\n"
                                 % (set_at(self.files_cfg, setting), what, path, why))
                self.assertEqual(start.returncode, 1, (setting, path))
                self.assertIn("] [critical] Cannot %s %s: %s\n" % (what, path, why), start.stderr)
        # every problem at once, in the order the start meets them
        check, _ = self.check_then_start("".join('%s = "%s"\n' % (setting, bad[i][0])
                                                 for i, setting in enumerate(words)))
        self.assertEqual(check.returncode, 1)
        at = {setting: set_at(self.files_cfg, setting) for setting in words}
        self.assertEqual(check.stderr.splitlines(), [
            "%s: cannot open the error log %s: %s" % ((at["errorlog"],) + bad[0]),
            "%s: cannot write the pidfile %s: %s" % ((at["pidfile"],) + bad[2]),
            "%s: cannot open the access log %s: %s" % ((at["accesslog"],) + bad[1])])
        # set by a flag, the flag is named
        cfg = write(self.dir, "flags.lua", SERVICE)
        out = run(["--check-config", cfg, "--errorlog", bad[0][0], "--pidfile", bad[2][0],
                   "--accesslog", bad[1][0], "--bind", "unix:" + bad[0][0]])
        self.assertEqual(out.returncode, 1, out.stderr)
        self.assertEqual(out.stderr.splitlines(), [
            "--errorlog: cannot open the error log %s: %s" % bad[0],
            "--pidfile: cannot write the pidfile %s: %s" % bad[2],
            "--accesslog: cannot open the access log %s: %s" % bad[1],
            "--bind: cannot listen: unix:%s: %s" % bad[0]])
        # what the start accepts passes, and nothing is made, opened for long or changed
        old = write(folder, "old.log", "kept\n")
        fifo = os.path.join(folder, "fifo")
        os.mkfifo(fifo)
        for settings in ('errorlog = "%s/new.log"\naccesslog = "%s"\npidfile = "%s/tc.pid"\n'
                         % (folder, old, folder),
                         'errorlog = "-"\naccesslog = "-"\n',
                         'errorlog = "/dev/stderr"\naccesslog = "/dev/stdout"\n',
                         'accesslog = "%s"\n' % fifo):
            cfg = write(self.dir, "files.lua", SERVICE + settings)
            out = run(["--check-config", cfg])
            self.assertEqual(out.returncode, 0, (settings, out.stderr))
            self.assertIn(": ok (service TestService", out.stdout)
        self.assertEqual(sorted(os.listdir(folder)), ["fifo", "old.log"])
        with open(old) as f:
            self.assertEqual(f.read(), "kept\n")

    def test_check_config_refuses_a_unix_bind_the_start_cannot_make(self):
        """A unix socket in a folder that is missing, or where another file
        is: the start exits 1 (`Cannot listen: unix:PATH: REASON`), and so
        does --check-config now. A new or stale socket file passes, left as
        it is, and a TCP port in use too: the check binds nothing."""
        missing = "unix:" + os.path.join(self.dir, "missing", "tc.sock")
        in_the_way = "unix:" + write(self.dir, "not-a-socket", "")
        for spec, why in ((missing, "no such file or directory"),
                          (in_the_way, "a file that is not a socket is in the way")):
            check, start = self.check_then_start('bind = "%s"\n' % spec)
            self.assertEqual(check.returncode, 1, (spec, check.stderr))
            self.assertEqual(check.stdout, "")
            self.assertEqual(check.stderr, "%s: cannot listen: %s: %s\n"
                             % (set_at(self.files_cfg, "bind"), spec, why))
            self.assertEqual(start.returncode, 1, spec)
            self.assertIn("] [critical] Cannot listen: %s: %s\n" % (spec, why), start.stderr)
        stale = os.path.join(self.dir, "stale.sock")
        s = socket.socket(socket.AF_UNIX)
        s.bind(stale)
        s.close()
        new = os.path.join(self.dir, "new.sock")
        with port_in_use() as port:
            cfg = write(self.dir, "c.lua", 'bind = { "unix:%s", "unix:%s", "127.0.0.1:%d" }\n%s'
                        % (stale, new, port, SERVICE))
            out = run(["--check-config", cfg])
        self.assertEqual(out.returncode, 0, out.stderr)
        self.assertFalse(os.path.exists(new))
        self.assertTrue(os.path.exists(stale))

    def test_check_config_refuses_files_in_a_folder_it_may_not_write_to(self):
        """Checked as the user who runs the check, as the arbiter would open
        them. Root may write to any folder, so as root the check (and the
        start it predicts) runs as nobody."""
        if os.geteuid() == 0 and shutil.which("setpriv") is None:
            self.skipTest("needs setpriv to run the check as a user that is not root")
        prefix = (["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"]
                  if os.geteuid() == 0 else [])
        self.dir = harness.readable_service("tc-cli-")
        ro = os.path.join(self.dir, "ro")
        os.mkdir(ro)
        old = write(ro, "old.log", "")
        os.chmod(old, 0o444)
        os.chmod(ro, 0o555)
        check, start = self.check_then_start(
            'errorlog = "%s/new.log"\npidfile = "%s/tc.pid"\naccesslog = "%s"\n'
            'bind = "unix:%s/tc.sock"\n' % (ro, ro, old, ro), prefix)
        self.assertEqual(check.returncode, 1, check.stderr)
        at = {setting: set_at(self.files_cfg, setting)
              for setting in ("errorlog", "pidfile", "accesslog", "bind")}
        self.assertEqual(check.stderr.splitlines(), [
            "%s: cannot open the error log %s/new.log: permission denied" % (at["errorlog"], ro),
            "%s: cannot write the pidfile %s/tc.pid: permission denied" % (at["pidfile"], ro),
            "%s: cannot open the access log %s: permission denied" % (at["accesslog"], old),
            "%s: cannot listen: unix:%s/tc.sock: permission denied" % (at["bind"], ro)])
        self.assertEqual(start.returncode, 1)
        self.assertIn("] [critical] Cannot open the error log %s/new.log: permission denied\n"
                      % ro, start.stderr)

    def test_check_config_names_where_user_and_group_were_set(self):
        """Run by a user that is not root, a check with a 'user' or 'group'
        it cannot switch to fails as the workers' boot would, the line
        leading with where each setting was set, as the lines about files
        do. As root, the check runs as nobody."""
        if os.geteuid() == 0 and shutil.which("setpriv") is None:
            self.skipTest("needs setpriv to run the check as a user that is not root")
        prefix = (["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"]
                  if os.geteuid() == 0 else [])
        self.dir = harness.readable_service("tc-cli-")
        why = ("cannot set the supplementary groups: operation not permitted (only a server "
               "started as root may switch to another user or group)")
        for settings, named in (('user = "root"\n', ("user",)),
                                ('user = "root"\ngroup = "root"\n', ("user", "group"))):
            cfg = write(self.dir, "ids.lua", SERVICE + 'bind = "127.0.0.1:0"\n' + settings)
            out = subprocess.run(prefix + [harness.BIN, "--check-config", cfg],
                                 capture_output=True, text=True, timeout=30)
            self.assertEqual((out.returncode, out.stdout), (1, ""), out.stderr)
            self.assertEqual(out.stderr, "%s: %s\n"
                             % (", ".join(set_at(cfg, s) for s in named), why))

    def test_check_config_refuses_an_error_log_fifo_another_user_owns(self):
        """The start refuses an error log that is a FIFO neither root nor
        its own user owns (its owner could hold the read end and stall the
        arbiter); --check-config passed it, and now refuses it with the
        start's words, without opening it. The access log at that FIFO, and
        the error log at a FIFO of the check's own user, pass as they start."""
        if os.geteuid() != 0:
            self.skipTest("needs root to make a FIFO another user owns")
        fifo = os.path.join(self.dir, "fifo")
        os.mkfifo(fifo)
        os.chown(fifo, 65534, 65534)
        # a reader, so that the start's open reaches the owner's check
        reader = os.open(fifo, os.O_RDONLY | os.O_NONBLOCK)
        try:
            why = "a FIFO another user owns (not written to)"
            check, start = self.check_then_start('errorlog = "%s"\n' % fifo)
            self.assertEqual((check.returncode, check.stdout), (1, ""), check.stderr)
            self.assertEqual(check.stderr, "%s: cannot open the error log %s: %s\n"
                             % (set_at(self.files_cfg, "errorlog"), fifo, why))
            self.assertEqual(start.returncode, 1)
            self.assertIn("] [critical] Cannot open the error log %s: %s\n" % (fifo, why),
                          start.stderr)
            self.assertEqual(os.read(reader, 4096), b"")  # neither wrote to it
            # /dev/stderr is the stream as inherited: here that FIFO, which both refuse
            cfg = write(self.dir, "files.lua", SERVICE + 'errorlog = "/dev/stderr"\n')
            with open(fifo, "w") as err:
                for args in (["--check-config", cfg], [cfg]):
                    out = subprocess.run([harness.BIN] + args, stdout=subprocess.PIPE, stderr=err,
                                         text=True, timeout=30)
                    self.assertEqual((out.returncode, out.stdout), (1, ""), args)
            said = os.read(reader, 65536).decode()
            self.assertTrue(said.startswith("%s: cannot open the error log /dev/stderr: %s\n"
                                            % (set_at(cfg, "errorlog"), why)), said)
            self.assertIn("] [critical] Cannot open the error log /dev/stderr: %s\n" % why, said)
            mine = os.path.join(self.dir, "mine")
            os.mkfifo(mine)
            for settings in ('accesslog = "%s"\n' % fifo, 'errorlog = "%s"\n' % mine):
                cfg = write(self.dir, "files.lua", SERVICE + settings)
                out = run(["--check-config", cfg])
                self.assertEqual(out.returncode, 0, (settings, out.stderr))
        finally:
            os.close(reader)

    def test_check_config_refuses_binds_that_clash_as_written(self):
        """One address written two ways, which the text shows without a
        name lookup, and without reuse_port one port at every address and
        at one of them: the start fails at the later bind (`Cannot listen:
        bind B: ...`), and --check-config, which passed them, now says the
        same and exits 1. Names are not looked up (localhost passes), and
        what starts passes: [::] beside 0.0.0.0, every address and one of
        them with reuse_port, port 0 twice."""
        port = harness.free_port()
        sock = os.path.join(self.dir, "tc.sock")
        same = "the same address as bind %s (%s)"
        clashes = [
            (("127.0.0.1:%d" % port, "127.0.0.1:0%d" % port),
             same % ("127.0.0.1:%d" % port, "127.0.0.1:%d" % port)),
            (("127.0.0.1:%d" % port, "127.1:%d" % port),
             same % ("127.0.0.1:%d" % port, "127.0.0.1:%d" % port)),
            (("unix:" + sock, "unix:" + sock.replace("/tc.sock", "//./tc.sock")),
             same % ("unix:" + sock, "unix:" + sock)),
            (("0.0.0.0:%d" % port, "127.0.0.1:%d" % port),
             "its port is taken by bind 0.0.0.0:%d (0.0.0.0:%d), as 0.0.0.0:%d is every "
             "address (reuse_port is off)" % (port, port, port)),
            (("127.0.0.1:%d" % port, "0.0.0.0:%d" % port),
             "its port is taken by bind 127.0.0.1:%d (127.0.0.1:%d), as 0.0.0.0:%d is every "
             "address (reuse_port is off)" % (port, port, port)),
        ]
        try:
            with socket.socket(socket.AF_INET6) as probe:
                probe.bind(("::1", 0))
            clashes.append((("[::1]:%d" % port, "[0:0::1]:%d" % port),
                            same % ("[::1]:%d" % port, "[::1]:%d" % port)))
        except OSError:
            pass  # no IPv6 loopback on this machine
        for binds, why in clashes:
            check, start = self.check_then_start('bind = { "%s", "%s" }\n' % binds)
            self.assertEqual((check.returncode, check.stdout), (1, ""), (binds, check.stderr))
            self.assertEqual(check.stderr, "%s: cannot listen: bind %s: %s\n"
                             % (set_at(self.files_cfg, "bind"), binds[1], why))
            self.assertEqual(start.returncode, 1, binds)
            self.assertIn("] [critical] Cannot listen: bind %s: %s\n" % (binds[1], why),
                          start.stderr)
        for settings in ('bind = { "localhost:%d", "127.0.0.1:%d" }\n' % (port, port),
                         'bind = { "[::]:%d", "0.0.0.0:%d" }\n' % (port, port),
                         'bind = { "0.0.0.0:%d", "127.0.0.1:%d" }\nreuse_port = true\n'
                         % (port, port),
                         'bind = { "127.0.0.1:0", "127.0.0.1:0", "0.0.0.0:0" }\n'):
            cfg = write(self.dir, "c.lua", SERVICE + settings)
            out = run(["--check-config", cfg])
            self.assertEqual(out.returncode, 0, (settings, out.stderr))

    def test_port_in_use(self):
        with port_in_use() as port:
            cfg = write(self.dir, "c.lua", 'bind = "127.0.0.1:%d"\n%s' % (port, SERVICE))
            out = run([cfg])
        self.assertEqual(out.returncode, 1)
        self.assertIn("127.0.0.1:%d" % port, out.stderr)
        self.assertIn("address already in use", out.stderr)

    def test_what_stops_the_start_is_logged_at_loglevel_critical(self):
        """loglevel = "critical" keeps what stops the server: a bind that
        cannot be opened, and a first generation whose workers fail to boot
        (before, both were error lines, and the server exited 1 without a
        word)."""
        with port_in_use() as port:
            cfg = write(self.dir, "c.lua", 'bind = "127.0.0.1:%d"\n%s' % (port, SERVICE))
            out = run([cfg, "--loglevel", "critical"])
        self.assertEqual(out.returncode, 1)
        self.assertRegex(out.stderr, r"\] \[critical\] Cannot listen: 127\.0\.0\.1:%d: address "
                         r"already in use\n" % port)
        write(self.dir, "h.lua", "error('no database')\n")
        cfg = write(self.dir, "c.lua", 'bind = "127.0.0.1:0"\nservice = { idl = "%s/svc.thrift", '
                    'name = "TestService", handler = "h.lua" }\n' % FIXTURE)
        out = run([cfg, "--loglevel", "critical"])
        self.assertEqual(out.returncode, 1)
        self.assertIn("] [critical] worker failed to load the handler: ", out.stderr)
        self.assertIn("] [critical] Worker failed to boot.\n", out.stderr)

    def test_a_failing_on_starting_says_why_at_loglevel_critical(self):
        """The on_starting hook's error stops the start, so it is logged at
        critical as the other failures that do: with loglevel = "critical"
        the reason is there, not only `Not starting` (before, the reason was
        an error line, which that level drops)."""
        cfg = write(self.dir, "c.lua", 'bind = "127.0.0.1:0"\nloglevel = "critical"\n'
                    'on_starting = function() error("no spool folder") end\n%s' % SERVICE)
        out = run([cfg])
        self.assertEqual(out.returncode, 1, out.stderr)
        self.assertRegex(out.stderr, r"\] \[critical\] Hook on_starting failed: \S*c\.lua:\d+: "
                         r"no spool folder\n")
        self.assertIn("] [critical] Not starting: the on_starting hook failed\n", out.stderr)
        self.assertNotIn("[error]", out.stderr)

    def stop_daemon(self, pidfile):
        """SIGTERM to the daemon named by `pidfile`, if any; waits for its end."""
        if harness.wait_for(lambda: os.path.exists(pidfile), 10):
            with open(pidfile) as f:
                pid = int(f.read())
            os.kill(pid, signal.SIGTERM)
            self.assertTrue(harness.wait_for(lambda: not harness.pid_alive(pid), 30))

    def test_daemon_warns_on_the_terminal_of_what_it_will_lose(self):
        """A daemon's stderr becomes /dev/null: with errorlog "-" it would
        log nothing, not even a start that fails after the command returned
        0; and under systemd (NOTIFY_SOCKET), Type=notify loses the process
        it follows. Both are said on the terminal before the detach."""
        pidfile = os.path.join(self.dir, "tc.pid")
        cfg = write(self.dir, "c.lua", 'bind = "127.0.0.1:0"\nworkers = 1\npidfile = "%s"\n%s'
                    % (pidfile, SERVICE))
        env = dict(os.environ, NOTIFY_SOCKET=os.path.join(self.dir, "notify.sock"))
        out = run(["--daemon", cfg], env=env)
        try:
            self.assertEqual(out.returncode, 0, out.stderr)
            self.assertTrue(harness.wait_for(lambda: os.path.exists(pidfile), 10))
        finally:
            self.stop_daemon(pidfile)
        self.assertRegex(out.stderr, r"\] \[warning\] daemon: errorlog is '-' \(stderr\), which "
                         r"a daemon points to /dev/null: nothing will be logged; set errorlog "
                         r"to a file\n")
        self.assertRegex(out.stderr, r"\] \[warning\] daemon: NOTIFY_SOCKET is set: under "
                         r"systemd, leave daemon unset ")
        log = os.path.join(self.dir, "error.log")
        out = run(["--daemon", "--errorlog", log, cfg])
        try:
            self.assertEqual((out.returncode, out.stderr), (0, ""))
            self.assertTrue(harness.wait_for(lambda: "Ready:" in harness.read_text(log), 10))
        finally:
            self.stop_daemon(pidfile)
        self.assertNotIn("daemon:", harness.read_text(log))

    def test_started_with_stdout_and_stderr_closed(self):
        """Closed standard descriptors are put on /dev/null: the signal pipe
        does not take their numbers, so the log on stderr does not feed it
        (before, the arbiter read its own log lines as signals, at 100% CPU)."""
        port = harness.free_port()
        pidfile = os.path.join(self.dir, "tc.pid")
        cfg = write(self.dir, "c.lua", 'bind = "127.0.0.1:%d"\nworkers = 1\npidfile = "%s"\n%s'
                    % (port, pidfile, SERVICE))

        def close_std():
            os.close(1)
            os.close(2)

        proc = subprocess.Popen([harness.BIN, cfg], stdin=subprocess.DEVNULL,
                                preexec_fn=close_std)
        try:
            self.assertTrue(harness.wait_for(lambda: os.path.exists(pidfile), 10))
            c, trans = harness.client(self.S, port)
            self.assertEqual(c.echo("closed"), "closed")
            trans.close()
            fds = {n: os.readlink("/proc/%d/fd/%s" % (proc.pid, n)) for n in ("0", "1", "2")}
            self.assertEqual(set(fds.values()), {"/dev/null"}, fds)

            def cpu():
                with open("/proc/%d/stat" % proc.pid) as f:
                    fields = f.read().rsplit(")", 1)[1].split()
                return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
            before = cpu()
            time.sleep(1.0)  # the thing measured: what the idle arbiter spends in a second
            self.assertLess(cpu() - before, 0.3)
            proc.terminate()
            self.assertEqual(proc.wait(30), 0)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait(5)

    def test_flags_win_over_the_file(self):
        srv = harness.Server("workers = 1\n" + SERVICE, args=["--workers", "3"])
        try:
            deadline = time.monotonic() + 10
            while len(srv.worker_pids()) < 3 and time.monotonic() < deadline:
                time.sleep(0.05)
            self.assertEqual(len(srv.worker_pids()), 3)
        finally:
            srv.stop()

    def test_yes_no_flags_are_bare_and_leave_the_config_path(self):
        cfg = write(self.dir, "c.lua", SERVICE)
        ok = "%s: ok (service TestService" % os.path.realpath(cfg)
        # in a folder without thriftcorn.lua: a flag that took CONFIG fails to read the default
        for args in (["--check-config", "--reuse-port", cfg],
                     ["--check-config", "--daemon", "--expose-errors", cfg],
                     ["--check-config", cfg, "--daemon"],
                     ["--check-config", "--daemon=no", "--reuse-port=yes", "--expose-errors=1",
                      cfg]):
            out = run(args, cwd=self.dir)
            self.assertEqual(out.returncode, 0, "%s: %s" % (args, out.stderr))
            self.assertTrue(out.stdout.startswith(ok), "%s: %s" % (args, out.stdout))
            self.assertEqual(out.stderr, "")

    def test_bare_expose_errors_flag_reaches_the_server_and_is_undone_by_no(self):
        for settings, args, exposed in ((SERVICE, ["--expose-errors"], True),
                                        (SERVICE + "expose_errors = true\n",
                                         ["--expose-errors=no"], False)):
            with harness.Server(settings, args=args) as srv:
                c, trans = harness.client(self.S, srv.port)
                with self.assertRaises(TApplicationException) as ctx:
                    c.boom()
                trans.close()
                self.assertEqual(ctx.exception.type, TApplicationException.INTERNAL_ERROR)
                if exposed:
                    self.assertIn("attempt to index a nil value", ctx.exception.message)
                else:
                    self.assertEqual(ctx.exception.message, "Internal error")

    def test_flag_errors_name_the_flag_once(self):
        cfg = write(self.dir, "c.lua", SERVICE)
        for args, status, line in (
                (["--check-config", "--bogus", cfg], 2, "--bogus: unknown option"),
                (["--check-config", "--wokers", "2", cfg], 2,
                 "--wokers: unknown option (did you mean --workers?)"),
                (["--check-config", "--client-timeout", "x", cfg], 1,
                 "--client-timeout: expected a number, got 'x'"),
                (["--check-config", "--daemon=maybe", cfg], 1,
                 "--daemon: expected true or false (or yes, no, 1, 0), got 'maybe'"),
                (["--check-config", cfg, "--workers"], 2, "--workers: needs a value"),
                (["-x", cfg], 2, "-x: unknown option")):
            out = run(args, cwd=self.dir)
            self.assertEqual((out.returncode, out.stderr), (status, line + "\n"), args)
            self.assertEqual(out.stdout, "")

    def test_double_dash_ends_the_options(self):
        """After `--` every argument is a file, as getopt and gunicorn read
        it: a config whose name starts with '-' can be given."""
        write(self.dir, "-app.lua", SERVICE)
        out = run(["--check-config", "--", "-app.lua"], cwd=self.dir)
        self.assertEqual((out.returncode, out.stderr), (0, ""))
        self.assertRegex(out.stdout, r"^\S*/-app\.lua: ok \(service TestService ")
        out = run(["--check-config", "--", "--workers"], cwd=self.dir)
        self.assertEqual((out.returncode, out.stderr),
                         (1, "--workers: cannot read the config file (no such file or "
                          "directory)\n"))
        out = run(["--check-config", "-app.lua"], cwd=self.dir)
        self.assertEqual((out.returncode, out.stderr), (2, "-app.lua: unknown option\n"))

    def test_help_describes_the_bare_yes_no_flags(self):
        out = run(["--help"])
        self.assertEqual(out.returncode, 0)
        for text in ("--SETTING=VALUE", "--SETTING, --SETTING=no", "--daemon", "--reuse-port",
                     "--expose-errors", "never takes"):
            self.assertIn(text, out.stdout)

    def test_unix_socket_bind(self):
        path = os.path.join(self.dir, "tc.sock")
        srv = harness.Server(SERVICE, bind="unix:" + path)
        try:
            self.assertIn("Listening at: unix:" + path, srv.log())
            sock = TSocket.TSocket(unix_socket=path)
            trans = TTransport.TBufferedTransport(sock)
            trans.open()
            c = self.S.Client(TBinaryProtocol.TBinaryProtocol(trans))
            self.assertEqual(c.echo("over unix"), "over unix")
            trans.close()
        finally:
            srv.stop()
        self.assertFalse(os.path.exists(path), "the socket file is removed at stop")

    def test_an_abstract_unix_name_is_refused_not_made_a_file(self):
        """'unix:@NAME' is how the log shows a Linux abstract socket (one
        passed as fd://N), which has no file: a bind written so is refused,
        by --check-config and by the start alike, rather than bound as a
        file named '@NAME' in the working folder and logged as if it were
        abstract. 'unix:./@NAME' is such a file, made and served."""
        cfg = write(self.dir, "abstract.lua", SERVICE + 'bind = "unix:@tc.sock"\n')
        why = ("unix:@tc.sock: '@' names an abstract socket, which thriftcorn does not bind; "
               "for a file named @tc.sock, write unix:./@tc.sock")
        check = run(["--check-config", cfg], cwd=self.dir)
        self.assertEqual(check.returncode, 1, check.stderr)
        self.assertIn("%s: %s\n" % (set_at(cfg, "bind"), why), check.stderr)
        proc = subprocess.Popen([harness.BIN, cfg], cwd=self.dir, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True)
        try:
            _, err = proc.communicate(timeout=15)
        except subprocess.TimeoutExpired:
            proc.terminate()
            _, err = proc.communicate(timeout=35)
            self.fail("the start served unix:@tc.sock:\n" + err)
        finally:
            made = os.path.lexists(os.path.join(self.dir, "@tc.sock"))
        self.assertEqual(proc.returncode, 1, err)
        self.assertIn(why, err)
        self.assertFalse(made, "no file named @tc.sock in the working folder")
        cfg = write(self.dir, "file.lua", SERVICE + 'bind = "unix:./@tc.sock"\n')
        path = os.path.join(self.dir, "@tc.sock")
        with open(os.path.join(self.dir, "file.log"), "w") as log:
            proc = subprocess.Popen([harness.BIN, cfg], cwd=self.dir, stdout=log,
                                    stderr=subprocess.STDOUT)
        try:
            trans = TTransport.TBufferedTransport(TSocket.TSocket(unix_socket=path))

            def opened():
                try:
                    trans.open()
                    return True
                except TTransport.TTransportException:
                    return proc.poll() is not None

            self.assertTrue(harness.wait_for(opened, 15))
            self.assertIsNone(proc.poll(), "the start of unix:./@tc.sock failed")
            c = self.S.Client(TBinaryProtocol.TBinaryProtocol(trans))
            self.assertEqual(c.echo("at ./@tc.sock"), "at ./@tc.sock")
            trans.close()
        finally:
            proc.terminate()
            self.assertEqual(proc.wait(35), 0)
        self.assertFalse(os.path.lexists(path), "the socket file is removed at stop")

    def test_two_starts_on_a_stale_socket_file_never_remove_each_others(self):
        """Two servers started at once where a stale socket file is: one
        (B) probes the file, finds it stale and is held up (by strace) just
        before it removes it; the other (A) starts meanwhile. A must not
        take the path in between, to have B remove A's socket file next and
        bind its own, leaving A serving a socket nobody can reach: A waits
        for B, finds B's socket live and is refused, and B serves."""
        strace = shutil.which("strace")
        if strace is None or os.uname().machine != "x86_64":
            self.skipTest("needs strace on x86_64 to hold a start between its probe and unlink")
        path = os.path.join(self.dir, "tc.sock")
        stale = socket.socket(socket.AF_UNIX)
        stale.bind(path)
        stale.close()
        cfg = write(self.dir, "tc.lua", SERVICE + 'bind = "unix:%s"\n' % path)

        def in_unlink(pid):
            """Stopped in unlink() or unlinkat() (x86_64 numbers)."""
            try:
                with open("/proc/%d/syscall" % pid) as f:
                    return f.read().split()[0] in ("87", "263")
            except (OSError, IndexError):
                return False

        with open(os.path.join(self.dir, "b.log"), "w") as log:
            traced = subprocess.Popen(
                [strace, "-f", "-qq", "-o", "/dev/null", "-e", "trace=unlink,unlinkat",
                 "-e", "inject=unlink,unlinkat:delay_enter=2000000:when=1", harness.BIN, cfg],
                stdout=log, stderr=subprocess.STDOUT)
        a = None
        b = None
        try:
            self.assertTrue(harness.wait_for(
                lambda: any(in_unlink(p) for p in harness.children(traced.pid)), 15),
                "B did not reach its removal of the stale file")
            b = harness.children(traced.pid)[0]
            with open(os.path.join(self.dir, "a.log"), "w") as log:
                a = subprocess.Popen([harness.BIN, cfg], stdout=log, stderr=subprocess.STDOUT)
            self.assertTrue(harness.wait_for(lambda: a.poll() is not None, 15),
                            "A still runs beside B:\n" + harness.read_text(log.name))
            self.assertEqual(a.returncode, 1)
            self.assertIn("Cannot listen: unix:%s: address already in use (a server is accepting "
                          "on it)" % path, harness.read_text(log.name))
            trans = TTransport.TBufferedTransport(TSocket.TSocket(unix_socket=path))

            def opened():
                try:
                    trans.open()
                    return True
                except TTransport.TTransportException:
                    return False

            self.assertTrue(harness.wait_for(opened, 15))
            c = self.S.Client(TBinaryProtocol.TBinaryProtocol(trans))
            self.assertEqual(c.echo("B serves"), "B serves")
            trans.close()
        finally:
            if a is not None and a.poll() is None:
                a.terminate()
                a.wait(35)
            if b is not None and harness.pid_alive(b):
                os.kill(b, signal.SIGTERM)
            traced.wait(35)
        self.assertFalse(os.path.lexists(path), "B removed its socket file at stop")

    def test_ipv6_bind(self):
        try:
            probe = socket.socket(socket.AF_INET6)
            probe.bind(("::1", 0))
            probe.close()
        except OSError:
            self.skipTest("no IPv6 loopback on this machine")
        srv = harness.Server(SERVICE, bind="[::1]:0")
        try:
            deadline = time.monotonic() + 10
            m = None
            while m is None and time.monotonic() < deadline:
                m = re.search(r"Listening at: \[::1\]:(\d+)", srv.log())
                time.sleep(0.05)
            self.assertIsNotNone(m, srv.log())
            sock = TSocket.TSocket("::1", int(m.group(1)), socket_family=socket.AF_INET6)
            trans = TTransport.TBufferedTransport(sock)
            deadline = time.monotonic() + 10
            while True:
                try:
                    trans.open()
                    break
                except Exception:
                    if time.monotonic() > deadline:
                        raise
                    time.sleep(0.05)
            c = self.S.Client(TBinaryProtocol.TBinaryProtocol(trans))
            self.assertEqual(c.echo("over v6"), "over v6")
            trans.close()
        finally:
            srv.stop()

    def test_star_bind_is_every_ipv4_address(self):
        """bind = "*:PORT": glibc's getaddrinfo() reads the host '*' as no
        host, whose first passive address is 0.0.0.0: every IPv4 address,
        and no IPv6 one."""
        srv = harness.Server(SERVICE, bind="*:0")
        try:
            listening = r"Listening at: (\S+):(\d+) "
            self.assertTrue(harness.wait_for(lambda: re.search(listening, srv.log())), srv.log())
            found = re.findall(listening, srv.log())
            self.assertEqual(len(found), 1, srv.log())
            host, port = found[0][0], int(found[0][1])
            self.assertEqual(host, "0.0.0.0", srv.log())
            c, trans = harness.client(self.S, port)
            self.assertEqual(c.echo("at every address"), "at every address")
            trans.close()
            try:
                probe = socket.socket(socket.AF_INET6)
                probe.bind(("::1", 0))
            except OSError:
                self.skipTest("IPv4 checked; no IPv6 loopback here to show '*' leaves it out")
            with probe:
                self.assertNotEqual(probe.connect_ex(("::1", port)), 0,
                                    "a '*' bind listens on IPv6 too")
        finally:
            srv.stop()

    def test_expose_errors(self):
        with harness.Server(SERVICE + "expose_errors = true\n") as srv:
            c, trans = harness.client(self.S, srv.port)
            with self.assertRaises(TApplicationException) as ctx:
                c.boom()
            self.assertEqual(ctx.exception.type, TApplicationException.INTERNAL_ERROR)
            self.assertIn("attempt to index a nil value", ctx.exception.message)
            trans.close()


if __name__ == "__main__":
    unittest.main(verbosity=2)

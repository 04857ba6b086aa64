# SPDX-License-Identifier: Apache-2.0
"""C plugins: examples/calculator_c over every transport and protocol with
the same results as the Lua calculator; a plugin next to a Lua handler; the
refusals (ABI, entry point, unknown method, signature, a method nobody
serves) at --check-config and at start; a crashing plugin costs one worker,
and one that crashes in its init hook is named at --check-config and fails
a reload; init_arbiter runs once per library, as init_worker; a plugin's
own thread that outlives exit_worker does not crash the worker's exit, a
boot that hangs in init_worker or init_thread is named so, and so is an
exit() in a handler or in init_worker; a library cut short is refused
before dlopen() dies of it; --plugin-header leaves out a macro that two
IDL names make with two values."""

import os
import re
import signal
import struct
import subprocess
import unittest

import harness
from test_calculator import CALC, example_settings
from test_multi import CUT_IN_WORK, call_cut_in_work
from thrift.Thrift import TApplicationException

BUILD = os.environ.get("TC_BUILD_DIR", os.path.join(harness.SOURCE_DIR, "build"))
CALC_C = os.path.join(BUILD, "examples", "libcalculator_c.so")
PLUGINS = os.path.join(BUILD, "tests", "plugins")
IDL = os.path.join(CALC, "tutorial.thrift")


def tp(name):
    return os.path.join(PLUGINS, "libtp_%s.so" % name)


def last_load_offset(elf):
    """Where the last PT_LOAD segment of a 64-bit little-endian ELF file starts in it."""
    phoff, = struct.unpack_from("<Q", elf, 32)
    phentsize, phnum = struct.unpack_from("<HH", elf, 54)
    loads = [struct.unpack_from("<IIQ", elf, phoff + i * phentsize) for i in range(phnum)]
    return max(off for typ, _flags, off in loads if typ == 1)


def settings(plugin, transport="buffered", protocol="binary", handler=None, extra=""):
    svc = 'service = { idl = "%s", name = "Calculator", plugin = "%s"%s }\n' % (
        IDL, plugin, ', handler = "%s"' % handler if handler else "")
    return 'workers = 1\nthreads = 2\ntransport = "%s"\nprotocol = "%s"\n%s%s' % (
        transport, protocol, svc, extra)


def check_config(text, files=None):
    srv = harness.Server(text, files=files, start=False)
    return subprocess.run([harness.BIN, "--check-config", srv.config], capture_output=True,
                          text=True, timeout=60)


def start_fails(text, files=None):
    """Start the server with a bad config (it must exit 1): its status and log."""
    srv = harness.Server(text, files=files, start=False)
    with open(srv.log_path, "ab") as log:
        proc = subprocess.run([harness.BIN, srv.config, "--errorlog", srv.log_path],
                              stdout=log, stderr=subprocess.STDOUT, timeout=60)
    return proc.returncode, srv.log()


class CalculatorCTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        harness.gen_py(IDL)
        cls.Calculator = harness.load_gen("tutorial.Calculator")
        cls.T = harness.load_gen("tutorial.ttypes")
        cls.shared = harness.load_gen("shared.ttypes")

    def check_calculator(self, transport, protocol):
        T = self.T
        with harness.Server(settings(CALC_C, transport, protocol)) as srv:
            c, trans = harness.client(self.Calculator, srv.port, transport, protocol)
            try:
                self.assertIsNone(c.ping())
                self.assertEqual(c.add(1, 2), 3)
                self.assertEqual(c.add(-5, 2), -3)
                self.assertEqual(c.calculate(1, T.Work(num1=7, num2=6, op=T.Operation.MULTIPLY)),
                                 42)
                self.assertEqual(c.calculate(2, T.Work(num1=1, num2=9, op=T.Operation.SUBTRACT)),
                                 -8)
                self.assertEqual(c.calculate(3, T.Work(num1=9, num2=2, op=T.Operation.DIVIDE)), 4)
                self.assertEqual(c.calculate(7, T.Work(num1=-7, num2=2, op=T.Operation.DIVIDE)),
                                 -4)  # floor division, as Lua's //
                with self.assertRaises(T.InvalidOperation) as ctx:
                    c.calculate(4, T.Work(num1=1, num2=0, op=T.Operation.DIVIDE))
                self.assertEqual(ctx.exception.whatOp, T.Operation.DIVIDE)
                self.assertEqual(ctx.exception.why, "Cannot divide by 0")
                with self.assertRaises(T.InvalidOperation) as ctx:
                    c.calculate(5, T.Work(num1=1, num2=1, op=99))
                self.assertEqual(ctx.exception.why, "Invalid operation")
                self.assertEqual(c.calculate(6, T.Work(num2=5, op=T.Operation.ADD)), 5)
                c.zip()  # oneway: no reply, and the next call still works
                self.assertEqual(c.getStruct(1), self.shared.SharedStruct(key=1, value="42"))
                with self.assertRaises(TApplicationException) as ctx:
                    c.add(2 ** 31 - 1, 1)  # does not fit an i32: INTERNAL_ERROR, as in Lua
                self.assertEqual(ctx.exception.type,
                                 TApplicationException.INTERNAL_ERROR)
                self.assertEqual(c.add(2, 3), 5)
            finally:
                trans.close()

    def test_every_transport_and_protocol(self):
        for transport in harness.TRANSPORTS:
            for protocol in harness.PROTOCOLS:
                with self.subTest(transport=transport, protocol=protocol):
                    self.check_calculator(transport, protocol)

    def test_quotient_out_of_i32_fails_the_call_not_the_worker(self):
        """-2^31 / -1 is 2^31, past an i32: INTERNAL_ERROR, as in Lua, and
        the worker that computed it answers the next call."""
        T = self.T
        with harness.Server(settings(CALC_C)) as srv:
            c, trans = harness.client(self.Calculator, srv.port)
            self.addCleanup(trans.close)
            with self.assertRaises(TApplicationException) as ctx:
                c.calculate(1, T.Work(num1=-2 ** 31, num2=-1, op=T.Operation.DIVIDE))
            self.assertEqual(ctx.exception.type, TApplicationException.INTERNAL_ERROR)
            self.assertEqual(c.calculate(2, T.Work(num1=-2 ** 31, num2=1, op=T.Operation.DIVIDE)),
                             -2 ** 31)
            self.assertTrue(harness.wait_log(srv, "calculate: result 2147483648 does not fit"),
                            srv.log())

    def test_fields_left_out_answer_as_in_lua(self):
        """A Work without op, or without num2 (unlike num1, it has no default
        in the IDL), gets from the plugin what the Lua calculator answers:
        InvalidOperation with no whatOp, or INTERNAL_ERROR."""
        T = self.T
        works = [T.Work(num1=1, num2=2), T.Work(num1=1, op=T.Operation.ADD),
                 T.Work(num1=1, op=T.Operation.DIVIDE), T.Work(num2=3, op=T.Operation.SUBTRACT),
                 T.Work(num1=1, num2=2, op=99)]

        def answers(text):
            got = []
            with harness.Server(text) as srv:
                c, trans = harness.client(self.Calculator, srv.port)
                try:
                    for i, w in enumerate(works):
                        try:
                            got.append(("result", c.calculate(i, w)))
                        except T.InvalidOperation as e:
                            got.append(("InvalidOperation", e.whatOp, e.why))
                        except TApplicationException as e:
                            got.append(("TApplicationException", e.type))
                finally:
                    trans.close()
            return got

        lua = answers(example_settings(CALC, "buffered", "binary"))
        self.assertEqual(lua[:2], [("InvalidOperation", None, "Invalid operation"),
                                   ("TApplicationException", TApplicationException.INTERNAL_ERROR)])
        self.assertEqual(answers(settings(CALC_C)), lua)

    def test_arguments_that_do_not_decode_name_the_method(self):
        """calculate()'s arguments cut in its Work never reach the plugin:
        the client's PROTOCOL_ERROR and the log line name the method before
        the innermost struct and field, and the service as the call named
        it."""
        with harness.Server(settings(CALC_C, "framed")) as srv:
            got, ex, peer = call_cut_in_work(srv.port, "calculate")
            self.assertEqual((got, ex.type, ex.message),
                             ("calculate", TApplicationException.PROTOCOL_ERROR, CUT_IN_WORK))
            self.assertTrue(harness.wait_log(srv, peer + CUT_IN_WORK), srv.log())
            c, trans = harness.client(self.Calculator, srv.port, "framed", "binary")
            self.addCleanup(trans.close)
            self.assertEqual(c.add(1, 2), 3)
        # served under a multiplexed_name: the service is named as the call named it
        text = settings(CALC_C, "framed").replace(
            'name = "Calculator"', 'name = "Calculator", multiplexed_name = "CalcV2"').replace(
            "service = {", "services = { {").replace("}\n", "} }\n")
        cut = CUT_IN_WORK.replace("tutorial.Calculator.", "CalcV2.", 1)
        with harness.Server(text) as srv:
            got, ex, peer = call_cut_in_work(srv.port, "CalcV2:calculate")
            self.assertEqual((got, ex.type, ex.message),
                             ("calculate", TApplicationException.PROTOCOL_ERROR, cut))
            self.assertTrue(harness.wait_log(srv, peer + cut), srv.log())

    def test_check_config(self):
        out = check_config(settings(CALC_C))
        self.assertEqual(out.returncode, 0, out.stderr)
        self.assertIn("plugin " + CALC_C, out.stdout)


LUA_REST = """
local H = {}
function H.ping() end
function H.getStruct() end
function H.zip() end
function H.add(a, b) return a + b end  -- the plugin's add wins
function H.calculate(logid) return logid end
return H
"""


class PluginWithLuaTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        harness.gen_py(IDL)
        cls.Calculator = harness.load_gen("tutorial.Calculator")
        cls.T = harness.load_gen("tutorial.ttypes")

    def test_plugin_and_lua_share_a_service(self):
        with harness.Server(settings(tp("good"), handler="rest.lua"),
                            files={"rest.lua": LUA_REST}) as srv:
            c, trans = harness.client(self.Calculator, srv.port, "buffered", "binary")
            self.assertIsNone(c.ping())  # Lua
            self.assertEqual(c.add(2, 3), 1000005)  # C: the test plugin adds 1000000
            self.assertEqual(c.calculate(9, self.T.Work(num1=1, num2=2, op=1)), 9)  # C
            trans.close()
            self.assertIn("test plugin: init_worker", srv.log())

    def test_one_library_serves_two_services(self):
        """The test plugin serves tutorial.Calculator and shared.SharedService:
        configured for both, each service gets its own methods from it (one
        init_worker for the library), both called on one connection."""
        from thrift.protocol import TBinaryProtocol, TMultiplexedProtocol
        shared_idl = os.path.join(CALC, "shared.thrift")
        harness.gen_py(shared_idl)
        Shared = harness.load_gen("shared.SharedService")
        text = ('workers = 1\nthreads = 2\nservices = {\n'
                '  { idl = "%s", name = "Calculator", plugin = "%s", handler = "rest.lua" },\n'
                '  { idl = "%s", name = "SharedService", plugin = "%s" },\n}\n'
                % (IDL, tp("good"), shared_idl, tp("good")))
        with harness.Server(text, files={"rest.lua": LUA_REST}) as srv:
            calc, trans = harness.client(self.Calculator, srv.port, service="Calculator")
            shared = Shared.Client(TMultiplexedProtocol.TMultiplexedProtocol(
                TBinaryProtocol.TBinaryProtocol(trans), "SharedService"))  # same connection
            self.assertEqual(calc.add(2, 3), 1000005)  # the plugin's Calculator
            got = shared.getStruct(7)  # the plugin's SharedService, not Calculator's
            self.assertEqual((got.key, got.value), (7, "plugin SharedService"))
            self.assertEqual(calc.add(4, 5), 1000009)
            trans.close()
            self.assertEqual(srv.log().count("test plugin: init_worker"), 1, srv.log())

    def test_init_arbiter_runs_once_per_library(self):
        """--check-config runs init_arbiter once for a library that serves
        two services, as a worker runs init_worker once; the arbiter runs
        neither, and a reload's check runs init_worker once, as a worker.
        The library is named by two paths: it is one file all the same."""
        shared_idl = os.path.join(CALC, "shared.thrift")
        other_path = os.path.join(os.path.dirname(tp("good")), ".", os.path.basename(tp("good")))
        text = ('workers = 1\nthreads = 2\nservices = {\n'
                '  { idl = "%s", name = "Calculator", plugin = "%s", handler = "rest.lua" },\n'
                '  { idl = "%s", name = "SharedService", plugin = "%s" },\n}\n'
                % (IDL, tp("good"), shared_idl, other_path))
        out = check_config(text, files={"rest.lua": LUA_REST})
        self.assertEqual(out.returncode, 0, out.stderr)
        self.assertEqual(out.stderr.count("test plugin: init_arbiter"), 1, out.stderr)
        self.assertNotIn("test plugin: init_worker", out.stderr)
        with harness.Server(text, files={"rest.lua": LUA_REST}) as srv:
            self.assertTrue(harness.wait_log(srv, "Ready: generation 1"), srv.log())
            self.assertEqual(srv.log().count("test plugin: init_worker"), 1, srv.log())
            srv.kill(signal.SIGHUP)
            self.assertTrue(harness.wait_log(srv, "Generation 2 is ready"), srv.log())
            # one more in the reload's check, one in the new worker
            self.assertEqual(srv.log().count("test plugin: init_worker"), 3, srv.log())
            self.assertNotIn("test plugin: init_arbiter", srv.log())
            calc, trans = harness.client(self.Calculator, srv.port, service="Calculator")
            self.assertEqual(calc.add(2, 3), 1000005)
            trans.close()

    def test_failure_text_reaches_the_client_as_utf8(self):
        """api->fail() text is a Thrift string: cut without splitting a
        character and with bytes that are not UTF-8 escaped, so that a
        Python client decodes it (it raises UnicodeDecodeError otherwise)."""
        conf = settings(tp("good"), handler="rest.lua", extra="expose_errors = true\n")
        with harness.Server(conf, files={"rest.lua": LUA_REST}) as srv:
            c, trans = harness.client(self.Calculator, srv.port)
            for ascii in range(2):
                with self.assertRaises(TApplicationException) as ctx:
                    c.add(5000, ascii)  # a long text of 2-byte characters
                self.assertEqual(ctx.exception.type, TApplicationException.INTERNAL_ERROR)
                text = ctx.exception.message
                head = "tutorial.Calculator.add: " + "a" * ascii + "\u00e9"
                self.assertTrue(text.startswith(head), text)
                self.assertLessEqual(len(text.encode()), len("tutorial.Calculator.add: ") + 255)
            with self.assertRaises(TApplicationException) as ctx:
                c.add(6000, 0)
            self.assertEqual(ctx.exception.message,
                             "tutorial.Calculator.add: bad \\xff\\xfe bytes \\xc3")
            self.assertEqual(c.add(2, 3), 1000005)  # the connection is in step
            trans.close()
            self.assertIn("tutorial.Calculator.add: bad \\xff\\xfe bytes \\xc3", srv.log())

    def test_failures_name_the_service_as_called(self):
        """Served under a multiplexed_name, the plugin's failures name the
        service as the call named it, as the access log does, to the client
        (expose_errors) and in the error log: fail()'s text, and a reply the
        plugin built wrongly; the IDL's name, which no call used, is in no
        line."""
        conf = settings(tp("good"), handler="rest.lua", extra="expose_errors = true\n").replace(
            'name = "Calculator"', 'name = "Calculator", multiplexed_name = "CalcV2"').replace(
            "service = {", "services = { {").replace("}\n", "} }\n")
        with harness.Server(conf, files={"rest.lua": LUA_REST}) as srv:
            c, trans = harness.client(self.Calculator, srv.port, service="CalcV2")
            self.addCleanup(trans.close)
            peer = "127.0.0.1:%d: " % harness.local_port(trans)
            for a, text in ((1000, "CalcV2.add: add refuses 1000"),
                            (2000, "CalcV2.add: plugin test built a reply that does not fit: "
                                   "Calculator.add_result: field 'success' is i32, not binary")):
                with self.assertRaises(TApplicationException) as ctx:
                    c.add(a, 0)
                self.assertEqual((ctx.exception.type, ctx.exception.message),
                                 (TApplicationException.INTERNAL_ERROR, text))
                self.assertTrue(harness.wait_log(srv, peer + text + "\n"), srv.log())
            self.assertEqual(c.add(2, 3), 1000005)  # the connection is in step
            self.assertNotIn("tutorial.Calculator.", srv.log())

    def test_two_way_method_called_oneway(self):
        """A client may send a two-way method as a oneway message: the
        plugin's handler runs and builds its reply as usual (add(8000, b)
        logs that it ran), nothing is sent, and nothing is logged against
        the plugin."""
        from thrift.Thrift import TMessageType
        with harness.Server(settings(tp("good"), handler="rest.lua"),
                            files={"rest.lua": LUA_REST}) as srv:
            c, trans = harness.client(self.Calculator, srv.port)
            c._oprot.writeMessageBegin("add", TMessageType.ONEWAY, 1)
            self.Calculator.add_args(num1=8000, num2=3).write(c._oprot)
            c._oprot.writeMessageEnd()
            trans.flush()
            self.assertEqual(c.add(4, 5), 1000009)  # the next reply is this call's
            trans.close()
            self.assertTrue(harness.wait_log(srv, "test plugin: add(8000, 3) ran"), srv.log())
            self.assertNotIn("does not fit", srv.log())
            self.assertNotIn("[error]", srv.log())

    def test_crash_takes_down_only_its_worker(self):
        with harness.Server(settings(tp("good"), handler="rest.lua"),
                            files={"rest.lua": LUA_REST}) as srv:
            # the crash is the point: under a sanitizer, it reports it and exits
            srv.check_sanitizers = lambda: None
            pids = srv.worker_pids()
            self.assertEqual(len(pids), 1)
            c, trans = harness.client(self.Calculator, srv.port)
            with self.assertRaises(Exception):
                c.calculate(-1, self.T.Work(num1=1, num2=2, op=1))  # NULL dereference
            trans.close()
            new = harness.wait_for(lambda: [p for p in srv.worker_pids() if p not in pids], 20)
            self.assertTrue(new, srv.log())
            self.assertIsNone(srv.proc.poll())  # the arbiter lives on
            c, trans = harness.client(self.Calculator, srv.port)
            self.assertEqual(c.add(1, 1), 1000002)
            trans.close()
            log = srv.log()
            self.assertTrue("SIGSEGV" in log or "load of null pointer" in log
                            or "AddressSanitizer: SEGV" in log
                            or "ThreadSanitizer: SEGV" in log, log)


    def test_exit_in_a_handler_names_the_plugin_and_call(self):
        """A handler that calls exit(): the worker ends (its other calls get
        no reply) and is replaced, and its last line names the plugin and
        the call, where it said only "Lua code (os.exit) or a library"."""
        with harness.Server(settings(tp("good"), handler="rest.lua"),
                            files={"rest.lua": LUA_REST}) as srv:
            pids = srv.worker_pids()
            c, trans = harness.client(self.Calculator, srv.port)
            with self.assertRaises(Exception):
                c.calculate(-3, self.T.Work(num1=1, num2=2, op=1))  # exit(7)
            trans.close()
            self.assertTrue(harness.wait_log(srv, "exited with code 7"), srv.log())
            self.assertRegex(srv.log(), r"\[error\] worker 0: exit\(\) called by plugin test in "
                             r"a call of tutorial\.Calculator\.calculate: the worker ends\n")
            new = harness.wait_for(lambda: [p for p in srv.worker_pids() if p not in pids], 20)
            self.assertTrue(new, srv.log())
            c, trans = harness.client(self.Calculator, srv.port)
            self.assertEqual(c.add(1, 1), 1000002)
            trans.close()


class PluginLifetimeTest(unittest.TestCase):
    """What a plugin's own threads and hooks do to its worker's boot and exit."""

    @classmethod
    def setUpClass(cls):
        harness.gen_py(IDL)
        cls.Calculator = harness.load_gen("tutorial.Calculator")

    def test_a_thread_of_the_plugin_outlives_exit_worker(self):
        """A thread the plugin started in init_worker still runs the
        library's code after exit_worker: the library stays mapped until
        the process ends, so the graceful stop ends in exit code 0. Before,
        the worker closed the library under it and died of SIGSEGV (during
        its worker_exit hook, which runs after that: here it takes 0.3 s,
        as one that flushes something might, so the crash comes before the
        exit whatever the timing)."""
        hook = 'worker_exit = function() os.execute("sleep 0.3") end\n'
        with harness.Server(settings(tp("bg_thread"), handler="rest.lua", extra=hook),
                            files={"rest.lua": LUA_REST}) as srv:
            (pid,) = srv.worker_pids()
            c, trans = harness.client(self.Calculator, srv.port)
            self.assertEqual(c.add(2, 3), 1000005)  # the plugin's add
            trans.close()
            self.assertEqual(srv.stop(), 0, srv.log())
            log = srv.log()
            self.assertIn("worker 0 exiting\n", log)
            self.assertIn("Worker (pid:%d) exited with code 0\n" % pid, log)
            self.assertNotIn("Worker (pid:%d) was sent" % pid, log)
            # under ASan the crash may not stop the exit: its report starts all the same
            self.assertNotIn("SEGV", log)
            self.assertNotIn("DEADLYSIGNAL", log)

    def test_a_hanging_boot_hook_is_named(self):
        """A plugin whose init_worker, or init_thread, never returns: the
        worker's boot passes 'timeout' and the line says in which hook."""
        for name, hook in (("hang_init", "init_worker"), ("hang_thread", "init_thread")):
            with self.subTest(hook=hook):
                srv = harness.Server(settings(tp(name), handler="rest.lua",
                                              extra="timeout = 1\n"),
                                     files={"rest.lua": LUA_REST}, start=False)
                out = subprocess.run([harness.BIN, srv.config], capture_output=True, text=True,
                                     timeout=60)
                log = out.stdout + out.stderr
                self.assertEqual(out.returncode, 1, log)
                self.assertRegex(log, r"\[critical\] WORKER TIMEOUT \(pid:\d+\) while booting "
                                 r"\(in its plugin %s hook\)\n" % hook)
                self.assertRegex(log, r"Worker \(pid:\d+\) still alive 2 s after SIGABRT "
                                 r"\(in its plugin %s hook\); killing it\n" % hook)
                self.assertIn("Worker failed to boot", log)


    def test_a_hanging_exit_hook_is_named(self):
        """A plugin whose exit_thread, or exit_worker, never returns: the
        graceful stop passes graceful_timeout, and the line of the kill says
        in which hook, as for a boot; before, it named none."""
        for name, hook in (("hang_exit_thread", "exit_thread"), ("hang_exit", "exit_worker")):
            with self.subTest(hook=hook):
                with harness.Server(settings(tp(name), handler="rest.lua",
                                             extra="graceful_timeout = 1\n"),
                                    files={"rest.lua": LUA_REST}) as srv:
                    srv.stop()
                    self.assertRegex(srv.log(), r"Worker \(pid:\d+\) did not stop within 1 s "
                                     r"\(in its plugin %s hook\); killing it\n" % hook)

    def test_exit_in_a_boot_hook_names_the_plugin_and_hook(self):
        """A plugin whose init_worker calls exit(): each worker that boots
        dies so, and its last line names the plugin and the hook, where it
        said only "Lua code (os.exit) or a library"."""
        srv = harness.Server(settings(tp("exit_init"), handler="rest.lua"),
                             files={"rest.lua": LUA_REST}, start=False)
        with open(srv.log_path, "ab") as log:
            proc = subprocess.Popen([harness.BIN, srv.config, "--errorlog", srv.log_path],
                                    stdout=log, stderr=subprocess.STDOUT)
        try:
            line = (r"\[error\] worker 0: exit\(\) called by plugin test \(%s\) in its "
                    r"init_worker hook: the worker ends\n" % re.escape(tp("exit_init")))
            self.assertTrue(harness.wait_for(lambda: re.search(line, srv.log()), 20), srv.log())
            self.assertTrue(harness.wait_for(lambda: "exited with code 9" in srv.log(), 20),
                            srv.log())
        finally:
            proc.terminate()
            proc.wait(timeout=30)


class RefusalTest(unittest.TestCase):
    CASES = (
        ("bad_abi", "built for plugin ABI 999.3, this server speaks 1.3;"),
        ("no_entry", "no entry point 'tc_plugin_entry'"),
        ("unknown", "method 'nosuch' is not a method of the service in the IDL"),
        ("wrong_sig", "method 'add' was built against another signature: the plugin has "
                      "'i64 add(1:i64,2:i64)' (0x0123456789abcdef), the IDL has "
                      "'i32 add(1:i32,2:i32)'"),
    )

    def test_refused_at_check_config_and_at_start(self):
        for name, message in self.CASES:
            text = settings(tp(name), handler="rest.lua")
            with self.subTest(plugin=name, mode="check-config"):
                out = check_config(text, files={"rest.lua": LUA_REST})
                self.assertEqual(out.returncode, 1, out.stdout + out.stderr)
                self.assertIn(message, out.stderr)
            with self.subTest(plugin=name, mode="start"):
                code, log = start_fails(text, files={"rest.lua": LUA_REST})
                self.assertEqual(code, 1, log)
                self.assertIn(message, log)

    def test_reload_keeps_the_running_generation(self):
        # a reload's check loads the new plugin in a child: a refused one changes nothing
        harness.gen_py(IDL)
        Calculator = harness.load_gen("tutorial.Calculator")
        with harness.Server(settings(CALC_C, handler="rest.lua"),
                            files={"rest.lua": LUA_REST}) as srv:
            old = sorted(srv.worker_pids())
            with open(srv.config, "w") as f:
                f.write('bind = "127.0.0.1:%d"\n' % srv.port)
                f.write(settings(tp("wrong_sig"), handler="rest.lua"))
            srv.kill(signal.SIGHUP)
            self.assertTrue(harness.wait_log(srv, "Reload failed"), srv.log())
            self.assertIn("method 'add' was built against another signature", srv.log())
            self.assertEqual(sorted(srv.worker_pids()), old)
            c, trans = harness.client(Calculator, srv.port)
            self.assertEqual(c.add(1, 2), 3)  # still calculator_c
            trans.close()

    def test_a_library_that_does_not_load_says_why(self):
        """A plugin file that dlopen() refuses: the line says what is wrong
        with it, at --check-config, at start, and at a reload, which keeps
        the running generation. Before, a library built for another machine
        was "No such file or directory" (what dlopen() says), a file that is
        not a library "file too short" or "invalid ELF header", a missing
        dependency read as if it were the plugin, and a library cut short
        (an interrupted copy) crashed the process loading it (SIGBUS in
        dlopen()), so that workers died at boot again and again."""
        harness.gen_py(IDL)
        Calculator = harness.load_gen("tutorial.Calculator")
        d = harness.tempdir("tc-plugin-load-")
        with open(tp("good"), "rb") as f:
            elf = bytearray(f.read())
        # e_machine (offset 18, little-endian here): AArch64, or x86-64 on an AArch64 host
        other = 62 if int.from_bytes(elf[18:20], "little") == 183 else 183
        elf[18:20] = other.to_bytes(2, "little")
        with open(tp("good"), "rb") as f:
            good = f.read()
        files = {"foreign.so": bytes(elf), "text.so": b"#!/bin/sh\necho not a library\n",
                 "archive.so": b"!<arch>\n" + b"/" * 60,
                 "truncated.so": good[:last_load_offset(good)]}
        for name, data in files.items():
            with open(os.path.join(d, name), "wb") as f:
                f.write(data)
        foreign = os.path.join(d, "foreign.so")
        cases = (
            (foreign, r"cannot load it: it is built for %s \(64-bit\), this server runs on "
                      r"[^:]+ \(64-bit\): build it for this machine$"
             % ("AArch64" if other == 183 else "x86-64")),
            (os.path.join(d, "text.so"), r"cannot load it: it is not a shared object \(it does "
                                         r"not start with an ELF header\)$"),
            (os.path.join(d, "archive.so"), r"cannot load it: it is a static library \(an ar "
                                            r"archive\), not a shared object: link it with "
                                            r"-shared$"),
            # cut where its last segment starts: dlopen() maps it anyway and dies of SIGBUS
            (os.path.join(d, "truncated.so"),
             r"cannot load it: it is truncated: the file has %d bytes, its ELF headers place "
             r"its code and data up to byte \d+ \(an interrupted copy or build\?\): copy or "
             r"build it again$" % last_load_offset(good)),
            (tp("needs"), r"cannot load it: a library it needs does not load: "
                          r"libtp_needed\.so: cannot open shared object file: No such file or "
                          r"directory$"),
        )
        rest = {"rest.lua": LUA_REST}
        for path, why in cases:
            want = r"service Calculator: plugin %s: %s" % (re.escape(path), why)
            text = settings(path, handler="rest.lua")
            with self.subTest(plugin=path, mode="check-config"):
                out = check_config(text, files=rest)
                self.assertEqual(out.returncode, 1, out.stdout)
                self.assertRegex(out.stderr.strip(), "^" + want)
            with self.subTest(plugin=path, mode="start"):
                code, log = start_fails(text, files=rest)
                self.assertEqual(code, 1, log)
                self.assertRegex(log, "(?m)worker failed to load the handler: " + want)
        with harness.Server(settings(CALC_C, handler="rest.lua"), files=rest) as srv:
            old = sorted(srv.worker_pids())
            for n, (path, why) in enumerate(cases, 1):
                with open(srv.config, "w") as f:
                    f.write('bind = "127.0.0.1:%d"\n' % srv.port)
                    f.write(settings(path, handler="rest.lua"))
                srv.kill(signal.SIGHUP)
                self.assertTrue(harness.wait_log(srv, "Reload failed; still serving generation 1",
                                                 count=n), srv.log())
                self.assertRegex(srv.log(), "(?m)Reload failed: service Calculator: plugin %s: %s"
                                 % (re.escape(path), why))
            self.assertEqual(sorted(srv.worker_pids()), old)
            c, trans = harness.client(Calculator, srv.port)
            self.assertEqual(c.add(1, 2), 3)  # still calculator_c
            trans.close()

    def test_crash_in_an_init_hook_names_the_service_and_plugin(self):
        """A plugin whose init hook dies of SIGSEGV: --check-config fails
        naming the service and files it was loading (init_arbiter); a
        reload to it fails with the same words in the log (init_worker, in
        the reload's check), and the running generation keeps serving."""
        harness.gen_py(IDL)
        Calculator = harness.load_gen("tutorial.Calculator")
        crash = settings(tp("crash_init"), handler="rest.lua")
        with harness.Server(settings(CALC_C, handler="rest.lua"),
                            files={"rest.lua": LUA_REST}) as srv:
            what = ("loading the handlers of service Calculator (handler %s, plugin %s) "
                    "crashed (signal 11)" % (os.path.join(os.path.realpath(srv.dir), "rest.lua"),
                                             tp("crash_init")))
            old = sorted(srv.worker_pids())
            with open(srv.config, "w") as f:
                f.write('bind = "127.0.0.1:%d"\n' % srv.port)
                f.write(crash)
            out = subprocess.run([harness.BIN, "--check-config", srv.config],
                                 capture_output=True, text=True, timeout=60)
            self.assertEqual((out.returncode, out.stderr), (1, what + "\n"), out.stdout)
            srv.kill(signal.SIGHUP)
            self.assertTrue(harness.wait_log(srv, "Reload failed; still serving generation 1"),
                            srv.log())
            self.assertIn("Reload failed: %s\n" % what, srv.log())
            self.assertEqual(sorted(srv.worker_pids()), old)
            c, trans = harness.client(Calculator, srv.port)
            self.assertEqual(c.add(1, 2), 3)  # still calculator_c
            trans.close()

    def test_method_served_by_nobody(self):
        # the test plugin serves add and calculate; nothing serves getStruct (the first)
        text = settings(tp("good"))
        out = check_config(text)
        self.assertEqual(out.returncode, 1, out.stdout)
        self.assertIn("service Calculator: method 'getStruct' is handled by neither the "
                      "plugin", out.stderr)
        code, log = start_fails(text)
        self.assertEqual(code, 1, log)
        self.assertIn("handled by neither the plugin", log)
        # a Lua handler that lacks a method the plugin does not serve either
        out = check_config(settings(tp("good"), handler="h.lua"),
                           files={"h.lua": "return { ping = function() end }"})
        self.assertEqual(out.returncode, 1)
        self.assertIn("h.lua: no function for method 'getStruct' (nor has the plugin)",
                      out.stderr)

    def test_each_refusal_names_the_service_once(self):
        """Whatever stops a service from loading (the plugin, its IDL, its
        Lua handler), the line names the service once, in front, with the
        file and what is wrong: at --check-config and in the log at start."""
        svc_idl = os.path.join(harness.SOURCE_DIR, "tests", "fixtures", "server", "svc.thrift")
        rest = {"rest.lua": LUA_REST}
        lacking = {"h.lua": "return { ping = function() end }"}
        plugin_for = 'service = { idl = "%s", name = "TestService", plugin = "%s" }\n'
        cases = (
            (settings(tp("unknown"), handler="rest.lua"), rest, "Calculator",
             "plugin %s (test): method 'nosuch' is not a method of the service in the IDL"
             % tp("unknown")),
            (settings(tp("twice"), handler="rest.lua"), rest, "Calculator",
             "plugin %s (test): the service is listed twice, as 'tutorial.Calculator' and as "
             "'Calculator'" % tp("twice")),
            ("workers = 1\n" + plugin_for % (svc_idl, tp("good")), None, "TestService",
             "plugin %s (test) lists no such service" % tp("good")),
            (settings(tp("good")), None, "Calculator",
             "method 'getStruct' is handled by neither the plugin %s nor a Lua handler "
             "(service.handler is not set)" % tp("good")),
            (settings(tp("good"), handler="h.lua"), lacking, "Calculator",
             "{dir}/h.lua: no function for method 'getStruct' (nor has the plugin)"),
            (settings(tp("good"), handler="h.lua").replace(
                'name = "Calculator"', 'name = "Calculator", multiplexed_name = "CalcV2"')
             .replace("service = {", "services = { {").replace("}\n", "} }\n"),
             lacking, "CalcV2 (Calculator)",
             "{dir}/h.lua: no function for method 'getStruct' (nor has the plugin)"),
        )
        for text, files, name, why in cases:
            srv = harness.Server(text, files=files, start=False)
            want = "service %s: %s" % (name, why.replace("{dir}", os.path.realpath(srv.dir)))
            with self.subTest(want=want, mode="check-config"):
                out = subprocess.run([harness.BIN, "--check-config", srv.config],
                                     capture_output=True, text=True, timeout=60)
                self.assertEqual((out.returncode, out.stderr), (1, want + "\n"), out.stdout)
            with self.subTest(want=want, mode="start"):
                with open(srv.log_path, "ab") as log:
                    code = subprocess.run([harness.BIN, srv.config, "--errorlog", srv.log_path],
                                          stdout=log, stderr=subprocess.STDOUT,
                                          timeout=60).returncode
                self.assertEqual(code, 1, srv.log())
                self.assertIn("] worker failed to load the handler: %s\n" % want, srv.log())

    def test_plugin_header(self):
        out = subprocess.run([harness.BIN, "--plugin-header", IDL, "Calculator"],
                             capture_output=True, text=True, timeout=60)
        self.assertEqual(out.returncode, 0, out.stderr)
        self.assertIn('#define TC_SIGTEXT_Calculator_add "i32 add(1:i32,2:i32)"', out.stdout)
        self.assertIn("#define TC_EX_Calculator_calculate_ouch 1", out.stdout)
        self.assertIn("#define TC_ENUM_tutorial_Operation_DIVIDE 4", out.stdout)
        # an enum or a struct of the IDL is no service either
        for name in ("Nope", "Operation", "Work"):
            with self.subTest(name=name):
                out = subprocess.run([harness.BIN, "--plugin-header", IDL, name],
                                     capture_output=True, text=True, timeout=60)
                self.assertEqual((out.returncode, out.stderr.strip().splitlines()[-1]),
                                 (1, "thriftcorn: %s defines no service '%s'" % (IDL, name)))

    def test_plugin_header_names_that_collide(self):
        """Two IDL names that make one macro (method a_b's argument c and
        method a's argument b_c): with two values the macro is left out, with
        a comment and a warning naming both, so that a plugin using it does
        not compile. Before, it was defined twice and the last value held,
        so a_b's handler read a's field id. With one value it is kept."""
        d = harness.tempdir("tc-plugin-header-")
        idl = os.path.join(d, "col.thrift")
        with open(idl, "w") as f:
            f.write("struct P_q { 1: i32 r }\nstruct P { 2: i32 q_r }\n"
                    "service S {\n  i32 a_b(1: i32 c),\n  i32 a(2: i32 b_c, 3: P p, 4: P_q pq),\n"
                    "  i32 x_y(5: i32 z),\n  i32 x(5: i32 y_z),\n}\n")
        out = subprocess.run([harness.BIN, "--plugin-header", idl, "S"], capture_output=True,
                             text=True, timeout=60)
        self.assertEqual(out.returncode, 0, out.stderr)
        self.assertNotRegex(out.stdout, r"#define TC_ARG_S_a_b_c ")
        self.assertNotRegex(out.stdout, r"#define TC_FIELD_col_P_q_r ")
        self.assertIn("/* TC_ARG_S_a_b_c would name both argument c of a_b (1) and argument b_c "
                      "of a (2): left out */", out.stdout)
        self.assertIn("warning: %s: TC_ARG_S_a_b_c would name both argument c of a_b (1) and "
                      "argument b_c of a (2): left out of the header; use the field ids" % idl,
                      out.stderr)
        self.assertIn("TC_FIELD_col_P_q_r would name both", out.stderr)
        self.assertEqual(out.stdout.count("#define TC_ARG_S_x_y_z 5\n"), 1)  # one value: kept
        self.assertIn("#define TC_ARG_S_a_p 3\n", out.stdout)


if __name__ == "__main__":
    unittest.main(verbosity=2)

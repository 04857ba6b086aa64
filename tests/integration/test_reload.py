# SPDX-License-Identifier: Apache-2.0
"""SIGHUP under load: a changed handler takes over with no failed call; a
broken config, a handler with a syntax error, or code that ends the check
(named with its service and file) is reported in the log and the running
generation keeps serving; binds are opened and closed, each close logged
(also of a socket a reload that then failed had opened), a socket
a failed reload opened, or a bind a reload dropped, stops listening at
once though a worker still booting holds it (a call in flight there
completes), two binds that clash through a host name are both named, and a
bind that names an open socket another way keeps it, also the port a
port-0 bind got, written out beside a port-0 bind that then opens a new one; a worker count changed by SIGTTIN survives a reload that does not set workers; the
new workers get the new umask; the arbiter's signals sent to the check
(`pkill -HUP thriftcorn`) do not fail it; a SIGHUP during a reload is followed by one
more, and a SIGTTIN or SIGTTOU during one counts for the generation it
starts only (for the serving one if it fails), which forks no worker only
to stop it; the pidfile follows the config (but during an upgrade), and a
changed `daemon` is said to wait for the next start. The arbiter learns
the checked config's `timeout` without looking at intervals, and an
arbiter killed during a check takes the check and what it started along.
Every wait is bounded; every call is counted."""

import os
import re
import shutil
import signal
import socket
import stat
import tempfile
import threading
import time
import unittest

import harness
import loadgen

FIXTURE = os.path.join(harness.SOURCE_DIR, "tests", "fixtures", "server")

with open(os.path.join(FIXTURE, "handler.lua")) as f:
    HANDLER = f.read()
with open(os.path.join(FIXTURE, "svc.thrift")) as f:
    IDL = f.read()

SERVICE = 'service = { idl = "svc.thrift", name = "TestService", handler = "handler.lua" }\n'


def handler(version):
    """The fixture handler whose echo answers "VERSION:" .. s."""
    text = HANDLER.replace("  return s\nend", '  return "%s:" .. s\nend' % version, 1)
    assert text != HANDLER
    return text


def lua_string(text):
    """'text' as a Lua long string literal."""
    level = 0
    while ("]" + "=" * level + "]") in text:
        level += 1
    return "[" + "=" * level + "[\n" + text + "]" + "=" * level + "]"


def cpu_seconds(pid):
    """The CPU time `pid` has used, user and system, or None once it has
    exited (a zombie too)."""
    try:
        with open("/proc/%d/stat" % pid) as f:
            fields = f.read().rsplit(")", 1)[1].split()
    except OSError:
        return None
    if fields[0] == "Z":
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def either(value, reply):
    return reply in ("v1:" + value, "v2:" + value)


# a handler that begins so loads (in a reload's check, say) only once the
# file 'release' exists beside it, while 'hold' does (30 s at most)
GATE = ('local dir = debug.getinfo(1, "S").source:match("^@(.*)/")\n'
        'if io.open(dir .. "/hold") then\n'
        '  local t = os.time()\n'
        '  while not io.open(dir .. "/release") and os.time() - t < 30 do\n'
        '    os.execute("sleep 0.05")\n'
        '  end\n'
        'end\n')


class ReloadTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        harness.gen_py(os.path.join(FIXTURE, "svc.thrift"))
        cls.S = harness.load_gen("svc.TestService")

    def server(self, extra="workers = 2\nthreads = 2\n", **kw):
        srv = harness.Server(SERVICE + extra,
                             files={"svc.thrift": IDL, "handler.lua": handler("v1")}, **kw)
        self.addCleanup(srv.stop)
        self.assertTrue(harness.wait_log(srv, "Ready: generation 1"), srv.log())
        return srv

    def write(self, srv, name, text):
        path = os.path.join(srv.dir, name)
        with open(path + ".new", "w") as f:
            f.write(text)
        os.rename(path + ".new", path)

    def echo(self, srv):
        c, trans = harness.client(self.S, srv.port)
        try:
            return c.echo("x")
        finally:
            trans.close()

    def test_changed_handler_takes_over_and_no_call_fails(self):
        srv = self.server()
        old = sorted(srv.worker_pids())
        load = loadgen.Load(self.S, srv.port, threads=4, duration=25, expect=either,
                            sleep=0.002, max_calls=100000).start()
        self.assertTrue(load.wait_calls(100), load.summary())
        self.write(srv, "handler.lua", handler("v2"))
        srv.kill(signal.SIGHUP)
        self.assertTrue(harness.wait_log(srv, "Generation 2 is ready; stopping generation 1"),
                        srv.log())
        for pid in old:
            self.assertTrue(harness.wait_log(srv, "Worker (pid:%d) exited with code 0" % pid),
                            srv.log())
        switched = time.monotonic()
        self.assertTrue(load.wait_calls(200), load.summary())
        self.assertTrue(load.stop())
        self.assertEqual(load.failed, 0, load.summary())
        late = [r for t, r in load.replies if t > switched]
        self.assertTrue(late)
        self.assertTrue(all(r.startswith("v2:") for r in late), late[:5])
        self.assertTrue(any(r.startswith("v1:") for _, r in load.replies))
        new = sorted(srv.worker_pids())
        self.assertEqual(len(new), 2)
        self.assertFalse(set(new) & set(old))
        self.assertEqual(self.echo(srv), "v2:x")

    def check_failed_reload(self, name, text, where, **kw):
        srv = self.server(**kw)
        old = sorted(srv.worker_pids())
        # no cap on the calls but the duration: at 10k calls a second the
        # default cap of 20000 ran out during a check of 2 s
        load = loadgen.Load(self.S, srv.port, threads=3, duration=20, max_calls=10**7,
                            expect=lambda value, reply: reply == "v1:" + value).start()
        self.assertTrue(load.wait_calls(50), load.summary())
        self.write(srv, name, text(srv) if callable(text) else text)
        srv.kill(signal.SIGHUP)
        self.assertTrue(harness.wait_log(srv, "Reload failed; still serving generation 1"),
                        srv.log())
        log = srv.log()
        self.assertIn(where, log)
        self.assertTrue(load.wait_calls(100), load.summary())
        self.assertTrue(load.stop())
        self.assertEqual(load.failed, 0, load.summary())
        self.assertEqual(sorted(srv.worker_pids()), old)
        self.assertEqual(self.echo(srv), "v1:x")
        self.assertNotIn("Booting worker", log.split("Handling signal: hup")[1])
        return srv

    def test_broken_config_keeps_the_running_generation(self):
        path = None
        srv = self.check_failed_reload(
            "thriftcorn.lua", 'bind = "127.0.0.1:0"\n' + SERVICE + "workers = = 3\n",
            "thriftcorn.lua:3:")
        path = srv.config
        self.assertIn("Reload failed: %s:3:" % os.path.realpath(path), srv.log())

    def test_invalid_setting_keeps_the_running_generation(self):
        self.check_failed_reload(
            "thriftcorn.lua", 'bind = "127.0.0.1:0"\n' + SERVICE + "wokers = 3\n",
            "unknown setting 'wokers'")

    def test_access_log_that_cannot_be_opened_keeps_the_running_generation(self):
        """As at start, where it stops the server: a reload whose access
        log cannot be opened (here its folder is a file) fails, rather than
        start workers that log no call."""
        def config(srv):
            self.bad_log = os.path.join(srv.dir, "handler.lua", "access.log")
            return ('bind = "127.0.0.1:0"\n%saccesslog = "%s"\nworkers = 2\nthreads = 2\n'
                    % (SERVICE, self.bad_log))
        srv = self.check_failed_reload("thriftcorn.lua", config, "Cannot open the access log")
        self.assertIn("Reload failed: Cannot open the access log %s: not a directory"
                      % self.bad_log, srv.log())

    def test_error_log_that_cannot_be_opened_keeps_the_running_generation(self):
        """Likewise a new error log that cannot be opened: the reload
        fails, and the arbiter goes on logging where it did (its standard
        error here: --errorlog would override the config's errorlog)."""
        def config(srv):
            self.bad_log = os.path.join(srv.dir, "handler.lua", "error.log")
            return ('bind = "127.0.0.1:0"\n%serrorlog = "%s"\nworkers = 2\nthreads = 2\n'
                    % (SERVICE, self.bad_log))
        srv = self.check_failed_reload("thriftcorn.lua", config, "Cannot open the error log",
                                       errorlog_flag=False)
        self.assertIn("Reload failed: Cannot open the error log %s: not a directory"
                      % self.bad_log, srv.log())

    def test_old_generation_drains_within_its_own_graceful_timeout(self):
        """A reload that lowers graceful_timeout leaves the old workers the
        drain their own config gives them: a 2.5 s call one of them runs
        is answered, although the new config allows 1 s."""
        srv = self.server("workers = 1\nthreads = 2\ngraceful_timeout = 20\n")
        c, trans = harness.client(self.S, srv.port, timeout=30)
        self.addCleanup(trans.close)
        c.send_sleep_ms(2500)
        self.assertTrue(harness.wait_read(srv, trans), srv.log())
        with open(srv.config) as f:
            text = f.read()
        self.write(srv, "thriftcorn.lua",
                   text.replace("graceful_timeout = 20", "graceful_timeout = 1"))
        srv.kill(signal.SIGHUP)
        self.assertTrue(harness.wait_log(srv, "Generation 2 is ready"), srv.log())
        self.assertEqual(c.recv_sleep_ms(), "slept 2500")
        self.assertNotIn("did not stop within", srv.log())

    def test_handler_syntax_error_keeps_the_running_generation(self):
        srv = self.check_failed_reload("handler.lua", handler("v2") + "\nlocal x = = 1\n",
                                       "handler.lua:")
        self.assertRegex(srv.log(), r"Reload failed: .*handler\.lua:\d+:")

    def test_check_that_outlives_timeout_names_the_step_it_was_in(self):
        """The check loads what a worker loads, so it gets as long as a
        worker's boot: the `timeout` of the config it checks, here the
        running config's too (2 s, where it had 30 s whatever the
        setting). Handler code that loops at load is
        killed then, and the log names the service and file it was
        loading; the running generation keeps serving."""
        looping = ("local t = os.time() while os.time() - t < 60 do end\n"
                   + handler("v2"))
        t0 = time.monotonic()
        srv = self.check_failed_reload("handler.lua", looping, "did not finish within",
                                       extra="workers = 2\nthreads = 2\ntimeout = 2\n")
        self.assertLess(time.monotonic() - t0, 20)
        path = os.path.join(os.path.realpath(srv.dir), "handler.lua")
        self.assertIn("Reload failed: loading the handlers of service TestService (handler %s) "
                      "did not finish within 2 s (timeout)\n" % path, srv.log())

    def test_a_reload_that_raises_timeout_gives_its_check_the_new_one(self):
        """A reload whose config raises `timeout` so that slower handlers
        fit: the check gets the new config's `timeout`, as the workers it
        starts do and as --check-config of that file does. Before, it got
        the running config's (2 s here) and failed a reload that the new
        workers would have booted."""
        srv = self.server("workers = 1\nthreads = 1\ntimeout = 2\n")
        # 3 s to load in the check alone: the workers it starts boot at once
        slow = ('local f = io.open("/proc/self/cmdline", "rb")\n'
                'local cmd = f and f:read("a") or ""\n'
                'if f then f:close() end\n'
                'if cmd:find("reload check", 1, true) then os.execute("sleep 3") end\n')
        self.write(srv, "handler.lua", slow + handler("v2"))
        with open(srv.config) as f:
            text = f.read()
        self.write(srv, "thriftcorn.lua", text.replace("timeout = 2", "timeout = 15"))
        srv.kill(signal.SIGHUP)
        self.assertTrue(harness.wait_for(
            lambda: "Generation 2 is ready" in srv.log() or "Reload failed" in srv.log(), 30),
            srv.log())
        self.assertNotIn("Reload failed", srv.log())
        self.assertEqual(self.echo(srv), "v2:x")

    def test_a_reload_that_lowers_timeout_gives_its_check_the_new_one(self):
        """And one that lowers it: handler code that loops at load is
        killed after the new config's `timeout` (2 s), not the running
        one's (30 s), and the log says 2 s."""
        looping = ("local t = os.time() while os.time() - t < 60 do end\n"
                   + handler("v2"))

        def config(srv):
            self.write(srv, "handler.lua", looping)
            with open(srv.config) as f:
                return f.read().replace("timeout = 30", "timeout = 2")
        t0 = time.monotonic()
        srv = self.check_failed_reload("thriftcorn.lua", config, "did not finish within",
                                       extra="workers = 1\nthreads = 2\ntimeout = 30\n")
        self.assertLess(time.monotonic() - t0, 20)
        path = os.path.join(os.path.realpath(srv.dir), "handler.lua")
        self.assertIn("Reload failed: loading the handlers of service TestService (handler %s) "
                      "did not finish within 2 s (timeout)\n" % path, srv.log())

    def test_a_process_the_check_leaves_holding_its_pipe_holds_nothing(self):
        """Handler code that, in a reload's check, starts a process that
        keeps a copy of each pipe the check writes to (as a child that a
        C plugin or module forks without exec() does: a program started
        with io.popen() gets only the descriptors without close-on-exec)
        for 30 s: the arbiter does not wait for that process to let go of
        the check's report (it blocked in read() until then, deaf to
        signals), the reload goes on at once, and the process is killed
        as the check ends."""
        srv = self.server("workers = 1\nthreads = 1\n")
        pids = os.path.join(srv.dir, "pids")
        hold = (
            'local f = io.open("/proc/self/cmdline", "rb")\n'
            'local cmd = f and f:read("a") or ""\n'
            'if f then f:close() end\n'
            'if cmd:find("reload check", 1, true) then\n'
            '  local p = io.popen(%s)\n'
            '  assert(p:read("l") == "held")\n'
            '  p:close()\n'
            'end\n' % lua_string(
                # each descriptor of the check that writes to a pipe
                # (fdinfo flags O_WRONLY), opened before the check goes on
                'for f in /proc/$PPID/fd/*; do\n'
                '  if [ -p "$f" ] && grep -q "^flags:.*1$" "/proc/$PPID/fdinfo/${f##*/}"; then\n'
                '    (exec 3>"$f"; sleep 30 >/dev/null 2>&1 & echo $! >> %s)\n'
                '  fi\n'
                'done\n'
                'echo held\n' % pids))
        self.write(srv, "handler.lua", hold + handler("v2"))
        srv.kill(signal.SIGHUP)
        self.assertTrue(harness.wait_log(srv, "Generation 2 is ready"), srv.log())
        self.assertEqual(self.echo(srv), "v2:x")
        with open(pids) as f:
            held = [int(x) for x in f.read().split()]
        self.assertTrue(held)
        self.assertTrue(harness.wait_for(lambda: not any(map(harness.pid_alive, held)), 5),
                        [harness.process_title(p) for p in held])
        self.assertNotIn("Reload failed", srv.log())

    def test_a_check_killed_at_its_limit_takes_what_it_started_along(self):
        """A check that runs past `timeout` is killed with the program its
        handler code started (io.popen()), which ran on before."""
        pids = []

        def looping(srv):
            path = os.path.join(srv.dir, "pids")
            pids.append(path)
            return ('local p = io.popen("echo $$ > %s; exec sleep 30")\n'
                    'local t = os.time() while os.time() - t < 60 do end\n' % path
                    + handler("v2"))
        srv = self.check_failed_reload("handler.lua", looping, "did not finish within",
                                       extra="workers = 1\nthreads = 1\ntimeout = 2\n")
        with open(pids[0]) as f:
            started = int(f.read())
        self.assertTrue(harness.wait_for(lambda: not harness.pid_alive(started), 5),
                        harness.process_title(started))

    def test_the_arbiter_waits_for_the_checked_timeout_without_polling(self):
        """While the check evaluates its config (here, until the file
        'release' exists), the arbiter does not wake to see whether that
        config's `timeout` is known yet: the check tells it, once. It
        looked every 50 ms before, some 20 wake-ups a second where the
        serving generation's heartbeats take one; after the wait, the
        reload passes with the new config's `timeout`."""
        srv = self.server("workers = 1\nthreads = 1\ntimeout = 20\n")
        waiting = os.path.join(srv.dir, "waiting")
        release = os.path.join(srv.dir, "release")
        self.addCleanup(lambda: open(release, "w").close())
        gate = ('local f = io.open("/proc/self/cmdline", "rb")\n'
                'local cmd = f and f:read("a") or ""\n'
                'if f then f:close() end\n'
                'if cmd:find("reload check", 1, true) then\n'
                '  io.open(%r, "w"):close()\n'
                '  local t = os.time()\n'
                '  while not io.open(%r) and os.time() - t < 30 do\n'
                '    os.execute("sleep 0.05")\n'
                '  end\n'
                'end\n' % (waiting, release))
        with open(srv.config) as f:
            text = f.read()
        self.write(srv, "thriftcorn.lua", gate + text.replace("timeout = 20", "timeout = 15"))
        srv.kill(signal.SIGHUP)
        self.assertTrue(harness.wait_for(lambda: os.path.exists(waiting)), srv.log())

        def wakes():
            with open("/proc/%d/status" % srv.proc.pid) as f:
                return int(re.search(r"^voluntary_ctxt_switches:\s*(\d+)", f.read(),
                                     re.M).group(1))
        t0, w0 = time.monotonic(), wakes()
        time.sleep(1.5)  # the span measured, not a wait for something to happen
        t1, w1 = time.monotonic(), wakes()
        self.assertTrue(os.path.exists(waiting) and not os.path.exists(release))
        self.assertLess(w1 - w0, 3 + 4 * (t1 - t0), srv.log())
        open(release, "w").close()
        self.assertTrue(harness.wait_for(
            lambda: "Generation 2 is ready" in srv.log() or "Reload failed" in srv.log(), 30),
            srv.log())
        self.assertNotIn("Reload failed", srv.log())

    def test_a_killed_arbiter_takes_its_check_and_what_it_started_along(self):
        """An arbiter killed (SIGKILL) while its reload's check loads the
        handlers: the check ends, and with it the program its handler code
        started (io.popen()), which ran on, in the check's own session,
        with nothing left to end it."""
        srv = self.server("workers = 1\nthreads = 1\ntimeout = 60\n")
        started = os.path.join(srv.dir, "started")
        blocking = ('local f = io.open("/proc/self/cmdline", "rb")\n'
                    'local cmd = f and f:read("a") or ""\n'
                    'if f then f:close() end\n'
                    'if cmd:find("reload check", 1, true) then\n'
                    '  local p = io.popen("echo $$ > %s.new; mv %s.new %s; exec sleep 30")\n'
                    # short sleeps: under ThreadSanitizer the checker's caught
                    # parent-death signal waits for the call it interrupts
                    '  for _ = 1, 300 do os.execute("sleep 0.1") end\n'
                    'end\n' % (started, started, started))
        self.write(srv, "handler.lua", blocking + handler("v2"))
        srv.kill(signal.SIGHUP)
        self.assertTrue(harness.wait_for(lambda: os.path.exists(started)), srv.log())
        with open(started) as f:
            program = int(f.read())
        self.addCleanup(lambda: harness.pid_alive(program) and os.kill(program, signal.SIGKILL))
        check = harness.reload_check(srv)
        self.assertTrue(check, srv.log())
        srv.kill(signal.SIGKILL)
        srv.proc.wait(10)
        self.assertTrue(harness.wait_for(lambda: not harness.pid_alive(check), 5),
                        harness.process_title(check))
        self.assertTrue(harness.wait_for(lambda: not harness.pid_alive(program), 5),
                        harness.process_title(program))

    def test_handler_that_ends_the_check_names_its_service_and_file(self):
        """Handler code that ends the checker while it loads (a signal,
        os.exit(), even with status 0) fails the reload with the service
        and file it was loading, as --check-config says it; the running
        generation keeps serving."""
        kill = ('local f = assert(io.open("/proc/self/stat"))\n'
                'local pid = f:read("n")\nf:close()\n'
                'os.execute("kill -KILL " .. pid)\n')
        for text, how in ((kill, "crashed (signal 9)"),
                          ("os.exit(3)\n", "exited with status 3, giving no reason"),
                          ("os.exit(0)\n", "exited with status 0, giving no reason")):
            with self.subTest(how=how):
                srv = self.check_failed_reload("handler.lua", text, "Reload failed: loading the "
                                               "handlers of service TestService (handler ")
                path = os.path.join(os.path.realpath(srv.dir), "handler.lua")
                self.assertIn("Reload failed: loading the handlers of service TestService "
                              "(handler %s) %s\n" % (path, how), srv.log())
                srv.stop()

    def test_the_service_that_ends_the_check_is_named_among_several(self):
        """services = { ... }: the checker says which service it was loading
        when it died, not the first one: TestService loaded, Base did not."""
        def config(srv):
            self.write(srv, "ends.lua", "os.exit(5)\n")
            return ('bind = "127.0.0.1:0"\nworkers = 2\nthreads = 2\nservices = {\n'
                    '  { idl = "svc.thrift", name = "TestService", handler = "handler.lua",'
                    ' default = true },\n'
                    '  { idl = "svc.thrift", name = "Base", handler = "ends.lua" },\n}\n')
        srv = self.check_failed_reload("thriftcorn.lua", config, "Reload failed: loading the "
                                       "handlers of service Base (handler ")
        self.assertIn("Reload failed: loading the handlers of service Base (handler %s) exited "
                      "with status 5, giving no reason\n"
                      % os.path.join(os.path.realpath(srv.dir), "ends.lua"), srv.log())

    def test_config_that_ends_the_check_names_it(self):
        kill = ('local f = assert(io.open("/proc/self/stat"))\n'
                'local pid = f:read("n")\nf:close()\n'
                'os.execute("kill -KILL " .. pid)\n')
        srv = self.check_failed_reload("thriftcorn.lua", 'bind = "127.0.0.1:0"\n' + SERVICE
                                       + kill, "Reload failed: evaluating the config")
        self.assertIn("Reload failed: evaluating the config %s crashed (signal 9)\n"
                      % os.path.realpath(srv.config), srv.log())

    def test_config_that_calls_os_exit_is_refused_with_its_line(self):
        """os.exit() while the config runs raises there, so the reload names
        the file and line, whatever the status (0 too)."""
        srv = self.check_failed_reload("thriftcorn.lua", 'bind = "127.0.0.1:0"\n' + SERVICE
                                       + "os.exit(0)\n", "Reload failed: ")
        self.assertIn("Reload failed: %s:3: os.exit() called while the config file runs: the "
                      "server would end here (raise an error to refuse the config)\n"
                      % os.path.realpath(srv.config), srv.log())

    def test_the_config_checked_is_the_config_applied(self):
        """A reload reads the config file once: the check and the new
        generation use that text, even when the file changes while the
        check runs (here the check's own evaluation rewrites it to name a
        handler that does not exist)."""
        srv = self.server("workers = 1\nthreads = 1\n")
        with open(srv.config) as f:
            start = f.read()
        broken = start.replace('handler = "handler.lua"', 'handler = "missing.lua"')
        self.assertNotEqual(broken, start)
        rewrite = (
            'local f = io.open("/proc/self/cmdline", "rb")\n'
            'local cmd = f and f:read("a") or ""\n'
            'if f then f:close() end\n'
            'if cmd:find("reload check", 1, true) then\n'
            '  local me = debug.getinfo(1, "S").source:sub(2)\n'
            '  local g = assert(io.open(me .. ".new", "w"))\n'
            '  g:write(%s)\n'
            '  g:close()\n'
            '  assert(os.rename(me .. ".new", me))\n'
            'end\n' % lua_string(broken))
        self.write(srv, "thriftcorn.lua", start.replace("workers = 1", "workers = 2") + rewrite)
        srv.kill(signal.SIGHUP)
        self.assertTrue(harness.wait_log(srv, "Generation 2 is ready", timeout=30), srv.log())
        with open(srv.config) as f:
            self.assertEqual(f.read(), broken)  # the check did rewrite the file
        self.assertTrue(harness.wait_for(lambda: len(srv.worker_pids()) == 2, 15), srv.log())
        self.assertEqual(self.echo(srv), "v1:x")
        self.assertNotIn("Reload failed", srv.log())

    def test_a_sighup_during_a_reload_is_followed_by_one_more(self):
        """The config changed and SIGHUP sent again while a reload's check
        runs: that reload read the file before, so once it ends one more
        reload reads it again and applies the change (three such SIGHUPs
        make one reload). No call fails."""
        srv = self.server()
        self.write(srv, "v2.lua", GATE + handler("v2"))
        self.write(srv, "v3.lua", handler("v3"))
        open(os.path.join(srv.dir, "hold"), "w").close()
        self.addCleanup(lambda: open(os.path.join(srv.dir, "release"), "w").close())
        with open(srv.config) as f:
            start = f.read()
        load = loadgen.Load(self.S, srv.port, threads=3, duration=40, max_calls=10**7,
                            expect=lambda v, r: r in ("v1:" + v, "v2:" + v, "v3:" + v)).start()
        self.assertTrue(load.wait_calls(50, 30), load.summary())
        self.write(srv, "thriftcorn.lua", start.replace('"handler.lua"', '"v2.lua"'))
        srv.kill(signal.SIGHUP)
        self.assertTrue(harness.wait_log(srv, "Hang up: Master", 30), srv.log())
        self.write(srv, "thriftcorn.lua", start.replace('"handler.lua"', '"v3.lua"'))
        for n in (1, 2, 3):  # one at a time: signals pending together would merge
            srv.kill(signal.SIGHUP)
            self.assertTrue(harness.wait_log(srv, "Reload already in progress", 30, n),
                            srv.log())
        self.assertTrue(harness.reload_check(srv), srv.log())  # still in v2.lua
        open(os.path.join(srv.dir, "release"), "w").close()
        self.assertTrue(harness.wait_log(srv, "Generation 2 is ready", 30), srv.log())
        self.assertTrue(harness.wait_log(srv, "Generation 3 is ready", 30), srv.log())
        log = srv.log()
        self.assertEqual(log.count("Hang up: Master"), 2, log)
        self.assertEqual(log.count("Reload already in progress; another follows once it ends"), 3,
                         log)
        self.assertTrue(load.wait_calls(100, 30), load.summary())
        self.assertTrue(load.stop())
        self.assertEqual(load.failed, 0, load.summary())
        self.assertEqual(self.echo(srv), "v3:x")
        self.assertNotIn("Reload failed", srv.log())

    def test_signals_meant_for_the_arbiter_do_not_end_its_check(self):
        """`pkill -HUP thriftcorn` or `killall -USR1 thriftcorn` signal every
        process of that name, the reload's check among them: a second
        SIGHUP, a SIGUSR1 of a log rotation, or any signal the arbiter
        handles but a stop, neither ends nor stops the check, which passes
        and starts its generation."""
        srv = self.server("workers = 2\nthreads = 2\ntimeout = 10\n")
        self.write(srv, "v2.lua", GATE + handler("v2"))
        open(os.path.join(srv.dir, "hold"), "w").close()
        self.addCleanup(lambda: open(os.path.join(srv.dir, "release"), "w").close())
        with open(srv.config) as f:
            start = f.read()
        self.write(srv, "thriftcorn.lua", start.replace('"handler.lua"', '"v2.lua"'))
        srv.kill(signal.SIGHUP)
        check = harness.wait_for(lambda: harness.reload_check(srv))
        self.assertTrue(check, srv.log())
        for sig in (signal.SIGHUP, signal.SIGUSR1, signal.SIGUSR2, signal.SIGTTIN,
                    signal.SIGTTOU, signal.SIGWINCH):
            os.kill(check, sig)
        open(os.path.join(srv.dir, "release"), "w").close()
        self.assertTrue(harness.wait_for(lambda: "Generation 2 is ready" in srv.log()
                                         or "Reload failed" in srv.log(), 30), srv.log())
        self.assertNotIn("Reload failed", srv.log())
        self.assertIn("Generation 2 is ready", srv.log())
        self.assertEqual(self.echo(srv), "v2:x")

    def gated_reload(self, srv, workers):
        """Write a config of `workers` workers with v2.lua, whose check
        waits for the file 'release' while 'hold' exists, and whose
        generation's worker 0 waits in post_fork until the file 'go'
        exists; SIGHUP, then wait for the check."""
        self.write(srv, "v2.lua", GATE + handler("v2"))
        open(os.path.join(srv.dir, "hold"), "w").close()
        self.addCleanup(lambda: [open(os.path.join(srv.dir, name), "w").close()
                                 for name in ("release", "go")])
        with open(srv.config) as f:
            start = f.read()
        self.write(srv, "thriftcorn.lua", start.replace('"handler.lua"', '"v2.lua"') +
                   "workers = %d\n" % workers +
                   'post_fork = function(s, w)\n'
                   '  local dir = debug.getinfo(1, "S").source:match("^@(.*)/")\n'
                   '  local t = os.time()\n'
                   '  while w.index == 0 and not io.open(dir .. "/go") and os.time() - t < 30 do\n'
                   '    os.execute("sleep 0.05")\n'
                   '  end\n'
                   'end\n')
        srv.kill(signal.SIGHUP)
        self.assertTrue(harness.wait_log(srv, "Hang up: Master", 30), srv.log())
        self.assertTrue(harness.wait_for(lambda: harness.reload_check(srv)), srv.log())

    @staticmethod
    def generation(srv, gen):
        """The pids of the workers of generation `gen`, by their titles."""
        return sorted(p for p in srv.worker_pids()
                      if harness.process_title(p).endswith(" gen %d" % gen))

    def test_ttin_during_a_reload_counts_for_the_generation_it_starts(self):
        """A reload whose config sets workers = 2, with a SIGTTIN while its
        check runs and one while its generation boots: that generation
        serves with 4, as the operator asked after the SIGHUP, the second
        forked at once. The serving generation keeps its 2 workers until
        it is replaced: it forks none only to stop it when the reload
        ends. No call fails."""
        srv = self.server()
        load = loadgen.Load(self.S, srv.port, threads=3, duration=60, max_calls=10**7,
                            expect=either).start()
        self.addCleanup(load.stop)
        self.assertTrue(load.wait_calls(50, 30), load.summary())
        old = sorted(srv.worker_pids())
        self.gated_reload(srv, 2)
        srv.kill(signal.SIGTTIN)
        self.assertTrue(harness.wait_log(srv, "Handling signal: ttin", 30), srv.log())
        open(os.path.join(srv.dir, "release"), "w").close()
        self.assertTrue(harness.wait_log(
            srv, "Reloading: starting generation 2 with 3 worker(s)", 30), srv.log())
        self.assertTrue(harness.wait_for(lambda: len(self.generation(srv, 2)) == 3), srv.log())
        self.assertEqual(self.generation(srv, 1), old)
        srv.kill(signal.SIGTTIN)
        self.assertTrue(harness.wait_log(srv, "Handling signal: ttin", 30, 2), srv.log())
        self.assertTrue(harness.wait_for(lambda: len(self.generation(srv, 2)) == 4), srv.log())
        self.assertEqual(self.generation(srv, 1), old)
        self.assertTrue(load.wait_calls(100, 30), load.summary())
        self.assertNotIn("Generation 2 is ready", srv.log())  # worker 0 waits for 'go'
        open(os.path.join(srv.dir, "go"), "w").close()
        self.assertTrue(harness.wait_log(srv, "Generation 2 is ready", 30), srv.log())

        def serving():
            pids = srv.worker_pids()
            return len(pids) == 4 and self.generation(srv, 2) == sorted(pids)
        self.assertTrue(harness.wait_for(serving, 30), srv.log())
        self.assertTrue(load.wait_calls(100, 30), load.summary())
        self.assertTrue(load.stop())
        self.assertEqual(load.failed, 0, load.summary())
        self.assertEqual(self.echo(srv), "v2:x")
        log = srv.log()
        self.assertEqual(log.count("Booting worker with pid"), 2 + 4, log)
        self.assertIn("Number of workers: +1 for the generation the reload starts\n", log)
        self.assertIn("Number of workers: 4 for generation 2, which is starting\n", log)
        self.assertNotIn("Stopping worker", log)

    def test_ttou_during_a_reload_and_ttin_during_a_failed_one(self):
        """A SIGTTOU while a reload is checked and one while its generation
        boots: that generation serves with 1 of the 3 its config asks for
        (the second stops one of its own workers), while the serving one
        keeps its 3 until then. A SIGTTIN during a reload that fails is
        for the generation that serves on, which takes it then. No call
        fails."""
        srv = self.server("workers = 3\nthreads = 2\n")
        load = loadgen.Load(self.S, srv.port, threads=3, duration=60, max_calls=10**7,
                            expect=either).start()
        self.addCleanup(load.stop)
        self.assertTrue(load.wait_calls(50, 30), load.summary())
        old = sorted(srv.worker_pids())
        self.gated_reload(srv, 3)
        srv.kill(signal.SIGTTOU)
        self.assertTrue(harness.wait_log(
            srv, "Number of workers: -1 for the generation the reload starts\n", 30), srv.log())
        open(os.path.join(srv.dir, "release"), "w").close()
        self.assertTrue(harness.wait_log(
            srv, "Reloading: starting generation 2 with 2 worker(s)", 30), srv.log())
        self.assertTrue(harness.wait_for(lambda: len(self.generation(srv, 2)) == 2), srv.log())
        self.assertEqual(self.generation(srv, 1), old)
        srv.kill(signal.SIGTTOU)
        self.assertTrue(harness.wait_log(
            srv, "Number of workers: 1 for generation 2, which is starting\n", 30), srv.log())
        self.assertTrue(harness.wait_log(srv, "Stopping worker (pid:", 30), srv.log())
        stopped = int(srv.log().split("Stopping worker (pid:")[1].split(")")[0])
        self.assertNotIn(stopped, old)  # one of generation 2's
        self.assertTrue(harness.wait_for(lambda: len(self.generation(srv, 2)) == 1), srv.log())
        self.assertEqual(self.generation(srv, 1), old)
        open(os.path.join(srv.dir, "go"), "w").close()
        self.assertTrue(harness.wait_log(srv, "Generation 2 is ready", 30), srv.log())
        self.assertTrue(harness.wait_for(lambda: len(srv.worker_pids()) == 1, 30), srv.log())
        self.assertEqual(len(self.generation(srv, 2)), 1)
        self.assertTrue(load.wait_calls(100, 30), load.summary())
        self.assertEqual(srv.log().count("Booting worker with pid"), 3 + 2, srv.log())

        # a reload whose handler fails to load, with a SIGTTIN while it is checked
        os.unlink(os.path.join(srv.dir, "release"))
        self.write(srv, "v3.lua", GATE + 'error("v3 does not load")\n')
        with open(srv.config) as f:
            text = f.read()
        self.write(srv, "thriftcorn.lua", text.replace('"v2.lua"', '"v3.lua"'))
        srv.kill(signal.SIGHUP)
        self.assertTrue(harness.wait_log(srv, "Hang up: Master", 30, 2), srv.log())
        self.assertTrue(harness.wait_for(lambda: harness.reload_check(srv)), srv.log())
        srv.kill(signal.SIGTTIN)
        self.assertTrue(harness.wait_log(
            srv, "Number of workers: +1 for the generation the reload starts\n", 30), srv.log())
        self.assertEqual(len(srv.worker_pids()), 2)  # the checker and the one worker
        open(os.path.join(srv.dir, "release"), "w").close()
        self.assertTrue(harness.wait_log(srv, "Reload failed; still serving generation 2", 30),
                        srv.log())
        self.assertIn("v3 does not load", srv.log())
        self.assertTrue(harness.wait_for(lambda: len(self.generation(srv, 2)) == 2, 30),
                        srv.log())
        self.assertIn("Reload failed; still serving generation 2\n", srv.log().split(
            "Number of workers: 2\n")[0])
        self.assertTrue(load.wait_calls(100, 30), load.summary())
        self.assertTrue(load.stop())
        self.assertEqual(load.failed, 0, load.summary())
        self.assertEqual(self.echo(srv), "v2:x")

    def test_unreadable_config_keeps_the_running_generation(self):
        """A config that is gone, or is a FIFO (which the arbiter must not
        block on), fails the reload at once with its reason."""
        srv = self.server()
        real = os.path.realpath(srv.config)
        os.unlink(srv.config)
        srv.kill(signal.SIGHUP)
        self.assertTrue(harness.wait_log(srv, "Reload failed; still serving generation 1"),
                        srv.log())
        self.assertIn("Reload failed: %s: cannot read the config file (no such file or "
                      "directory)" % srv.config, srv.log())
        os.mkfifo(real)
        srv.kill(signal.SIGHUP)
        self.assertTrue(harness.wait_log(srv, "Reload failed; still serving generation 1",
                                         count=2), srv.log())
        self.assertIn("Reload failed: %s: cannot read the config file (not a regular file)"
                      % srv.config, srv.log())
        self.assertEqual(self.echo(srv), "v1:x")

    def test_binds_change_and_ttin_survives_a_reload(self):
        srv = self.server("threads = 2\n")  # workers: the default, 1
        sock_path = os.path.join(srv.dir, "s.sock")
        srv.kill(signal.SIGTTIN)
        self.assertTrue(harness.wait_for(lambda: len(srv.worker_pids()) == 2), srv.log())
        # a reload that adds a unix bind and does not set workers
        self.write(srv, "thriftcorn.lua", 'bind = { "127.0.0.1:0", "unix:%s" }\n%sthreads = 2\n'
                   % (sock_path, SERVICE))
        srv.kill(signal.SIGHUP)
        self.assertTrue(harness.wait_log(srv, "Generation 2 is ready"), srv.log())
        self.assertIn("Listening at: unix:%s" % sock_path, srv.log())
        self.assertTrue(harness.wait_for(lambda: len(srv.worker_pids()) == 2, 15), srv.log())
        load = loadgen.Load(self.S, None, unix=sock_path, threads=2, duration=10,
                            max_calls=100, expect=either).start()
        self.assertTrue(load.join(20))
        self.assertEqual(load.failed, 0, load.summary())
        self.assertGreaterEqual(load.ok, 100, load.summary())
        self.assertEqual(self.echo(srv), "v1:x")  # the TCP port is the same socket
        # a reload that drops it and sets workers
        self.write(srv, "thriftcorn.lua", 'bind = "127.0.0.1:0"\n%sworkers = 3\nthreads = 2\n'
                   % SERVICE)
        srv.kill(signal.SIGHUP)
        self.assertTrue(harness.wait_log(srv, "Generation 3 is ready"), srv.log())
        self.assertTrue(harness.wait_for(lambda: not os.path.exists(sock_path), 15), srv.log())
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        with self.assertRaises(OSError):
            s.connect(sock_path)
        s.close()
        self.assertTrue(harness.wait_for(lambda: len(srv.worker_pids()) == 3, 15), srv.log())
        self.assertEqual(self.echo(srv), "v1:x")

    def check_same_socket(self, srv, bind, load, old, kept):
        """Reload with `bind`, which names the socket `srv` listens on
        another way, while `load` runs: the new generation takes over on
        that socket (the log says `kept`), no call fails and no bind
        fails."""
        self.assertTrue(load.wait_calls(50), load.summary())
        self.write(srv, "thriftcorn.lua", 'bind = "%s"\n%sworkers = 2\nthreads = 2\n'
                   % (bind, SERVICE))
        srv.kill(signal.SIGHUP)
        self.assertTrue(harness.wait_log(srv, "Generation 2 is ready; stopping generation 1"),
                        srv.log())
        for pid in old:
            self.assertTrue(harness.wait_log(srv, "Worker (pid:%d) exited with code 0" % pid),
                            srv.log())
        # the old workers are gone: every call from now on is the new generation's
        self.assertTrue(load.wait_calls(100), load.summary())
        self.assertTrue(load.stop())
        self.assertEqual(load.failed, 0, load.summary())
        self.assertEqual(load.refused, 0, load.summary())
        new = srv.worker_pids()
        self.assertEqual(len(new), 2)
        self.assertFalse(set(new) & set(old))
        log = srv.log()
        self.assertIn("Bind %s is %s, open already: kept" % (bind, kept), log)
        self.assertEqual(log.count("Listening at:"), 1, log)
        self.assertNotIn("Cannot listen", log)
        self.assertNotIn("Reload failed", log)

    def test_a_bind_written_another_way_keeps_its_socket(self):
        """127.0.0.1:PORT, then localhost:PORT: the same address, whose
        socket the reload keeps instead of binding it again (which fails:
        address already in use)."""
        names = {a[4][0] for a in socket.getaddrinfo("localhost", 1, 0, socket.SOCK_STREAM)}
        if "127.0.0.1" not in names:
            self.skipTest("'localhost' does not resolve to 127.0.0.1 here: %r" % names)
        port = harness.free_port()
        srv = self.server(bind="127.0.0.1:%d" % port)
        self.assertEqual(srv.port, port)
        old = srv.worker_pids()
        load = loadgen.Load(self.S, port, threads=3, duration=25, sleep=0.002,
                            expect=lambda value, reply: reply == "v1:" + value).start()
        self.check_same_socket(srv, "localhost:%d" % port, load, old, "127.0.0.1:%d" % port)
        self.assertEqual(self.echo(srv), "v1:x")

    def test_a_unix_socket_named_by_its_absolute_path_keeps_its_socket(self):
        """unix:s.sock (relative to the server's working folder), then the
        same file by its absolute path: the socket and its file stay."""
        cwd = tempfile.mkdtemp(prefix="tc-it-cwd-")
        self.addCleanup(shutil.rmtree, cwd, True)
        path = os.path.join(os.path.realpath(cwd), "s.sock")
        srv = self.server(bind="unix:s.sock", preexec_fn=lambda: os.chdir(cwd))
        self.assertIn("Listening at: unix:s.sock", srv.log())
        inode = os.stat(path).st_ino
        old = srv.worker_pids()
        load = loadgen.Load(self.S, None, unix=path, threads=3, duration=25, sleep=0.002,
                            expect=lambda value, reply: reply == "v1:" + value).start()
        self.check_same_socket(srv, "unix:" + path, load, old, "unix:s.sock")
        self.assertEqual(os.stat(path).st_ino, inode)  # not bound again
        load = loadgen.Load(self.S, None, unix=path, threads=1, max_calls=20,
                            expect=lambda value, reply: reply == "v1:" + value).start()
        self.assertTrue(load.join(20))
        self.assertEqual((load.ok, load.failed), (20, 0), load.summary())

    def test_two_binds_of_one_address_fail_a_reload_as_a_start(self):
        """A reload that names the running socket twice, one way and
        another (127.0.0.1:PORT, localhost:PORT), fails at the second, as
        that config would fail to start, saying that the config names one
        address twice (not 'address already in use', which blames another
        program); the running generation serves on."""
        names = {a[4][0] for a in socket.getaddrinfo("localhost", 1, 0, socket.SOCK_STREAM)}
        if names != {"127.0.0.1"}:
            self.skipTest("'localhost' is not 127.0.0.1 alone here: %r" % names)

        def config(srv):
            self.port = srv.port
            return ('bind = { "127.0.0.1:%d", "localhost:%d" }\n%sworkers = 2\nthreads = 2\n'
                    % (srv.port, srv.port, SERVICE))
        srv = self.check_failed_reload("thriftcorn.lua", config, "Cannot listen")
        self.assertIn("Reload failed: Cannot listen: bind localhost:%d: the same address as bind "
                      "127.0.0.1:%d (127.0.0.1:%d)\n" % (self.port, self.port, self.port),
                      srv.log())

    def test_a_host_name_and_every_address_at_one_port_fail_a_reload_naming_both(self):
        """A reload whose binds are every address and a host name at the
        running port (0.0.0.0:PORT and localhost:PORT, either order): the
        host name keeps the running socket, and the other bind fails the
        reload naming both binds, as a clash of the config with itself,
        not 'address already in use' (which blames another program); the
        running generation serves on."""
        names = {a[4][0] for a in socket.getaddrinfo("localhost", 1, 0, socket.SOCK_STREAM)}
        if names != {"127.0.0.1"}:
            self.skipTest("'localhost' is not 127.0.0.1 alone here: %r" % names)
        for first in ("0.0.0.0", "localhost"):
            with self.subTest(first=first):
                def config(srv, first=first):
                    self.port = srv.port
                    binds = ['"0.0.0.0:%d"' % srv.port, '"localhost:%d"' % srv.port]
                    if first == "localhost":
                        binds.reverse()
                    return ("bind = { %s }\n%sworkers = 2\nthreads = 2\n"
                            % (", ".join(binds), SERVICE))
                srv = self.check_failed_reload("thriftcorn.lua", config, "Cannot listen")
                log = srv.log()
                self.assertIn("Bind localhost:%d is 127.0.0.1:%d, open already: kept"
                              % (self.port, self.port), log)
                self.assertIn("Reload failed: Cannot listen: bind 0.0.0.0:%d: its port is taken "
                              "by bind localhost:%d (127.0.0.1:%d), as 0.0.0.0:%d is every "
                              "address (reuse_port is off)\n"
                              % (self.port, self.port, self.port, self.port), log)
                self.assertNotIn("already in use", log)
                srv.stop()

    def test_a_failed_reload_logs_the_close_of_the_socket_it_opened(self):
        """A reload whose third bind names a port another process holds
        opens its second bind's new port first (`Listening at:`), then
        fails: the arbiter closes that port and says so, `Closed ADDRESS:
        the reload failed`, so no `Listening at:` line is left without its
        end; the serving socket is not closed and answers on."""
        srv = self.server()
        held = socket.socket()
        self.addCleanup(held.close)
        held.bind(("127.0.0.1", 0))
        held.listen(1)
        taken = held.getsockname()[1]
        self.write(srv, "thriftcorn.lua",
                   'bind = { "127.0.0.1:0", "127.0.0.1:0", "127.0.0.1:%d" }\n'
                   '%sworkers = 2\nthreads = 2\n' % (taken, SERVICE))
        srv.kill(signal.SIGHUP)
        self.assertTrue(harness.wait_log(srv, "Reload failed; still serving generation 1"),
                        srv.log())
        log = srv.log()
        self.assertIn("Reload failed: Cannot listen: 127.0.0.1:%d" % taken, log)
        ports = harness.listening_ports(log)
        self.assertEqual(len(ports), 2, log)
        self.assertEqual(ports[0], srv.port)
        new = ports[1]
        self.assertNotEqual(new, srv.port)
        closed = "Closed 127.0.0.1:%d: the reload failed\n" % new
        self.assertIn(closed, log)
        self.assertLess(log.index("Listening at: 127.0.0.1:%d " % new), log.index(closed))
        self.assertNotIn("Closed 127.0.0.1:%d:" % srv.port, log)
        self.assertTrue(harness.wait_for(lambda: harness.listen_inode(new) is None), log)
        self.assertFalse(self.serves(new))
        self.assertIsNotNone(harness.listen_inode(taken))  # still the test's
        load = loadgen.Load(self.S, srv.port, threads=2, max_calls=50,
                            expect=lambda value, reply: reply == "v1:" + value).start()
        self.assertTrue(load.join(20))
        self.assertEqual(load.failed, 0, load.summary())
        self.assertGreaterEqual(load.ok, 50, load.summary())
        self.assertEqual(self.echo(srv), "v1:x")

    def call_in_flight(self, port):
        """A connection to `port` that has had one echo() answered and now
        waits in a sleep_ms(1500) call: returns its thread and a dict that
        gets the reply as 'reply' (or the failure as 'error')."""
        slow = {}

        def call_slow():
            try:
                c, trans = harness.client(self.S, port, timeout=20)
                slow["first"] = c.echo("y")
                slow["reply"] = c.sleep_ms(1500)
                trans.close()
            except Exception as e:  # noqa: BLE001 (reported by the caller's assertions)
                slow["error"] = repr(e)
        caller = threading.Thread(target=call_slow, daemon=True)
        caller.start()
        self.assertTrue(harness.wait_for(lambda: "first" in slow or "error" in slow, 30), slow)
        self.assertEqual(slow.get("first"), "v1:y", slow)
        return caller, slow

    def test_a_failed_reload_stops_listening_at_once_on_the_port_it_opened(self):
        """A reload adds a bind (a port-0 one: a new port) and its
        generation fails while one of its workers still boots (in its
        post_fork hook, holding the new socket it inherited) and another
        serves a call on the new port: the new port refuses clients at
        once, as before the reload, rather than take them into a backlog
        that nobody accepts from until that worker exits; the call in
        flight there completes, and the serving port answers every call
        throughout."""
        srv = self.server()
        load = loadgen.Load(self.S, srv.port, threads=2, duration=60, max_calls=10**7,
                            expect=lambda value, reply: reply == "v1:" + value).start()
        self.addCleanup(load.stop)
        self.assertTrue(load.wait_calls(50, 30), load.summary())
        self.addCleanup(lambda: open(os.path.join(srv.dir, "go"), "w").close())
        with open(srv.config) as f:
            start = f.read()
        # worker 0 waits for 'go', worker 1 boots, worker 2 fails once 'die' exists
        self.write(srv, "thriftcorn.lua",
                   start.replace('bind = "127.0.0.1:0"',
                                 'bind = { "127.0.0.1:%d", "127.0.0.1:0" }' % srv.port) +
                   "workers = 3\n"
                   'post_fork = function(s, w)\n'
                   '  local dir = debug.getinfo(1, "S").source:match("^@(.*)/")\n'
                   '  local wait = ({ [0] = "go", [2] = "die" })[w.index]\n'
                   '  local t = os.time()\n'
                   '  while wait and not io.open(dir .. "/" .. wait) and os.time() - t < 30 do\n'
                   '    os.execute("sleep 0.05")\n'
                   '  end\n'
                   '  if w.index == 2 then os.exit(3) end\n'
                   'end\n'
                   'post_worker_init = function(w)\n'
                   '  local dir = debug.getinfo(1, "S").source:match("^@(.*)/")\n'
                   '  if w.index == 0 then\n'
                   '    io.open(dir .. "/inited", "w"):close()\n'
                   '    os.execute("sleep 2")\n'
                   '  end\n'
                   'end\n')
        srv.kill(signal.SIGHUP)
        self.assertTrue(harness.wait_log(srv, "Reloading: starting generation 2", 30), srv.log())
        ports = harness.listening_ports(srv.log())
        self.assertEqual(len(ports), 2, srv.log())
        new = ports[1]
        # worker 1 of generation 2 serves the new port; a call in flight there
        caller, slow = self.call_in_flight(new)
        open(os.path.join(srv.dir, "die"), "w").close()
        self.assertTrue(harness.wait_log(
            srv, "Reload failed: generation 2 failed to boot; still serving generation 1", 30),
            srv.log())
        caller.join(20)
        self.assertEqual(slow.get("reply"), "slept 1500", slow)
        # worker 1 has drained and exited; worker 0 boots yet, holding the new socket
        self.assertTrue(harness.wait_for(lambda: len(self.generation(srv, 2)) == 1, 30),
                        srv.log())
        self.assertIn("Closed 127.0.0.1:%d: the reload failed\n" % new, srv.log())
        self.assertIsNone(harness.listen_inode(new), srv.log())
        self.assertFalse(self.serves(new))
        self.assertEqual(len(self.generation(srv, 2)), 1)  # it held the socket all along
        self.assertTrue(load.wait_calls(100, 30), load.summary())
        self.assertTrue(load.stop())
        self.assertEqual(load.failed, 0, load.summary())
        self.assertEqual(self.echo(srv), "v1:x")
        # booted at last, it stops without a turn of its loops on that socket
        # (readable, never accepted from) while its post_worker_init runs
        booting = self.generation(srv, 2)[0]
        open(os.path.join(srv.dir, "go"), "w").close()
        self.assertTrue(harness.wait_for(
            lambda: os.path.exists(os.path.join(srv.dir, "inited")), 30), srv.log())
        start_cpu = cpu_seconds(booting)
        self.assertIsNotNone(start_cpu)  # in its post_worker_init for 2 s

        def ended_or_spun():
            now = cpu_seconds(booting)
            return "ended" if now is None else "spun" if now - start_cpu >= 0.5 else None
        self.assertEqual(harness.wait_for(ended_or_spun, 30), "ended", srv.log())
        self.assertTrue(harness.wait_for(lambda: booting not in srv.worker_pids(), 30),
                        srv.log())
        self.assertNotIn("Worker (pid:%d) was sent" % booting, srv.log())

    def test_a_dropped_bind_stops_listening_once_its_generation_is_replaced(self):
        """Generation 2 listens at a second port; one of its workers died
        and its replacement still boots (in post_fork) when generation 3,
        which drops that port, takes over: the port refuses clients at
        once, rather than take them into a backlog nobody accepts from
        until that worker exits, while a call in flight there completes;
        a reload that names the port again opens it anew."""
        srv = self.server()
        with open(srv.config) as f:
            start = f.read()
        two = start.replace('bind = "127.0.0.1:0"',
                            'bind = { "127.0.0.1:%d", "127.0.0.1:0" }' % srv.port)
        self.addCleanup(lambda: open(os.path.join(srv.dir, "go"), "w").close())
        # a worker forked once 'stall' exists waits for 'go'
        self.write(srv, "thriftcorn.lua", two +
                   'post_fork = function(s, w)\n'
                   '  local dir = debug.getinfo(1, "S").source:match("^@(.*)/")\n'
                   '  local t = os.time()\n'
                   '  while io.open(dir .. "/stall") and not io.open(dir .. "/go")\n'
                   '      and os.time() - t < 30 do\n'
                   '    os.execute("sleep 0.05")\n'
                   '  end\n'
                   'end\n')
        srv.kill(signal.SIGHUP)
        self.assertTrue(harness.wait_log(srv, "Generation 2 is ready", 30), srv.log())
        ports = harness.listening_ports(srv.log())
        self.assertEqual(len(ports), 2, srv.log())
        second = ports[1]
        self.assertTrue(harness.wait_for(lambda: len(self.generation(srv, 2)) == 2
                                         and len(srv.worker_pids()) == 2, 30), srv.log())
        load = loadgen.Load(self.S, srv.port, threads=2, duration=60, max_calls=10**7,
                            expect=lambda value, reply: reply == "v1:" + value).start()
        self.addCleanup(load.stop)
        self.assertTrue(load.wait_calls(50, 30), load.summary())
        open(os.path.join(srv.dir, "stall"), "w").close()
        before = self.generation(srv, 2)
        dead = before[0]
        os.kill(dead, signal.SIGKILL)
        self.assertTrue(harness.wait_log(srv, "Worker (pid:%d) was sent SIGKILL" % dead, 30),
                        srv.log())
        self.assertTrue(harness.wait_for(lambda: len(self.generation(srv, 2)) == 2, 30),
                        srv.log())
        stalled = [p for p in self.generation(srv, 2) if p not in before]
        # a call in flight at the second port, on the worker that serves
        caller, slow = self.call_in_flight(second)
        one = start.replace('bind = "127.0.0.1:0"', 'bind = "127.0.0.1:%d"' % srv.port)
        self.write(srv, "thriftcorn.lua", one)
        srv.kill(signal.SIGHUP)
        self.assertTrue(harness.wait_log(srv, "Generation 3 is ready", 30), srv.log())
        self.assertIn("Closed 127.0.0.1:%d: no longer bound\n" % second, srv.log())
        caller.join(20)
        self.assertEqual(slow.get("reply"), "slept 1500", slow)
        # the worker that served it has exited; the one that boots holds the socket yet
        self.assertTrue(harness.wait_for(lambda: len(self.generation(srv, 2)) == 1, 30),
                        srv.log())
        booting = self.generation(srv, 2)
        self.assertEqual(booting, stalled)
        self.assertIsNone(harness.listen_inode(second), srv.log())
        self.assertFalse(self.serves(second))
        self.assertEqual(self.generation(srv, 2), booting)  # it held the socket all along
        # named again while that worker holds its old socket: a new socket
        self.write(srv, "thriftcorn.lua", start.replace(
            'bind = "127.0.0.1:0"', 'bind = { "127.0.0.1:%d", "127.0.0.1:%d" }'
            % (srv.port, second)))
        self.assertEqual(self.generation(srv, 2), booting)
        srv.kill(signal.SIGHUP)
        self.assertTrue(harness.wait_for(lambda: "Generation 4 is ready" in srv.log()
                                         or "Reload failed" in srv.log(), 30), srv.log())
        self.assertNotIn("Reload failed", srv.log())
        self.assertEqual(self.echo_at(second), "v1:x")
        self.assertTrue(load.wait_calls(100, 30), load.summary())
        self.assertTrue(load.stop())
        self.assertEqual(load.failed, 0, load.summary())
        open(os.path.join(srv.dir, "go"), "w").close()
        self.assertTrue(harness.wait_for(lambda: not self.generation(srv, 2), 30), srv.log())

    def echo_at(self, port):
        c, trans = harness.client(self.S, port)
        try:
            return c.echo("x")
        finally:
            trans.close()

    def test_port_0_written_twice_is_two_ports_a_reload_keeps(self):
        """bind = { "127.0.0.1:0", "127.0.0.1:0" } opens a socket per bind,
        each at a port of its own, as gunicorn does; a reload that names
        both again keeps both ports (no new `Listening at:`), and one that
        names one keeps one of them and closes the other."""
        srv = self.server('bind = { "127.0.0.1:0", "127.0.0.1:0" }\nworkers = 1\nthreads = 2\n')
        ports = harness.listening_ports(srv.log())
        self.assertEqual(len(ports), 2, srv.log())
        self.assertNotEqual(ports[0], ports[1])
        for port in ports:
            self.assertEqual(self.echo_at(port), "v1:x")
        old = srv.worker_pids()
        self.write(srv, "handler.lua", handler("v2"))
        srv.kill(signal.SIGHUP)
        self.assertTrue(harness.wait_log(srv, "Generation 2 is ready"), srv.log())
        for pid in old:
            self.assertTrue(harness.wait_log(srv, "Worker (pid:%d) exited" % pid), srv.log())
        self.assertEqual(harness.listening_ports(srv.log()), ports)
        for port in ports:
            self.assertEqual(self.echo_at(port), "v2:x")
        # one bind: one of the two sockets stays, the other closes once
        # the workers that share it have exited
        with open(srv.config) as f:
            text = f.read()
        self.write(srv, "thriftcorn.lua",
                   text.replace('bind = { "127.0.0.1:0", "127.0.0.1:0" }', 'bind = "127.0.0.1:0"'))
        old = srv.worker_pids()
        srv.kill(signal.SIGHUP)
        self.assertTrue(harness.wait_log(srv, "Generation 3 is ready"), srv.log())
        for pid in old:
            self.assertTrue(harness.wait_log(srv, "Worker (pid:%d) exited" % pid), srv.log())
        self.assertEqual(harness.listening_ports(srv.log()), ports)
        kept = [p for p in ports if self.serves(p)]
        self.assertEqual(len(kept), 1, srv.log())
        self.assertEqual(self.echo_at(kept[0]), "v2:x")

    @staticmethod
    def serves(port):
        try:
            socket.create_connection(("127.0.0.1", port), timeout=2).close()
            return True
        except ConnectionRefusedError:
            return False

    def reload_binds(self, srv, binds, gen, version):
        """Reload `srv` with `binds` and the handler answering `version`;
        returns once generation `gen` serves alone."""
        old = srv.worker_pids()
        self.write(srv, "handler.lua", handler(version))
        self.write(srv, "thriftcorn.lua", "bind = { %s }\n%sworkers = 2\nthreads = 2\n"
                   % (", ".join('"%s"' % b for b in binds), SERVICE))
        srv.kill(signal.SIGHUP)
        self.assertTrue(harness.wait_log(srv, "Generation %d is ready" % gen), srv.log())
        for pid in old:
            self.assertTrue(harness.wait_log(srv, "Worker (pid:%d) exited" % pid), srv.log())
        self.assertNotIn("Reload failed", srv.log())

    def test_a_port_written_out_beside_port_0_keeps_its_socket(self):
        """bind = "127.0.0.1:0" got port P; a reload to { "127.0.0.1:P",
        "127.0.0.1:0" } (either order) keeps the socket at P for the bind
        that names it, with no call lost, and opens a new port for the
        port-0 bind, rather than fail as the same address twice; back to
        "127.0.0.1:0", the port-0 bind keeps its socket and P closes."""
        for first in ("P", "0"):
            with self.subTest(first=first):
                srv = self.server()
                port = srv.port
                inode = harness.listen_inode(port)
                self.assertIsNotNone(inode)
                load = loadgen.Load(self.S, port, threads=3, duration=25, sleep=0.002,
                                    max_calls=100000, expect=either).start()
                self.addCleanup(load.stop)
                self.assertTrue(load.wait_calls(50), load.summary())
                binds = ["127.0.0.1:%d" % port, "127.0.0.1:0"]
                self.reload_binds(srv, binds if first == "P" else binds[::-1], 2, "v2")
                self.assertTrue(load.wait_calls(100), load.summary())
                self.assertTrue(load.stop())
                self.assertEqual((load.failed, load.refused), (0, 0), load.summary())
                log = srv.log()
                self.assertIn("Bind 127.0.0.1:%d is 127.0.0.1:%d, open already: kept"
                              % (port, port), log)
                ports = harness.listening_ports(log)
                self.assertEqual(len(ports), 2, log)
                self.assertEqual(ports[0], port)
                new = ports[1]
                self.assertNotEqual(new, port)
                self.assertEqual(harness.listen_inode(port), inode)  # not bound again
                for p in (port, new):
                    self.assertEqual(self.echo_at(p), "v2:x")
                # the reverse: the port-0 bind keeps its port, the one named closes
                new_inode = harness.listen_inode(new)
                self.reload_binds(srv, ["127.0.0.1:0"], 3, "v3")
                self.assertEqual(harness.listening_ports(srv.log()), ports)
                self.assertIn("Closed 127.0.0.1:%d: no longer bound\n" % port, srv.log())
                self.assertNotIn("Closed 127.0.0.1:%d:" % new, srv.log())
                self.assertTrue(harness.wait_for(lambda: not self.serves(port)), srv.log())
                self.assertEqual(harness.listen_inode(new), new_inode)
                self.assertEqual(self.echo_at(new), "v3:x")
                srv.stop()

    def test_port_0_twice_then_one_port_written_out_keeps_both(self):
        """{ "127.0.0.1:0", "127.0.0.1:0" } at ports P1 and P2, then
        { "127.0.0.1:P1", "127.0.0.1:0" }: the first bind keeps P1 by its
        address, the port-0 one keeps P2, and nothing is bound again."""
        srv = self.server('bind = { "127.0.0.1:0", "127.0.0.1:0" }\nworkers = 2\nthreads = 2\n')
        ports = harness.listening_ports(srv.log())
        self.assertEqual(len(set(ports)), 2, srv.log())
        inodes = [harness.listen_inode(p) for p in ports]
        self.reload_binds(srv, ["127.0.0.1:%d" % ports[0], "127.0.0.1:0"], 2, "v2")
        self.assertEqual(harness.listening_ports(srv.log()), ports)
        self.assertEqual([harness.listen_inode(p) for p in ports], inodes)
        for port in ports:
            self.assertEqual(self.echo_at(port), "v2:x")

    def test_a_kept_bind_takes_the_new_backlog(self):
        """backlog 7, then 11: the reload keeps the listening socket and
        sets its backlog again (listen() on it), as nginx does."""
        srv = self.server("workers = 1\nthreads = 1\nbacklog = 7\n")
        self.assertEqual(harness.listen_backlog(srv.port), 7)
        with open(srv.config) as f:
            text = f.read()
        self.assertIn("backlog = 7\n", text)
        self.write(srv, "thriftcorn.lua", text.replace("backlog = 7\n", "backlog = 11\n"))
        srv.kill(signal.SIGHUP)
        self.assertTrue(harness.wait_log(srv, "Generation 2 is ready"), srv.log())
        self.assertEqual(harness.listen_backlog(srv.port), 11)
        self.assertEqual(self.echo(srv), "v1:x")

    def test_a_failed_reload_gives_a_kept_bind_its_backlog_back(self):
        """backlog 7, then a reload that sets 11 and fails (its second bind
        names a port another process holds, or its generation fails to
        boot): the socket it kept listens with 7 again, as before it."""
        for how in ("bind", "boot"):
            with self.subTest(how=how):
                srv = self.server("workers = 1\nthreads = 1\nbacklog = 7\n")
                self.assertEqual(harness.listen_backlog(srv.port), 7)
                with open(srv.config) as f:
                    text = f.read().replace("backlog = 7\n", "backlog = 11\n")
                if how == "bind":
                    held = socket.socket()
                    self.addCleanup(held.close)
                    held.bind(("127.0.0.1", 0))
                    held.listen(1)
                    text = text.replace('bind = "127.0.0.1:0"', 'bind = { "127.0.0.1:%d", '
                                        '"127.0.0.1:%d" }' % (srv.port, held.getsockname()[1]))
                else:
                    text += "post_fork = function(s, w) os.exit(3) end\n"
                self.write(srv, "thriftcorn.lua", text)
                srv.kill(signal.SIGHUP)
                self.assertTrue(harness.wait_log(srv, "still serving generation 1", 30),
                                srv.log())
                self.assertEqual(harness.listen_backlog(srv.port), 7)
                self.assertEqual(self.echo(srv), "v1:x")
                srv.stop()

    def test_umask_follows_the_reload(self):
        def umask_of(pid):
            with open("/proc/%d/status" % pid) as f:
                return f.read().split("Umask:")[1].split()[0]

        def new_workers(old):
            pids = srv.worker_pids()
            return pids if len(pids) == 2 and not set(pids) & set(old) else None

        started = os.umask(0o002)  # the umask the server starts with
        try:
            srv = self.server('umask = "027"\nworkers = 2\nthreads = 2\n')
        finally:
            os.umask(started)
        pids = srv.worker_pids()
        self.assertEqual([umask_of(p) for p in pids], ["0027", "0027"])
        # a reload that sets another umask, and a unix bind the arbiter creates with it
        sock_path = os.path.join(srv.dir, "s.sock")
        self.write(srv, "thriftcorn.lua", 'bind = { "127.0.0.1:0", "unix:%s" }\n%sumask = "077"\n'
                   'workers = 2\nthreads = 2\n' % (sock_path, SERVICE))
        srv.kill(signal.SIGHUP)
        self.assertTrue(harness.wait_log(srv, "Generation 2 is ready"), srv.log())
        pids = harness.wait_for(lambda: new_workers(pids), 15)
        self.assertTrue(pids, srv.log())
        self.assertEqual([umask_of(p) for p in pids], ["0077", "0077"])
        self.assertEqual(stat.S_IMODE(os.stat(sock_path).st_mode) & 0o077, 0)
        self.assertEqual(self.echo(srv), "v1:x")
        # a reload that no longer sets it: the default, the umask the server started with
        self.write(srv, "thriftcorn.lua", 'bind = "127.0.0.1:0"\n%sworkers = 2\nthreads = 2\n'
                   % SERVICE)
        srv.kill(signal.SIGHUP)
        self.assertTrue(harness.wait_log(srv, "Generation 3 is ready"), srv.log())
        pids = harness.wait_for(lambda: new_workers(pids), 15)
        self.assertTrue(pids, srv.log())
        self.assertEqual([umask_of(p) for p in pids], ["0002", "0002"])
        self.assertEqual(self.echo(srv), "v1:x")


    def reload_to(self, srv, extra, gen):
        """Rewrite the config with the settings `extra`, send SIGHUP, and
        wait until generation `gen` is ready."""
        self.write(srv, "thriftcorn.lua", 'bind = "127.0.0.1:0"\n%s%s' % (SERVICE, extra))
        srv.kill(signal.SIGHUP)
        self.assertTrue(harness.wait_log(srv, "Generation %d is ready" % gen), srv.log())

    def test_a_reload_moves_the_pidfile(self):
        """As gunicorn's reload does: a pidfile the new config names is
        written and the old one removed; one the config no longer sets is
        removed, and one it sets again is written. Another name of the same
        file keeps the file (before, every change was ignored until the next
        start, without a word)."""
        d = harness.tempdir("tc-pid-")
        a_pid, b_pid = os.path.join(d, "a.pid"), os.path.join(d, "b.pid")
        b_again = os.path.join(d, ".", "b.pid")
        one = "workers = 1\nthreads = 1\n"
        srv = self.server(one + "pidfile = %r\n" % a_pid)
        pid = "%d\n" % srv.proc.pid
        self.assertEqual(harness.read_text(a_pid), pid)
        self.reload_to(srv, one + "pidfile = %r\n" % b_pid, 2)
        self.assertTrue(harness.wait_log(srv, "Pidfile: %s (was %s)\n" % (b_pid, a_pid)),
                        srv.log())
        self.assertEqual(harness.read_text(b_pid), pid)
        self.assertFalse(os.path.exists(a_pid))
        self.reload_to(srv, one + "pidfile = %r\n" % b_again, 3)
        self.assertTrue(harness.wait_log(srv, "Pidfile: %s (was %s)\n" % (b_again, b_pid)),
                        srv.log())
        self.assertEqual(harness.read_text(b_pid), pid)
        self.reload_to(srv, one, 4)
        self.assertTrue(harness.wait_log(srv, "No pidfile: the config sets none (was %s)\n"
                                         % b_again), srv.log())
        self.assertFalse(os.path.exists(b_pid))
        self.reload_to(srv, one + "pidfile = %r\n" % a_pid, 5)
        self.assertTrue(harness.wait_log(srv, "Pidfile: %s\n" % a_pid), srv.log())
        self.assertEqual(harness.read_text(a_pid), pid)
        self.assertEqual(self.echo(srv), "v1:x")
        self.assertEqual(srv.stop(), 0, srv.log())
        self.assertEqual(os.listdir(d), [])

    def test_a_pidfile_a_reload_cannot_write_keeps_the_old_one(self):
        """A new pidfile that cannot be written (its folder is missing), or
        that names another live process, is refused as at start: the error
        names the file and why, the old pidfile stays, the reload still
        takes effect, and a later reload tries again."""
        d = harness.tempdir("tc-pid-")
        a_pid, c_pid = os.path.join(d, "a.pid"), os.path.join(d, "c.pid")
        missing = os.path.join(d, "nope", "b.pid")
        with open(c_pid, "w") as f:
            f.write("%d\n" % os.getpid())  # a live process: this test
        srv = self.server("workers = 1\nthreads = 1\npidfile = %r\n" % a_pid)
        pid = "%d\n" % srv.proc.pid
        self.reload_to(srv, "workers = 2\nthreads = 1\npidfile = %r\n" % missing, 2)
        self.assertTrue(harness.wait_log(
            srv, "[error] Cannot write the pidfile %s: no such file or directory; the pidfile "
            "stays %s\n" % (missing, a_pid)), srv.log())
        self.assertEqual(harness.read_text(a_pid), pid)
        self.assertTrue(harness.wait_for(lambda: len(srv.worker_pids()) == 2), srv.log())
        self.reload_to(srv, "workers = 1\nthreads = 1\npidfile = %r\n" % c_pid, 3)
        self.assertTrue(harness.wait_log(
            srv, "[error] Already running on PID %d (or pid file '%s' is stale); the pidfile "
            "stays %s\n" % (os.getpid(), c_pid, a_pid)), srv.log())
        self.assertEqual(harness.read_text(c_pid), "%d\n" % os.getpid())
        self.assertEqual(harness.read_text(a_pid), pid)
        # the folder is there now: the same config, reloaded, moves the pidfile
        os.mkdir(os.path.dirname(missing))
        self.reload_to(srv, "workers = 1\nthreads = 1\npidfile = %r\n" % missing, 4)
        self.assertTrue(harness.wait_log(srv, "Pidfile: %s (was %s)\n" % (missing, a_pid)),
                        srv.log())
        self.assertEqual(harness.read_text(missing), pid)
        self.assertFalse(os.path.exists(a_pid))
        self.assertEqual(self.echo(srv), "v1:x")

    def test_a_reload_during_an_upgrade_leaves_the_pidfiles(self):
        """While an upgrade runs, PIDFILE is the new arbiter's and the old
        one's is PIDFILE.oldbin: a reload of the old arbiter that names
        another pidfile touches neither and says so; if the new arbiter
        then exits (a roll back), the old one takes PIDFILE back and moves
        it to the name its config gives."""
        d = harness.tempdir("tc-pid-")
        a_pid, b_pid = os.path.join(d, "a.pid"), os.path.join(d, "b.pid")
        srv = self.server("workers = 1\nthreads = 1\npidfile = %r\n" % a_pid)
        old = srv.proc.pid
        srv.kill(signal.SIGUSR2)
        self.assertTrue(harness.wait_log(srv, "Started a new arbiter (pid:"), srv.log())
        new = int(re.search(r"Started a new arbiter \(pid:(\d+)\)", srv.log()).group(1))
        self.addCleanup(lambda: harness.pid_alive(new) and os.kill(new, signal.SIGKILL))
        self.assertTrue(harness.wait_log(srv, "Ready: generation 1", count=2), srv.log())
        self.assertEqual(harness.read_text(a_pid), "%d\n" % new)
        self.assertEqual(harness.read_text(a_pid + ".oldbin"), "%d\n" % old)
        self.reload_to(srv, "workers = 1\nthreads = 1\npidfile = %r\n" % b_pid, 2)
        self.assertTrue(harness.wait_log(
            srv, "[warning] pidfile: the config sets it to %s, which waits for the upgrade to "
            "end: this arbiter's stays %s.oldbin while the new arbiter (pid:%d) runs"
            % (b_pid, a_pid, new)), srv.log())
        self.assertFalse(os.path.exists(b_pid))
        self.assertEqual(harness.read_text(a_pid), "%d\n" % new)
        self.assertEqual(harness.read_text(a_pid + ".oldbin"), "%d\n" % old)
        os.kill(new, signal.SIGTERM)
        self.assertTrue(harness.wait_log(srv, "New arbiter (pid:%d) exited with code 0" % new),
                        srv.log())
        self.assertTrue(harness.wait_log(srv, "Pidfile: %s (was %s)\n" % (b_pid, a_pid)),
                        srv.log())
        self.assertEqual(harness.read_text(b_pid), "%d\n" % old)
        self.assertEqual(sorted(os.listdir(d)), ["b.pid"])
        self.assertEqual(self.echo(srv), "v1:x")

    def test_a_reload_that_changes_daemon_says_it_waits_for_the_next_start(self):
        """`daemon` takes effect at start only, as in gunicorn: a reload
        whose config asks for another value than the arbiter runs with says
        so (before, it was ignored without a word); one that asks for what
        it runs with says nothing."""
        srv = self.server("workers = 1\nthreads = 1\n")
        self.reload_to(srv, "workers = 1\nthreads = 1\ndaemon = true\n", 2)
        warning = ("[warning] daemon: the config sets it to true, which applies at the next "
                   "start; the arbiter stays in the foreground\n")
        self.assertTrue(harness.wait_log(srv, warning), srv.log())
        workers = srv.worker_pids()
        self.reload_to(srv, "workers = 1\nthreads = 1\ndaemon = false\n", 3)
        # generation 2's worker exits after the commit that would have warned
        for w in workers:
            self.assertTrue(harness.wait_log(srv, "Worker (pid:%d) exited" % w), srv.log())
        self.assertEqual(srv.log().count("daemon:"), 1, srv.log())
        self.assertEqual(srv.proc.poll(), None)
        self.assertEqual(self.echo(srv), "v1:x")


if __name__ == "__main__":
    unittest.main(verbosity=2)

# SPDX-License-Identifier: Apache-2.0
"""Settings that act on the processes and sockets: user and group of the
workers, umask, reuse_port and backlog, and the binds that take the sockets
systemd passes. Each is checked on the real server with calls that must
still be answered."""

import fcntl
import os
import re
import shutil
import signal
import socket
import stat
import subprocess
import time
import unittest

import harness
from thrift.protocol import TBinaryProtocol
from thrift.transport import TSocket, TTransport

FIXTURE = harness.SERVICE_FIXTURE
service = harness.service


def listening(family=socket.AF_INET, address=("127.0.0.1", 0)):
    """A listening stream socket, as a socket unit's ListenStream= makes."""
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.bind(address)
    sock.listen(16)
    return sock


def binds(*specs):
    return "bind = {%s}\n" % ", ".join('"%s"' % spec for spec in specs)


def start_activated(settings, socks, listen_pid=None):
    """A server started as systemd starts one for a socket unit: the
    listening sockets `socks` at descriptors 3, 4, ..., LISTEN_FDS their
    count and LISTEN_PID its pid (or `listen_pid`). Our copies are closed,
    so that only the server's serve. Returns the Server, its log in
    srv.log()."""
    srv = harness.Server(settings, start=False)
    fds = [sock.fileno() for sock in socks]

    def at_three():
        # the copies from 3 on stay across exec; all others close there,
        # those of `socks` too, so the server holds each socket only once
        high = [fcntl.fcntl(fd, fcntl.F_DUPFD_CLOEXEC, 100) for fd in fds]
        for i, fd in enumerate(high):
            os.dup2(fd, 3 + i)
    srv._log = open(srv.log_path, "ab")
    env = dict(os.environ, LISTEN_FDS=str(len(fds)))
    env.pop("LISTEN_PID", None)
    if listen_pid is not None:
        env["LISTEN_PID"] = str(listen_pid)
    srv.proc = subprocess.Popen(["/bin/sh", "-c", 'LISTEN_PID=${LISTEN_PID:-$$} exec "$0" "$@"',
                                 harness.BIN, srv.config, "--errorlog", srv.log_path],
                                stdout=srv._log, stderr=subprocess.STDOUT, env=env,
                                close_fds=False, preexec_fn=at_three)
    for sock in socks:
        sock.close()
    return srv


def refused(port):
    try:
        socket.create_connection(("127.0.0.1", port), timeout=5).close()
    except ConnectionRefusedError:
        return True
    return False


def readable_fixture():
    """A copy of the test service every user may read: the workers of the
    user/group tests run as nobody."""
    return harness.readable_service("tc-set-")


class SettingsTest(harness.ServiceTest):
    @unittest.skipUnless(os.geteuid() == 0, "needs root to switch users")
    def test_user_and_group_of_the_workers(self):
        folder = readable_fixture()
        with harness.Server(service(folder) + 'user = "nobody"\ngroup = "nogroup"\n') as srv:
            self.call(srv.port)
            pids = srv.worker_pids()
            self.assertTrue(pids)
            for pid in pids:
                st = os.stat("/proc/%d" % pid)
                self.assertEqual(st.st_uid, 65534, "worker %d runs as uid %d" % (pid, st.st_uid))
                self.assertEqual(st.st_gid, 65534)
            self.assertEqual(os.stat("/proc/%d" % srv.proc.pid).st_uid, 0,
                             "the arbiter keeps its own user")

    @unittest.skipUnless(os.geteuid() == 0, "needs root to switch users")
    def test_workers_of_another_user_follow_a_killed_arbiter(self):
        """Switching users clears the parent-death signal: it is set again
        after, so workers running as nobody stop when their arbiter dies."""
        folder = readable_fixture()
        srv = harness.Server(service(folder) + 'user = "nobody"\nworkers = 2\n')
        self.addCleanup(srv.stop)
        self.call(srv.port)
        pids = srv.worker_pids()
        self.assertEqual(len(pids), 2)
        srv.kill(signal.SIGKILL)
        self.assertTrue(harness.wait_for(
            lambda: not any(harness.pid_alive(p) for p in pids), 15), srv.log())

    @unittest.skipUnless(os.geteuid() == 0, "needs root to switch users")
    def test_reload_check_as_another_user_dies_with_the_arbiter(self):
        """A reload's check loads the handlers as nobody; an arbiter killed
        meanwhile takes it along (it would load them for nothing)."""
        folder = readable_fixture()
        slow = harness.slow_handler(folder)
        srv = harness.Server(service(folder) + 'user = "nobody"\nworkers = 1\n')
        self.addCleanup(srv.stop)
        self.call(srv.port)
        (worker,) = srv.worker_pids()
        open(slow, "w").close()
        srv.kill(signal.SIGHUP)

        def checker():
            return harness.reload_check(srv, unprivileged=True)

        self.assertTrue(harness.wait_for(checker, 10), srv.log())
        pid = checker()
        srv.kill(signal.SIGKILL)
        self.assertTrue(harness.wait_for(lambda: not harness.pid_alive(pid), 5),
                        "the reload check outlived its arbiter")
        self.assertTrue(harness.wait_for(lambda: not harness.pid_alive(worker), 15))

    @unittest.skipUnless(os.geteuid() == 0, "needs root to switch users")
    def test_connection_hooks_of_a_config_only_root_can_read(self):
        """The workers run as nobody and cannot read the config file (in the
        harness's private folder): their loop threads still get its
        connection hooks, from the text the arbiter read."""
        folder = readable_fixture()
        hook = 'on_connected = function(w, c) error("on_connected ran as " .. w.pid) end\n'
        with harness.Server(service(folder) + 'user = "nobody"\nworkers = 1\nthreads = 1\n' + hook) as srv:
            out = subprocess.run(["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups",
                                  "cat", srv.config], capture_output=True, text=True, timeout=10)
            self.assertNotEqual(out.returncode, 0, "nobody can read %s" % srv.config)
            self.call(srv.port)
            (pid,) = srv.worker_pids()
            self.assertTrue(harness.wait_log(srv, "on_connected ran as %d" % pid), srv.log())
            self.assertNotIn("connection hooks not loaded", srv.log())

    @unittest.skipUnless(os.geteuid() == 0, "needs root to switch users")
    def test_handler_only_root_can_read(self):
        """The checks load the handler as the workers do, as nobody: a
        handler file only root can read fails --check-config and the start
        with exit status 1, and a reload to it is refused while the old
        generation serves on."""
        folder = readable_fixture()
        handler = os.path.realpath(os.path.join(folder, "handler.lua"))
        settings = service(folder) + 'user = "nobody"\n'
        want = "cannot open %s: Permission denied" % handler
        os.chmod(handler, 0o600)
        cfg = os.path.join(folder, "c.lua")
        with open(cfg, "w") as f:
            f.write('bind = "127.0.0.1:0"\n' + settings)
        for args in (["--check-config", cfg], [cfg]):
            out = subprocess.run([harness.BIN] + args, capture_output=True, text=True,
                                 timeout=60)
            self.assertEqual(out.returncode, 1, out.stderr)
            self.assertIn(want, out.stderr)

        os.chmod(handler, 0o644)
        with harness.Server(settings) as srv:
            self.call(srv.port)
            pids = srv.worker_pids()
            os.chmod(handler, 0o600)
            srv.kill(signal.SIGHUP)
            self.assertTrue(harness.wait_log(srv, "Reload failed; still serving generation 1",
                                             timeout=30), srv.log())
            self.assertIn("Reload failed: service TestService: " + want, srv.log())
            self.assertNotIn("starting generation 2", srv.log())
            self.call(srv.port)
            self.assertEqual(srv.worker_pids(), pids)

    @unittest.skipUnless(os.geteuid() == 0, "needs root to switch users")
    def test_usr1_reopens_the_logs_of_workers_of_another_user(self):
        """Log rotation with 'user': the logs are moved away in folders
        only root may write to, and SIGUSR1 makes new ones. The arbiter
        creates them and gives them to the workers' user, so that the
        workers, running as nobody, reopen them too: their lines go to the
        new files, none to the old."""
        folder = readable_fixture()
        access = os.path.join(folder, "access.log")
        srv = harness.Server(service(folder) + 'user = "nobody"\nworkers = 1\nthreads = 1\n'
                             'accesslog = "%s"\n' % access)
        self.addCleanup(srv.stop)
        os.chmod(srv.dir, 0o755)  # nobody reaches the error log; the folder stays root's
        self.call(srv.port)
        self.assertTrue(harness.wait_for(lambda: "TestService.echo" in harness.read_text(access)))
        os.rename(access, access + ".1")
        os.rename(srv.log_path, srv.log_path + ".1")
        srv.kill(signal.SIGUSR1)
        self.assertTrue(harness.wait_for(lambda: os.path.exists(access), 10),
                        harness.read_text(srv.log_path + ".1"))
        (pid,) = srv.worker_pids()
        # the worker holds the new files (not the moved ones) once it reopened them
        self.assertTrue(harness.wait_for(lambda: harness.holds_file(pid, access)
                                         and harness.holds_file(pid, srv.log_path), 10),
                        harness.read_text(srv.log_path + ".1"))
        self.call(srv.port)
        self.assertTrue(harness.wait_for(lambda: "TestService.echo" in harness.read_text(access)),
                        harness.read_text(srv.log_path + ".1"))
        self.assertEqual(harness.read_text(access + ".1").count("TestService.echo"), 1)
        for path in (srv.log_path, srv.log_path + ".1"):
            self.assertNotIn("Cannot reopen", harness.read_text(path))
        for path in (access, srv.log_path):
            self.assertEqual(os.stat(path).st_uid, 65534, path)

    def test_umask_applies_to_the_unix_socket(self):
        folder = harness.tempdir("tc-set-")
        path = os.path.join(folder, "s.sock")
        with harness.Server(service(FIXTURE) + 'umask = "077"\n', bind="unix:" + path) as srv:
            deadline = time.monotonic() + 10
            while not os.path.exists(path) and time.monotonic() < deadline:
                time.sleep(0.05)
            mode = stat.S_IMODE(os.stat(path).st_mode)
            self.assertEqual(mode & 0o077, 0, "socket mode %o ignores umask 077" % mode)
            self.assertIn("Booting worker", srv.log())

    def test_umask_applies_to_the_files_created_at_start(self):
        """The error log, the access log, the pidfile and a unix socket that
        do not exist yet are created with the config's umask, not the one
        thriftcorn was started with."""
        folder = harness.tempdir("tc-set-")
        paths = {name: os.path.join(folder, name)
                 for name in ("error.log", "access.log", "thriftcorn.pid", "s.sock")}
        srv = harness.Server(service(FIXTURE) + 'umask = "077"\nerrorlog = "%s"\n'
                             'accesslog = "%s"\npidfile = "%s"\nworkers = 1\n'
                             % (paths["error.log"], paths["access.log"], paths["thriftcorn.pid"]),
                             bind="unix:" + paths["s.sock"], start=False)
        # the harness's own log takes what is written to stdout and stderr;
        # the server's log is the one the config names
        output = srv.log_path
        srv._log = open(output, "ab")
        started = os.umask(0o022)
        try:
            srv.proc = subprocess.Popen([harness.BIN, srv.config], stdout=srv._log,
                                        stderr=subprocess.STDOUT)
        finally:
            os.umask(started)
        srv.log_path = paths["error.log"]
        try:
            self.assertTrue(harness.wait_for(lambda: "Booting worker" in srv.log()
                                             and os.path.exists(paths["s.sock"]), 15),
                            srv.log())
            for name, path in sorted(paths.items()):
                mode = stat.S_IMODE(os.stat(path).st_mode)
                self.assertEqual(mode & 0o077, 0, "%s: mode %o ignores umask 077" % (name, mode))
        finally:
            srv.stop()
            with open(output, "rb") as f:
                out = f.read().decode("utf-8", "replace")
            self.assertNotIn("Sanitizer", out)
            self.assertNotIn("runtime error:", out)

    def test_reuse_port_lets_two_servers_share_a_port(self):
        port = harness.free_port()
        settings = service(FIXTURE) + "reuse_port = true\n"
        a = harness.Server(settings, bind="127.0.0.1:%d" % port)
        try:
            b = harness.Server(settings, bind="127.0.0.1:%d" % port)
            try:
                self.assertEqual(a.port, port)
                self.assertEqual(b.port, port)
                for _ in range(5):
                    self.call(port)
            finally:
                b.stop()
            self.call(port)
        finally:
            a.stop()

    def test_one_address_written_two_ways_fails_the_start_saying_so(self):
        """127.0.0.1:PORT beside 127.0.0.1:0PORT (or localhost:PORT): the
        start fails at the second bind, saying that the config names one
        address twice rather than 'address already in use' (which blames
        another program), with reuse_port too (which would open a second
        socket there). --check-config says the same where the text shows it
        (numbers), and passes localhost:PORT, as it looks no name up."""
        port = harness.free_port()
        cases = [("127.0.0.1:%d" % port, "127.0.0.1:0%d" % port, ""),
                 ("127.0.0.1:%d" % port, "127.0.0.1:0%d" % port, "reuse_port = true\n")]
        names = {a[4][0] for a in socket.getaddrinfo("localhost", 1, 0, socket.SOCK_STREAM)}
        if names == {"127.0.0.1"}:
            cases.append(("localhost:%d" % port, "127.0.0.1:%d" % port, ""))
        cfg = os.path.join(harness.tempdir("tc-it-"), "c.lua")
        for first, second, extra in cases:
            with open(cfg, "w") as f:
                f.write(binds(first, second) + service(FIXTURE) + extra)
            why = "bind %s: the same address as bind %s (127.0.0.1:%d)\n" % (second, first, port)
            out = subprocess.run([harness.BIN, "--check-config", cfg], capture_output=True,
                                 text=True, timeout=60)
            named = first.startswith("localhost:")
            self.assertEqual(out.returncode, 0 if named else 1, out.stderr)
            self.assertEqual(out.stderr, "" if named else "%s:1: bind: cannot listen: %s"
                             % (os.path.realpath(cfg), why))
            out = subprocess.run([harness.BIN, cfg], capture_output=True, text=True, timeout=60)
            self.assertEqual(out.returncode, 1, out.stderr)
            self.assertIn("Cannot listen: " + why, out.stderr)
            self.assertNotIn("already in use", out.stderr)

    def call_unix(self, path):
        """One echo() on a new connection to the unix socket at `path`."""
        trans = TTransport.TBufferedTransport(TSocket.TSocket(unix_socket=path))
        trans.open()
        try:
            c = self.S.Client(TBinaryProtocol.TBinaryProtocol(trans))
            self.assertEqual(c.echo("hi"), "hi")
        finally:
            trans.close()

    def test_systemd_sockets_go_to_the_binds_that_name_them(self):
        """A socket unit lists its sockets in its own order: each goes to
        the bind that names it, by its descriptor (fd://5) or by its
        address, whatever the order of the binds; so a reload that drops a
        bind closes that bind's socket, and the others serve on."""
        folder = harness.tempdir("tc-set-")
        path = os.path.join(folder, "s.sock")
        socks = [listening(), listening(socket.AF_UNIX, path), listening()]  # fds 3, 4, 5
        port3, port5 = socks[0].getsockname()[1], socks[2].getsockname()[1]
        settings = service(FIXTURE) + "workers = 1\n"
        srv = start_activated(settings + binds("fd://5", "unix:" + path, "127.0.0.1:%d" % port3),
                              socks)
        self.addCleanup(srv.stop)
        self.assertTrue(harness.wait_log(srv, "Ready: generation 1", timeout=15), srv.log())
        self.assertNotIn("no bind for descriptor", srv.log())
        self.call(port3)
        self.call(port5)
        self.call_unix(path)

        with open(srv.config, "a") as f:
            f.write(binds("unix:" + path, "127.0.0.1:%d" % port3))
        srv.kill(signal.SIGHUP)
        self.assertTrue(harness.wait_log(srv, "Generation 2 is ready", timeout=15), srv.log())
        self.assertTrue(harness.wait_for(lambda: refused(port5)), srv.log())
        self.call(port3)
        self.call_unix(path)
        self.assertTrue(os.path.exists(path), "systemd's socket file was removed")
        self.assertEqual(srv.stop(), 0, srv.log())

    def test_systemd_socket_goes_to_a_bind_of_its_kind(self):
        """A socket whose address no bind names goes to the first bind of
        its kind: ListenStream=PORT listens on every address while the
        config says 127.0.0.1:PORT after a unix bind. The TCP bind takes
        the socket (binding it again would fail: the address is in use),
        and the unix bind makes its own."""
        folder = harness.tempdir("tc-set-")
        path = os.path.join(folder, "s.sock")
        sock = listening(address=("0.0.0.0", 0))
        port = sock.getsockname()[1]
        srv = start_activated(service(FIXTURE) + "workers = 1\n" +
                              binds("unix:" + path, "127.0.0.1:%d" % port), [sock])
        self.addCleanup(srv.stop)
        self.assertTrue(harness.wait_log(srv, "Ready: generation 1", timeout=15), srv.log())
        self.assertIn("Listening at: 0.0.0.0:%d" % port, srv.log())
        self.assertIn("Listening at: unix:%s" % path, srv.log())
        self.call(port)
        self.call_unix(path)
        self.assertEqual(srv.stop(), 0, srv.log())
        self.assertFalse(os.path.exists(path), "the unix bind's own socket file stays")

    def test_systemd_sockets_of_another_process_are_left_alone(self):
        """LISTEN_FDS with a LISTEN_PID of another process (a parent that
        was socket-activated and passed its environment on): those
        descriptors are not the server's, which binds its own."""
        sock = listening()
        port = sock.getsockname()[1]
        srv = start_activated(service(FIXTURE) + "workers = 1\n" + binds("127.0.0.1:0"), [sock],
                              listen_pid=os.getpid())
        self.addCleanup(srv.stop)
        self.assertTrue(harness.wait_log(srv, "Ready: generation 1", timeout=15), srv.log())
        own = int(re.search(r"Listening at: 127\.0\.0\.1:(\d+)", srv.log()).group(1))
        self.assertNotEqual(own, port)
        self.call(own)
        self.assertNotIn("LISTEN_FDS", srv.log())
        self.assertEqual(srv.stop(), 0, srv.log())

    def test_systemd_sockets_stay_out_of_what_on_starting_runs(self):
        """The sockets systemd passes are close-on-exec before any hook
        runs: a process the on_starting hook leaves running holds none (it
        would keep it listening, with nobody accepting, after the server
        is gone)."""
        folder = harness.tempdir("tc-set-")
        out = os.path.join(folder, "fds")
        sock = listening()
        port = sock.getsockname()[1]
        inode = os.fstat(sock.fileno()).st_ino
        hook = 'on_starting = function() os.execute("ls -l /proc/$$/fd > %s") end\n' % out
        srv = start_activated(service(FIXTURE) + "workers = 1\n" + hook +
                              binds("127.0.0.1:%d" % port), [sock])
        self.addCleanup(srv.stop)
        self.assertTrue(harness.wait_log(srv, "Ready: generation 1", timeout=15), srv.log())
        self.call(port)
        listing = harness.read_text(out)
        self.assertIn("-> " + out, listing)  # the hook ran: its stdout is the listing
        self.assertNotIn("socket:[%d]" % inode, listing)

    @unittest.skipUnless(shutil.which("ss"), "needs ss (iproute2) to read the listen backlog")
    def test_backlog_is_passed_to_listen(self):
        with harness.Server(service(FIXTURE) + "backlog = 7\n") as srv:
            self.assertEqual(harness.listen_backlog(srv.port), 7)
            self.call(srv.port)


if __name__ == "__main__":
    unittest.main(verbosity=2)

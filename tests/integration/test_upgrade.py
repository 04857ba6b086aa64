# SPDX-License-Identifier: Apache-2.0
"""Upgrading in place and running as a service: SIGUSR2 starts a new arbiter
on the same listeners (pidfile renamed to .oldbin), SIGWINCH stops the old
one's workers, SIGTERM to the old one leaves the new one serving, and no call
fails; process titles; daemon with a pidfile, whose stderr is its error
log through rotations and upgrades; systemd's LISTEN_FDS and
NOTIFY_SOCKET. Every wait is bounded."""

import os
import re
import signal
import socket
import struct
import subprocess
import time
import unittest

import harness
import loadgen

FIXTURE = os.path.join(harness.SOURCE_DIR, "tests", "fixtures", "server")
SERVICE = ('service = { idl = "%s/svc.thrift", name = "TestService", handler = "%s/handler.lua" }\n'
           % (FIXTURE, FIXTURE))
HERE = "local here = debug.getinfo(1, 'S').source:match('^@(.*)/')\n"
# what systemd hears once generation 1 of a one-worker config is ready
READY1 = b"READY=1\nSTATUS=Ready: generation 1, 1 worker"



def new_arbiter_pid(log_text):
    """The pid of the arbiter a SIGUSR2 started, from the old one's log."""
    return int(re.search(r"Started a new arbiter \(pid:(\d+)\)", log_text).group(1))

def reap(pid, timeout=15.0):
    """Wait for `pid` (a child of ours, directly or as our subreaper); its exit status."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            got, status = os.waitpid(pid, os.WNOHANG)
        except ChildProcessError:
            return None
        if got == pid:
            return os.waitstatus_to_exitcode(status)
        time.sleep(0.05)
    raise AssertionError("process %d did not exit" % pid)


def start_time(pid):
    """When `pid` started, in clock ticks since boot (None once it is gone):
    with its pid, it names one process, whatever process takes the pid later."""
    try:
        with open("/proc/%d/stat" % pid) as f:
            return int(f.read().rsplit(")", 1)[1].split()[19])
    except OSError:
        return None


def read_pid(path):
    try:
        with open(path) as f:
            return int(f.read().strip() or 0)
    except (OSError, ValueError):
        return 0


def children(pid):
    out = subprocess.run(["ps", "-o", "pid=", "--ppid", str(pid)], capture_output=True,
                         text=True).stdout
    return [int(x) for x in out.split()]


def notify_socket(folder):
    """A NOTIFY_SOCKET for the server in `folder`: its path and the socket
    that reads it, which learns who sent each datagram (see notify_recv())."""
    path = os.path.join(folder, "notify.sock")
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_PASSCRED, 1)
    sock.bind(path)
    sock.settimeout(10)
    return path, sock


def notify_recv(sock):
    """The next datagram on the NOTIFY_SOCKET `sock` as (sender's pid, bytes):
    systemd reads the sender from the same credentials."""
    data, anc, _, _ = sock.recvmsg(1024, socket.CMSG_SPACE(12))
    for level, kind, value in anc:
        if level == socket.SOL_SOCKET and kind == socket.SCM_CREDENTIALS:
            return struct.unpack("3i", value[:12])[0], data
    raise AssertionError("no sender's credentials with %r" % data)


def no_more(sock, timeout=1.0):
    """What `sock` receives within `timeout`: [] when nothing was sent."""
    sock.settimeout(timeout)
    try:
        return [notify_recv(sock)]
    except socket.timeout:
        return []
    finally:
        sock.settimeout(10)


class UpgradeTest(harness.SubreaperServiceTest):
    """The subreaper: orphaned arbiters (the upgraded one, a daemon) become its children."""

    def setUp(self):
        self.addCleanup(self.reap_orphans)  # the first cleanup added runs last

    @staticmethod
    def reap_orphans():
        while True:  # orphans reparented to us as the subreaper
            try:
                if os.waitpid(-1, os.WNOHANG)[0] == 0:
                    break
            except ChildProcessError:
                break

    def echo(self, port, value="x"):
        c, trans = harness.client(self.S, port)
        try:
            return c.echo(value)
        finally:
            trans.close()

    @staticmethod
    def releases(config):
        """A deployment: release folders rel1 and rel2 in a new folder, each
        with the thriftcorn.lua that config(rel, log) gives, and current ->
        rel1. Returns the folder, the error log's path and current."""
        d = harness.tempdir("tc-it-")
        log = os.path.join(d, "thriftcorn.log")
        for rel in ("rel1", "rel2"):
            os.mkdir(os.path.join(d, rel))
            with open(os.path.join(d, rel, "thriftcorn.lua"), "w") as f:
                f.write(config(rel, log))
        current = os.path.join(d, "current")
        os.symlink(os.path.join(d, "rel1"), current)
        return d, log, current

    def deploy(self, config):
        """releases(config), and thriftcorn started in current: returns the
        folder, the log's path, current, the arbiter's process and a reader
        of the log."""
        d, log, current = self.releases(config)
        return d, log, current, self.start_in(current), lambda: harness.read_text(log)

    def start_in(self, current):
        """thriftcorn started in `current`, as a shell whose $PWD names it
        would; killed at the end of the test if it still runs."""
        proc = subprocess.Popen([harness.BIN, "thriftcorn.lua"], cwd=current,
                                env=dict(os.environ, PWD=current))
        self.addCleanup(self.kill_old, proc)
        return proc

    def serve(self, settings, **kwargs):
        """A harness.Server of `settings` (and `kwargs`), stopped at the end
        of the test, once it is ready."""
        srv = harness.Server(settings, **kwargs)
        self.addCleanup(srv.stop)
        self.assertTrue(harness.wait_log(srv, "Ready: generation 1"), srv.log())
        return srv

    def usr2(self, proc, text, ready=True):
        """SIGUSR2 to the arbiter `proc`, whose log `text()` reads: the pid
        of the new arbiter it started, once that one is ready (with `ready`)
        or has been logged. The new arbiter is killed at the end of the test
        if it still runs."""
        proc.send_signal(signal.SIGUSR2)
        self.assertTrue(harness.wait_for(lambda: "Started a new arbiter (pid:" in text()),
                        text())
        new = new_arbiter_pid(text())
        self.addCleanup(self.kill_new_arbiter, new, start_time(new))
        if ready:
            self.assertTrue(harness.wait_for(lambda: text().count("Ready: generation 1") >= 2),
                            text())
        return new

    @staticmethod
    def kill_new_arbiter(pid, started):
        """What a failed test left of the new arbiter `pid`, if the process
        that started at `started` still runs."""
        if harness.pid_alive(pid) and start_time(pid) == started:
            os.kill(pid, signal.SIGKILL)
            reap(pid)

    def require_localhost(self, alone=False):
        """Skip the test unless 'localhost' resolves to 127.0.0.1 (and to
        nothing else, with `alone`)."""
        names = {a[4][0] for a in socket.getaddrinfo("localhost", 1, 0, socket.SOCK_STREAM)}
        if alone and names != {"127.0.0.1"}:
            self.skipTest("'localhost' is not 127.0.0.1 alone here: %r" % names)
        if "127.0.0.1" not in names:
            self.skipTest("'localhost' does not resolve to 127.0.0.1 here: %r" % names)

    def first_ready(self, log):
        """Wait until the arbiter writing `log` is ready; returns its TCP port."""
        self.assertTrue(harness.wait_for(lambda: os.path.exists(log) and
                                         "Ready: generation 1" in harness.read_text(log)),
                        "not ready")
        return int(re.search(r"Listening at: 127\.0\.0\.1:(\d+)",
                             harness.read_text(log)).group(1))

    def switch_and_upgrade(self, d, current, proc, text):
        """Switch current to rel2, send SIGUSR2 to `proc` and wait until the
        new arbiter is ready; returns its pid."""
        os.unlink(current)
        os.symlink(os.path.join(d, "rel2"), current)
        return self.usr2(proc, text)

    def stop_old(self, proc, text):
        """SIGTERM to the old arbiter `proc`, which exits 0 (`text()` for the message)."""
        proc.send_signal(signal.SIGTERM)
        self.assertEqual(proc.wait(15), 0, text())

    def stop_new(self, new):
        """SIGTERM to the new arbiter `new`, which exits 0."""
        os.kill(new, signal.SIGTERM)
        self.assertEqual(reap(new), 0)

    def stop_arbiters(self, proc, new):
        """SIGTERM to the old arbiter `proc`, then to the new one `new`: both exit 0."""
        proc.send_signal(signal.SIGTERM)
        self.assertEqual(proc.wait(15), 0)
        self.stop_new(new)

    @staticmethod
    def kill_old(proc):
        """What a failed test left of the arbiter `proc` (a subprocess.Popen)."""
        if proc.poll() is None:
            proc.kill()
            proc.wait(5)

    def test_usr2_winch_then_term_the_old_arbiter(self):
        srv = self.serve(HERE + SERVICE + "workers = 2\nthreads = 2\n"
                         "pidfile = here .. '/tc.pid'\n")
        pidfile = os.path.join(srv.dir, "tc.pid")
        old = srv.proc.pid
        self.assertEqual(read_pid(pidfile), old)
        self.assertEqual(harness.process_title(old), "thriftcorn: master [thriftcorn.lua]")
        for pid in srv.worker_pids():
            self.assertEqual(harness.process_title(pid),
                             "thriftcorn: worker [thriftcorn.lua] gen 1")
        load = loadgen.Load(self.S, srv.port, threads=3, duration=30, sleep=0.002,
                            max_calls=100000).start()
        self.assertTrue(load.wait_calls(50), load.summary())

        try:
            new = self.usr2(srv.proc, srv.log)
            self.assertEqual(read_pid(pidfile), new)
            self.assertEqual(read_pid(pidfile + ".oldbin"), old)
            self.assertEqual(harness.process_title(old),
                             "thriftcorn: master (old) [thriftcorn.lua]")
            self.assertTrue(harness.wait_for(lambda: len(children(new)) == 2), srv.log())
            # a reload of the old arbiter meanwhile leaves it the old one, title too
            srv.kill(signal.SIGHUP)
            self.assertTrue(harness.wait_log(srv, "Generation 2 is ready"), srv.log())
            self.assertEqual(harness.process_title(old),
                             "thriftcorn: master (old) [thriftcorn.lua]")
            # the new arbiter inherited the socket: same port, no new bind
            self.assertEqual(srv.log().count("Listening at: 127.0.0.1:%d" % srv.port), 2)
            self.assertTrue(load.wait_calls(100), load.summary())

            srv.kill(signal.SIGWINCH)
            self.assertTrue(harness.wait_log(srv, "Stopping all workers"), srv.log())
            # the new arbiter is the only child left
            self.assertTrue(harness.wait_for(lambda: srv.worker_pids() == [new], 15), srv.log())
            self.assertTrue(harness.pid_alive(old))
            self.assertTrue(load.wait_calls(100), load.summary())

            self.stop_old(srv.proc, srv.log)
            self.assertFalse(os.path.exists(pidfile + ".oldbin"))
            self.assertEqual(read_pid(pidfile), new)
            self.assertTrue(load.wait_calls(100), load.summary())
            self.assertTrue(load.stop())
            self.assertEqual(load.failed, 0, load.summary())
            self.assertEqual(self.echo(srv.port), "x")

            self.stop_new(new)
            self.assertFalse(os.path.exists(pidfile))
        finally:
            load.stop()

    def test_usr2_gives_the_inherited_socket_the_new_backlog(self):
        """A new arbiter whose config sets another backlog listens on the
        inherited socket with it, as a reload does with a kept one."""
        srv = self.serve(HERE + SERVICE + "workers = 1\nthreads = 1\nbacklog = 7\n")
        self.assertEqual(harness.listen_backlog(srv.port), 7)
        with open(srv.config) as f:
            text = f.read()
        with open(srv.config, "w") as f:
            f.write(text.replace("backlog = 7\n", "backlog = 11\n"))
        new = self.usr2(srv.proc, srv.log)
        self.assertEqual(harness.listen_backlog(srv.port), 11)
        self.assertEqual(self.echo(srv.port), "x")
        self.stop_arbiters(srv.proc, new)

    def test_usr2_follows_a_switched_release_symlink(self):
        """Deployed as current -> rel1 and switched to rel2, SIGUSR2 starts
        the new arbiter in rel2 (the folder as $PWD named it, not the one
        it resolved to at start), so it reads rel2's config."""
        d, log, current, proc, text = self.deploy(
            lambda rel, log: ('bind = "127.0.0.1:0"\n' + SERVICE + "workers = 1\nthreads = 2\n"
                              "proc_name = %r\nerrorlog = %r\n" % (rel, log)))
        self.first_ready(log)
        self.assertEqual(harness.process_title(proc.pid), "thriftcorn: master [rel1]")
        new = self.switch_and_upgrade(d, current, proc, text)
        self.assertEqual(harness.process_title(new), "thriftcorn: master [rel2]")
        self.stop_arbiters(proc, new)

    def test_usr2_after_a_reload_that_named_the_bind_another_way(self):
        """127.0.0.1:PORT, reloaded as localhost:PORT (which keeps the
        socket), then SIGUSR2: the new arbiter reads localhost:PORT and
        finds the socket under that name, rather than bind it again."""
        self.require_localhost()
        port = harness.free_port()
        settings = SERVICE + "workers = 1\nthreads = 2\n"
        srv = self.serve(settings, bind="127.0.0.1:%d" % port)
        with open(srv.config, "w") as f:
            f.write('bind = "localhost:%d"\n%s' % (port, settings))
        srv.kill(signal.SIGHUP)
        self.assertTrue(harness.wait_log(srv, "Generation 2 is ready"), srv.log())
        new = self.usr2(srv.proc, srv.log)
        log = srv.log()
        self.assertNotIn("Cannot listen", log)
        # the new arbiter took the inherited socket: the same address, no new bind
        self.assertEqual(log.count("Listening at: 127.0.0.1:%d" % port), 2, log)
        self.assertTrue(harness.wait_for(lambda: len(children(new)) == 1), log)
        srv.kill(signal.SIGWINCH)  # the old arbiter's workers stop: the new one serves
        self.assertTrue(harness.wait_for(lambda: srv.worker_pids() == [new], 15), srv.log())
        self.assertEqual(self.echo(port), "x")
        self.stop_arbiters(srv.proc, new)

    def test_usr2_takes_the_inherited_socket_that_a_new_bind_names_another_way(self):
        """A new release whose config writes the bind another way
        (localhost:PORT for 127.0.0.1:0) listens on the inherited socket at
        that address. With reuse_port, binding again opened a second socket
        beside it: once SIGWINCH stopped the old workers, nobody accepted
        the clients the kernel put in the old socket's backlog, and those
        hung until the old arbiter closed it."""
        self.require_localhost()
        settings = SERVICE + "workers = 1\nthreads = 2\nreuse_port = true\n"
        srv = self.serve(settings)
        with open(srv.config, "w") as f:
            f.write('bind = "localhost:%d"\n%s' % (srv.port, settings))
        load = loadgen.Load(self.S, srv.port, threads=3, duration=40, sleep=0.002,
                            max_calls=100000, timeout=3).start()
        try:
            self.assertTrue(load.wait_calls(50), load.summary())
            new = self.usr2(srv.proc, srv.log)
            listening = subprocess.run(["ss", "-ltnH", "sport = :%d" % srv.port],
                                       capture_output=True, text=True, check=True).stdout
            self.assertEqual(len(listening.splitlines()), 1, listening)
            self.assertIn("Bind localhost:%d is 127.0.0.1:%d, inherited as 127.0.0.1:0: kept"
                          % (srv.port, srv.port), srv.log())
            srv.kill(signal.SIGWINCH)
            self.assertTrue(harness.wait_for(lambda: srv.worker_pids() == [new], 15), srv.log())
            # long enough for a client queued where nobody accepts to time out
            self.assertTrue(load.wait_calls(300, 15), load.summary())
            self.stop_old(srv.proc, srv.log)
            self.assertTrue(load.wait_calls(100), load.summary())
            self.assertTrue(load.stop())
            self.assertEqual(load.failed, 0, load.summary())
            self.stop_new(new)
        finally:
            load.stop()

    def test_usr2_keeps_both_ports_of_port_0_written_twice(self):
        """Two binds "127.0.0.1:0" are two sockets at two ports; the new
        arbiter inherits one for each bind (matched by their text), so it
        listens at the same two ports, and serves both once the old one
        is gone."""
        srv = self.serve('bind = { "127.0.0.1:0", "127.0.0.1:0" }\n' + SERVICE
                         + "workers = 1\nthreads = 2\n")
        ports = harness.listening_ports(srv.log(), srv.proc.pid)
        self.assertEqual(len(set(ports)), 2, srv.log())
        new = self.usr2(srv.proc, srv.log)
        self.assertEqual(harness.listening_ports(srv.log(), new), ports)
        self.assertTrue(harness.wait_for(lambda: len(children(new)) == 1), srv.log())
        self.stop_old(srv.proc, srv.log)  # the new one serves alone
        for port in ports:
            self.assertEqual(self.echo(port), "x")
        self.stop_new(new)

    def test_usr2_gives_an_inherited_port_0_socket_to_the_bind_that_names_its_port(self):
        """bind = "127.0.0.1:0" got port P; a new release with
        { "127.0.0.1:0", "127.0.0.1:P" } keeps the inherited socket at P for
        the bind that names it (though the port-0 bind has the text it was
        handed over as) and opens a new port for the port-0 bind."""
        settings = SERVICE + "workers = 1\nthreads = 2\n"
        srv = self.serve(settings)
        port = srv.port
        inode = harness.listen_inode(port)
        with open(srv.config, "w") as f:
            f.write('bind = { "127.0.0.1:0", "127.0.0.1:%d" }\n%s' % (port, settings))
        new = self.usr2(srv.proc, srv.log)
        log = srv.log()
        self.assertIn("Bind 127.0.0.1:%d is 127.0.0.1:%d, inherited as 127.0.0.1:0: kept"
                      % (port, port), log)
        ports = harness.listening_ports(log, new)
        self.assertEqual(len(ports), 2, log)
        self.assertEqual(ports[0], port)
        self.assertNotEqual(ports[1], port)
        self.assertEqual(harness.listen_inode(port), inode)  # not bound again
        self.assertTrue(harness.wait_for(lambda: len(children(new)) == 1), log)
        self.stop_old(srv.proc, srv.log)  # the new one serves alone
        for p in ports:
            self.assertEqual(self.echo(p), "x")
        self.stop_new(new)

    def test_usr2_with_one_address_written_two_ways_says_so(self):
        """The old arbiter listens at 127.0.0.1:PORT; the new release's
        config has { "localhost:PORT", "127.0.0.1:PORT" }. The second bind
        takes the inherited socket by its text, so the first one fails as
        the config clashing with itself, as at a start or a reload (not
        'address already in use', which blames another program), and the
        old arbiter serves on."""
        self.require_localhost(alone=True)
        port = harness.free_port()
        settings = SERVICE + "workers = 1\nthreads = 2\n"
        srv = self.serve(settings, bind="127.0.0.1:%d" % port)
        with open(srv.config, "w") as f:
            f.write('bind = { "localhost:%d", "127.0.0.1:%d" }\n%s' % (port, port, settings))
        new = self.usr2(srv.proc, srv.log, ready=False)
        self.assertTrue(harness.wait_log(srv, "New arbiter (pid:%d) exited with code 1" % new),
                        srv.log())
        log = srv.log()
        self.assertIn("Cannot listen: bind localhost:%d: the same address as bind 127.0.0.1:%d "
                      "(127.0.0.1:%d)\n" % (port, port, port), log)
        self.assertNotIn("address already in use", log)
        # the new arbiter's `Listening at:` of the inherited socket has its
        # end, which says that the old arbiter listens on
        self.assertEqual(harness.listening_ports(log, new), [port], log)
        self.assertIn("[%d] [info] Closed 127.0.0.1:%d: the start failed; the old arbiter "
                      "listens on\n" % (new, port), log)
        self.assertEqual(self.echo(port), "x")

    def test_reload_after_an_upgrade_removes_a_dropped_unix_socket_file(self):
        """SIGUSR2, the old arbiter stops, then a reload of the new one
        drops the unix bind: the new arbiter, which inherited that socket,
        removes its file as it closes it (as it would one it bound), and
        the TCP bind serves on without a failed call."""
        path = os.path.join(harness.tempdir("tc-it-"), "s.sock")
        settings = SERVICE + "workers = 1\nthreads = 2\n"
        srv = self.serve('bind = { "127.0.0.1:0", "unix:%s" }\n' % path + settings)
        load = loadgen.Load(self.S, srv.port, threads=2, duration=60, per_conn=(1, 1),
                            sleep=0.002, max_calls=100000)
        try:
            new = self.usr2(srv.proc, srv.log)
            self.assertTrue(harness.wait_for(lambda: len(children(new)) == 1), srv.log())
            load.start()
            self.assertTrue(load.wait_calls(50), load.summary())
            self.stop_old(srv.proc, srv.log)  # the new one serves alone
            self.assertTrue(os.path.exists(path), "the old arbiter removed the socket file")
            with open(srv.config, "w") as f:
                f.write('bind = "127.0.0.1:0"\n' + settings)
            os.kill(new, signal.SIGHUP)
            self.assertTrue(harness.wait_log(srv, "Generation 2 is ready"), srv.log())
            self.assertTrue(harness.wait_for(lambda: not os.path.exists(path), 15),
                            "the new arbiter left the dropped socket file\n" + srv.log())
            self.assertTrue(load.wait_calls(100), load.summary())
            self.assertTrue(load.stop())
            self.assertEqual((load.failed, load.refused), (0, 0), load.summary())
            self.assertEqual(self.echo(srv.port), "x")
            self.stop_new(new)
        finally:
            load.stop()

    def test_upgrade_hands_over_socket_files_bound_in_a_switched_release(self):
        """unix:a.sock and unix:b.sock, relative, bound in current -> rel1;
        the symlink switched to rel2, SIGUSR2 and the old arbiter stops.
        The new arbiter, in rel2, holds the sockets whose files are in
        rel1: a reload that drops a.sock removes rel1/a.sock, and its stop
        removes rel1/b.sock; nothing of rel2's is touched."""
        def settings_of(log):
            return SERVICE + "workers = 1\nthreads = 2\nerrorlog = %r\n" % log
        d, log, current = self.releases(
            lambda rel, log: ('bind = { "127.0.0.1:0", "unix:a.sock", "unix:b.sock" }\n' +
                              settings_of(log)))
        settings = settings_of(log)
        decoy = os.path.join(d, "rel2", "a.sock")  # the path a.sock names in rel2
        with open(decoy, "w") as f:
            f.write("not a socket")
        proc = self.start_in(current)

        def text():
            return harness.read_text(log)
        port = self.first_ready(log)
        a_sock = os.path.join(d, "rel1", "a.sock")
        b_sock = os.path.join(d, "rel1", "b.sock")
        self.assertTrue(os.path.exists(a_sock) and os.path.exists(b_sock), text())
        new = self.switch_and_upgrade(d, current, proc, text)
        self.assertTrue(harness.wait_for(lambda: len(children(new)) == 1), text())
        self.stop_old(proc, text)
        self.assertTrue(os.path.exists(a_sock) and os.path.exists(b_sock), text())
        with open(os.path.join(d, "rel2", "thriftcorn.lua"), "w") as f:
            f.write('bind = { "127.0.0.1:0", "unix:b.sock" }\n' + settings)
        os.kill(new, signal.SIGHUP)
        self.assertTrue(harness.wait_for(lambda: "Generation 2 is ready" in text()), text())
        self.assertTrue(harness.wait_for(lambda: not os.path.exists(a_sock), 15),
                        "the dropped socket file stayed\n" + text())
        self.assertTrue(os.path.exists(b_sock))
        self.assertEqual(self.echo(port), "x")
        self.stop_new(new)
        self.assertFalse(os.path.exists(b_sock), "the stop left the socket file\n" + text())
        with open(decoy) as f:
            self.assertEqual(f.read(), "not a socket")

    def test_a_bind_dropped_while_the_old_arbiter_runs_loses_its_file_after_it(self):
        """rel1 binds unix:a.sock, rel2 does not: after SIGUSR2 the new
        arbiter closes the inherited socket, but the old one still listens
        on it, so the file stays while the old arbiter runs and goes once
        it has stopped (before, neither removed it: a socket file left
        behind for good). The same for a bind a reload of the new arbiter
        drops while the old one runs: unix:b.sock. A socket the new arbiter
        bound itself (unix:c.sock), which the old one never had, goes with
        its file at once when a reload drops it."""
        def config(rel, log):
            binds = '"127.0.0.1:0", "unix:a.sock", "unix:b.sock"' if rel == "rel1" \
                else '"127.0.0.1:0", "unix:b.sock", "unix:c.sock"'
            return ("bind = { %s }\n" % binds + SERVICE +
                    "workers = 1\nthreads = 2\nerrorlog = %r\n" % log)
        d, log, current, proc, text = self.deploy(config)
        port = self.first_ready(log)
        a_sock = os.path.join(d, "rel1", "a.sock")
        b_sock = os.path.join(d, "rel1", "b.sock")
        new = self.switch_and_upgrade(d, current, proc, text)
        c_sock = os.path.join(d, "rel2", "c.sock")
        self.assertTrue(os.path.exists(c_sock), text())
        # a reload of the new arbiter drops b.sock and c.sock, the old one still running
        with open(os.path.join(d, "rel2", "thriftcorn.lua"), "w") as f:
            f.write('bind = "127.0.0.1:0"\n' + SERVICE +
                    "workers = 1\nthreads = 2\nerrorlog = %r\n" % log)
        os.kill(new, signal.SIGHUP)
        self.assertTrue(harness.wait_for(lambda: "Generation 2 is ready" in text()), text())
        self.assertTrue(harness.wait_for(lambda: not os.path.exists(c_sock), 5),
                        "the new arbiter's own dropped socket file stayed\n" + text())
        time.sleep(1.5)  # more than the arbiter's longest sleep with workers
        # the old arbiter's workers still take clients at both
        self.assertTrue(os.path.exists(a_sock) and os.path.exists(b_sock), text())
        for path in (a_sock, b_sock):
            s = socket.socket(socket.AF_UNIX)
            s.connect(path)
            s.close()
        self.stop_old(proc, text)
        self.assertTrue(harness.wait_for(
            lambda: not os.path.exists(a_sock) and not os.path.exists(b_sock), 5),
            "the dropped socket files stayed\n" + text())
        self.assertIn("Removing %s, no longer bound" % a_sock, text())
        self.assertEqual(self.echo(port), "x")
        self.stop_new(new)

    def test_a_bind_a_reload_of_the_old_arbiter_adds_goes_with_its_file(self):
        """After SIGUSR2 a reload of the old arbiter binds unix:d.sock,
        which the new arbiter never had: the old arbiter removes its file
        when it stops (before, it took every socket for one the new arbiter
        shared, and left the file behind for good), and leaves unix:a.sock,
        which it handed over, to the new arbiter, which removes it at its
        own stop."""
        def config(rel, log, extra=""):
            return ('bind = { "127.0.0.1:0", "unix:a.sock"%s }\n' % extra + SERVICE +
                    "workers = 1\nthreads = 2\nerrorlog = %r\n" % log)
        d, log, current, proc, text = self.deploy(config)
        port = self.first_ready(log)
        a_sock = os.path.join(d, "rel1", "a.sock")
        d_sock = os.path.join(d, "d.sock")
        new = self.switch_and_upgrade(d, current, proc, text)
        for rel in ("rel1", "rel2"):
            with open(os.path.join(d, rel, "thriftcorn.lua"), "w") as f:
                f.write(config(rel, log, ', "unix:%s"' % d_sock))
        proc.send_signal(signal.SIGHUP)
        self.assertTrue(harness.wait_for(lambda: "Generation 2 is ready" in text()), text())
        s = socket.socket(socket.AF_UNIX)
        s.connect(d_sock)
        s.close()
        self.stop_old(proc, text)
        self.assertFalse(os.path.exists(d_sock),
                         "the old arbiter's own socket file stayed\n" + text())
        self.assertTrue(os.path.exists(a_sock), text())
        self.assertEqual(self.echo(port), "x")
        s = socket.socket(socket.AF_UNIX)
        s.connect(a_sock)
        s.close()
        self.stop_new(new)
        self.assertFalse(os.path.exists(a_sock), text())

    def test_upgrade_leaves_a_socket_file_put_at_the_path_since(self):
        """The socket file was removed and another server bound the path
        before SIGUSR2: the new arbiter, which inherits the socket, not
        that file, leaves it when a reload drops the bind and when it stops."""
        d = harness.tempdir("tc-it-")
        path = os.path.join(d, "s.sock")
        settings = SERVICE + "workers = 1\nthreads = 2\n"
        srv = self.serve('bind = { "127.0.0.1:0", "unix:%s" }\n' % path + settings)
        os.unlink(path)
        other = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.addCleanup(other.close)
        other.bind(path)
        other.listen(4)
        new = self.usr2(srv.proc, srv.log)
        workers = children(new)
        self.assertEqual(len(workers), 1, srv.log())
        self.stop_old(srv.proc, srv.log)
        with open(srv.config, "w") as f:
            f.write('bind = "127.0.0.1:0"\n' + settings)
        os.kill(new, signal.SIGHUP)
        # past the moment the reload closed the dropped socket
        self.assertTrue(harness.wait_log(srv, "Worker (pid:%d) exited" % workers[0], 15),
                        srv.log())
        self.assertTrue(os.path.exists(path), "the other server's socket file was removed")
        c = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        c.connect(path)  # still the other server's
        c.close()
        self.assertEqual(self.echo(srv.port), "x")
        self.stop_new(new)
        self.assertTrue(os.path.exists(path), "the other server's socket file was removed")

    def test_winch_ignored_when_a_reload_sets_daemon(self):
        """SIGWINCH is acted on by an arbiter that detached at start: one
        that a reload gave `daemon = true` still has its terminal, whose
        window changes must not stop the workers."""
        with harness.Server(SERVICE + "workers = 1\nthreads = 2\n") as srv:
            self.assertTrue(harness.wait_log(srv, "Ready: generation 1"), srv.log())
            with open(srv.config) as f:
                text = f.read()
            with open(srv.config, "w") as f:
                f.write(text + "daemon = true\n")
            srv.kill(signal.SIGHUP)
            self.assertTrue(harness.wait_log(srv, "Generation 2 is ready"), srv.log())
            # generation 1's worker has finished stopping
            self.assertTrue(harness.wait_for(lambda: len(srv.worker_pids()) == 1), srv.log())
            pids = srv.worker_pids()
            srv.kill(signal.SIGWINCH)
            self.assertTrue(harness.wait_log(srv, "SIGWINCH ignored"), srv.log())
            self.assertEqual(self.echo(srv.port), "x")
            self.assertEqual(srv.worker_pids(), pids)

    def test_daemon_with_pidfile(self):
        d = harness.tempdir("tc-it-")
        config = os.path.join(d, "thriftcorn.lua")
        log = os.path.join(d, "thriftcorn.log")
        with open(config, "w") as f:
            f.write('bind = "127.0.0.1:0"\n' + HERE + SERVICE +
                    "daemon = true\npidfile = here .. '/tc.pid'\nerrorlog = here .. "
                    "'/thriftcorn.log'\nworkers = 1\nthreads = 2\n")
        rc = subprocess.run([harness.BIN, config], timeout=15).returncode
        self.assertEqual(rc, 0)
        pidfile = os.path.join(d, "tc.pid")
        self.assertTrue(harness.wait_for(lambda: read_pid(pidfile) > 0), "no pidfile")
        pid = read_pid(pidfile)
        try:
            def text():
                return harness.read_text(log)
            self.assertTrue(harness.wait_for(lambda: "Ready: generation 1" in text()), text())
            port = int(re.search(r"Listening at: 127\.0\.0\.1:(\d+)", text()).group(1))
            self.assertEqual(self.echo(port), "x")
            with open("/proc/%d/stat" % pid) as f:
                fields = f.read().rsplit(")", 1)[1].split()
            self.assertNotEqual(int(fields[3]), pid)  # the session's leader is gone: no tty
            os.kill(pid, signal.SIGTERM)
            self.assertEqual(reap(pid), 0)
            self.assertFalse(os.path.exists(pidfile))
        finally:
            if harness.pid_alive(pid):
                os.kill(pid, signal.SIGKILL)

    def test_pidfile_refused_replaced_and_left(self):
        """A pidfile in a folder that does not exist, or naming a live
        process, stops the start with status 1 and says why; one naming a
        process that is gone is replaced; at exit the pidfile is removed only
        while it still names the arbiter."""
        d = harness.tempdir("tc-it-")
        gone = subprocess.Popen(["true"])
        gone.wait()
        for pidfile, text, why in ((os.path.join(d, "nope", "tc.pid"), None,
                                    "Cannot write the pidfile %s/nope/tc.pid: no such file or "
                                    "directory" % d),
                                   (os.path.join(d, "tc.pid"), "%d\n" % os.getpid(),
                                    "Already running on PID %d" % os.getpid())):
            if text is not None:
                with open(pidfile, "w") as f:
                    f.write(text)
            srv = harness.Server(SERVICE + "workers = 1\npidfile = %r\n" % pidfile, start=False)
            with self.assertRaises(RuntimeError) as cm:
                srv.start()
            srv.stop()
            self.assertEqual(srv.proc.returncode, 1, srv.log())
            self.assertIn(why, str(cm.exception))
            self.assertEqual(harness.read_text(pidfile), text or "")
        with open(pidfile, "w") as f:
            f.write("%d\n" % gone.pid)
        srv = harness.Server(SERVICE + "workers = 1\npidfile = %r\n" % pidfile)
        self.addCleanup(srv.stop)
        self.assertEqual(read_pid(pidfile), srv.proc.pid)
        with open(pidfile, "w") as f:
            f.write("%d\n" % gone.pid)  # another one's now
        self.assertEqual(srv.stop(), 0, srv.log())
        self.assertEqual(read_pid(pidfile), gone.pid)

    def test_systemd_listen_fds_and_notify(self):
        d = harness.tempdir("tc-it-")
        config = os.path.join(d, "thriftcorn.lua")
        with open(config, "w") as f:
            f.write('bind = "127.0.0.1:0"\n' + SERVICE + "workers = 1\nthreads = 2\n")
        lsock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        lsock.bind(("127.0.0.1", 0))
        lsock.listen(16)
        port = lsock.getsockname()[1]
        notify_path, notify = notify_socket(d)
        env = dict(os.environ, LISTEN_FDS="1", NOTIFY_SOCKET=notify_path)
        fd = lsock.fileno()

        def at_three():  # runs before subprocess closes what pass_fds does not keep
            os.dup2(fd, 3)
        log = os.path.join(d, "thriftcorn.log")
        proc = subprocess.Popen(["/bin/sh", "-c", 'LISTEN_PID=$$ exec "$0" "$@"', harness.BIN,
                                 config, "--errorlog", log], env=env, pass_fds=sorted({fd, 3}),
                                preexec_fn=at_three)
        try:
            try:
                self.assertEqual(notify.recv(1024), READY1)
            except socket.timeout:
                with open(log) as f:
                    raise AssertionError("no READY=1 (exit status %s):\n%s" % (proc.poll(), f.read()))
            with open(log) as f:
                text = f.read()
            self.assertIn("Listening at: 127.0.0.1:%d" % port, text)
            lsock.close()  # the server's copy serves on

            def echo():  # a failed call shows the server's log
                try:
                    return self.echo(port)
                except Exception as e:
                    with open(log) as f:
                        raise AssertionError("%r; the server's log:\n%s" % (e, f.read())) from e
            self.assertEqual(echo(), "x")
            proc.send_signal(signal.SIGHUP)
            self.assertRegex(notify.recv(1024), rb"\ARELOADING=1\nMONOTONIC_USEC=[0-9]+\n"
                             rb"STATUS=Reloading; serving generation 1\Z")
            self.assertEqual(notify.recv(1024), b"READY=1\nSTATUS=Ready: generation 2, 1 worker")
            self.assertEqual(echo(), "x")
            # a failed reload is no success: READY=1 says which generation serves on, and
            # why not the new one (its first line: the file and line of the mistake)
            with open(config, "a") as f:
                f.write("workers = 'many'\nthreads = 'many'\n")
            proc.send_signal(signal.SIGHUP)
            self.assertRegex(notify.recv(1024), rb"\ARELOADING=1\nMONOTONIC_USEC=[0-9]+\n"
                             rb"STATUS=Reloading; serving generation 2\Z")
            got = notify.recv(1024)
            self.assertRegex(got, rb"\AREADY=1\nSTATUS=Reload failed: [^\n]*thriftcorn\.lua:[0-9]+: "
                             rb"[^\n]*workers[^\n]*; serving generation 2\Z")
            self.assertLessEqual(len(got.split(b"STATUS=", 1)[1]), 200, got)
            with open(log) as f:
                self.assertIn("Reload failed; still serving generation 2", f.read())
            self.assertEqual(echo(), "x")
            proc.send_signal(signal.SIGTTIN)
            self.assertEqual(notify.recv(1024), b"STATUS=Ready: generation 2, 2 workers")
            proc.send_signal(signal.SIGTERM)
            self.assertEqual(notify.recv(1024), b"STOPPING=1\nSTATUS=Stopping: graceful")
            self.assertEqual(proc.wait(15), 0)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait(5)
            notify.close()

    def test_usr2_tells_systemd_the_new_main_pid(self):
        """Under Type=notify, the arbiter a SIGUSR2 started says MAINPID= with
        its READY=1, so that systemd follows it when the old one exits."""
        d = harness.tempdir("tc-it-")
        config = os.path.join(d, "thriftcorn.lua")
        log = os.path.join(d, "thriftcorn.log")
        with open(config, "w") as f:
            f.write('bind = "127.0.0.1:0"\n' + SERVICE + "workers = 1\nthreads = 2\n"
                    "errorlog = %r\n" % log)
        notify_path, notify = notify_socket(d)
        self.addCleanup(notify.close)
        proc = subprocess.Popen([harness.BIN, config],
                                env=dict(os.environ, NOTIFY_SOCKET=notify_path))
        self.addCleanup(self.kill_old, proc)
        self.assertEqual(notify.recv(1024), READY1)
        new = self.usr2(proc, lambda: harness.read_text(log), ready=False)
        self.assertEqual(notify.recv(1024), b"MAINPID=%d\n%s" % (new, READY1))
        self.stop_arbiters(proc, new)

    def test_systemd_variables_stay_with_the_arbiter(self):
        """LISTEN_FDS, LISTEN_PID and NOTIFY_SOCKET are the arbiter's: no
        worker, hook or handler process sees them (with NotifyAccess=all, a
        STOPPING=1 from any of them would stop the service), and an
        upgrade's new arbiter still gets NOTIFY_SOCKET (its MAINPID= comes)."""
        d = harness.tempdir("tc-it-")
        config = os.path.join(d, "thriftcorn.lua")
        log = os.path.join(d, "thriftcorn.log")
        dump = "function(p) os.execute(('env > %s/env-%%s-%%d'):format('%s', p.pid)) end"
        with open(config, "w") as f:
            f.write('bind = "127.0.0.1:0"\n' + SERVICE + "workers = 1\nthreads = 2\n"
                    "errorlog = %r\n" % log +
                    "when_ready = " + dump % (d, "arbiter") + "\n" +
                    "post_worker_init = " + dump % (d, "worker") + "\n")
        lsock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        lsock.bind(("127.0.0.1", 0))
        lsock.listen(16)
        fd = lsock.fileno()

        def at_three():
            os.dup2(fd, 3)
        notify_path, notify = notify_socket(d)
        self.addCleanup(notify.close)
        proc = subprocess.Popen(["/bin/sh", "-c", 'LISTEN_PID=$$ exec "$0" "$@"', harness.BIN,
                                 config], env=dict(os.environ, LISTEN_FDS="1",
                                                   NOTIFY_SOCKET=notify_path),
                                pass_fds=sorted({fd, 3}), preexec_fn=at_three)
        self.addCleanup(self.kill_old, proc)
        lsock.close()

        def dumps(role):
            return [os.path.join(d, n) for n in os.listdir(d) if n.startswith("env-%s-" % role)]
        own = re.compile(r"LISTEN_|NOTIFY_SOCKET=|THRIFTCORN_(FDS|BIND_|SYSTEMD_|PID)")
        self.assertEqual(notify_recv(notify), (proc.pid, READY1), harness.read_text(log))
        new = self.usr2(proc, lambda: harness.read_text(log), ready=False)
        self.assertEqual(notify_recv(notify), (new, b"MAINPID=%d\n%s" % (new, READY1)))
        self.assertTrue(harness.wait_for(lambda: len(dumps("worker")) == 2), os.listdir(d))
        self.assertEqual(len(dumps("arbiter")), 2, os.listdir(d))
        for path in dumps("arbiter") + dumps("worker"):
            with open(path) as f:
                leaked = [line for line in f if own.match(line)]
            self.assertEqual(leaked, [], path)
        self.stop_arbiters(proc, new)

    def test_usr2_keeps_systemds_unix_socket_file(self):
        """A unix socket systemd passed stays systemd's through an upgrade:
        neither arbiter removes its file when it stops."""
        d = harness.tempdir("tc-it-")
        path = os.path.join(d, "s.sock")
        config = os.path.join(d, "thriftcorn.lua")
        log = os.path.join(d, "thriftcorn.log")
        with open(config, "w") as f:
            f.write('bind = "unix:%s"\n' % path + SERVICE + "workers = 1\nthreads = 2\n"
                    "errorlog = %r\n" % log)
        lsock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        lsock.bind(path)
        lsock.listen(16)
        fd = lsock.fileno()

        def at_three():
            os.dup2(fd, 3)

        def text():
            return harness.read_text(log)
        proc = subprocess.Popen(["/bin/sh", "-c", 'LISTEN_PID=$$ exec "$0" "$@"', harness.BIN,
                                 config], env=dict(os.environ, LISTEN_FDS="1"),
                                pass_fds=sorted({fd, 3}), preexec_fn=at_three)
        self.addCleanup(self.kill_old, proc)
        lsock.close()
        self.assertTrue(harness.wait_for(lambda: os.path.exists(log) and
                                         "Ready: generation 1" in text()), "not ready")
        new = self.usr2(proc, text)
        self.stop_arbiters(proc, new)
        self.assertTrue(os.path.exists(path), "the socket file was removed")

    def test_systemd_descriptor_that_is_not_a_socket(self):
        """A LISTEN_FDS descriptor that is not a socket stops the start
        with status 1, and the log names the bind and where it came from."""
        d = harness.tempdir("tc-it-")
        config = os.path.join(d, "thriftcorn.lua")
        with open(config, "w") as f:
            f.write('bind = "127.0.0.1:0"\n' + SERVICE + "workers = 1\nthreads = 2\n")
        with open(os.devnull, "rb") as null:
            fd = null.fileno()

            def at_three():
                os.dup2(fd, 3)
            out = subprocess.run(["/bin/sh", "-c", 'LISTEN_PID=$$ exec "$0" "$@"', harness.BIN,
                                  config], env=dict(os.environ, LISTEN_FDS="1"),
                                 pass_fds=sorted({fd, 3}), preexec_fn=at_three, timeout=15,
                                 stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        self.assertEqual(out.returncode, 1, out.stdout)
        self.assertIn("Cannot listen: 127.0.0.1:0 (systemd's LISTEN_FDS): fd://3: not a socket",
                      out.stdout)

    def test_daemon_with_systemd_sockets(self):
        """daemon = true under socket activation: the sockets systemd
        passed are taken before the arbiter detaches (LISTEN_PID names the
        process systemd started), not bound anew."""
        d = harness.tempdir("tc-it-")
        config = os.path.join(d, "thriftcorn.lua")
        log = os.path.join(d, "thriftcorn.log")
        pidfile = os.path.join(d, "tc.pid")
        with open(config, "w") as f:
            f.write('bind = "127.0.0.1:0"\n' + SERVICE + "workers = 1\nthreads = 2\n"
                    "daemon = true\npidfile = %r\nerrorlog = %r\n" % (pidfile, log))
        lsock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        lsock.bind(("127.0.0.1", 0))
        lsock.listen(16)
        port = lsock.getsockname()[1]
        fd = lsock.fileno()

        def at_three():
            os.dup2(fd, 3)
        rc = subprocess.run(["/bin/sh", "-c", 'LISTEN_PID=$$ exec "$0" "$@"', harness.BIN,
                             config], env=dict(os.environ, LISTEN_FDS="1"),
                            pass_fds=sorted({fd, 3}), preexec_fn=at_three, timeout=15).returncode
        lsock.close()
        self.assertEqual(rc, 0)
        self.assertTrue(harness.wait_for(lambda: read_pid(pidfile) > 0), "no pidfile")
        pid = read_pid(pidfile)
        try:
            def text():
                return harness.read_text(log)
            self.assertTrue(harness.wait_for(lambda: "Ready: generation 1" in text()), text())
            self.assertIn("Listening at: 127.0.0.1:%d" % port, text())
            self.assertEqual(self.echo(port), "x")
            os.kill(pid, signal.SIGTERM)
            self.assertEqual(reap(pid), 0)
        finally:
            if harness.pid_alive(pid):
                os.kill(pid, signal.SIGKILL)

    def start_daemon(self, d, settings):
        """A daemon of a config in `d` whose echo of "stderr:..." writes its
        argument to its worker's stderr (io.stderr) first, once it is
        ready: (its pid, its port, its error log's path)."""
        with open(os.path.join(FIXTURE, "svc.thrift")) as f:
            idl = f.read()
        with open(os.path.join(FIXTURE, "handler.lua")) as f:
            handler = f.read()
        echo = "function H.echo(s)\n"
        self.assertIn(echo, handler)
        with open(os.path.join(d, "svc.thrift"), "w") as f:
            f.write(idl)
        with open(os.path.join(d, "handler.lua"), "w") as f:
            f.write(handler.replace(echo, echo + '  if s:sub(1, 7) == "stderr:" then\n'
                                    '    io.stderr:write(s, "\\n")\n  end\n', 1))
        config = os.path.join(d, "thriftcorn.lua")
        log = os.path.join(d, "thriftcorn.log")
        pidfile = os.path.join(d, "tc.pid")
        with open(config, "w") as f:
            f.write('bind = "127.0.0.1:0"\nservice = { idl = "%s/svc.thrift", name = '
                    '"TestService", handler = "%s/handler.lua" }\ndaemon = true\n'
                    "pidfile = %r\nerrorlog = %r\n" % (d, d, pidfile, log) + settings)
        self.assertEqual(subprocess.run([harness.BIN, config], timeout=15).returncode, 0)
        self.assertTrue(harness.wait_for(lambda: read_pid(pidfile) > 0), "no pidfile")
        pid = read_pid(pidfile)
        self.addCleanup(lambda: harness.pid_alive(pid) and os.kill(pid, signal.SIGKILL))
        self.assertTrue(harness.wait_for(lambda: "Ready: generation 1" in harness.read_text(log)),
                        harness.read_text(log))
        port = int(re.search(r"Listening at: 127\.0\.0\.1:(\d+)",
                             harness.read_text(log)).group(1))
        return pid, port, log

    def assert_stderr_is(self, arbiter, path, workers=2):
        """The stderr (fd 2) of `arbiter` and of its `workers` workers
        becomes the file `path` now names, within 10 s."""
        want = os.path.realpath(path)

        def stderr_of(pid):
            try:
                return os.readlink("/proc/%d/fd/2" % pid)
            except OSError as e:  # a process gone meanwhile
                return repr(e)

        def where():
            return [stderr_of(p) for p in [arbiter] + children(arbiter)]
        self.assertTrue(harness.wait_for(lambda: where() == [want] * (1 + workers)),
                        "stderr: %s, not %s" % (where(), want))

    def assert_handler_stderr_lands_in(self, port, log, tag, rotated=None):
        """Calls on new connections (to either worker) whose handler writes
        to its stderr: each line is in `log` once, none in `rotated`."""
        values = ["stderr:%s-%d" % (tag, i) for i in range(8)]
        for value in values:
            self.assertEqual(self.echo(port, value), value)
        for value in values:
            self.assertTrue(harness.wait_for(lambda: harness.read_text(log).count(value + "\n")
                                             == 1), harness.read_text(log))
            if rotated is not None:
                self.assertNotIn(value, harness.read_text(rotated))

    def assert_no_sanitizer_report(self, *paths):
        for path in paths:
            text = harness.read_text(path)
            for mark in ("Sanitizer", "runtime error:"):
                self.assertNotIn(mark, text)

    def test_daemon_stderr_is_its_error_log_through_a_rotation(self):
        """A daemon's stderr is its error log file, in the arbiter and the
        workers, not /dev/null; after logrotate's rename and SIGUSR1 it is
        the new file, as nginx makes it: what a handler (or a library)
        writes to fd 2 lands in the current log, never in the old one."""
        d = harness.tempdir("tc-it-")
        pid, port, log = self.start_daemon(d, "workers = 2\nthreads = 2\n")
        self.assert_stderr_is(pid, log)
        self.assert_handler_stderr_lands_in(port, log, "first")
        for r in (1, 2):
            os.rename(log, "%s.%d" % (log, r))
            os.kill(pid, signal.SIGUSR1)
            self.assert_stderr_is(pid, log)
            self.assert_handler_stderr_lands_in(port, log, "after%d" % r, "%s.%d" % (log, r))
        os.kill(pid, signal.SIGTERM)
        self.assertEqual(reap(pid), 0)
        self.assert_no_sanitizer_report(log, log + ".1", log + ".2")

    def test_upgraded_daemon_stderr_follows_the_rotated_error_log(self):
        """The new arbiter of a daemon's SIGUSR2 starts with its stderr on
        the error log, and so do its workers; once the log is rotated and
        it gets SIGUSR1, their stderr is the new file (it was the old one,
        opened at the upgrade, for as long as they ran)."""
        d = harness.tempdir("tc-it-")
        old, port, log = self.start_daemon(d, "workers = 2\nthreads = 2\n")
        os.kill(old, signal.SIGUSR2)
        self.assertTrue(harness.wait_for(lambda: "Started a new arbiter (pid:"
                                         in harness.read_text(log)), harness.read_text(log))
        new = new_arbiter_pid(harness.read_text(log))
        self.addCleanup(lambda: harness.pid_alive(new) and os.kill(new, signal.SIGKILL))
        self.assertTrue(harness.wait_for(lambda: harness.read_text(log).count(
            "Ready: generation 1") == 2), harness.read_text(log))
        self.assert_stderr_is(new, log)
        os.kill(old, signal.SIGWINCH)
        self.assertTrue(harness.wait_for(lambda: children(old) == [new], 15),
                        harness.read_text(log))
        os.kill(old, signal.SIGTERM)
        self.assertEqual(reap(old), 0)
        self.assert_handler_stderr_lands_in(port, log, "upgraded")
        for r in (1, 2):
            os.rename(log, "%s.%d" % (log, r))
            os.kill(new, signal.SIGUSR1)
            self.assert_stderr_is(new, log)
            self.assert_handler_stderr_lands_in(port, log, "after%d" % r, "%s.%d" % (log, r))
        self.stop_new(new)
        self.assert_no_sanitizer_report(log, log + ".1", log + ".2")

    def start_notified(self, d, settings="", ready=READY1):
        """An arbiter of a config in `d` with a NOTIFY_SOCKET, once it said
        `ready`: (its process, the socket, a function that reads its log)."""
        config = os.path.join(d, "thriftcorn.lua")
        log = os.path.join(d, "thriftcorn.log")
        with open(config, "w") as f:
            f.write('bind = "127.0.0.1:0"\n' + SERVICE + "workers = 1\nthreads = 2\n"
                    "errorlog = %r\n" % log + settings)
        notify_path, notify = notify_socket(d)
        self.addCleanup(notify.close)
        proc = subprocess.Popen([harness.BIN, config],
                                env=dict(os.environ, NOTIFY_SOCKET=notify_path))
        self.addCleanup(self.kill_old, proc)
        self.assertEqual(notify_recv(notify), (proc.pid, ready), harness.read_text(log))
        return proc, notify, lambda: harness.read_text(log)

    def roll_back(self, new, old, notify):
        """SIGTERM to the new arbiter `new`: it hands systemd back to `old`."""
        os.kill(new, signal.SIGTERM)
        self.assertEqual(notify_recv(notify), (new, b"MAINPID=%d\nSTATUS=Stopping: upgrade "
                                               b"rolled back; the old arbiter (pid %d) "
                                               b"serves on" % (old, old)))

    def test_usr2_leaves_systemd_to_the_new_arbiter(self):
        """Once the new arbiter said MAINPID=, the old one tells systemd
        nothing more: its reload says no RELOADING=1, and the SIGTERM that
        ends the upgrade no STOPPING=1, which systemd (NotifyAccess=all)
        would take as the stop of the whole service. The new one's stop
        says STOPPING=1."""
        proc, notify, text = self.start_notified(harness.tempdir("tc-it-"))
        new = self.usr2(proc, text, ready=False)
        self.assertEqual(notify_recv(notify), (new, b"MAINPID=%d\n%s" % (new, READY1)))
        proc.send_signal(signal.SIGHUP)
        self.assertTrue(harness.wait_for(lambda: "Generation 2 is ready" in text()), text())
        proc.send_signal(signal.SIGWINCH)
        self.assertTrue(harness.wait_for(lambda: children(proc.pid) == [new], 15), text())
        self.stop_old(proc, text)
        self.assertEqual(no_more(notify), [])
        os.kill(new, signal.SIGTERM)
        self.assertEqual(notify_recv(notify), (new, b"STOPPING=1\nSTATUS=Stopping: graceful"))
        self.assertEqual(reap(new), 0)

    def test_usr2_rolled_back_gives_systemd_the_old_arbiter_again(self):
        """SIGTERM to the new arbiter (a roll back) hands systemd's main
        process back to the old one, MAINPID=<old>, instead of STOPPING=1,
        which would stop the service the old one goes on serving; the old
        one says it again once the new one is gone (one killed cannot), and
        its own stop is the service's: STOPPING=1."""
        proc, notify, text = self.start_notified(harness.tempdir("tc-it-"))
        old = proc.pid
        new = self.usr2(proc, text, ready=False)
        self.assertEqual(notify_recv(notify), (new, b"MAINPID=%d\n%s" % (new, READY1)))
        self.roll_back(new, old, notify)
        self.assertEqual(notify_recv(notify), (old, b"MAINPID=%d\nREADY=1\nSTATUS=Ready: "
                                               b"generation 1, 1 worker" % old))
        self.assertIn("New arbiter (pid:%d) exited with code 0" % new, text())
        proc.send_signal(signal.SIGTERM)
        self.assertEqual(notify_recv(notify), (old, b"STOPPING=1\nSTATUS=Stopping: graceful"))
        self.assertEqual(proc.wait(15), 0, text())

    def test_a_roll_back_after_sigwinch_says_ready_once_the_workers_are(self):
        """SIGWINCH stopped the old arbiter's workers, then the new one is
        rolled back: the old one, systemd's main process again, starts its
        workers again and says MAINPID= with a status of its start, and
        READY=1 only once those workers are ready (their post_fork waits
        here for a file the test creates), as after a reload."""
        d = harness.tempdir("tc-it-")
        hold, gate = os.path.join(d, "hold"), os.path.join(d, "gate")
        # a worker forked while 'hold' exists boots once 'gate' exists (at most 20 s)
        proc, notify, text = self.start_notified(d, (
            "workers = 2\n"
            "post_fork = function()\n"
            "  if not io.open(%r) then return end\n"
            "  for _ = 1, 400 do\n"
            "    if io.open(%r) then return end\n"
            "    os.execute('sleep 0.05')\n"
            "  end\n"
            "end\n") % (hold, gate), ready=b"READY=1\nSTATUS=Ready: generation 1, 2 workers")
        old = proc.pid
        new = self.usr2(proc, text, ready=False)
        self.assertEqual(notify_recv(notify), (new, b"MAINPID=%d\nREADY=1\nSTATUS=Ready: "
                                               b"generation 1, 2 workers" % new))
        proc.send_signal(signal.SIGWINCH)
        self.assertTrue(harness.wait_for(lambda: children(old) == [new], 15), text())
        open(hold, "w").close()
        self.roll_back(new, old, notify)
        self.assertEqual(notify_recv(notify), (old, b"MAINPID=%d\nSTATUS=Starting: "
                                               b"generation 1, 2 workers" % old))
        self.assertTrue(harness.wait_for(lambda: len(children(old)) == 2, 15), text())
        self.assertEqual(no_more(notify), [])  # its workers wait for the gate
        open(gate, "w").close()
        self.assertEqual(notify_recv(notify), (old, b"READY=1\nSTATUS=Ready: "
                                               b"generation 1, 2 workers"))
        self.assertEqual(self.echo(int(re.search(r"Listening at: 127\.0\.0\.1:(\d+)",
                                                 text()).group(1))), "x")
        proc.send_signal(signal.SIGTERM)
        self.assertEqual(notify_recv(notify), (old, b"STOPPING=1\nSTATUS=Stopping: graceful"))
        self.assertEqual(proc.wait(15), 0, text())

    def test_a_roll_back_during_a_reload_of_the_new_arbiter_ends_that_reload(self):
        """The new arbiter said RELOADING=1 and is rolled back before its
        reload ends: the old arbiter, systemd's main process again, says
        READY=1 with its MAINPID=, or systemd would show the service
        reloading until its timeout and fail that reload."""
        d = harness.tempdir("tc-it-")
        slow = os.path.join(d, "slow")
        proc, notify, text = self.start_notified(
            d, "if io.open(%r) then os.execute('sleep 3') end\n" % slow)
        old = proc.pid
        new = self.usr2(proc, text, ready=False)
        self.assertEqual(notify_recv(notify), (new, b"MAINPID=%d\n%s" % (new, READY1)))
        open(slow, "w").close()  # the new arbiter's reload check takes 3 s
        os.kill(new, signal.SIGHUP)
        pid, got = notify_recv(notify)
        self.assertEqual(pid, new)
        self.assertRegex(got, rb"\ARELOADING=1\nMONOTONIC_USEC=[0-9]+\n")
        self.roll_back(new, old, notify)
        self.assertEqual(notify_recv(notify), (old, b"MAINPID=%d\nREADY=1\nSTATUS=Ready: "
                                               b"generation 1, 1 worker" % old))
        self.assertTrue(harness.wait_for(
            lambda: "New arbiter (pid:%d) exited with code 0" % new in text()), text())
        self.assertEqual(self.echo(int(re.search(r"Listening at: 127\.0\.0\.1:(\d+)",
                                                 text()).group(1))), "x")

    def test_an_old_arbiter_stopping_when_the_new_one_dies_says_stopping(self):
        """SIGTERM to the old arbiter (said to nobody: systemd follows the
        new one), then the new one is killed while the old one drains: the
        old one, systemd's main process again, says STOPPING=1 with it."""
        proc, notify, text = self.start_notified(
            harness.tempdir("tc-it-"), 'worker_exit = function() os.execute("sleep 3") end\n')
        old = proc.pid
        new = self.usr2(proc, text, ready=False)
        self.assertEqual(notify_recv(notify), (new, b"MAINPID=%d\n%s" % (new, READY1)))
        proc.send_signal(signal.SIGTERM)
        self.assertTrue(harness.wait_for(
            lambda: "[%d] [info] Handling signal: term" % old in text()), text())
        os.kill(new, signal.SIGKILL)
        self.assertEqual(notify_recv(notify), (old, b"MAINPID=%d\nSTOPPING=1\nSTATUS=Stopping: "
                                               b"graceful" % old))
        self.assertEqual(proc.wait(15), 0, text())

    def test_a_stop_tells_systemd_how_it_stops(self):
        """STOPPING=1 comes with the kind of stop in STATUS=, and a quick
        stop that cuts a graceful one short changes the status alone."""
        d = harness.tempdir("tc-it-")
        # the worker's last hook outlasts the graceful stop's start by far
        proc, notify, text = self.start_notified(
            d, 'worker_exit = function() os.execute("sleep 3") end\n')
        proc.send_signal(signal.SIGTERM)
        self.assertEqual(notify_recv(notify), (proc.pid, b"STOPPING=1\nSTATUS=Stopping: graceful"))
        proc.send_signal(signal.SIGQUIT)
        self.assertEqual(notify_recv(notify), (proc.pid, b"STATUS=Stopping: quick"))
        self.assertEqual(proc.wait(15), 0, text())
        self.assertEqual(no_more(notify), [])
        # a quick stop from the start
        proc, notify, text = self.start_notified(harness.tempdir("tc-it-"))
        proc.send_signal(signal.SIGQUIT)
        self.assertEqual(notify_recv(notify), (proc.pid, b"STOPPING=1\nSTATUS=Stopping: quick"))
        self.assertEqual(proc.wait(15), 0, text())
        self.assertEqual(no_more(notify), [])

    def test_old_arbiter_starts_its_workers_again_when_the_new_one_exits(self):
        """SIGWINCH, then the new arbiter exits (rolled back, or it
        crashed): the old one, which nothing else serves beside any more,
        starts the workers SIGWINCH stopped again, and has its pidfile back."""
        srv = self.serve(HERE + SERVICE + "workers = 2\nthreads = 2\n"
                         "pidfile = here .. '/tc.pid'\n")
        pidfile = os.path.join(srv.dir, "tc.pid")
        new = self.usr2(srv.proc, srv.log)
        srv.kill(signal.SIGWINCH)
        self.assertTrue(harness.wait_for(lambda: srv.worker_pids() == [new], 15), srv.log())
        os.kill(new, signal.SIGKILL)
        self.assertTrue(harness.wait_log(srv, "New arbiter (pid:%d) was sent SIGKILL!" % new),
                        srv.log())
        self.assertTrue(harness.wait_log(srv, "starting 2 worker(s) again"), srv.log())
        self.assertTrue(harness.wait_for(lambda: len(srv.worker_pids()) == 2), srv.log())
        self.assertEqual(self.echo(srv.port), "x")
        self.assertEqual(read_pid(pidfile), srv.proc.pid)
        self.assertFalse(os.path.exists(pidfile + ".oldbin"))

    def test_sigttou_after_sigwinch_says_no_worker_runs(self):
        """SIGTTOU to an old arbiter whose workers SIGWINCH stopped has no
        worker to stop: it says so (not that none is the minimum, which is
        one) and changes nothing, so a roll back starts them all again."""
        srv = self.serve(HERE + SERVICE + "workers = 2\nthreads = 2\n")
        old = srv.proc.pid
        new = self.usr2(srv.proc, srv.log)
        srv.kill(signal.SIGWINCH)
        self.assertTrue(harness.wait_for(lambda: srv.worker_pids() == [new], 15), srv.log())
        srv.kill(signal.SIGTTOU)
        self.assertTrue(harness.wait_log(srv, "[%d] [info] Number of workers: 0 (SIGWINCH "
                                         "stopped them); SIGTTOU ignored" % old), srv.log())
        self.assertNotIn("the minimum", srv.log())
        os.kill(new, signal.SIGTERM)
        self.assertTrue(harness.wait_log(srv, "New arbiter (pid:%d) exited with code 0" % new),
                        srv.log())
        self.assertTrue(harness.wait_log(srv, "starting 2 worker(s) again"), srv.log())
        self.assertTrue(harness.wait_for(lambda: len(srv.worker_pids()) == 2), srv.log())

    WINCH_GATES = (HERE + SERVICE + "workers = 2\nthreads = 2\n"
                   "if io.open(here .. '/hold') then\n"
                   "  local t = os.time()\n"
                   "  while not io.open(here .. '/release') and os.time() - t < 30 do\n"
                   "    os.execute('sleep 0.05')\n"
                   "  end\n"
                   "end\n"
                   "post_fork = function()\n"
                   "  local t = os.time()\n"
                   "  while io.open(here .. '/gate') and not io.open(here .. '/go')\n"
                   "      and os.time() - t < 30 do\n"
                   "    os.execute('sleep 0.05')\n"
                   "  end\n"
                   "end\n")

    def winch_during_a_reload(self, while_checking, queued=False):
        """SIGUSR2, then SIGHUP to the old arbiter, and SIGWINCH to it while
        that reload runs: its check (`while_checking`: the config waits
        there for a file) or its new generation's boot (the new workers'
        post_fork waits for one). The generation that reload starts has no
        worker: the old arbiter ends with none (before, the reload brought
        two back, as if SIGWINCH had not been sent, which it had logged as
        `Stopping all workers`); a roll back starts the two again, of the
        config reloaded. With `queued`, a second SIGHUP comes before the
        SIGWINCH, while the check runs: the reload that follows starts none
        either. No call of a load fails."""
        srv = self.serve(self.WINCH_GATES)
        touch = lambda name: open(os.path.join(srv.dir, name), "w").close()  # noqa: E731
        self.addCleanup(lambda: [touch(name) for name in ("release", "go")])
        old = srv.proc.pid
        load = loadgen.Load(self.S, srv.port, threads=3, duration=60, max_calls=10**7).start()
        self.addCleanup(load.stop)
        self.assertTrue(load.wait_calls(50, 30), load.summary())
        new = self.usr2(srv.proc, srv.log)
        self.assertTrue(harness.wait_for(lambda: len(children(new)) == 2, 15), srv.log())
        touch("hold" if while_checking else "gate")
        srv.kill(signal.SIGHUP)
        if while_checking:
            self.assertTrue(harness.wait_for(lambda: harness.reload_check(srv), 15), srv.log())
        else:
            self.assertTrue(harness.wait_log(srv, "Reloading: starting generation 2 with 2 "
                                             "worker(s)", 30), srv.log())
        if queued:
            srv.kill(signal.SIGHUP)
            self.assertTrue(harness.wait_log(srv, "Reload already in progress", 15), srv.log())
        srv.kill(signal.SIGWINCH)
        self.assertTrue(harness.wait_log(srv, "Stopping all workers", 15), srv.log())
        touch("release" if while_checking else "go")
        last = 3 if queued else 2
        self.assertTrue(harness.wait_log(srv, "Generation %d is ready" % last, 30), srv.log())
        self.assertTrue(harness.wait_for(lambda: children(old) == [new], 15),
                        (children(old), srv.log()))
        self.assertTrue(load.wait_calls(100, 30), load.summary())
        self.assertTrue(load.stop())
        self.assertEqual(load.failed, 0, load.summary())
        os.kill(new, signal.SIGTERM)  # the roll back (the old arbiter reaps it)
        self.assertTrue(harness.wait_log(srv, "New arbiter (pid:%d) exited with code 0" % new),
                        srv.log())
        self.assertTrue(harness.wait_log(srv, "[%d] [info] The new arbiter is gone; starting 2 "
                                         "worker(s) again" % old), srv.log())
        self.assertTrue(harness.wait_for(lambda: len(children(old)) == 2, 15), srv.log())
        for pid in children(old):
            self.assertEqual(harness.process_title(pid),
                             "thriftcorn: worker [thriftcorn.lua] gen %d" % last)
        self.assertEqual(self.echo(srv.port), "x")

    def test_sigwinch_during_a_reload_check_stops_the_generation_it_starts(self):
        self.winch_during_a_reload(while_checking=True)

    def test_sigwinch_while_a_reload_boots_stops_the_generation_it_starts(self):
        self.winch_during_a_reload(while_checking=False)

    def test_sigwinch_after_a_queued_sighup_stops_the_generation_it_starts_too(self):
        self.winch_during_a_reload(while_checking=True, queued=True)

    def test_a_roll_back_during_a_reload_check_after_sigwinch_starts_the_workers(self):
        """SIGWINCH while a reload of the old arbiter runs its check, then
        the new arbiter exits before that check ends: the old one starts
        its two workers again, and the reload's generation, which takes
        over, has two as well rather than none."""
        srv = self.serve(self.WINCH_GATES)
        touch = lambda name: open(os.path.join(srv.dir, name), "w").close()  # noqa: E731
        self.addCleanup(touch, "release")
        old = srv.proc.pid
        new = self.usr2(srv.proc, srv.log)
        touch("hold")
        srv.kill(signal.SIGHUP)
        self.assertTrue(harness.wait_for(lambda: harness.reload_check(srv), 15), srv.log())
        srv.kill(signal.SIGWINCH)
        self.assertTrue(harness.wait_log(srv, "Stopping all workers", 15), srv.log())
        os.kill(new, signal.SIGTERM)
        self.assertTrue(harness.wait_log(srv, "The new arbiter is gone; starting 2 worker(s) "
                                         "again"), srv.log())
        touch("release")
        self.assertTrue(harness.wait_log(srv, "Generation 2 is ready", 30), srv.log())
        gen2 = lambda: [p for p in children(old)  # noqa: E731
                        if harness.process_title(p).endswith(" gen 2")]
        self.assertTrue(harness.wait_for(lambda: len(gen2()) == 2 and len(children(old)) == 2,
                                         15), (children(old), srv.log()))
        self.assertEqual(self.echo(srv.port), "x")

    def test_signals_to_the_new_arbiter_wait_until_it_handles_them(self):
        """The new arbiter's pid is logged before it has loaded its config:
        a SIGHUP or SIGTTIN sent to it then waits until it handles them
        (SIGHUP would end it, SIGTTIN stop it, and a stopped new arbiter
        kept every later SIGUSR2 away). A second SIGUSR2 meanwhile is
        ignored."""
        slow = os.path.join(harness.tempdir("tc-it-"), "slow")
        srv = self.serve(SERVICE + "workers = 1\nthreads = 2\n"
                         "if io.open(%r) then os.execute('sleep 3') end\n" % slow)
        open(slow, "w").close()
        new = self.usr2(srv.proc, srv.log, ready=False)
        os.kill(new, signal.SIGHUP)
        os.kill(new, signal.SIGTTIN)
        # sent before its handlers were set: it logs this line first thing after the config
        self.assertEqual(srv.log().count("Starting thriftcorn"), 1, srv.log())
        os.unlink(slow)
        srv.kill(signal.SIGUSR2)
        self.assertTrue(harness.wait_log(
            srv, "USR2 ignored: a new arbiter (pid:%d) is running already" % new), srv.log())
        for line in ("Handling signal: hup", "Handling signal: ttin", "Generation 2 is ready"):
            self.assertTrue(harness.wait_log(srv, "[%d] [info] %s" % (new, line), 15),
                            srv.log())
        self.assertNotIn("New arbiter (pid:%d)" % new, srv.log())
        self.stop_arbiters(srv.proc, new)

    def test_a_new_arbiter_whose_boot_hangs_is_rolled_back_by_sigterm(self):
        """A new release whose config never finishes loading (it waits on a
        FIFO nobody writes to) is rolled back as a roll back is done, with
        SIGTERM to the new arbiter: it ends although its handlers are not
        set up yet, and the old one serves on with its pidfile back."""
        fifo = os.path.join(harness.tempdir("tc-it-"), "never")
        srv = self.serve(HERE + SERVICE + "workers = 1\nthreads = 2\n"
                         "pidfile = here .. '/tc.pid'\n"
                         "local p = %r\n"
                         "if io.open(p .. '.on') then\n"
                         "  io.open(p .. '.in', 'w'):close()\n"
                         "  io.open(p):read()\n"
                         "end\n" % fifo)
        pidfile = os.path.join(srv.dir, "tc.pid")
        os.mkfifo(fifo)
        open(fifo + ".on", "w").close()
        new = self.usr2(srv.proc, srv.log, ready=False)
        self.assertTrue(harness.wait_for(lambda: os.path.exists(fifo + ".in")), srv.log())
        self.assertEqual(read_pid(pidfile + ".oldbin"), srv.proc.pid)
        os.kill(new, signal.SIGTERM)
        self.assertTrue(harness.wait_log(srv, "New arbiter (pid:%d) was sent SIGTERM!" % new),
                        srv.log())
        self.assertEqual(read_pid(pidfile), srv.proc.pid)
        self.assertFalse(os.path.exists(pidfile + ".oldbin"))
        self.assertEqual(self.echo(srv.port), "x")
        self.assertEqual(srv.stop(), 0, srv.log())

    def test_usr2_that_fails_leaves_the_daemon_serving_and_says_why(self):
        """A daemon's stderr is its error log: a new arbiter that cannot
        start (its config no longer loads, its binary is gone) says why
        there, before it could open a log of its own, and the old one
        serves on with its pidfile back."""
        d = harness.tempdir("tc-it-")
        config = os.path.join(d, "thriftcorn.lua")
        log = os.path.join(d, "thriftcorn.log")
        pidfile = os.path.join(d, "tc.pid")
        binary = os.path.join(d, "thriftcorn")  # removed before the second upgrade
        os.symlink(harness.BIN, binary)
        settings = ('bind = "127.0.0.1:0"\n' + SERVICE + "workers = 1\nthreads = 2\n"
                    "daemon = true\npidfile = %r\nerrorlog = %r\n" % (pidfile, log))
        with open(config, "w") as f:
            f.write(settings)
        self.assertEqual(subprocess.run([binary, config], timeout=15).returncode, 0)
        self.assertTrue(harness.wait_for(lambda: read_pid(pidfile) > 0), "no pidfile")
        pid = read_pid(pidfile)

        def text():
            return harness.read_text(log)
        try:
            self.assertTrue(harness.wait_for(lambda: "Ready: generation 1" in text()), text())
            port = int(re.search(r"Listening at: 127\.0\.0\.1:(\d+)", text()).group(1))
            with open(config, "a") as f:
                f.write("workers = = 2\n")
            os.kill(pid, signal.SIGUSR2)
            self.assertTrue(harness.wait_for(lambda: "exited with code 1" in text()), text())
            self.assertIn("%s:%d: unexpected symbol near '='" % (config, settings.count("\n") + 1),
                          text())
            self.assertEqual(read_pid(pidfile), pid)
            self.assertFalse(os.path.exists(pidfile + ".oldbin"))
            self.assertEqual(self.echo(port), "x")
            with open(config, "w") as f:
                f.write(settings)
            os.unlink(binary)
            os.kill(pid, signal.SIGUSR2)
            self.assertTrue(harness.wait_for(lambda: text().count("exited with code 1") == 2),
                            text())
            self.assertIn("Cannot execute %s: no such file or directory" % binary, text())
            self.assertEqual(read_pid(pidfile), pid)
            self.assertEqual(self.echo(port), "x")
            os.kill(pid, signal.SIGTERM)
            self.assertEqual(reap(pid), 0)
            self.assertFalse(os.path.exists(pidfile))
        finally:
            if harness.pid_alive(pid):
                os.kill(pid, signal.SIGKILL)

    def test_a_stop_during_a_reload_check(self):
        """A TERM while a reload is being checked: systemd hears STOPPING=1
        and no READY=1 after it, no reload failure is logged; and a
        checker whose arbiter is killed dies with it and holds no port."""
        d = harness.tempdir("tc-it-")
        config = os.path.join(d, "thriftcorn.lua")
        slow = os.path.join(d, "slow")
        with open(config, "w") as f:
            # short sleeps: under ThreadSanitizer the checker's caught
            # parent-death signal waits for the call it interrupts to return
            f.write('bind = "127.0.0.1:0"\n' + SERVICE + "workers = 1\nthreads = 2\n"
                    "if io.open(%r) then for _ = 1, 30 do os.execute('sleep 0.1') end end\n"
                    % slow)
        notify_path, notify = notify_socket(d)
        log = os.path.join(d, "thriftcorn.log")

        def text():
            return harness.read_text(log)

        def checkers():
            out = subprocess.run(["ps", "-eo", "pid=,args="], capture_output=True,
                                 text=True).stdout
            return [int(line.split()[0]) for line in out.splitlines()
                    if "reload check [%s]" % os.path.realpath(config) in line]
        for stop in (signal.SIGTERM, signal.SIGKILL):
            if os.path.exists(slow):
                os.unlink(slow)
            proc = subprocess.Popen([harness.BIN, config, "--errorlog", log],
                                    env=dict(os.environ, NOTIFY_SOCKET=notify_path))
            try:
                self.assertEqual(notify.recv(1024), READY1)
                port = int(re.findall(r"Listening at: 127\.0\.0\.1:(\d+)", text())[-1])
                open(slow, "w").close()
                proc.send_signal(signal.SIGHUP)
                self.assertRegex(notify.recv(1024), rb"\ARELOADING=1\nMONOTONIC_USEC=[0-9]+\n"
                                 rb"STATUS=Reloading; serving generation 1\Z")
                self.assertTrue(harness.wait_for(lambda: checkers(), 5), text())
                proc.send_signal(stop)
                if stop == signal.SIGTERM:
                    self.assertEqual(notify.recv(1024), b"STOPPING=1\nSTATUS=Stopping: graceful")
                    self.assertEqual(proc.wait(15), 0)
                    notify.settimeout(1)
                    with self.assertRaises(socket.timeout):
                        extra = notify.recv(1024)
                        raise AssertionError("after STOPPING=1: %r" % extra)
                    notify.settimeout(10)
                    self.assertNotIn("Reload failed", text())
                else:
                    proc.wait(15)
                    # the checker goes with its arbiter, and with it the last listener
                    self.assertTrue(harness.wait_for(lambda: not checkers(), 2), checkers())
                    with self.assertRaises(OSError):
                        socket.create_connection(("127.0.0.1", port), timeout=2).close()
            finally:
                if proc.poll() is None:
                    proc.kill()
                    proc.wait(5)
                for pid in checkers():
                    os.kill(pid, signal.SIGKILL)
        notify.close()


if __name__ == "__main__":
    unittest.main(verbosity=2)

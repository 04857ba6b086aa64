# SPDX-License-Identifier: Apache-2.0
"""What new clients see while the server stops. Once a graceful stop
begins (SIGTERM to the arbiter) nothing listens any more: a new client is
refused at once, over TCP and at a unix socket file, while every call
already accepted gets its reply, and a client already waiting in the
backlog is taken and answered. In a quick stop (SIGQUIT) the arbiter lets
go at once, the workers as they exit. A reload, SIGTTOU and the old arbiter of an
upgrade leave the sockets listening for the processes that stay; a socket
systemd passed stays systemd's. Every wait is bounded; every reply is
checked."""

import os
import signal
import socket
import subprocess
import time
import types
import unittest

from thrift.protocol import TBinaryProtocol
from thrift.transport import TSocket, TTransport

import harness
import loadgen
from test_server import encode_call
from test_upgrade import new_arbiter_pid, reap

FIXTURE = os.path.join(harness.SOURCE_DIR, "tests", "fixtures", "server")


def settings(extra=""):
    return ('service = { idl = "%s/svc.thrift", name = "TestService", handler = "%s/handler.lua" }\n'
            % (FIXTURE, FIXTURE)) + extra


def tcp_refused(port):
    """True if a connect to 127.0.0.1:`port` is refused, False if it connects
    (another error fails the test)."""
    try:
        socket.create_connection(("127.0.0.1", port), timeout=2).close()
        return False
    except ConnectionRefusedError:
        return True


def unix_refused(path):
    """True if a connect to the unix socket file `path` is refused (the file
    is there, nobody listens), False if it connects. A missing file
    (FileNotFoundError) fails the test: the file stays until the end."""
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(2)
    try:
        s.connect(path)
        return False
    except ConnectionRefusedError:
        return True
    finally:
        s.close()


def listen_inode(port):
    """The inode of the socket listening at 127.0.0.1:`port` (/proc/net/tcp)."""
    local = "0100007F:%04X" % port
    with open("/proc/net/tcp") as f:
        next(f)
        for line in f:
            p = line.split()
            if p[1] == local and p[3] == "0A":
                return int(p[9])
    raise AssertionError("nothing listens at 127.0.0.1:%d" % port)


def socket_inode(sock):
    return os.fstat(sock.fileno()).st_ino


def ended(pid):
    """True once `pid` has ended and waits to be reaped: a zombie whose
    threads have all exited (its main thread is a zombie a moment before
    the others are gone, and its parent cannot reap it until then)."""
    try:
        with open("/proc/%d/stat" % pid) as f:
            zombie = f.read().rsplit(")", 1)[1].split()[0] == "Z"
        return zombie and len(os.listdir("/proc/%d/task" % pid)) <= 1
    except OSError:
        return True


def age(pid):
    """Seconds since process `pid` started."""
    with open("/proc/%d/stat" % pid) as f:
        start = int(f.read().rsplit(")", 1)[1].split()[19])
    with open("/proc/uptime") as f:
        return float(f.read().split()[0]) - start / os.sysconf("SC_CLK_TCK")


def holds_socket(pid, inode):
    """True if process `pid` has a descriptor of the socket `inode`."""
    return harness.holds(pid, "socket:[%d]" % inode)


class StopTest(harness.SubreaperServiceTest):
    """The subreaper: the new arbiter of an upgrade outlives the old one, its parent."""

    def unix_client(self, path, timeout=30):
        sock = TSocket.TSocket(unix_socket=path)
        sock.setTimeout(timeout * 1000)
        trans = TTransport.TBufferedTransport(sock)
        trans.open()
        return self.S.Client(TBinaryProtocol.TBinaryProtocol(trans)), trans

    def sleeper(self, srv, ms, out):
        """sleep_ms(ms) on a new TCP connection, read by a worker (it runs)
        when this returns; the returned thread keeps its reply in `out`."""
        c, trans = harness.client(self.S, srv.port, timeout=30)
        c.send_sleep_ms(ms)
        self.assertTrue(harness.wait_read(srv, trans), srv.log())
        return harness.keep_reply(c.recv_sleep_ms, trans, out)

    def test_term_refuses_new_clients_at_once_and_answers_the_calls_in_flight(self):
        path = os.path.join(harness.tempdir("tc-it-"), "s.sock")
        srv = harness.Server(settings('bind = { "127.0.0.1:0", "unix:%s" }\n' % path
                                      + "workers = 2\nthreads = 2\ngraceful_timeout = 20\n"))
        try:
            tcp_out, unix_out = [], []
            threads = [self.sleeper(srv, 3000, tcp_out)]
            uc, utrans = self.unix_client(path)
            self.assertEqual(uc.echo("over unix"), "over unix")  # accepted
            uc.send_sleep_ms(2500)  # answered by the stop, read or not yet
            threads.append(harness.keep_reply(uc.recv_sleep_ms, utrans, unix_out))
            self.assertFalse(tcp_refused(srv.port))
            self.assertFalse(unix_refused(path))
            t0 = time.monotonic()
            srv.kill(signal.SIGTERM)
            # polled: a connect made before the last listener closed connects
            self.assertTrue(harness.wait_for(lambda: tcp_refused(srv.port), 1.0, 0.01),
                            srv.log())
            self.assertTrue(harness.wait_for(lambda: unix_refused(path), 1.0, 0.01), srv.log())
            self.assertLess(time.monotonic() - t0, 1.5)
            # refused by a server that is still draining its calls, not one that is gone
            self.assertIsNone(srv.proc.poll())
            self.assertEqual(srv.proc.wait(20), 0, srv.log())
            self.assertGreater(time.monotonic() - t0, 2.0, "the stop did not wait for the calls")
            for t in threads:
                t.join(10)
            self.assertEqual(tcp_out, ["slept 3000"])
            self.assertEqual(unix_out, ["slept 2500"])
            self.assertFalse(os.path.exists(path), "the socket file was left")
            self.assertNotIn("killing it", srv.log())
        finally:
            srv.stop()

    def test_quit_lets_go_of_the_listeners_at_once(self):
        # A quick stop: the arbiter closes its listening sockets at once, the
        # workers theirs as they exit, here after a worker_int that computes
        # for 0.6 s; then a new client is refused. (Before, the arbiter held
        # them until it had reaped every worker.)
        hook = "worker_int = function() local t = os.clock() while os.clock() - t < 0.6 do end end\n"
        srv = harness.Server(settings("workers = 2\nthreads = 2\n" + hook))
        try:
            inode = listen_inode(srv.port)
            self.assertTrue(holds_socket(srv.proc.pid, inode))
            out = []
            t = self.sleeper(srv, 5000, out)
            t0 = time.monotonic()
            srv.kill(signal.SIGQUIT)
            self.assertTrue(harness.wait_for(lambda: not holds_socket(srv.proc.pid, inode), 0.5,
                                             0.01), srv.log())
            self.assertIsNone(srv.proc.poll())  # it waits for its workers, in worker_int
            # once they have exited (or been killed after 1 s)
            self.assertTrue(harness.wait_for(lambda: tcp_refused(srv.port), 2.5, 0.01),
                            srv.log())
            self.assertEqual(srv.proc.wait(10), 0, srv.log())
            self.assertLess(time.monotonic() - t0, 3.0)
            t.join(10)
            self.assertEqual(len(out), 1)
            self.assertNotEqual(out[0], "slept 5000")  # a quick stop does not wait for calls
            self.assertIn("Handling signal: quit", srv.log())
        finally:
            srv.stop()

    # ^C (SIGINT) and systemd's KillMode=control-group (SIGTERM) signal the
    # arbiter and its workers together. In these two tests the arbiter is
    # busy (a hook) while its workers end, or begin a graceful stop, on that
    # signal: it acts on its own signal before it reaps them or looks at
    # them, so none of them is replaced and the server stops. (Before, it
    # reaped them, or saw them stopping, and forked a replacement for each,
    # and only then read its signal.)

    BUSY = ("local function busy(path)\n"
            "  local t = os.clock()\n"
            "  repeat\n"
            "    local f = io.open(path)\n"
            "    if f then f:close() return end\n"
            "  until os.clock() - t > 20\n"
            "end\n")

    def group_server(self, workers, hooks):
        """A server of `workers` workers in a process group of its own (as a
        terminal's job), ready, its workers a second old (one that ends
        then is replaced at once, not backed off as a death at boot), with
        the BUSY function and `hooks` in its config. Returns the server
        and its workers."""
        srv = harness.Server(settings("workers = %d\nthreads = 1\ngraceful_timeout = 20\n"
                                      % workers + self.BUSY + hooks), preexec_fn=os.setsid)
        self.assertTrue(harness.wait_log(srv, "Ready: generation 1"), srv.log())
        pids = srv.worker_pids()
        self.assertEqual(len(pids), workers)
        self.assertTrue(harness.wait_for(lambda: min(map(age, pids)) > 1.2))
        return srv, pids

    def test_a_worker_that_ended_on_the_groups_sigint_is_not_replaced(self):
        # The arbiter is in nworkers_changed, run by a SIGTTIN it read while
        # it was in pre_fork for the worker a first SIGTTIN asked for.
        d = harness.tempdir("tc-it-")
        f = {n: os.path.join(d, n) for n in ("forking", "forked", "changing", "changed")}
        srv, pids = self.group_server(2, (
            "pre_fork = function(server, worker)\n"
            "  if worker.index == 2 then io.open('%(forking)s', 'w'):close() busy('%(forked)s') end\n"
            "end\n"
            "nworkers_changed = function(server, new)\n"
            "  if new == 4 then io.open('%(changing)s', 'w'):close() busy('%(changed)s') end\n"
            "end\n") % f)
        try:
            srv.kill(signal.SIGTTIN)
            self.assertTrue(harness.wait_for(lambda: os.path.exists(f["forking"])), srv.log())
            srv.kill(signal.SIGTTIN)  # read once the fork is done
            open(f["forked"], "w").close()
            self.assertTrue(harness.wait_for(lambda: os.path.exists(f["changing"])), srv.log())
            os.killpg(srv.proc.pid, signal.SIGINT)
            self.assertTrue(harness.wait_for(lambda: all(map(ended, pids))), srv.log())
            open(f["changed"], "w").close()
            self.assertEqual(srv.proc.wait(20), 0, srv.log())
            log = srv.log()
            # the two, and the one of the first SIGTTIN
            self.assertEqual(log.count("Booting worker"), 3, log)
            self.assertIn("Handling signal: int", log)
            self.assertLess(log.index("Handling signal: int"), log.index("exited with code 0"), log)
            self.assertNotIn("killing it", log)
        finally:
            srv.stop()

    def test_a_worker_draining_on_the_groups_sigterm_is_not_replaced(self):
        # The arbiter is in nworkers_changed, run by a SIGTTIN.
        d = harness.tempdir("tc-it-")
        changing, changed = os.path.join(d, "changing"), os.path.join(d, "changed")
        srv, pids = self.group_server(1, (
            "nworkers_changed = function()\n"
            "  io.open('%s', 'w'):close() busy('%s')\n"
            "end\n") % (changing, changed))
        try:
            out = []
            t = self.sleeper(srv, 1500, out)
            srv.kill(signal.SIGTTIN)
            self.assertTrue(harness.wait_for(lambda: os.path.exists(changing)), srv.log())
            os.killpg(srv.proc.pid, signal.SIGTERM)
            self.assertTrue(harness.wait_log(srv, "worker 0: graceful stop"), srv.log())
            open(changed, "w").close()
            self.assertEqual(srv.proc.wait(20), 0, srv.log())
            t.join(10)
            self.assertEqual(out, ["slept 1500"])
            log = srv.log()
            self.assertEqual(log.count("Booting worker"), 1, log)
            self.assertIn("Handling signal: term", log)
            self.assertNotIn("killing it", log)
        finally:
            srv.stop()

    def test_term_takes_and_answers_a_client_waiting_in_the_backlog(self):
        # worker_connections = 1 and an idle connection holding it: the next
        # client waits in the backlog, its call held by the kernel. The stop
        # closes the idle one, which frees the slot, accepts the waiting one
        # and answers its call before it closes the listener; left in the
        # backlog, it would be reset when the last descriptor closes.
        srv = harness.Server(settings("workers = 1\nthreads = 1\nworker_connections = 1\n"
                                      "graceful_timeout = 10\n"))
        try:
            a, a_trans = harness.client(self.S, srv.port)
            self.assertEqual(a.echo("a"), "a")
            b, b_trans = harness.client(self.S, srv.port)  # the handshake is the kernel's
            self.assertTrue(harness.wait_log(srv, "worker_connections (1) reached"), srv.log())
            self.assertEqual(harness.tcp_ends(srv, b_trans)["server"]["inode"], 0)
            b.send_echo("b")
            srv.kill(signal.SIGTERM)
            self.assertEqual(b.recv_echo(), "b")
            self.assertTrue(harness.wait_for(lambda: tcp_refused(srv.port), 2.0, 0.01),
                            srv.log())
            with self.assertRaises(TTransport.TTransportException):
                a.echo("again")  # idle at the stop: closed
            self.assertEqual(srv.proc.wait(10), 0, srv.log())
            a_trans.close()
            b_trans.close()
        finally:
            srv.stop()

    def test_term_takes_the_backlog_of_a_worker_whose_only_thread_is_in_a_call(self):
        # one thread, inside a 1.5 s call as SIGTERM comes, and three clients
        # whose calls wait in the backlog (accepted by the kernel, not yet by
        # the loop): the worker's main thread closes the listener for the
        # busy loop, and first takes those clients for it, which answers
        # them once its call ends. Left in the backlog they were reset as
        # the listener closed, their calls unanswered.
        srv = harness.Server(settings("workers = 1\nthreads = 1\ngraceful_timeout = 20\n"))
        try:
            out = []
            threads = [self.sleeper(srv, 1500, out)]  # read: the loop is inside the call
            waiting = []
            for i in range(3):
                c, trans = harness.client(self.S, srv.port)  # the handshake is the kernel's
                self.assertEqual(harness.tcp_ends(srv, trans)["server"]["inode"], 0)
                c.send_echo("waiting %d" % i)
                waiting.append((c, trans))
            srv.kill(signal.SIGTERM)
            self.assertTrue(harness.wait_for(lambda: tcp_refused(srv.port), 1.0, 0.01),
                            srv.log())
            for i, (c, trans) in enumerate(waiting):
                self.assertEqual(c.recv_echo(), "waiting %d" % i)
                trans.close()
            for t in threads:
                t.join(10)
            self.assertEqual(out, ["slept 1500"])
            self.assertEqual(srv.proc.wait(20), 0, srv.log())
            self.assertNotIn("killing it", srv.log())
        finally:
            srv.stop()

    def test_term_leaves_an_older_generation_its_own_graceful_timeout(self):
        """A reload that lowers graceful_timeout to 1 s, then SIGTERM while
        a worker of the old generation (graceful_timeout = 20) still runs
        a 5 s call: the stop gives that worker the rest of the drain its
        own config gives it, not the new config's 1 s (which killed it and
        lost the reply)."""
        srv = harness.Server(settings("workers = 1\nthreads = 2\ngraceful_timeout = 20\n"))
        try:
            out = []
            thread = self.sleeper(srv, 5000, out)
            with open(srv.config) as f:
                text = f.read()
            with open(srv.config + ".new", "w") as f:
                f.write(text.replace("graceful_timeout = 20", "graceful_timeout = 1"))
            os.rename(srv.config + ".new", srv.config)
            srv.kill(signal.SIGHUP)
            self.assertTrue(harness.wait_log(srv, "Generation 2 is ready"), srv.log())
            srv.kill(signal.SIGTERM)
            self.assertEqual(srv.proc.wait(20), 0, srv.log())
            thread.join(10)
            self.assertEqual(out, ["slept 5000"], srv.log())
            self.assertNotIn("did not stop within", srv.log())
        finally:
            srv.stop()

    def test_hup_and_ttou_keep_accepting_new_clients(self):
        # a new connection for every call: each must be accepted, through the
        # reload (the old generation stops) and SIGTTOU (one worker stops)
        srv = harness.Server(settings("workers = 2\nthreads = 2\n"))
        load = loadgen.Load(self.S, srv.port, threads=3, duration=60, per_conn=(1, 1),
                            sleep=0.002, max_calls=100000)
        try:
            load.start()
            self.assertTrue(load.wait_calls(50), load.summary())
            srv.kill(signal.SIGHUP)
            self.assertTrue(harness.wait_log(srv, "Generation 2 is ready", 20), srv.log())
            self.assertTrue(harness.wait_log(srv, "exited with code 0", 20, count=2), srv.log())
            self.assertTrue(load.wait_calls(50), load.summary())
            srv.kill(signal.SIGTTOU)
            self.assertTrue(harness.wait_log(srv, "Number of workers: 1\n"), srv.log())
            self.assertTrue(harness.wait_log(srv, "exited with code 0", 20, count=3), srv.log())
            self.assertEqual(len(srv.worker_pids()), 1)
            self.assertTrue(load.wait_calls(50), load.summary())
            self.assertTrue(load.stop())
            self.assertEqual((load.failed, load.refused), (0, 0), load.summary())
            self.assertGreater(load.connections, 150, load.summary())
        finally:
            load.stop()
            srv.stop()

    def test_the_old_arbiter_of_an_upgrade_leaves_the_sockets_to_the_new_one(self):
        # SIGTERM to the old arbiter while its workers still serve (no
        # SIGWINCH first): it and they close their descriptors, the new
        # arbiter's go on accepting, and the unix socket file stays.
        path = os.path.join(harness.tempdir("tc-it-"), "s.sock")
        srv = harness.Server(settings('bind = { "127.0.0.1:0", "unix:%s" }\n' % path
                                      + "workers = 2\nthreads = 2\n"))
        loads = [loadgen.Load(self.S, srv.port, threads=2, duration=60, per_conn=(1, 1),
                              sleep=0.002, max_calls=100000),
                 loadgen.Load(self.S, None, unix=path, threads=2, duration=60, per_conn=(1, 1),
                              sleep=0.002, max_calls=100000)]
        new = None
        try:
            srv.kill(signal.SIGUSR2)
            self.assertTrue(harness.wait_log(srv, "Ready: generation 1", 20, count=2), srv.log())
            new = new_arbiter_pid(srv.log())
            for load in loads:
                load.start()
                self.assertTrue(load.wait_calls(50), load.summary())
            srv.kill(signal.SIGTERM)
            self.assertEqual(srv.proc.wait(15), 0, srv.log())
            for load in loads:
                self.assertTrue(load.wait_calls(100), load.summary())
                self.assertTrue(load.stop())
                self.assertEqual((load.failed, load.refused), (0, 0), load.summary())
            self.assertTrue(os.path.exists(path), "the old arbiter removed the socket file")
            uc, utrans = self.unix_client(path)
            self.assertEqual(uc.echo("new"), "new")
            utrans.close()
            os.kill(new, signal.SIGTERM)
            self.assertEqual(reap(new), 0)
            new = None
            self.assertFalse(os.path.exists(path), "the new arbiter left the socket file")
        finally:
            for load in loads:
                load.stop()
            srv.stop()
            if new is not None and harness.pid_alive(new):
                os.kill(new, signal.SIGKILL)
                reap(new)

    def test_a_socket_systemd_passed_keeps_new_clients_for_the_next_start(self):
        # systemd holds its own descriptor: when the server stops, closing
        # its copies leaves the socket listening, and a client that connects
        # meanwhile waits in the backlog for the next start (systemd starts
        # the service again for it); the stopping server leaves it there.
        d = harness.tempdir("tc-it-")
        lsock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        lsock.bind(("127.0.0.1", 0))
        lsock.listen(16)
        port = lsock.getsockname()[1]
        config = os.path.join(d, "thriftcorn.lua")
        log = os.path.join(d, "thriftcorn.log")
        with open(config, "w") as f:
            f.write('bind = "127.0.0.1:%d"\n' % port
                    + settings("workers = 1\nthreads = 2\ngraceful_timeout = 20\n"))
        fd = lsock.fileno()

        def at_three():  # runs before subprocess closes what pass_fds does not keep
            os.dup2(fd, 3)
            if fd != 3:
                os.close(fd)  # fd 3 only, as systemd passes it: no copy the server cannot close
        proc = subprocess.Popen(["/bin/sh", "-c", 'LISTEN_PID=$$ exec "$0" "$@"', harness.BIN,
                                 config, "--errorlog", log], env=dict(os.environ, LISTEN_FDS="1"),
                                pass_fds=sorted({fd, 3}), preexec_fn=at_three)
        def text():
            return harness.read_text(log)
        srv = types.SimpleNamespace(port=port, log=text)  # for sleeper()
        late = None
        try:
            self.assertTrue(harness.wait_for(lambda: "Ready: generation 1" in text(), 15), text())
            (worker,) = harness.children(proc.pid)
            inode = socket_inode(lsock)
            self.assertTrue(holds_socket(worker, inode))
            out = []
            t = self.sleeper(srv, 3000, out)
            proc.send_signal(signal.SIGTERM)
            # the server let go of the socket while its worker still runs the call
            self.assertTrue(harness.wait_for(
                lambda: not holds_socket(proc.pid, inode) and not holds_socket(worker, inode),
                2.0, 0.01), text())
            self.assertIsNone(proc.poll())
            self.assertTrue(harness.pid_alive(worker))
            late = socket.create_connection(("127.0.0.1", port), timeout=10)
            call = encode_call("echo", 7, self.S.echo_args(s="late"))
            late.sendall(call)
            self.assertEqual(proc.wait(20), 0, text())
            t.join(10)
            self.assertEqual(out, ["slept 3000"])
            # the next start finds the client waiting, its call whole
            lsock.settimeout(5)
            conn, _ = lsock.accept()
            conn.settimeout(5)
            got = b""
            while len(got) < len(call):
                chunk = conn.recv(len(call) - len(got))
                self.assertTrue(chunk, "the waiting client was closed")
                got += chunk
            self.assertEqual(got, call)
            conn.close()
            for mark in ("Sanitizer", "runtime error:"):
                self.assertNotIn(mark, text())
        finally:
            if late is not None:
                late.close()
            if proc.poll() is None:
                proc.kill()
                proc.wait(5)
            lsock.close()


if __name__ == "__main__":
    unittest.main(verbosity=2)

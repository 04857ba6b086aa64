# SPDX-License-Identifier: Apache-2.0
"""What the workers' unprivileged user can make the arbiter, which keeps
root, do: through the log files it opens, the heartbeat pages, the pidfile
and the unix socket files it removes; and which groups a worker keeps. A
worker that runs code of an attacker is played by a shell run as nobody
(setpriv), doing what that worker could do."""

import grp
import os
import pwd
import shutil
import signal
import socket
import stat
import subprocess
import tempfile
import time
import unittest

import harness
from thrift.transport import TTransport

FIXTURE = harness.SERVICE_FIXTURE
service = harness.service
NOBODY = 65534
ROOT = os.geteuid() == 0
NEEDS_ROOT = "needs root: the workers must switch to nobody"
SECRET = "root's secret\n"


def readable_fixture():
    """A copy of the test service in a folder nobody may read, not write."""
    return harness.readable_service("tc-priv-")


def as_nobody(script):
    """Run shell 'script' as nobody, as a worker's code could."""
    out = subprocess.run(["setpriv", "--reuid=%d" % NOBODY, "--regid=%d" % NOBODY,
                          "--clear-groups", "sh", "-ec", script],
                         capture_output=True, text=True, timeout=10)
    if out.returncode != 0:
        raise AssertionError("as nobody: %s: %s" % (script, out.stderr))


def skip_unless_nobody_runs(test, become):
    """Skip `test` when nobody cannot start the binary here at all: a folder
    on the way to it, or to a library it loads, is closed to other users.
    Any other failure of `thriftcorn --version` as nobody fails the test."""
    try:
        out = subprocess.run([harness.BIN, "--version"], preexec_fn=become,
                             capture_output=True, text=True, timeout=10)
    except PermissionError as e:
        test.skipTest("nobody cannot run %s (a folder on its way is closed to other users): %s"
                      % (harness.BIN, e))
    if out.returncode == 127 and "error while loading shared libraries" in out.stderr:
        test.skipTest("nobody cannot load the libraries of %s: %s" % (harness.BIN, out.stderr))
    test.assertEqual(out.returncode, 0, "%s --version as nobody: %s" % (harness.BIN, out.stderr))


def victim(folder):
    """A file only root may read and write."""
    path = os.path.join(folder, "victim")
    with open(path, "w") as f:
        f.write(SECRET)
    os.chmod(path, 0o600)
    return path


def owned_folder(test, owner, mode, files):
    """A new folder of user id 'owner' with 'mode', holding 'files' ({name:
    text}), each root's 0644, removed when 'test' ends. Returns its real
    path."""
    d = os.path.realpath(tempfile.mkdtemp(prefix="tc-priv-"))
    test.addCleanup(shutil.rmtree, d, True)
    for name, text in files.items():
        path = os.path.join(d, name)
        with open(path, "w") as f:
            f.write(text)
        os.chmod(path, 0o644)
    os.chown(d, owner, owner)
    os.chmod(d, mode)
    return d


def include_idl(folder, name):
    """Make the svc.thrift in 'folder' include 'name'."""
    idl = os.path.join(folder, "svc.thrift")
    with open(idl) as f:
        text = f.read()
    with open(idl, "w") as f:
        f.write('include "%s"\n' % name + text)


def heartbeat_maps(pid):
    """The shared anonymous pages mapped in process 'pid': {inode: address}."""
    pages = {}
    with open("/proc/%d/maps" % pid) as f:
        for line in f:
            fields = line.split()
            lo, hi = (int(x, 16) for x in fields[0].split("-"))
            if fields[1] == "rw-s" and "/dev/zero" in line and hi - lo == os.sysconf("SC_PAGE_SIZE"):
                pages[int(fields[4])] = lo
    return pages


def heartbeat_pages(pid):
    return set(heartbeat_maps(pid))


class PrivilegesTest(harness.ServiceTest):
    @unittest.skipUnless(ROOT, NEEDS_ROOT)
    def test_access_log_link_planted_by_the_workers_user(self):
        """The access log's folder belongs to the workers' user, who puts a
        symlink to a file of root's where the log was. A worker opens the
        access log before it drops root: the replacement of a worker that
        died must not follow that link and append its lines to root's file."""
        folder = readable_fixture()
        logs = os.path.join(folder, "logs")
        os.mkdir(logs)
        os.chown(logs, NOBODY, NOBODY)
        target = victim(folder)
        access = os.path.join(logs, "access.log")
        srv = harness.Server(service(folder) + 'user = "nobody"\nworkers = 1\nthreads = 1\n'
                             'accesslog = "%s"\n' % access)
        self.addCleanup(srv.stop)
        self.call(srv.port)
        self.assertTrue(harness.wait_for(lambda: "TestService.echo" in harness.read_text(access)),
                        srv.log())
        as_nobody("rm %s && ln -s %s %s" % (access, target, access))
        (pid,) = srv.worker_pids()
        os.kill(pid, signal.SIGKILL)
        self.assertTrue(harness.wait_log(srv, "Booting worker", count=2), srv.log())
        self.assertTrue(harness.wait_for(lambda: len(srv.worker_pids()) == 1
                                         and srv.worker_pids() != [pid]), srv.log())
        self.call(srv.port)
        self.assertTrue(harness.wait_log(
            srv, "Cannot open the access log %s: a symlink another user owns (not followed)"
            % access), srv.log())
        with open(target) as f:
            self.assertEqual(f.read(), SECRET)
        self.assertEqual(os.stat(target).st_uid, 0)

    @unittest.skipUnless(ROOT, NEEDS_ROOT)
    def test_error_log_link_planted_by_the_workers_user(self):
        """The error log's folder belongs to the workers' user, who moves the
        log away and puts a symlink to root's file in its place. SIGUSR1
        makes the arbiter reopen the log as root: it refuses the link, says
        so in the log it keeps, and writes nothing to root's file."""
        folder = readable_fixture()
        target = victim(folder)
        srv = harness.Server(service(folder) + 'user = "nobody"\nworkers = 1\n', start=False)
        self.addCleanup(srv.stop)
        os.chmod(srv.dir, 0o755)
        os.chown(srv.dir, NOBODY, NOBODY)
        srv.start()
        self.call(srv.port)
        log = srv.log_path
        as_nobody("mv %s %s.1 && ln -s %s %s" % (log, log, target, log))
        srv.log_path = log + ".1"
        srv.kill(signal.SIGUSR1)
        self.assertTrue(harness.wait_log(
            srv, "Cannot reopen the error log %s: a symlink another user owns (not followed)"
            % log), srv.log())
        srv.kill(signal.SIGTTIN)
        self.assertTrue(harness.wait_log(srv, "Number of workers: 2"), srv.log())
        self.assertTrue(harness.wait_for(lambda: len(srv.worker_pids()) == 2), srv.log())
        self.call(srv.port)
        with open(target) as f:
            self.assertEqual(f.read(), SECRET)
        self.assertEqual(os.stat(target).st_uid, 0, "the link's target was given to nobody")

    @unittest.skipUnless(ROOT, NEEDS_ROOT)
    def test_error_log_link_of_root_is_followed(self):
        """A symlink root owns is the operator's: the log goes where it leads."""
        folder = readable_fixture()
        real = os.path.join(folder, "real.log")
        link = os.path.join(folder, "error.log")
        os.symlink(real, link)
        srv = harness.Server(service(folder) + 'user = "nobody"\nworkers = 1\n', start=False)
        self.addCleanup(srv.stop)
        srv.log_path = link  # --errorlog names the link
        srv.start()
        self.call(srv.port)
        self.assertTrue(os.path.islink(link))
        self.assertIn("Booting worker", harness.read_text(real))
        self.assertNotIn("Cannot", harness.read_text(real))

    @unittest.skipUnless(ROOT, NEEDS_ROOT)
    def test_usr1_reopens_logs_kept_elsewhere_through_links_of_root(self):
        """The operator's symlinks (root's) lead from the log paths to
        files in a folder of root's, where the workers' user may create
        nothing. The arbiter gives the files the links lead to, as it gives
        a log at the path itself: after a rotation and SIGUSR1 the workers,
        as nobody, reopen both logs through the links."""
        folder = readable_fixture()
        kept = os.path.join(folder, "kept")
        os.mkdir(kept)
        os.chmod(kept, 0o755)
        error, access = (os.path.join(folder, name) for name in ("error.log", "access.log"))
        error_file, access_file = (os.path.join(kept, name) for name in ("error.log", "access.log"))
        os.symlink(error_file, error)
        os.symlink(access_file, access)
        srv = harness.Server(service(folder) + 'user = "nobody"\nworkers = 1\nthreads = 1\n'
                             'accesslog = "%s"\n' % access, start=False)
        self.addCleanup(srv.stop)
        srv.log_path = error  # --errorlog names the link
        srv.start()
        self.call(srv.port)
        self.assertTrue(harness.wait_for(lambda: "TestService.echo" in
                                         harness.read_text(access_file)), srv.log())
        os.rename(access_file, access_file + ".1")
        os.rename(error_file, error_file + ".1")
        srv.kill(signal.SIGUSR1)
        (pid,) = srv.worker_pids()
        old_log = error_file + ".1"
        self.assertTrue(harness.wait_for(lambda: harness.holds_file(pid, access_file)
                                         and harness.holds_file(pid, error_file), 10),
                        harness.read_text(old_log) + srv.log())
        self.call(srv.port)
        self.assertTrue(harness.wait_for(lambda: "TestService.echo" in
                                         harness.read_text(access_file)), srv.log())
        self.assertEqual(harness.read_text(access_file + ".1").count("TestService.echo"), 1)
        for path in (error_file, old_log):
            self.assertNotIn("Cannot", harness.read_text(path))
        for path in (error, access):
            self.assertTrue(os.path.islink(path), path)
            self.assertEqual(os.lstat(path).st_uid, 0, path)
        for path in (error_file, access_file):
            self.assertEqual(os.stat(path).st_uid, NOBODY, path)

    def test_worker_maps_only_its_own_heartbeat_page(self):
        """Each worker has its heartbeat page only: not the pages of the
        workers forked before it, which it could otherwise write to and make
        the arbiter think they hang (SIGABRT), stop or are ready."""
        with harness.Server(service(FIXTURE) + "workers = 3\nthreads = 1\n") as srv:
            self.call(srv.port)
            self.assertTrue(harness.wait_for(lambda: len(srv.worker_pids()) == 3), srv.log())
            seen = set()
            for pid in srv.worker_pids():
                pages = heartbeat_pages(pid)
                self.assertEqual(len(pages), 1, "worker %d maps %d heartbeat pages"
                                 % (pid, len(pages)))
                seen |= pages
            self.assertEqual(len(seen), 3)

    def test_reload_check_maps_no_heartbeat_page(self):
        """A reload's check loads handler code too: it gets no worker's
        heartbeat page."""
        folder = readable_fixture()
        slow = harness.slow_handler(folder)
        with harness.Server(service(folder) + "workers = 2\nthreads = 1\n") as srv:
            self.call(srv.port)
            self.assertTrue(harness.wait_for(lambda: len(srv.worker_pids()) == 2), srv.log())
            open(slow, "w").close()
            srv.kill(signal.SIGHUP)

            def checker():
                return harness.reload_check(srv)

            self.assertTrue(harness.wait_for(checker, 10), srv.log())
            # the check has a page of its own (what it is loading, for the arbiter): not theirs
            check = checker()
            workers = set().union(*(heartbeat_pages(pid) for pid in srv.worker_pids()
                                    if pid != check))
            self.assertEqual(len(workers), 2, srv.log())
            self.assertEqual(heartbeat_pages(check) & workers, set())
            os.kill(checker(), signal.SIGKILL)
            self.assertTrue(harness.wait_log(srv, "Reload failed; still serving generation 1"),
                            srv.log())

    @unittest.skipUnless(ROOT, NEEDS_ROOT)
    def test_worker_that_takes_back_its_ready_cannot_stop_the_server(self):
        """A worker writes to its own heartbeat page: one running someone
        else's code could clear its 'ready' and exit with status 3, which
        from a worker that never was ready means handler code that cannot
        load, and stops the server. The arbiter remembers that it was ready:
        the exit is a death like any other, and the worker is replaced."""
        folder = readable_fixture()
        handler = os.path.join(folder, "handler.lua")
        with open(handler) as f:
            text = f.read()
        with open(handler, "w") as f:
            f.write(text.replace("function H.add(a, b)\n",
                                 "function H.add(a, b)\n  if a == -1 then os.exit(b) end\n", 1))
        with harness.Server(service(folder) + "workers = 1\nthreads = 1\n") as srv:
            self.call(srv.port)
            # the arbiter reads the pages at its wake-ups (within a second): the
            # worker is taken at its word once it has been seen ready
            self.assertTrue(harness.wait_log(srv, "Ready: generation 1"), srv.log())
            (pid,) = srv.worker_pids()
            (page,) = heartbeat_maps(pid).values()
            with open("/proc/%d/mem" % pid, "r+b", buffering=0) as mem:
                # struct tc_heartbeat (src/worker/heartbeat.c): the time stamp, then 'ready'
                mem.seek(page + 8)
                self.assertEqual(mem.read(4), (1).to_bytes(4, "little"))
                mem.seek(page + 8)
                mem.write((0).to_bytes(4, "little"))
            c, trans = harness.client(self.S, srv.port)
            try:
                with self.assertRaises(TTransport.TTransportException):
                    c.add(-1, 3)  # the worker ends in the call: no reply
            finally:
                trans.close()
            self.assertTrue(harness.wait_log(srv, "Worker (pid:%d) exited with code 3" % pid),
                            srv.log())
            self.assertTrue(harness.wait_log(srv, "Booting worker", count=2), srv.log())
            self.call(srv.port)
            self.assertNotIn("Worker failed to boot", srv.log())
            self.assertIsNone(srv.proc.poll())

    @unittest.skipUnless(ROOT, NEEDS_ROOT)
    def test_worker_that_rewrites_its_boot_time_is_not_aborted(self):
        """The worker measures its boot on its heartbeat page, and the
        arbiter judges a boot longer than 'timeout' from it: once, at the
        first look that sees the worker ready. A boot time written later
        (someone else's code in a served worker) aborts nothing."""
        folder = readable_fixture()
        with harness.Server(service(folder) + "workers = 1\nthreads = 1\ntimeout = 5\n") as srv:
            self.call(srv.port)
            self.assertTrue(harness.wait_log(srv, "Ready: generation 1"), srv.log())
            (pid,) = srv.worker_pids()
            (page,) = heartbeat_maps(pid).values()
            with open("/proc/%d/mem" % pid, "r+b", buffering=0) as mem:
                # struct tc_heartbeat (src/worker/heartbeat.c): the time stamp,
                # five ints (padded to 32 bytes), the creation time, then the boot time
                mem.seek(page + 40)
                boot = int.from_bytes(mem.read(8), "little")
                self.assertTrue(0 < boot < 5 * 10**9, boot)
                mem.seek(page + 40)
                mem.write((3600 * 10**9).to_bytes(8, "little"))
            time.sleep(2.5)  # two of the arbiter's looks at heartbeats
            self.call(srv.port)
            self.assertNotIn("WORKER TIMEOUT", srv.log())
            self.assertEqual(srv.worker_pids(), [pid])

    @unittest.skipUnless(ROOT, NEEDS_ROOT)
    def test_user_id_without_a_group_is_refused(self):
        """A numeric 'user' the user database does not know has no primary
        group: without 'group' the worker would keep root's group. The start
        fails and says why, leading with where 'user' was set (the workers'
        boot said only why); with 'group' the worker runs as both, with no
        other group."""
        uid = 54321
        out = subprocess.run(["getent", "passwd", str(uid)], capture_output=True)
        self.assertNotEqual(out.returncode, 0, "uid %d exists here" % uid)
        folder = readable_fixture()
        cfg = os.path.join(folder, "c.lua")
        with open(cfg, "w") as f:
            f.write('bind = "127.0.0.1:0"\nworkers = 1\nuser = "%d"\n' % uid + service(folder))
        want = ("%s:3: user: user %d is not in the user database, so it has no group: set "
                "'group' too" % (os.path.realpath(cfg), uid))
        for args in (["--check-config", cfg], [cfg]):
            out = subprocess.run([harness.BIN] + args, capture_output=True, text=True,
                                 timeout=60)
            self.assertEqual(out.returncode, 1, out.stderr)
            self.assertIn(want, out.stderr)

        with harness.Server(service(folder) + 'workers = 1\nuser = "%d"\ngroup = "%d"\n'
                            % (uid, uid)) as srv:
            self.call(srv.port)
            (pid,) = srv.worker_pids()
            with open("/proc/%d/status" % pid) as f:
                status = dict(line.split(":", 1) for line in f)
            self.assertEqual(status["Uid"].split(), [str(uid)] * 4)
            self.assertEqual(status["Gid"].split(), [str(uid)] * 4)
            self.assertEqual(status["Groups"].split(), [str(uid)])

    @unittest.skipUnless(ROOT, NEEDS_ROOT)
    @unittest.skipIf(harness.read_text("/proc/sys/fs/suid_dumpable").strip() == "1",
                     "fs.suid_dumpable is 1: the kernel leaves processes that leave root dumpable")
    def test_worker_of_another_user_is_not_dumpable(self):
        """A worker that switched from root to nobody is not dumpable (as
        the kernel makes it, kept on purpose): the user nobody can neither
        trace it nor read its memory or environment, which may hold what it
        had as root."""
        folder = readable_fixture()
        with harness.Server(service(folder) + 'user = "nobody"\nworkers = 1\n') as srv:
            self.call(srv.port)
            (pid,) = srv.worker_pids()
            self.assertEqual(os.stat("/proc/%d" % pid).st_uid, NOBODY)
            for name in ("environ", "mem"):
                self.assertEqual(os.stat("/proc/%d/%s" % (pid, name)).st_uid, 0, name)
            out = subprocess.run(["setpriv", "--reuid=%d" % NOBODY, "--regid=%d" % NOBODY,
                                  "--clear-groups", "cat", "/proc/%d/environ" % pid],
                                 capture_output=True, text=True, timeout=10)
            self.assertNotEqual(out.returncode, 0, "nobody read the worker's environment")
            self.assertIn("Permission denied", out.stderr)

    @unittest.skipUnless(ROOT, NEEDS_ROOT)
    def test_unprivileged_server_whose_user_it_is_already(self):
        """Started as nobody with 'user' and 'group' naming nobody, there is
        nothing to switch (nor may it set groups): the workers boot and serve,
        and a reload's check passes."""
        def become_nobody():
            os.setgroups([])
            os.setgid(NOBODY)
            os.setuid(NOBODY)
        skip_unless_nobody_runs(self, become_nobody)
        folder = readable_fixture()
        srv = harness.Server(service(folder) + 'user = "nobody"\ngroup = "nogroup"\n'
                             'workers = 1\n', start=False, preexec_fn=become_nobody)
        self.addCleanup(srv.stop)
        os.chmod(srv.dir, 0o755)
        os.chmod(srv.config, 0o644)
        open(srv.log_path, "w").close()
        os.chown(srv.log_path, NOBODY, NOBODY)
        srv.start()
        self.call(srv.port)
        (pid,) = srv.worker_pids()
        self.assertEqual(os.stat("/proc/%d" % srv.proc.pid).st_uid, NOBODY)
        srv.kill(signal.SIGHUP)
        self.assertTrue(harness.wait_log(srv, "Generation 2 is ready", timeout=30), srv.log())
        self.call(srv.port)
        self.assertNotIn("supplementary groups", srv.log())

    @unittest.skipUnless(ROOT, NEEDS_ROOT)
    def test_unprivileged_server_asked_to_switch_users(self):
        """Started as nobody with 'user' naming daemon: only root may
        switch. --check-config fails as the start does (it printed its ok
        line for a start whose workers could not boot), and a reload to such
        a config is refused while the old generation serves on; each says
        which setting it could not apply, and why."""
        def become_nobody():
            os.setgroups([])
            os.setgid(NOBODY)
            os.setuid(NOBODY)
        skip_unless_nobody_runs(self, become_nobody)
        folder = readable_fixture()
        want = ("cannot set the supplementary groups: operation not permitted "
                "(only a server started as root may switch to another user or group)")
        cfg = os.path.join(folder, "c.lua")
        with open(cfg, "w") as f:
            f.write('bind = "127.0.0.1:0"\nworkers = 1\nuser = "daemon"\n' + service(folder))
        os.chmod(cfg, 0o644)
        # the check and the workers' boot lead with where 'user' was set
        for args in (["--check-config", cfg], [cfg]):
            who = "%s:3: user" % os.path.realpath(cfg)
            out = subprocess.run([harness.BIN] + args, preexec_fn=become_nobody,
                                 capture_output=True, text=True, timeout=60)
            self.assertEqual(out.returncode, 1, out.stderr)
            self.assertIn("%s: %s" % (who, want), out.stderr)

        srv = harness.Server(service(folder) + 'workers = 1\n', start=False,
                             preexec_fn=become_nobody)
        self.addCleanup(srv.stop)
        os.chmod(srv.dir, 0o755)
        os.chmod(srv.config, 0o644)
        open(srv.log_path, "w").close()
        os.chown(srv.log_path, NOBODY, NOBODY)
        srv.start()
        self.call(srv.port)
        pids = srv.worker_pids()
        with open(srv.config) as f:
            user_line = len(f.read().splitlines()) + 1
        with open(srv.config, "a") as f:
            f.write('user = "daemon"\n')
        srv.kill(signal.SIGHUP)
        self.assertTrue(harness.wait_log(srv, "Reload failed; still serving generation 1",
                                         timeout=30), srv.log())
        self.assertIn("Reload failed: %s:%d: user: %s"
                      % (os.path.realpath(srv.config), user_line, want), srv.log())
        self.call(srv.port)
        self.assertEqual(srv.worker_pids(), pids)

    @unittest.skipUnless(ROOT, NEEDS_ROOT)
    def test_reload_that_changes_user_and_group(self):
        """A reload applies a new 'user' and 'group' to its new workers, as
        gunicorn does: they run as daemon and nogroup, with no way back and
        no other group, and the logs are theirs to reopen."""
        folder = readable_fixture()
        access = os.path.join(folder, "access.log")
        srv = harness.Server(service(folder) + 'workers = 1\naccesslog = "%s"\n' % access
                             + 'user = "nobody"\n')
        self.addCleanup(srv.stop)
        self.call(srv.port)
        (old,) = srv.worker_pids()
        with open(srv.config, "a") as f:
            f.write('user = "daemon"\ngroup = "nogroup"\n')
        srv.kill(signal.SIGHUP)
        self.assertTrue(harness.wait_log(srv, "Generation 2 is ready", timeout=30), srv.log())
        self.assertTrue(harness.wait_for(lambda: not harness.pid_alive(old)), srv.log())
        (pid,) = srv.worker_pids()
        with open("/proc/%d/status" % pid) as f:
            status = dict(line.split(":", 1) for line in f)
        daemon, nogroup = pwd.getpwnam("daemon").pw_uid, grp.getgrnam("nogroup").gr_gid
        self.assertEqual(status["Uid"].split(), [str(daemon)] * 4)
        self.assertEqual(status["Gid"].split(), [str(nogroup)] * 4)
        self.assertEqual(status["Groups"].split(), [str(nogroup)])
        for path in (access, srv.log_path):
            st = os.stat(path)
            self.assertEqual((st.st_uid, st.st_gid), (daemon, nogroup), path)
        self.call(srv.port)

    def test_fifo_at_the_pidfile_path(self):
        """A FIFO put where the pidfile goes (in /tmp, say) neither hangs the
        start nor the exit: it is replaced by the pidfile."""
        folder = harness.tempdir("tc-priv-")
        pidfile = os.path.join(folder, "tc.pid")
        os.mkfifo(pidfile)
        srv = harness.Server(service(FIXTURE) + 'pidfile = "%s"\n' % pidfile)
        self.assertTrue(stat.S_ISREG(os.stat(pidfile).st_mode))
        self.assertEqual(harness.read_text(pidfile), "%d\n" % srv.proc.pid)
        self.call(srv.port)
        self.assertEqual(srv.stop(), 0)
        self.assertFalse(os.path.exists(pidfile))

    @unittest.skipUnless(ROOT, NEEDS_ROOT)
    def test_unix_socket_file_goes_to_the_workers_user(self):
        """A unix socket file the arbiter (root) makes goes to the workers'
        user and group, as gunicorn gives it: with umask 007 the workers'
        group may connect, any other user may not."""
        folder = harness.tempdir("tc-priv-")
        os.chmod(folder, 0o755)
        path = os.path.join(folder, "s.sock")
        srv = harness.Server(service(readable_fixture()) + 'user = "nobody"\ngroup = "nogroup"\n'
                             'umask = "007"\nworkers = 1\n', bind="unix:" + path)
        self.addCleanup(srv.stop)
        self.assertTrue(harness.wait_log(srv, "Booting worker"), srv.log())
        st = os.lstat(path)
        self.assertTrue(stat.S_ISSOCK(st.st_mode))
        self.assertEqual((st.st_uid, st.st_gid, stat.S_IMODE(st.st_mode)), (NOBODY, NOBODY, 0o770))
        connect = ("/usr/bin/python3 -c 'import socket; s = socket.socket(socket.AF_UNIX); "
                   "s.connect(\"%s\")'" % path)
        as_nobody(connect)
        stranger = subprocess.run(["setpriv", "--reuid=12345", "--regid=12345", "--clear-groups",
                                   "sh", "-ec", connect], capture_output=True, text=True,
                                  timeout=10)
        self.assertNotEqual(stranger.returncode, 0, "another user connected")
        self.assertIn("PermissionError", stranger.stderr)
        self.assertNotIn("Cannot give", srv.log())

    @unittest.skipUnless(ROOT, NEEDS_ROOT)
    def test_config_folder_of_the_workers_user_is_warned_of(self):
        """The config file is root's, but its folder belongs to the workers'
        user, who could put another file in its place: root evaluates it at
        every reload. The arbiter says so at start and at each reload, and
        serves on."""
        folder = readable_fixture()
        srv = harness.Server(service(folder) + 'user = "nobody"\nworkers = 1\n', start=False)
        self.addCleanup(srv.stop)
        os.chmod(srv.dir, 0o755)
        os.chown(srv.dir, NOBODY, NOBODY)
        srv.start()
        want = ("%s: %s is writable by the workers' user nobody (owned by it): a worker could "
                "change what root runs" % (os.path.realpath(srv.config),
                                           os.path.realpath(srv.dir)))
        self.assertIn(want, srv.log())
        self.assertEqual(srv.log().count("writable by the workers' user"), 1, srv.log())
        srv.kill(signal.SIGHUP)
        self.assertTrue(harness.wait_log(srv, "Generation 2 is ready"), srv.log())
        self.assertEqual(srv.log().count(want), 2, srv.log())
        self.call(srv.port)

    @unittest.skipUnless(ROOT, NEEDS_ROOT)
    def test_files_of_root_in_folders_of_root_are_not_warned_of(self):
        """Config and IDL files that are root's 0644, in root's 0755
        folders: nothing the workers' user could write, nothing to say.
        Once the IDL file is world-writable, the next reload says so."""
        folder = readable_fixture()
        srv = harness.Server(service(folder) + 'user = "nobody"\nworkers = 1\n', start=False)
        self.addCleanup(srv.stop)
        os.chmod(srv.dir, 0o755)
        os.chmod(srv.config, 0o644)
        srv.start()
        self.call(srv.port)
        self.assertNotIn("writable by the workers' user", srv.log())
        idl = os.path.realpath(os.path.join(folder, "svc.thrift"))
        os.chmod(idl, 0o666)
        srv.kill(signal.SIGHUP)
        self.assertTrue(harness.wait_log(srv, "Generation 2 is ready"), srv.log())
        self.assertEqual(srv.log().count("writable by the workers' user"), 1, srv.log())
        self.assertIn("%s: %s is writable by the workers' user nobody (world-writable): a worker "
                      "could change what root reads" % (idl, idl), srv.log())

    @unittest.skipUnless(ROOT, NEEDS_ROOT)
    def test_lua_files_the_config_loads_from_folders_of_the_workers_user_are_warned_of(self):
        """Root runs what the config loads with require, dofile and
        loadfile as it runs the config: each such file is checked as the
        config is, named once however often it is loaded, at start and at
        each reload."""
        folder = readable_fixture()
        mods = owned_folder(self, NOBODY, 0o755, {"tcprivmod.lua": "return { workers = 1 }\n"})
        extra = owned_folder(self, 0, 0o777, {"extra.lua": "return 1\n", "more.lua": "return 2\n"})
        srv = harness.Server(
            'package.path = "%s/?.lua;" .. package.path\n'
            'local m = require("tcprivmod")\n'
            'require("tcprivmod")\n'
            'dofile("%s/extra.lua")\n'
            'dofile("%s/extra.lua")\n'
            'assert(loadfile("%s/more.lua"))\n'
            % (mods, extra, extra, extra)
            + service(folder) + 'user = "nobody"\nworkers = m.workers\n', start=False)
        self.addCleanup(srv.stop)
        os.chmod(srv.dir, 0o755)
        srv.start()
        self.call(srv.port)
        runs = "is writable by the workers' user nobody (%s): a worker could change what root runs"
        want = ["%s/tcprivmod.lua: %s %s" % (mods, mods, runs % "owned by it"),
                "%s/extra.lua: %s %s" % (extra, extra, runs % "world-writable"),
                "%s/more.lua: %s %s" % (extra, extra, runs % "world-writable")]
        for line in want:
            self.assertEqual(srv.log().count(line), 1, srv.log())
        self.assertEqual(srv.log().count("writable by the workers' user"), 3, srv.log())
        srv.kill(signal.SIGHUP)
        self.assertTrue(harness.wait_log(srv, "Generation 2 is ready"), srv.log())
        for line in want:
            self.assertEqual(srv.log().count(line), 2, srv.log())
        self.assertEqual(srv.log().count("writable by the workers' user"), 6, srv.log())

    @unittest.skipUnless(ROOT, NEEDS_ROOT)
    def test_idl_include_in_a_folder_of_the_workers_user_is_warned_of(self):
        """The arbiter parses the services' IDL as root, with the files it
        includes: an included file is checked as the IDL file is."""
        folder = readable_fixture()
        inc = owned_folder(self, NOBODY, 0o755, {"tcprivbase.thrift": "struct Extra { 1: i32 n }\n"})
        include_idl(folder, "tcprivbase.thrift")
        srv = harness.Server(service(folder) + 'include_dirs = { "%s" }\n' % inc
                             + 'user = "nobody"\nworkers = 1\n', start=False)
        self.addCleanup(srv.stop)
        os.chmod(srv.dir, 0o755)
        srv.start()
        self.call(srv.port)
        self.assertIn("%s/tcprivbase.thrift: %s is writable by the workers' user nobody (owned by "
                      "it): a worker could change what root reads" % (inc, inc), srv.log())
        self.assertEqual(srv.log().count("writable by the workers' user"), 1, srv.log())

    @unittest.skipUnless(ROOT, NEEDS_ROOT)
    def test_lua_files_and_includes_of_root_in_folders_of_root_are_not_warned_of(self):
        """A module the config requires and a file the IDL includes that are
        root's 0644, in root's 0755 folders: nothing to say. Once the module
        is world-writable, the next reload says so."""
        folder = readable_fixture()
        mods = owned_folder(self, 0, 0o755, {"tcprivmod.lua": "return { workers = 1 }\n"})
        include_idl(folder, "tcprivbase.thrift")
        with open(os.path.join(mods, "tcprivbase.thrift"), "w") as f:
            f.write("struct Extra { 1: i32 n }\n")
        os.chmod(os.path.join(mods, "tcprivbase.thrift"), 0o644)
        srv = harness.Server('package.path = "%s/?.lua;" .. package.path\n' % mods
                             + 'local m = require("tcprivmod")\n' + service(folder)
                             + 'include_dirs = { "%s" }\n' % mods
                             + 'user = "nobody"\nworkers = m.workers\n', start=False)
        self.addCleanup(srv.stop)
        os.chmod(srv.dir, 0o755)
        os.chmod(srv.config, 0o644)
        srv.start()
        self.call(srv.port)
        self.assertNotIn("writable by the workers' user", srv.log())
        module = os.path.join(mods, "tcprivmod.lua")
        os.chmod(module, 0o666)
        srv.kill(signal.SIGHUP)
        self.assertTrue(harness.wait_log(srv, "Generation 2 is ready"), srv.log())
        self.assertEqual(srv.log().count("writable by the workers' user"), 1, srv.log())
        self.assertIn("%s: %s is writable by the workers' user nobody (world-writable): a worker "
                      "could change what root runs" % (module, module), srv.log())

    def test_unix_socket_file_replaced_meanwhile_stays(self):
        """At its stop the arbiter removes its unix socket file, not a file
        that took its place meanwhile (another server's socket)."""
        folder = harness.tempdir("tc-priv-")
        path = os.path.join(folder, "s.sock")
        srv = harness.Server(service(FIXTURE), bind="unix:" + path)
        self.addCleanup(srv.stop)
        self.assertTrue(harness.wait_for(lambda: os.path.exists(path)), srv.log())
        os.unlink(path)
        other = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.addCleanup(other.close)
        other.bind(path)
        other.listen(1)
        self.assertEqual(srv.stop(), 0)
        self.assertTrue(os.path.lexists(path), "the other server's socket file was removed")
        self.assertTrue(stat.S_ISSOCK(os.lstat(path).st_mode))
        self.assertIn("Shutting down: Master", srv.log())


if __name__ == "__main__":
    unittest.main()

# SPDX-License-Identifier: Apache-2.0
"""The error log and the access log of a real server under load: every
line whole and written once, through many threads, workers and
connections, through logrotate's rename and SIGUSR1, and on a disk that
fills up (a small tmpfs, where the kernel writes a line in part); a reopen
that fails reported on stderr too; a FIFO as the access log, whose reader
the start does not end; access_log_buffer's lines, held and written
within access_log_flush, at a stop and before a reopen, whole."""

import collections
import fcntl
import os
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time
import unittest

from thrift.protocol import TBinaryProtocol
from thrift.Thrift import TApplicationException, TMessageType
from thrift.transport import TSocket, TTransport

import harness

F_SETPIPE_SZ = getattr(fcntl, "F_SETPIPE_SZ", 1031)

# Every warning written (client_warning_rate = 0): the loads below count them.
SERVICE = "client_warning_rate = 0\n" + harness.service(harness.SERVICE_FIXTURE)

# A line of each log, whole: its start, the unknown method's name (the
# warning has the first 256 bytes of a long one), its end; group 1 is the
# name, group 2 the call's id in it.
ACCESS_LINE = re.compile(r"\[\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{3} [+-]\d{4}\] 127\.0\.0\.1:\d+ "
                         r"TestService\.((m-\d+-\d+)-x*) UNKNOWN_METHOD \d+")
ERROR_LINE = re.compile(r"\[\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{3} [+-]\d{4}\] \[\d+\] "
                        r"\[(?:debug|info|warning|error|critical)\] .*")
WARNING = re.compile(r"Invalid method name: '((m-\d+-\d+)-x*)'$")


class UnknownMethodLoad:
    """Threads that call methods the service lacks, each name used once
    (m-THREAD-N- and up to `pad` x's): each call is one access log line and
    one warning in the error log, both naming it, so that a test can tell
    whether a line was lost, written twice or cut. Each thread uses a new
    connection every 100 calls. Bounded by `calls` per thread and
    `duration` seconds; stop() ends it sooner. Threads are numbered from
    `first`, for loads whose names must differ from an earlier one's."""

    def __init__(self, port, threads=6, calls=400, pad=900, duration=60.0, first=0):
        self.port = port
        self.calls = calls
        self.pad = pad
        self.deadline = time.monotonic() + duration
        self.names = []
        self.errors = []
        self.lock = threading.Lock()
        self._stop = threading.Event()
        self._threads = [threading.Thread(target=self._run, args=(first + k,), daemon=True)
                         for k in range(threads)]

    def start(self):
        for t in self._threads:
            t.start()
        return self

    def stop(self):
        self._stop.set()
        return self.join()

    def join(self):
        for t in self._threads:
            t.join(max(1.0, self.deadline - time.monotonic() + 10))
        return not any(t.is_alive() for t in self._threads)

    def wait_calls(self, n, timeout=20.0):
        return harness.wait_for(lambda: len(self.names) >= n, timeout)

    def _run(self, k):
        trans = None
        try:
            for i in range(self.calls):
                if self._stop.is_set() or time.monotonic() > self.deadline:
                    break
                if i % 100 == 0:
                    if trans is not None:
                        trans.close()
                    sock = TSocket.TSocket("127.0.0.1", self.port)
                    sock.setTimeout(10000)
                    trans = TTransport.TBufferedTransport(sock)
                    trans.open()
                    proto = TBinaryProtocol.TBinaryProtocol(trans)
                name = "m-%d-%d-" % (k, i) + "x" * ((i * 37) % (self.pad + 1))
                proto.writeMessageBegin(name, TMessageType.CALL, i)
                proto.writeStructBegin("args")
                proto.writeFieldStop()
                proto.writeStructEnd()
                proto.writeMessageEnd()
                trans.flush()
                _, mtype, seqid = proto.readMessageBegin()
                x = TApplicationException()
                x.read(proto)
                proto.readMessageEnd()
                if (mtype, seqid, x.type) != (TMessageType.EXCEPTION, i,
                                              TApplicationException.UNKNOWN_METHOD):
                    raise AssertionError("reply %r to %s: %r" % ((mtype, seqid), name, x))
                with self.lock:
                    self.names.append(name)
        except Exception as e:  # reported by the test
            with self.lock:
                self.errors.append(repr(e))
        finally:
            if trans is not None:
                trans.close()


def lines_of(paths):
    """The lines of the files `paths` (bytes), each without its newline; a
    file that does not end with a newline ends with a cut line, kept as
    the last one with a mark the line patterns cannot match."""
    lines = []
    for path in paths:
        with open(path, "rb") as f:
            data = f.read()
        lines += data.split(b"\n")[:-1]
        if not data.endswith(b"\n") and data:
            lines.append(b"(no newline) " + data.rsplit(b"\n", 1)[-1])
    return [line.decode("utf-8", "replace") for line in lines]


class LogLinesTest(harness.ServiceTest):
    def assert_each_once(self, names, lines, pattern, what):
        """Every line that names a call of the load names one of `names`
        (a warning at least its first 200 bytes), and each of `names` is
        named by exactly one line."""
        by_id = {name.rsplit("-", 1)[0]: name for name in names}
        seen = collections.Counter()
        for line in lines:
            m = pattern.search(line)
            if m:
                name = by_id.get(m.group(2), "")
                self.assertTrue(name == m.group(1) or pattern is WARNING
                                and name.startswith(m.group(1)) and len(m.group(1)) >= 200,
                                "%s: %s" % (what, line))
                seen[m.group(2)] += 1
        twice = [n for n, c in seen.items() if c > 1]
        missing = set(by_id) - set(seen)
        self.assertEqual((twice[:3], sorted(missing)[:3], len(seen)), ([], [], len(names)),
                         "%s: names written twice, missing, and how many" % what)

    def assert_whole(self, lines, *patterns):
        bad = [line for line in lines if not any(p.fullmatch(line) for p in patterns)]
        self.assertEqual(bad[:3], [], "%d lines are not whole log lines" % len(bad))

    def test_lines_are_whole_under_load(self):
        # Three workers of three threads, six connections at a time: the
        # access log ("-": standard output) and the error log (a file the
        # server opens) in one file, through two descriptors, lines of 60 to
        # 1000 bytes. Every line is whole, each call has its line and its
        # warning, once.
        srv = harness.Server(SERVICE + 'workers = 3\nthreads = 3\naccesslog = "-"\n')
        try:
            load = UnknownMethodLoad(srv.port).start()
            self.assertTrue(load.join(), "the load did not end")
            self.assertEqual(load.errors, [])
            self.assertEqual(len(load.names), 6 * 400)
            self.assertTrue(harness.wait_log(srv, "UNKNOWN_METHOD", count=len(load.names)),
                            srv.log()[-2000:])
        finally:
            srv.stop()
        lines = lines_of([srv.log_path])
        self.assert_whole(lines, ACCESS_LINE, ERROR_LINE)
        self.assert_each_once(load.names, lines, ACCESS_LINE, "access log")
        self.assert_each_once(load.names, lines, WARNING, "error log")

    def test_rotation_under_load_keeps_every_line_once(self):
        # logrotate's way, three times while the load runs: move both logs
        # away, then SIGUSR1. Each line is in exactly one of the files, none
        # lost, none twice, none cut.
        d = harness.tempdir("tc-logs-")
        access = os.path.join(d, "access.log")
        srv = harness.Server(SERVICE + 'workers = 3\nthreads = 2\naccesslog = "%s"\n' % access)
        try:
            load = UnknownMethodLoad(srv.port, calls=3000, pad=60).start()
            for r in range(1, 4):
                self.assertTrue(load.wait_calls(500 * r), load.errors)
                os.rename(access, "%s.%d" % (access, r))
                os.rename(srv.log_path, "%s.%d" % (srv.log_path, r))
                srv.kill(signal.SIGUSR1)
                # the arbiter creates the new files before it signals the
                # workers: wait for lines in them, a worker's reopen, not for
                # the files alone (the next 500 calls could all come first)
                self.assertTrue(harness.wait_for(
                    lambda: "m-" in harness.read_text(access)
                    and "m-" in harness.read_text(srv.log_path)), load.errors)
            self.assertTrue(load.wait_calls(500 * 4), load.errors)
            self.assertTrue(load.stop(), "the load did not end")
            self.assertEqual(load.errors, [])
            self.assertNotIn("Cannot reopen", srv.log())
        finally:
            srv.stop()
        for base, pattern in ((access, ACCESS_LINE), (srv.log_path, WARNING)):
            paths = [base] + ["%s.%d" % (base, r) for r in (1, 2, 3)]
            lines = lines_of(paths)
            self.assert_whole(lines, ACCESS_LINE, ERROR_LINE)
            self.assert_each_once(load.names, lines, pattern, base)
            for path in paths:
                self.assertIn("m-", harness.read_text(path), "%s got no line" % path)

    def test_usr1_opens_an_access_log_that_failed_at_boot(self):
        # The worker cannot open the access log (its folder is gone: removed
        # by post_fork here; a FIFO whose reader left does the same). It
        # serves on, and SIGUSR1 opens the log once it can be.
        d = harness.tempdir("tc-logs-")
        folder = os.path.join(d, "logs")
        os.mkdir(folder)
        access = os.path.join(folder, "access.log")
        hook = ('post_fork = function()\n  os.remove(%r)\n  os.remove(%r)\nend\n'
                % (access, folder))
        srv = harness.Server(SERVICE + 'workers = 1\naccesslog = "%s"\n' % access + hook)
        try:
            self.assertTrue(harness.wait_log(srv, "Cannot open the access log %s: no such file"
                                             % access), srv.log())
            self.call(srv.port)  # not logged: there is no log
            os.mkdir(folder)
            srv.kill(signal.SIGUSR1)
            (pid,) = srv.worker_pids()
            self.assertTrue(harness.wait_for(lambda: harness.holds_file(pid, access)), srv.log())
            self.call(srv.port)
            self.assertRegex(harness.read_text(access), r"^\[[^]]+\] 127\.0\.0\.1:\d+ "
                             r"TestService\.echo ok \d+\n$")
            self.assertNotIn("Cannot reopen", srv.log())
        finally:
            srv.stop()


class BufferedAccessLogTest(harness.ServiceTest):
    """access_log_buffer: each handler thread holds its lines and writes
    them in one go, within access_log_flush of the first, when the buffer
    is full, before SIGUSR1's reopen, and as the worker stops."""

    ECHO = re.compile(r"\[[^]]+\] 127\.0\.0\.1:\d+ TestService\.echo ok \d+")

    def echo_calls(self, port, n):
        c, trans = harness.client(self.S, port)
        try:
            for _ in range(n):
                self.assertEqual(c.echo("hi"), "hi")
        finally:
            trans.close()

    def access_lines(self, path):
        lines = harness.read_text(path).splitlines()
        self.assertEqual([line for line in lines if not self.ECHO.fullmatch(line)], [])
        return len(lines)

    def test_an_idle_server_writes_its_lines_within_the_interval(self):
        # One call, then nothing: its line waits for access_log_flush (2 s)
        # in the buffer, then the loop's timer writes it.
        access = os.path.join(harness.tempdir("tc-logs-"), "access.log")
        srv = harness.Server(SERVICE + 'workers = 1\naccesslog = "%s"\n' % access
                             + "access_log_buffer = 65536\naccess_log_flush = 2\n")
        try:
            before = time.monotonic()
            self.call(srv.port)
            after = time.monotonic()
            self.assertTrue(harness.wait_for(lambda: harness.read_text(access), timeout=10),
                            srv.log())
            at = time.monotonic()
            self.assertEqual(self.access_lines(access), 1)
            self.assertGreaterEqual(at - before, 2.0, "written before access_log_flush")
            self.assertLess(at - after, 2.0 + 1.5, "written long after access_log_flush")
        finally:
            srv.stop()

    def test_fewer_writes_than_lines(self):
        # One thread, one connection, 400 calls: each reply is a write(2);
        # the lines, about 60 bytes each, go out a buffer of 4096 at a time.
        # Unbuffered, each line is a write(2) of its own: two a call.
        access = os.path.join(harness.tempdir("tc-logs-"), "access.log")
        srv = harness.Server(SERVICE + 'workers = 1\nthreads = 1\naccesslog = "%s"\n' % access
                             + "access_log_buffer = 4096\naccess_log_flush = 3600\n")
        try:
            (pid,) = srv.worker_pids()

            def writes():
                m = re.search(r"^syscw: (\d+)$", harness.read_text("/proc/%d/io" % pid), re.M)
                return int(m.group(1))

            self.echo_calls(srv.port, 1)  # the thread's first call, and its first line
            first = writes()
            self.echo_calls(srv.port, 400)
            n = writes() - first
            self.assertGreater(self.access_lines(access), 0)  # some buffers filled
        finally:
            srv.stop()
        self.assertEqual(self.access_lines(access), 401)
        self.assertLess(n, 400 * 1.25, "%d writes for 400 calls" % n)

    def test_every_line_is_written_at_a_graceful_stop(self):
        # The lines wait (access_log_flush is an hour), then SIGTERM: the
        # worker writes them all as its threads end.
        access = os.path.join(harness.tempdir("tc-logs-"), "access.log")
        srv = harness.Server(SERVICE + 'workers = 1\nthreads = 2\naccesslog = "%s"\n' % access
                             + "access_log_buffer = 1048576\naccess_log_flush = 3600\n")
        try:
            for _ in range(5):
                self.echo_calls(srv.port, 20)
            self.assertEqual(self.access_lines(access), 0, "the lines were not held")
        finally:
            self.assertEqual(srv.stop(), 0)
        self.assertEqual(self.access_lines(access), 100)

    def test_lines_held_are_written_before_a_quick_stop_hook(self):
        # SIGINT, and a worker_int hook that runs past the 1 s after which
        # the arbiter kills the worker: the lines of the calls answered
        # before the signal are written first, not after the hook.
        access = os.path.join(harness.tempdir("tc-logs-"), "access.log")
        hook = ("worker_int = function() local t = os.clock() "
                "while os.clock() - t < 2 do end end\n")
        srv = harness.Server(SERVICE + 'workers = 1\nthreads = 2\naccesslog = "%s"\n' % access
                             + "access_log_buffer = 1048576\naccess_log_flush = 3600\n" + hook)
        try:
            for _ in range(3):
                self.echo_calls(srv.port, 10)
            self.assertEqual(self.access_lines(access), 0, "the lines were not held")
        finally:
            srv.stop(signal.SIGINT)
        self.assertIn("in its worker_int hook); killing it", srv.log())
        self.assertEqual(self.access_lines(access), 30)

    def test_usr1_writes_the_lines_held_to_the_old_file(self):
        # logrotate's rename, then SIGUSR1: the lines held go to the old
        # file before the worker reopens; those after it, to the new one.
        access = os.path.join(harness.tempdir("tc-logs-"), "access.log")
        srv = harness.Server(SERVICE + 'workers = 1\nthreads = 2\naccesslog = "%s"\n' % access
                             + "access_log_buffer = 1048576\naccess_log_flush = 3600\n")
        try:
            (pid,) = srv.worker_pids()
            self.echo_calls(srv.port, 30)
            self.assertEqual(self.access_lines(access), 0, "the lines were not held")
            os.rename(access, access + ".1")
            srv.kill(signal.SIGUSR1)
            self.assertTrue(harness.wait_for(lambda: harness.holds_file(pid, access)), srv.log())
            self.assertEqual(self.access_lines(access + ".1"), 30)
            self.echo_calls(srv.port, 7)
        finally:
            self.assertEqual(srv.stop(), 0)
        self.assertEqual(self.access_lines(access + ".1"), 30)
        self.assertEqual(self.access_lines(access), 7)
        self.assertNotIn("Cannot reopen", srv.log())

    def test_lines_are_whole_from_many_threads_to_a_fifo(self):
        # Two workers of three threads write 8 KiB buffers of lines of 60
        # to 1000 bytes to one FIFO whose pipe holds a page (4 KiB): PIPE_BUF
        # at a time, whole lines, so that the writes of the six threads
        # never cut into one another's (a longer write to a full pipe goes
        # in as room comes, between the others').
        d = harness.tempdir("tc-logs-")
        fifo = os.path.join(d, "access.fifo")
        os.mkfifo(fifo)
        rfd = os.open(fifo, os.O_RDONLY | os.O_NONBLOCK)
        self.addCleanup(os.close, rfd)
        fcntl.fcntl(rfd, F_SETPIPE_SZ, 4096)
        os.set_blocking(rfd, True)
        chunks = []

        def read_all():
            while True:
                data = os.read(rfd, 65536)
                if not data:
                    return
                chunks.append(data)

        srv = harness.Server(SERVICE + 'workers = 2\nthreads = 3\naccesslog = "%s"\n' % fifo
                             + "access_log_buffer = 8192\naccess_log_flush = 0.2\n")
        reader = threading.Thread(target=read_all, daemon=True)
        reader.start()  # (with a writer: the arbiter holds the FIFO open)
        try:
            load = UnknownMethodLoad(srv.port).start()
            self.assertTrue(load.join(), "the load did not end")
            self.assertEqual(load.errors, [])
            self.assertEqual(len(load.names), 6 * 400)
        finally:
            self.assertEqual(srv.stop(), 0)
        reader.join(10)
        self.assertFalse(reader.is_alive(), "the FIFO did not end with the server")
        lines = [line.decode("utf-8", "replace") for line in b"".join(chunks).split(b"\n")]
        self.assertEqual(lines[-1], "")
        LogLinesTest.assert_whole(self, lines[:-1], ACCESS_LINE)
        LogLinesTest.assert_each_once(self, load.names, lines[:-1], ACCESS_LINE, "access log")


class ReopenFailureTest(harness.ServiceTest):
    def test_a_failed_reopen_is_reported_on_stderr_too(self):
        # The error log's folder is moved away, then SIGUSR1: the path cannot
        # be reopened. The arbiter and the worker say so in the file they
        # keep, which the operator no longer reads, and on their stderr (a
        # file apart here, as a terminal or the journal would be). Once a
        # reopen works, stderr gets no more lines.
        d = tempfile.mkdtemp(prefix="tc-logs-")
        self.addCleanup(shutil.rmtree, d, True)
        folder = os.path.join(d, "logs")
        os.mkdir(folder)
        errorlog = os.path.join(folder, "error.log")
        stderr = os.path.join(d, "stderr")

        def stderr_apart():
            fd = os.open(stderr, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
            os.dup2(fd, 2)
            os.close(fd)
        srv = harness.Server(SERVICE + 'workers = 1\nerrorlog = "%s"\n' % errorlog,
                             errorlog_flag=False, start=False, preexec_fn=stderr_apart)
        srv.log_path = errorlog  # the config's; the server's stdout goes there too
        srv.start()
        try:
            (worker,) = srv.worker_pids()
            os.rename(folder, folder + ".1")
            srv.kill(signal.SIGUSR1)
            report = "Cannot reopen the error log %s: no such file or directory" % errorlog
            old = os.path.join(folder + ".1", "error.log")
            for path in (old, stderr):
                self.assertTrue(harness.wait_for(lambda: harness.read_text(path).count(report)
                                                 == 2), harness.read_text(path))
                for pid in (srv.proc.pid, worker):
                    self.assertIn("[%d] [error] %s\n" % (pid, report), harness.read_text(path))
            os.mkdir(folder)
            srv.kill(signal.SIGUSR1)
            for pid in (srv.proc.pid, worker):
                self.assertTrue(harness.wait_for(lambda: harness.holds_file(pid, errorlog)))
            os.kill(worker, signal.SIGKILL)  # an error the arbiter logs
            killed = "Worker (pid:%d) was sent SIGKILL!" % worker
            self.assertTrue(harness.wait_log(srv, killed), srv.log())
            self.assertTrue(harness.wait_log(srv, "Booting worker"), srv.log())
            self.call(srv.port)
            self.assertNotIn("Cannot reopen", srv.log())
        finally:
            srv.stop()
        err = harness.read_text(stderr)
        self.assertEqual(err.count(report), 2, err)
        self.assertNotIn(killed, err)
        self.assertNotIn("Handling signal", err)  # an info line, not an error
        self.assertNotIn("Sanitizer", err)


class FifoAccessLogTest(harness.ServiceTest):
    def test_a_fifo_reader_keeps_reading_after_the_start(self):
        # `cat FIFO` reads the access log. The start's check that the log
        # opens, a worker's death and a reload do not end its input (the
        # check used to open the FIFO and close it again, and cat ended
        # there, before any worker wrote). It ends when the server stops.
        d = tempfile.mkdtemp(prefix="tc-logs-")
        self.addCleanup(shutil.rmtree, d, True)
        fifo = os.path.join(d, "access.fifo")
        os.mkfifo(fifo)
        reader = subprocess.Popen(["cat", fifo], stdout=subprocess.PIPE)
        self.addCleanup(reader.stdout.close)
        self.addCleanup(lambda: reader.poll() is None and (reader.kill(), reader.wait()))
        # opening, until a writer comes (the server's check is the first)
        harness.wait_for(lambda: harness.read_text("/proc/%d/wchan" % reader.pid)
                         == "wait_for_partner", timeout=5)
        lines = []
        threading.Thread(target=lambda: lines.extend(iter(reader.stdout.readline, b"")),
                         daemon=True).start()
        echo = re.compile(rb"^\[[^]]+\] 127\.0\.0\.1:\d+ TestService\.echo ok \d+\n$")
        srv = harness.Server(SERVICE + 'workers = 1\naccesslog = "%s"\n' % fifo)
        try:
            self.call(srv.port)
            self.assertTrue(harness.wait_for(lambda: len(lines) == 1), (lines, srv.log()))
            (worker,) = srv.worker_pids()
            os.kill(worker, signal.SIGKILL)
            self.assertTrue(harness.wait_for(lambda: [p for p in srv.worker_pids() if p != worker
                                                      and harness.holds_file(p, fifo)]),
                            srv.log())
            self.call(srv.port)
            self.assertTrue(harness.wait_for(lambda: len(lines) == 2), (lines, srv.log()))
            srv.kill(signal.SIGHUP)
            self.assertTrue(harness.wait_log(srv, "Generation 2 is ready"), srv.log())
            self.call(srv.port)
            self.assertTrue(harness.wait_for(lambda: len(lines) == 3), (lines, srv.log()))
            self.assertIsNone(reader.poll())
            self.assertNotIn("Cannot open the access log", srv.log())
        finally:
            srv.stop()
        self.assertEqual(reader.wait(10), 0)  # the last writer closed it
        self.assertEqual([bool(echo.match(line)) for line in lines], [True] * 3, lines)


class FileSizeLimitTest(harness.ServiceTest):
    def test_logs_over_the_file_size_limit_lose_lines_not_processes(self):
        # Under a file size limit (ulimit -f) a write past it raises SIGXFSZ,
        # whose default ends the process: the server ignores it, so the
        # write fails (EFBIG), the line is lost, and the server serves on.
        import resource

        def limit():
            resource.setrlimit(resource.RLIMIT_FSIZE, (64 * 1024, 64 * 1024))
        access = os.path.join(harness.tempdir("tc-logs-"), "access.log")
        srv = harness.Server(SERVICE + 'workers = 1\nthreads = 2\naccesslog = "%s"\n' % access,
                             preexec_fn=limit)
        try:
            pids = srv.worker_pids()
            # about 200 KiB of access lines (and as much of warnings) for 64 KiB
            load = UnknownMethodLoad(srv.port, threads=2, calls=120, pad=800).start()
            self.assertTrue(load.join(), "the load did not end")
            self.assertEqual(load.errors, [])
            self.call(srv.port)
            self.assertIsNone(srv.proc.poll(), "the arbiter ended")
            self.assertEqual(srv.worker_pids(), pids, "the worker ended")
            self.assertLessEqual(os.path.getsize(access), 64 * 1024)
            lines = lines_of([access])
            self.assertTrue(lines)
            echo = re.compile(r"\[[^]]+\] 127\.0\.0\.1:\d+ TestService\.echo ok \d+")
            LogLinesTest.assert_whole(self, lines, ACCESS_LINE, echo)  # the call above may fit
        finally:
            srv.stop()


class FullDiskTest(unittest.TestCase):
    """A disk that fills while the logs are written, on a tmpfs of 128 KiB:
    the kernel writes what fits of a line; no cut line stays for the next
    one to join, and the error log counts the access log's lost lines once
    there is room again."""

    def setUp(self):
        if os.geteuid() != 0:
            self.skipTest("needs root to mount a small tmpfs for a full disk")
        self.dir = harness.tempdir("tc-full-")
        out = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=128k,mode=0755", "tmpfs",
                              self.dir], capture_output=True, text=True)
        if out.returncode != 0:
            self.skipTest("cannot mount a tmpfs here: " + out.stderr.strip())
        self.addCleanup(lambda: subprocess.run(["umount", "-l", self.dir]))

    def test_no_cut_line_on_a_full_disk(self):
        access = os.path.join(self.dir, "access.log")
        errorlog = os.path.join(self.dir, "error.log")
        filler = os.path.join(self.dir, "filler")
        with open(filler, "wb") as f:
            f.write(b"f" * 64 * 1024)  # room again once it is removed
        srv = harness.Server(SERVICE + 'workers = 2\nthreads = 2\naccesslog = "%s"\n'
                             'errorlog = "%s"\n' % (access, errorlog),
                             errorlog_flag=False, start=False)
        srv.log_path = errorlog  # the config's; the server's stderr goes there too
        srv.start()
        try:
            # about 120 KiB of lines for 64 KiB of room
            load = UnknownMethodLoad(srv.port, threads=4, calls=80, pad=700).start()
            self.assertTrue(load.join(), "the load did not end")
            self.assertEqual(load.errors, [])
            self.assertEqual(shutil.disk_usage(self.dir).free, 0)
            os.unlink(filler)
            # Each worker counts its own lost lines and says it writes again
            # at its first line that fits: calls until one that lost lines
            # has one (the listener is shared; which worker accepts is the
            # kernel's choice), at most 20 rounds of 2 connections.
            after_names = []
            for r in range(20):
                after = UnknownMethodLoad(srv.port, threads=2, calls=10, pad=0,
                                          first=100 + 2 * r).start()
                self.assertTrue(after.join(), "the load did not end")
                self.assertEqual(after.errors, [])
                after_names += after.names
                if harness.wait_log(srv, "is written again;", timeout=0.5):
                    break
            self.assertTrue(harness.wait_log(srv, "is written again;"), srv.log()[-2000:])
        finally:
            srv.stop()
        for path in (access, errorlog):
            lines = lines_of([path])
            self.assert_whole(lines, ACCESS_LINE, ERROR_LINE)
            self.assertTrue(lines)
        names = [ACCESS_LINE.fullmatch(line).group(1) for line in lines_of([access])]
        self.assertLess(len(names), len(load.names) + len(after_names))  # the disk was full
        self.assertTrue(set(after_names) <= set(names), "a call after the room came back is lost")
        m = re.search(r"The access log \S+ is written again; (\d+) lines? lost before",
                      harness.read_text(errorlog))
        self.assertIsNotNone(m)
        self.assertGreater(int(m.group(1)), 0)

    assert_whole = LogLinesTest.assert_whole


class LostLinesTest(harness.ServiceTest):
    """An access log that takes no line (/dev/full): the error log counts
    every line lost by the time the worker ends, however it ends, not only
    the first one (the others were counted, then forgotten with the
    process)."""

    LOST = re.compile(r"\[error\] Cannot write the access log /dev/full: no space left on device; "
                      r"(\d+) lines? lost")

    def check_stop(self, sig):
        srv = harness.Server(SERVICE + 'workers = 1\nthreads = 2\naccesslog = "/dev/full"\n')
        try:
            c, trans = harness.client(self.S, srv.port)
            try:
                for i in range(5):
                    self.assertEqual(c.echo("hi"), "hi")
            finally:
                trans.close()
            self.assertTrue(harness.wait_log(srv, "Cannot write the access log"), srv.log())
        finally:
            self.assertIsNotNone(srv.stop(sig))
        counts = [int(n) for n in self.LOST.findall(srv.log())]
        self.assertEqual(sum(counts), 5, srv.log()[-3000:])
        self.assertEqual(counts[0], 1, "the first loss is told at once")

    def test_lines_lost_are_counted_at_a_graceful_stop(self):
        self.check_stop(signal.SIGTERM)

    def test_lines_lost_are_counted_at_a_quick_stop(self):
        self.check_stop(signal.SIGINT)


class IdlWarningTest(unittest.TestCase):
    """The IDL loader's warnings are error log lines of level warning as
    any other: in the config's errorlog (not on stderr, before the log was
    opened), once per load of the config (not once more by a reload's
    check), and not at all below loglevel warning."""

    IDL = "service S {\n  string echo(string s),\n}\n"  # a field without an id
    WARNING = re.compile(r"\[warning\] IDL warning: \S+/svc\.thrift:2:\d+: field 's' has no id")

    def serve(self, level):
        d = harness.tempdir("tc-logs-")
        with open(os.path.join(d, "svc.thrift"), "w") as f:
            f.write(self.IDL)
        with open(os.path.join(d, "handler.lua"), "w") as f:
            f.write("return { echo = function(s) return s end }\n")
        errorlog = os.path.join(d, "error.log")
        cfg = os.path.join(d, "thriftcorn.lua")
        with open(cfg, "w") as f:
            f.write('bind = "127.0.0.1:0"\nworkers = 1\nerrorlog = "%s"\nloglevel = "%s"\n'
                    'service = { idl = "%s/svc.thrift", name = "S", handler = "%s/handler.lua" }\n'
                    % (errorlog, level, d, d))
        stderr = open(os.path.join(d, "stderr"), "w+")
        self.addCleanup(stderr.close)
        proc = subprocess.Popen([harness.BIN, cfg], stdout=stderr, stderr=stderr)

        def stop():
            if proc.poll() is None:
                proc.terminate()
                proc.wait(30)
        self.addCleanup(stop)
        return proc, errorlog, stderr

    def warnings(self, path):
        return len(self.WARNING.findall(harness.read_text(path)))

    def test_in_the_error_log_once_per_load(self):
        proc, errorlog, stderr = self.serve("warning")
        # a worker forked: the arbiter takes signals (a SIGHUP before would end it)
        self.assertTrue(harness.wait_for(lambda: harness.children(proc.pid)
                                         or proc.poll() is not None, 15))
        self.assertIsNone(proc.poll(), harness.read_text(stderr.name))
        self.assertEqual(self.warnings(errorlog), 1, harness.read_text(stderr.name))
        proc.send_signal(signal.SIGHUP)
        self.assertTrue(harness.wait_for(lambda: self.warnings(errorlog) >= 2, 15),
                        harness.read_text(errorlog))
        proc.terminate()
        proc.wait(30)
        self.assertEqual(self.warnings(errorlog), 2, harness.read_text(errorlog))
        self.assertNotIn("IDL warning", harness.read_text(stderr.name))

    def test_not_below_the_loglevel(self):
        proc, errorlog, stderr = self.serve("error")
        # the workers' pids in the arbiter's /proc: it started, and logged nothing
        self.assertTrue(harness.wait_for(lambda: harness.children(proc.pid)
                                         or proc.poll() is not None, 15))
        self.assertIsNone(proc.poll(), harness.read_text(stderr.name))
        proc.terminate()
        self.assertEqual(proc.wait(30), 0)
        self.assertEqual(harness.read_text(errorlog), "")
        self.assertEqual(harness.read_text(stderr.name), "")


if __name__ == "__main__":
    unittest.main(verbosity=2)

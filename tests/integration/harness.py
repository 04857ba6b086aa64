# SPDX-License-Identifier: Apache-2.0
"""Shared helpers for the integration tests: start the real thriftcorn binary
on 127.0.0.1:0 with a config written to a temporary folder, find its port in
the log, generate Apache Thrift Python code with thrift-compiler, make
clients, and watch the server's processes and connections from /proc, so
that a test waits for the state it needs instead of sleeping. Every wait is
bounded."""

import atexit
import ctypes
import importlib
import os
import re
import shutil
import signal
import socket
import stat
import subprocess
import sys
import tempfile
import threading
import time
import unittest

from thrift.protocol import TBinaryProtocol, TCompactProtocol, THeaderProtocol, TMultiplexedProtocol
from thrift.transport import THeaderTransport, TSocket, TTransport

SOURCE_DIR = os.environ.get(
    "TC_SOURCE_DIR", os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..")))
BIN = os.environ.get("THRIFTCORN_BIN", os.path.join(SOURCE_DIR, "build", "thriftcorn"))
THRIFT = shutil.which("thrift") or "/usr/bin/thrift"

TRANSPORTS = ("buffered", "framed")
PROTOCOLS = ("binary", "compact")

# The folders tempdir() made, removed when the test process exits; with
# TC_KEEP_TMP=1 in the environment they stay, and their names go to stderr.
_tempdirs = []
_tempdirs_lock = threading.Lock()


def tempdir(prefix):
    """A new temporary folder named from `prefix`, removed with everything in
    it when this test process exits, not before: a test may read a stopped
    server's log, and a server left running keeps its files to the end.
    Returns its path."""
    d = tempfile.mkdtemp(prefix=prefix)
    with _tempdirs_lock:
        _tempdirs.append(d)
    return d


def _make_removable(path):
    """Give the owner rwx on every folder under `path` (a test may have left
    one read-only or unsearchable), so that a process that is not root can
    empty it. Symbolic links are not followed."""
    try:
        st = os.lstat(path)
    except OSError:
        return
    if not stat.S_ISDIR(st.st_mode):
        return
    if st.st_mode & 0o700 != 0o700:
        try:
            os.chmod(path, stat.S_IMODE(st.st_mode) | 0o700)
        except OSError:
            pass  # another user's folder: root removes it anyway, others cannot
    try:
        names = os.listdir(path)
    except OSError:
        return
    for name in names:
        _make_removable(os.path.join(path, name))


def _remove_tempdirs(owner):
    """The atexit handler of tempdir(), in the process that registered it
    only: a child forked by a test that ends through sys.exit() must not take
    its parent's folders."""
    if os.getpid() != owner:
        return
    with _tempdirs_lock:
        dirs = list(_tempdirs)
        _tempdirs.clear()
    if os.environ.get("TC_KEEP_TMP", "") not in ("", "0"):
        if dirs:
            sys.stderr.write("TC_KEEP_TMP: kept %s\n" % " ".join(dirs))
        return
    for d in dirs:
        shutil.rmtree(d, ignore_errors=True)
        if os.path.lexists(d):
            _make_removable(d)
            shutil.rmtree(d, ignore_errors=True)


atexit.register(_remove_tempdirs, os.getpid())

_generated = {}


def gen_py(idl):
    """Generate Python code for `idl` (and its includes) once per process and
    put it on sys.path. Returns the folder."""
    idl = os.path.abspath(idl)
    if idl not in _generated:
        out = tempdir("tc-gen-py-")
        subprocess.run([THRIFT, "-r", "--gen", "py", "-out", out, idl], check=True)
        sys.path.insert(0, out)
        _generated[idl] = out
    return _generated[idl]


def load_gen(module):
    return importlib.import_module(module)


class Server:
    """A thriftcorn process. `settings` is the config file's text, without
    `bind`; files maps names to contents written beside the config.
    `preexec_fn` runs in the server's process before it execs (a resource
    limit, say). The log is `--errorlog`'s file, or with `errorlog_flag`
    False the server's standard error, the same file, leaving the config's
    `errorlog` setting in force."""

    def __init__(self, settings, files=None, args=(), env=None, start=True, bind="127.0.0.1:0",
                 preexec_fn=None, errorlog_flag=True):
        self.dir = tempdir("tc-it-")
        self.log_path = os.path.join(self.dir, "thriftcorn.log")
        for name, text in (files or {}).items():
            path = os.path.join(self.dir, name)
            os.makedirs(os.path.dirname(path), exist_ok=True)
            with open(path, "w") as f:
                f.write(text)
        self.config = os.path.join(self.dir, "thriftcorn.lua")
        with open(self.config, "w") as f:
            f.write('bind = "%s"\n' % bind)
            f.write(settings)
        self.args = list(args)
        self.env = dict(os.environ, **(env or {}))
        self.preexec_fn = preexec_fn
        self.errorlog_flag = errorlog_flag
        self.proc = None
        self.port = None
        self.tcp = bind.startswith("127.0.0.1:")
        if start:
            self.start()

    def start(self, timeout=15.0):
        self._log = open(self.log_path, "ab")
        self.proc = subprocess.Popen(
            [BIN, self.config] + (["--errorlog", self.log_path] if self.errorlog_flag else [])
            + self.args,
            stdout=self._log, stderr=subprocess.STDOUT, env=self.env, preexec_fn=self.preexec_fn)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            m = re.search(r"Listening at: 127\.0\.0\.1:(\d+)", self.log())
            if not self.tcp and "Booting worker" in self.log():
                return self
            if m and "Booting worker" in self.log():
                self.port = int(m.group(1))
                if self.wait_ready(deadline):
                    return self
            if self.proc.poll() is not None:
                raise RuntimeError("thriftcorn exited with %s:\n%s" % (self.proc.returncode,
                                                                       self.log()))
            time.sleep(0.05)
        self.stop()
        raise RuntimeError("thriftcorn did not start within %ss:\n%s" % (timeout, self.log()))

    def wait_ready(self, deadline):
        """Connectable: the kernel backlog holds connections until a worker
        accepts. False at `deadline`, or at once when the process has exited
        (its socket is gone: waiting would only use up the time)."""
        while time.monotonic() < deadline and self.proc.poll() is None:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
                return True
            except OSError:
                time.sleep(0.05)
        return False

    def log(self):
        return read_text(self.log_path)

    def worker_pids(self):
        """Child processes of the arbiter."""
        return children(self.proc.pid)

    def kill(self, sig):
        self.proc.send_signal(sig)

    def stop(self, sig=signal.SIGTERM, timeout=35.0):
        if self.proc is None or self.proc.poll() is not None:
            if self.proc is not None:
                self._log.close()
            self.check_sanitizers()
            return self.proc.returncode if self.proc else None
        self.proc.send_signal(sig)
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(5)
            raise
        finally:
            self._log.close()
            self.check_sanitizers()

    def check_sanitizers(self):
        """A sanitizer report in any process of the server fails the test,
        even when the arbiter replaced the worker and the calls went on."""
        log = self.log()
        # (a crash that races its process's exit may print only the first line
        # of its report, AddressSanitizer:DEADLYSIGNAL)
        for mark in ("ERROR: AddressSanitizer", "AddressSanitizer:DEADLYSIGNAL", "runtime error:",
                     "ERROR: LeakSanitizer", "WARNING: ThreadSanitizer", "ERROR: ThreadSanitizer"):
            if mark in log:
                raise AssertionError("sanitizer report in the server log:\n" + log)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stop()
        return False


def client(module, port, transport="buffered", protocol="binary", timeout=10.0, service=None):
    """An Apache Thrift Python client of `module` (a generated service module)
    and its open transport. `transport` is buffered, framed or header (then
    the returned transport is the THeaderTransport: set_header(),
    get_headers(), add_transform()); `service` multiplexes the calls as that
    service (TMultiplexedProtocol). The transport's `tsocket` is its TSocket
    (see local_port())."""
    sock = TSocket.TSocket("127.0.0.1", port)
    sock.setTimeout(timeout * 1000)
    if transport == "header":
        pid = (THeaderTransport.THeaderSubprotocolID.COMPACT if protocol == "compact"
               else THeaderTransport.THeaderSubprotocolID.BINARY)
        proto = THeaderProtocol.THeaderProtocol(
            sock, [THeaderTransport.THeaderClientType.HEADERS], default_protocol=pid)
        trans = proto.trans
    else:
        trans = (TTransport.TFramedTransport(sock) if transport == "framed"
                 else TTransport.TBufferedTransport(sock))
        proto = (TCompactProtocol.TCompactProtocol(trans) if protocol == "compact"
                 else TBinaryProtocol.TBinaryProtocol(trans))
    trans.open()
    trans.tsocket = sock
    if service is not None:
        proto = TMultiplexedProtocol.TMultiplexedProtocol(proto, service)
    return module.Client(proto), trans


def raw_call(port, payload, read=True, timeout=5.0):
    """Send raw bytes on a new connection; return what comes back until the
    peer closes or `timeout` passes."""
    s = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    try:
        s.sendall(payload)
        if not read:
            return b""
        chunks = []
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                data = s.recv(65536)
            except socket.timeout:
                break
            if not data:
                break
            chunks.append(data)
        return b"".join(chunks)
    finally:
        s.close()


def read_frame(sock):
    """One framed message from `sock` (a socket with a timeout, which bounds
    each read): its 4-byte big-endian length and that many bytes, returned
    together; no byte past it is read. EOFError if the peer closes first."""
    def exactly(n, got):
        while len(got) < n:
            more = sock.recv(min(n - len(got), 65536))
            if not more:
                raise EOFError("closed after %r" % got)
            got += more
        return got
    head = exactly(4, b"")
    return exactly(4 + int.from_bytes(head, "big"), head)


def free_port():
    """A TCP port of 127.0.0.1 that was free a moment ago: nothing listens
    there (another process may still take it before the caller does)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# ---- the test service of tests/fixtures/server ----

SERVICE_FIXTURE = os.path.join(SOURCE_DIR, "tests", "fixtures", "server")


def service(folder):
    """The config line of TestService, whose svc.thrift and handler.lua are
    in `folder`."""
    return ('service = { idl = "%s/svc.thrift", name = "TestService", handler = "%s/handler.lua" }\n'
            % (folder, folder))


def readable_service(prefix):
    """A copy of the test service in a new folder (named from `prefix`) that
    every user may read and only its owner write: workers that run as nobody
    load it, removed when the test process exits. Returns the folder."""
    d = tempdir(prefix)
    os.chmod(d, 0o755)
    for name in ("svc.thrift", "handler.lua"):
        shutil.copy(os.path.join(SERVICE_FIXTURE, name), d)
        os.chmod(os.path.join(d, name), 0o644)
    return d


def slow_handler(folder):
    """Make the handler.lua in `folder` load for 30 s once a file 'slow'
    exists beside it, so that a test can catch a reload's check while it
    loads. Returns the path of that file, which the test creates."""
    handler = os.path.join(folder, "handler.lua")
    with open(handler) as f:
        text = f.read()
    with open(handler, "w") as f:
        f.write('if io.open("%s/slow") then local t = os.time() '
                'while os.time() - t < 30 do end end\n' % folder + text)
    return os.path.join(folder, "slow")


def reload_check(srv, unprivileged=False):
    """The pid of a reload's check that runs now (a child of the arbiter
    whose title says so), or None; with `unprivileged`, only one that no
    longer runs as root."""
    for pid in srv.worker_pids():
        if "reload check" in process_title(pid):
            try:
                if not unprivileged or os.stat("/proc/%d" % pid).st_uid != 0:
                    return pid
            except OSError:
                pass  # it ended meanwhile
    return None


class ServiceTest(unittest.TestCase):
    """A base for tests of the test service: its generated client module
    in `S`, and call()."""

    @classmethod
    def setUpClass(cls):
        gen_py(os.path.join(SERVICE_FIXTURE, "svc.thrift"))
        cls.S = load_gen("svc.TestService")

    def call(self, port):
        """One echo() on a new connection, answered with its argument."""
        c, trans = client(self.S, port)
        try:
            self.assertEqual(c.echo("hi"), "hi")
        finally:
            trans.close()


PR_SET_CHILD_SUBREAPER = 36  # <linux/prctl.h>


class SubreaperServiceTest(ServiceTest):
    """A ServiceTest whose test process is the subreaper of the processes
    it starts: an arbiter that outlives its parent (the new one of an
    upgrade, a daemon) becomes a child of the tests, which wait for it and
    read its exit status rather than leave it to init."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        libc = ctypes.CDLL(None, use_errno=True)
        if libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) != 0:
            err = ctypes.get_errno()
            raise OSError(err, "prctl(PR_SET_CHILD_SUBREAPER): %s" % os.strerror(err))


# ---- process management helpers (test_process.py, test_reload.py, ...) ----

def read_text(path):
    """The text of a file a test waits for, "" while it does not exist."""
    try:
        with open(path, "rb") as f:
            return f.read().decode("utf-8", "replace")
    except FileNotFoundError:
        return ""


def asan_env():
    """ASan keeps freed memory in a quarantine (256 MB by default), which
    looks like growth; a small one keeps RSS meaningful. Without ASan the
    variable is ignored."""
    opts = os.environ.get("ASAN_OPTIONS", "")
    return {"ASAN_OPTIONS": (opts + ":" if opts else "") + "quarantine_size_mb=4"}


def rss_kib(pid):
    """A process's resident memory, in KiB."""
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise AssertionError("no VmRSS for %d" % pid)


def listen_backlog(port):
    """The backlog of the TCP socket listening at `port`: `ss` shows it as
    a listening socket's Send-Q."""
    out = subprocess.run(["ss", "-ltnH", "sport = :%d" % port],
                         capture_output=True, text=True, check=True).stdout
    fields = out.split()
    if len(fields) < 3 or fields[0] != "LISTEN":
        raise AssertionError("no socket listening at port %d: %r" % (port, out))
    return int(fields[2])


def listen_inode(port):
    """The inode of the socket listening at 127.0.0.1:`port` (/proc/net/tcp),
    or None: the same one before and after a reload is a socket kept open,
    not bound again."""
    local = "0100007F:%04X" % port
    with open("/proc/net/tcp") as f:
        next(f)
        for line in f:
            p = line.split()
            if p[1] == local and int(p[3], 16) == 0x0A:  # TCP_LISTEN
                return int(p[9])
    return None


def listening_ports(log_text, pid=None):
    """The ports of the `Listening at: 127.0.0.1:PORT (PID)` lines of a
    log, in order; of arbiter `pid`'s lines alone if given."""
    return [int(port) for port, who in
            re.findall(r"Listening at: 127\.0\.0\.1:(\d+) \((\d+)\)", log_text)
            if pid is None or int(who) == pid]


def wait_for(predicate, timeout=10.0, interval=0.05):
    """Poll `predicate` until it returns a true value or `timeout` passes;
    returns its last value."""
    deadline = time.monotonic() + timeout
    value = predicate()
    while not value and time.monotonic() < deadline:
        time.sleep(interval)
        value = predicate()
    return value


def wait_log(srv, text, timeout=10.0, count=1):
    """Wait until `text` appears `count` times in the server's log."""
    return wait_for(lambda: srv.log().count(text) >= count, timeout)


def process_title(pid):
    """The command line ps shows for `pid` (its process title)."""
    try:
        with open("/proc/%d/cmdline" % pid, "rb") as f:
            return f.read().replace(b"\0", b" ").decode("utf-8", "replace").strip()
    except OSError:
        return ""


def pid_alive(pid):
    """True while `pid` exists and is not a zombie."""
    try:
        with open("/proc/%d/stat" % pid) as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def children(pid):
    """The pids of the child processes of `pid`."""
    out = subprocess.run(["ps", "-o", "pid=", "--ppid", str(pid)],
                         capture_output=True, text=True).stdout
    return [int(x) for x in out.split()]


def keep_reply(recv, trans, out):
    """A started thread that waits for the reply of a call already sent,
    calling `recv` (a client's recv_* method), keeps it in `out` (or the
    repr of what it raised, for the test's assertion), then closes `trans`."""
    def run():
        try:
            out.append(recv())
        except Exception as e:  # reported by the test's assertion
            out.append(repr(e))
        finally:
            trans.close()
    t = threading.Thread(target=run, daemon=True)
    t.start()
    return t


def read_to_end(sock, size=1 << 20):
    """Every byte `sock` receives until the end of the stream (a reset
    raises)."""
    data = b""
    while True:
        chunk = sock.recv(size)
        if not chunk:
            return data
        data += chunk


def holds(pid, target):
    """True if a descriptor of `pid` links to `target` in /proc (a path, or
    "socket:[INODE]")."""
    try:
        fds = os.listdir("/proc/%d/fd" % pid)
    except OSError:
        return False
    for fd in fds:
        try:
            if os.readlink("/proc/%d/fd/%s" % (pid, fd)) == target:
                return True
        except OSError:
            pass  # closed meanwhile
    return False


def holds_file(pid, path):
    """True if `pid` has the file `path` open (as the name it has now)."""
    return holds(pid, os.path.realpath(path))


# ---- a connection seen from outside: /proc/net/tcp ----
#
# What a test must wait for before it signals the server is often a state of
# one connection: a worker accepted it, or read the call sent on it. The
# kernel shows both for loopback IPv4 connections, without touching the
# server: a server end still in the listen backlog belongs to no file
# (inode 0), and its receive queue holds the bytes no worker read yet.

_TCP_CLOSE_WAIT = 0x08
_TCP_OVER = (0x06, 0x07)  # TIME_WAIT, CLOSE: left by an earlier connection


def local_port(conn):
    """The client's port of `conn`: a socket, or a transport client() opened."""
    tsocket = getattr(conn, "tsocket", None)
    return (tsocket.handle if tsocket is not None else conn).getsockname()[1]


def tcp_ends(srv, conn):
    """Both ends of the connection from `conn` (see local_port()) to `srv` on
    127.0.0.1: {"client": end, "server": end}, each None when the kernel has
    no such socket, else a dict with 'state' (the kernel's TCP state number),
    'unacked' (bytes sent and not yet acknowledged), 'unread' (bytes
    received and not yet read by the process) and 'inode' (0 for a server
    end no worker accepted yet)."""
    me = "0100007F:%04X" % local_port(conn)
    server = "0100007F:%04X" % srv.port
    ends = {"client": None, "server": None}
    with open("/proc/net/tcp") as f:
        next(f)
        for line in f:
            p = line.split()
            state = int(p[3], 16)
            if state in _TCP_OVER:
                continue
            tx, rx = (int(x, 16) for x in p[4].split(":"))
            end = {"state": state, "unacked": tx, "unread": rx, "inode": int(p[9])}
            if (p[1], p[2]) == (me, server):
                ends["client"] = end
            elif (p[1], p[2]) == (server, me):
                ends["server"] = end
    return ends


def wait_accepted(srv, conn, timeout=10.0):
    """Wait until a worker of `srv` has accepted the connection of `conn`."""
    def accepted():
        end = tcp_ends(srv, conn)["server"]
        return end is not None and end["inode"] != 0
    return wait_for(accepted, timeout)


def wait_read(srv, conn, left=0, timeout=10.0):
    """Wait until a worker of `srv` has accepted the connection of `conn` and
    read all but at most `left` bytes of what the client wrote on it so far.
    With left=0 and a call sent whole, the worker has the call: it runs it
    before its loop does anything else."""
    def read():
        ends = tcp_ends(srv, conn)
        c, s = ends["client"], ends["server"]
        return (c is not None and s is not None and s["inode"] != 0
                and c["unacked"] + s["unread"] <= left)
    return wait_for(read, timeout)


def wait_closed(srv, conn, timeout=10.0):
    """Wait until `srv` has closed its end of the connection of `conn` with a
    FIN, which the client has not answered with its own close yet."""
    def closed():
        end = tcp_ends(srv, conn)["client"]
        return end is not None and end["state"] == _TCP_CLOSE_WAIT
    return wait_for(closed, timeout)

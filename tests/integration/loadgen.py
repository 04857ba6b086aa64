# SPDX-License-Identifier: Apache-2.0
"""A bounded client load for the process-management tests: a few threads,
each calling `echo` over a connection it replaces every few calls (so many
connections come and go), and counting every call.

A call is sent as raw bytes and its reply read through a counting reader, so
that the load can tell the two ways a connection can end apart:

- closed before the server read the call: not one byte of the reply came
  back (EOF or a reset right after the send). thriftcorn closes a
  connection only when it is idle, so the call was never read, and the load
  sends it again on a new connection (`retried`);
- cut in the middle of a reply, a timeout, or a wrong reply: a failure
  (`failed`), with the reason kept in `errors`, each one after the local
  time it happened, written as the server's log writes its own, and the
  client's port (`[2026-11-29 09:30:01.123 +0000] port 41234: ...`), so that
  it can be found in the server's log and in `ss` output.

Every loop is bounded in count and time."""

import random
import socket
import threading
import time

from thrift.protocol import TBinaryProtocol
from thrift.Thrift import TMessageType
from thrift.transport import TTransport


def _stamp(sock):
    """'[local time] port N: ' for an error on `sock` (None: not connected)."""
    t = time.time()
    local = time.localtime(t)
    when = (time.strftime("%Y-%m-%d %H:%M:%S", local) + ".%03d" % (t % 1 * 1000)
            + time.strftime(" %z", local))
    try:
        port = sock.getsockname()[1] if sock is not None else None
    except OSError:  # closed under it
        port = None
    if not isinstance(port, int):  # a unix socket's name is its path, often empty
        return "[%s] " % when
    return "[%s] port %d: " % (when, port)


class _Closed(Exception):
    """The server closed the connection without sending a byte of the reply."""


class _CountingReader(TTransport.TTransportBase):
    def __init__(self, sock):
        self.sock = sock
        self.got = 0

    def isOpen(self):
        return True

    def read(self, sz):
        try:
            data = self.sock.recv(sz)
        except ConnectionResetError as e:
            if self.got == 0:
                raise _Closed()
            raise ConnectionResetError(e.errno, "reset after %d bytes of the reply" % self.got)
        if not data:
            if self.got == 0:
                raise _Closed()
            raise EOFError("connection closed in the middle of a reply")
        self.got += len(data)
        return data


class Load:
    """`service` is the generated module of TestService. `expect(value,
    reply)` returns True when `reply` is a right answer to echo(value)."""

    def __init__(self, service, port, threads=4, duration=10.0, max_calls=20000,
                 expect=None, per_conn=(5, 30), timeout=10.0, sleep=0.0, host="127.0.0.1",
                 unix=None):
        self.S = service
        self.port = port
        self.host = host
        self.unix = unix
        self.nthreads = threads
        self.duration = duration
        self.max_calls = max_calls
        self.expect = expect or (lambda value, reply: reply == value)
        self.per_conn = per_conn
        self.timeout = timeout
        self.sleep = sleep
        self.lock = threading.Lock()
        self.ok = 0
        self.failed = 0
        self.retried = 0
        self.refused = 0
        self.connections = 0
        self.errors = []
        self.replies = []  # (monotonic time, reply) of every good call
        self._stop = threading.Event()
        self._threads = []
        self._seq = 0

    # -- one call --

    def _connect(self):
        if self.unix:
            s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            s.settimeout(self.timeout)
            s.connect(self.unix)
        else:
            family, stype, proto, _, addr = socket.getaddrinfo(
                self.host, self.port, type=socket.SOCK_STREAM)[0]
            s = socket.socket(family, stype, proto)
            s.settimeout(self.timeout)
            try:
                s.connect(addr)
            except OSError as e:
                e.stamp = _stamp(s)  # the port the kernel gave the failed connect
                s.close()
                raise
        with self.lock:
            self.connections += 1
        return s

    def _encode(self, value, seqid):
        buf = TTransport.TMemoryBuffer()
        proto = TBinaryProtocol.TBinaryProtocol(buf)
        proto.writeMessageBegin("echo", TMessageType.CALL, seqid)
        self.S.echo_args(s=value).write(proto)
        proto.writeMessageEnd()
        return buf.getvalue()

    def _call(self, sock, value, seqid):
        """The reply to echo(value) on `sock`; raises _Closed when the server
        closed the connection before reading the call."""
        try:
            sock.sendall(self._encode(value, seqid))
        except (BrokenPipeError, ConnectionResetError):
            raise _Closed()
        reader = _CountingReader(sock)
        proto = TBinaryProtocol.TBinaryProtocol(TTransport.TBufferedTransport(reader, 256))
        name, mtype, rseq = proto.readMessageBegin()
        if (name, mtype, rseq) != ("echo", TMessageType.REPLY, seqid):
            raise AssertionError("unexpected reply header %r" % ((name, mtype, rseq),))
        result = self.S.echo_result()
        result.read(proto)
        proto.readMessageEnd()
        return result.success

    # -- the threads --

    def _run(self, k):
        rnd = random.Random(k)
        end = time.monotonic() + self.duration
        sock = None
        left = 0
        n = 0
        while not self._stop.is_set() and time.monotonic() < end:
            with self.lock:
                if self.ok + self.failed >= self.max_calls:
                    break
                self._seq += 1
                seqid = self._seq
            value = "t%d-%d" % (k, n)
            n += 1
            attempts = 0
            while attempts < 50 and time.monotonic() < end + 5:
                attempts += 1
                where = "connecting"
                failing = sock
                try:
                    if sock is None:
                        sock = self._connect()
                        failing = sock
                        left = rnd.randint(*self.per_conn)
                    where = "calling"
                    reply = self._call(sock, value, seqid)
                except _Closed:
                    with self.lock:
                        self.retried += 1
                    sock.close()
                    sock = None
                    continue
                except ConnectionRefusedError:
                    with self.lock:
                        self.refused += 1
                    self._stop.set()  # the server is gone: nothing was sent
                    break
                except FileNotFoundError:  # a unix socket file removed: gone too
                    with self.lock:
                        self.refused += 1
                    self._stop.set()
                    break
                except Exception as e:  # a cut reply, a timeout: a failure
                    with self.lock:
                        self.failed += 1
                        stamp = getattr(e, "stamp", None) or _stamp(failing)
                        self.errors.append("%s%s: %s: %r" % (stamp, value, where, e))
                    if sock is not None:
                        sock.close()
                    sock = None
                    break
                with self.lock:
                    if self.expect(value, reply):
                        self.ok += 1
                        self.replies.append((time.monotonic(), reply))
                    else:
                        self.failed += 1
                        self.errors.append("%s%s: wrong reply %r" % (_stamp(sock), value, reply))
                left -= 1
                if left <= 0:
                    sock.close()
                    sock = None
                break
            else:
                with self.lock:
                    self.failed += 1
                    self.errors.append("%s%s: no connection kept it" % (_stamp(None), value))
            if self.sleep:
                time.sleep(self.sleep)
        if sock is not None:
            sock.close()

    def start(self):
        self._threads = [threading.Thread(target=self._run, args=(k,), daemon=True)
                         for k in range(self.nthreads)]
        for t in self._threads:
            t.start()
        return self

    def stop(self, timeout=30.0):
        self._stop.set()
        return self.join(timeout)

    def join(self, timeout=30.0):
        deadline = time.monotonic() + timeout
        for t in self._threads:
            t.join(max(0.0, deadline - time.monotonic()))
        return not any(t.is_alive() for t in self._threads)

    def wait_calls(self, n, timeout=10.0):
        """Wait until `n` more calls have succeeded; True if they did."""
        with self.lock:
            target = self.ok + n
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self.lock:
                if self.ok >= target:
                    return True
            if self._stop.is_set() and not any(t.is_alive() for t in self._threads):
                return False
            time.sleep(0.02)
        return False

    def summary(self):
        return ("ok=%d failed=%d retried=%d refused=%d connections=%d errors=%r"
                % (self.ok, self.failed, self.retried, self.refused, self.connections,
                   self.errors[:5]))

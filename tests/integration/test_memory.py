# SPDX-License-Identifier: Apache-2.0
"""A worker's memory follows the messages in flight, not the largest each
connection ever carried: 20 connections each echo 4 MiB through the C
plugin and stay open; within seconds the worker's resident memory is back
near what it was before, and every connection answers its next call.

Runs in sanitizer builds only (TC_SANITIZE=address or thread, set by
CTest), whose allocators give a freed block of that size back to the
system (ASan once it leaves the quarantine, cut to 4 MB here; TSan at
once), so that resident memory shows what the worker holds. glibc's malloc
may keep freed blocks of a few MiB in its heaps for reuse (its mmap
threshold rises with the blocks it frees): in a trial without a sanitizer,
40 of the 86 MiB stayed resident after 4 MiB echoes, none after 2 MiB
ones. There the measure would not tell what the worker holds."""

import os
import unittest

import harness
from test_bench import C_PLUGIN_ENV, IDL

SANITIZE = os.environ.get("TC_SANITIZE", "none")
CONNS = 20
SIZE = 4 << 20


@unittest.skipUnless(SANITIZE in ("address", "thread"),
                     "resident memory shows what a worker holds only with ASan's or TSan's "
                     "allocator (see above): TC_ASAN=ON or TC_TSAN=ON")
class IdleBuffersTest(unittest.TestCase):
    def test_idle_connections_give_large_buffers_back(self):
        harness.gen_py(IDL)
        bench = harness.load_gen("bench.Bench")
        env = dict(C_PLUGIN_ENV, **harness.asan_env())
        settings = ('transport = "framed"\nworkers = 1\nthreads = 1\n'
                    'service = { idl = "%s", name = "Bench", plugin = "%s" }\n'
                    % (IDL, C_PLUGIN_ENV["THRIFTCORN_BENCH_PLUGIN"]))
        with harness.Server(settings, env=env) as srv:
            [pid] = srv.worker_pids()
            warm, trans = harness.client(bench, srv.port, transport="framed")
            self.addCleanup(trans.close)
            self.assertEqual(warm.echo("warm"), "warm")
            base = harness.rss_kib(pid)
            big = "x" * SIZE
            clients = []
            for _ in range(CONNS):
                c, trans = harness.client(bench, srv.port, transport="framed")
                self.addCleanup(trans.close)
                self.assertEqual(c.echo(big), big)
                clients.append(c)
            # a connection frees its buffers a second after it went idle: the
            # last ones still hold theirs (4 MiB read, 4 MiB written, each)
            peak = harness.rss_kib(pid)
            self.assertGreater(peak, base + 16 * 1024)
            # Without the release, the buffers stay: about 160 MiB more than
            # before (8 MiB for each connection). With it, what is left is
            # allocator caches and bookkeeping (0 to 6 MiB in trials).
            limit = base + 32 * 1024
            self.assertTrue(harness.wait_for(lambda: harness.rss_kib(pid) < limit, 15.0),
                            "worker RSS %d KiB before the calls, %d after them, %d now "
                            "(limit %d)" % (base, peak, harness.rss_kib(pid), limit))
            for i, c in enumerate(clients):
                self.assertEqual(c.echo("again %d" % i), "again %d" % i)
            self.assertEqual(srv.worker_pids(), [pid])


if __name__ == "__main__":
    unittest.main()

# SPDX-License-Identifier: Apache-2.0
"""The integration harness itself: Server.start() reports a server that
exits while it boots as soon as it has exited, with its log, rather than
wait out its whole timeout for a port nobody listens at any more."""

import os
import stat
import time
import unittest
from unittest import mock

import harness


class StartTest(unittest.TestCase):
    def test_an_exit_after_listening_is_reported_at_once(self):
        """A server that logged `Listening at` and `Booting worker`, then
        exited (a worker that could not boot stops the start so), is
        reported within seconds, not after the 15 s start() waits for the
        port. A stand-in for the binary logs those lines for a port where
        nothing listens and exits 1, so that no connection can succeed
        before its exit, as one may at the real server's port during the
        few milliseconds between its `Booting worker` and its exit."""
        d = harness.tempdir("tc-it-")
        stand_in = os.path.join(d, "thriftcorn")
        with open(stand_in, "w") as f:
            f.write("#!/bin/sh\n"
                    "echo \"[info] Listening at: 127.0.0.1:%d ($$)\"\n"
                    "echo \"[info] Booting worker with pid: $$\"\n"
                    "echo \"[critical] Worker failed to boot.\"\n"
                    "exit 1\n" % harness.free_port())
        os.chmod(stand_in, stat.S_IRWXU)
        srv = harness.Server("", start=False)
        self.addCleanup(srv.stop)
        begun = time.monotonic()
        with mock.patch.object(harness, "BIN", stand_in):
            with self.assertRaises(RuntimeError) as cm:
                srv.start(timeout=15.0)
        took = time.monotonic() - begun
        self.assertLess(took, 10.0, "a start that failed was reported after %.1f s" % took)
        self.assertIn("thriftcorn exited with 1", str(cm.exception))
        self.assertIn("Worker failed to boot.", str(cm.exception))
        self.assertEqual(srv.proc.returncode, 1)


if __name__ == "__main__":
    unittest.main()

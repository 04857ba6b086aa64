# SPDX-License-Identifier: Apache-2.0
"""A plugin built outside the source tree, as docs/plugins.md tells: `cmake
--install` into a fresh prefix puts include/thriftcorn/ and
thriftcorn-plugin.pc in place; examples/calculator_c/calculator.c, copied
alone into a scratch folder, builds against them with cc and pkg-config,
passes --check-config and serves calls."""

import os
import shutil
import subprocess
import unittest

import harness
from test_calculator import CALC

BUILD = os.environ.get("TC_BUILD_DIR", os.path.join(harness.SOURCE_DIR, "build"))
CC = shutil.which("cc")
PKG_CONFIG = shutil.which("pkg-config")
CMAKE = shutil.which("cmake")


@unittest.skipUnless(CC and PKG_CONFIG and CMAKE, "needs cc, pkg-config and cmake")
class InstalledHeaderTest(unittest.TestCase):
    def test_build_outside_the_tree_and_serve(self):
        tmp = harness.tempdir("tc-install-")
        prefix = os.path.join(tmp, "prefix")
        out = os.path.join(tmp, "plugin")
        os.makedirs(out)
        p = subprocess.run([CMAKE, "--install", BUILD, "--prefix", prefix],
                           capture_output=True, text=True, timeout=120)
        self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
        pc_dir = os.path.join(prefix, "lib", "pkgconfig")
        self.assertTrue(os.path.isfile(os.path.join(prefix, "include", "thriftcorn", "plugin.h")))
        env = dict(os.environ, PKG_CONFIG_PATH=pc_dir)
        cflags = subprocess.run([PKG_CONFIG, "--cflags", "thriftcorn-plugin"], env=env,
                                capture_output=True, text=True, timeout=30, check=True).stdout
        # the -I of the .pc resolves to the prefix's include/, wherever the prefix is
        incs = [os.path.realpath(w[2:]) for w in cflags.split() if w.startswith("-I")]
        self.assertIn(os.path.realpath(os.path.join(prefix, "include")), incs, cflags)
        for name in ("tutorial.thrift", "shared.thrift"):
            shutil.copy(os.path.join(CALC, name), out)
        shutil.copy(os.path.join(harness.SOURCE_DIR, "examples", "calculator_c", "calculator.c"),
                    out)
        with open(os.path.join(out, "calculator_sig.h"), "w") as f:
            subprocess.run([harness.BIN, "--plugin-header", "tutorial.thrift", "Calculator"],
                           cwd=out, stdout=f, timeout=60, check=True)
        p = subprocess.run([CC, "-std=c99", "-O2", "-fPIC", "-shared", "-fvisibility=hidden",
                            "-Wall", "-Werror"] + cflags.split() +
                           ["-I.", "-o", "libcalc.so", "calculator.c", "-lpthread"],
                           cwd=out, capture_output=True, text=True, timeout=120)
        self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
        settings = ('workers = 1\nthreads = 2\nservice = { idl = "%s", name = "Calculator", '
                    'plugin = "%s" }\n' % (os.path.join(out, "tutorial.thrift"),
                                           os.path.join(out, "libcalc.so")))
        srv = harness.Server(settings, start=False)
        p = subprocess.run([harness.BIN, "--check-config", srv.config], capture_output=True,
                           text=True, timeout=60)
        self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
        self.assertIn("libcalc.so", p.stdout + p.stderr)
        harness.gen_py(os.path.join(out, "tutorial.thrift"))
        Calculator = harness.load_gen("tutorial.Calculator")
        with srv.start():
            c, trans = harness.client(Calculator, srv.port)
            try:
                self.assertEqual(c.add(20, 22), 42)
            finally:
                trans.close()


if __name__ == "__main__":
    unittest.main(verbosity=2)

# SPDX-License-Identifier: Apache-2.0
"""IDL defaults in C handlers: a client whose IDL lacks most arguments of
show() (tests/fixtures/defaults_client.thrift) calls a server whose IDL gives
them defaults (tests/fixtures/defaults_c.thrift); the test plugin
(tests/plugins/defaults_plugin.c) answers with what its typed readers see."""

import os
import unittest

import harness

BUILD = os.environ.get("TC_BUILD_DIR", os.path.join(harness.SOURCE_DIR, "build"))
PLUGIN = os.path.join(BUILD, "tests", "plugins", "libtp_defaults.so")
FIXTURES = os.path.join(harness.SOURCE_DIR, "tests", "fixtures")
SERVER_IDL = os.path.join(FIXTURES, "defaults_c.thrift")
CLIENT_IDL = os.path.join(FIXTURES, "defaults_client.thrift")

# Every default of show() as the readers return it; i, c2 and none vary.
DEFAULTS = ("b=1 y=-5 s16=300 l=5000000000 d=2.5 i=%s str=hi bin=bytes m=2 "
            "u=00112233445566778899aabbccddeeff li=[1,2,3] ss=[a] mp={k:9} p={x=3,y=4} "
            "c={n=-,s=x} c2=%s none=%s sent=%s")


class PluginDefaultsTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        harness.gen_py(CLIENT_IDL)
        cls.Defaults = harness.load_gen("defaults_client.Defaults")
        cls.T = harness.load_gen("defaults_client.ttypes")

    def test_left_out_arguments_read_as_their_defaults(self):
        for transport, protocol in (("buffered", "binary"), ("framed", "compact")):
            with self.subTest(transport=transport, protocol=protocol):
                settings = ('workers = 1\nthreads = 2\ntransport = "%s"\nprotocol = "%s"\n'
                            'service = { idl = "%s", name = "Defaults", plugin = "%s" }\n'
                            % (transport, protocol, SERVER_IDL, PLUGIN))
                with harness.Server(settings) as srv:
                    c, trans = harness.client(self.Defaults, srv.port, transport, protocol)
                    try:
                        # nothing sent (the client leaves out None): every argument
                        # with a default reads as it
                        self.assertEqual(c.show(None, None, None), DEFAULTS % (70000, "-", "-", ""))
                        # what is sent wins; an empty union gets its member's default
                        self.assertEqual(c.show(i=11, c2=self.T.Choice(), none=5),
                                         DEFAULTS % (11, "{n=7,s=-}", 5, "4,16,17,"))
                        self.assertEqual(c.show(None, self.T.Choice(s="z"), None),
                                         DEFAULTS % (70000, "{n=-,s=z}", "-", "16,"))
                    finally:
                        trans.close()


if __name__ == "__main__":
    unittest.main(verbosity=2)

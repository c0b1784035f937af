#!/usr/bin/env python3
"""The control socket itself: mode 0600 in a folder espgw creates, one espgw per socket path (a
second one refuses to start and leaves the first alone), a stale socket file replaced, the file
removed at exit, and espgwctl's messages when it cannot get through.

Run by meson: test_socket.py ESPGW ESPGWCTL.
"""

import os
import shutil
import socket
import stat
import subprocess
import unittest

from control import ctl_harness as h

ESPGW, ESPGWCTL = h.main_args()


class Socket(unittest.TestCase):
    def gateway(self, name, **kw):
        gw = h.Gateway(ESPGW, ESPGWCTL, name, **kw)
        self.addCleanup(gw.cleanup)
        self.addCleanup(gw.close)
        return gw

    def test_mode_0600_and_removed_at_exit(self):
        gw = self.gateway("mode")
        self.assertFalse(os.path.exists(os.path.dirname(gw.socket)))  # espgw makes the folder
        gw.start()
        st = os.lstat(gw.socket)
        self.assertTrue(stat.S_ISSOCK(st.st_mode))
        self.assertEqual(stat.S_IMODE(st.st_mode), 0o600)
        self.assertEqual(st.st_uid, 0)
        gw.ctl("stop")
        self.assertEqual(gw.wait_exit(), 0)
        self.assertFalse(os.path.exists(gw.socket))
        gw.close()
        gw.assert_no_key_material()

    def test_second_espgw_on_the_same_socket_refuses(self):
        first = self.gateway("first").start()
        second = self.gateway("second", socket_path=first.socket)
        second.launch()
        rc = second.wait_exit()
        self.assertEqual(rc, 1)
        out = second.output()
        self.assertIn(f"control socket {first.socket}: another espgw is running there", out)
        # The first still serves, on the same file.
        self.assertTrue(stat.S_ISSOCK(os.lstat(first.socket).st_mode))
        self.assertRegex(first.ctl("status").stdout, r"(?m)^generation\s+1$")
        second.close()
        first.close()
        first.assert_no_key_material([out])

    def test_stale_socket_is_replaced(self):
        gw = self.gateway("stale")
        os.makedirs(os.path.dirname(gw.socket))
        # A socket file nobody listens on: what a crashed espgw leaves.
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.bind(gw.socket)
        s.close()
        os.chmod(gw.socket, 0o666)
        self.assertTrue(stat.S_ISSOCK(os.lstat(gw.socket).st_mode))
        r = gw.ctl("status", expect=3)
        self.assertIn(f"cannot connect to {gw.socket}: Connection refused", r.stderr)
        self.assertIn("espgw is not running", r.stderr)
        gw.start()
        self.assertEqual(stat.S_IMODE(os.lstat(gw.socket).st_mode), 0o600)
        self.assertRegex(gw.ctl("status").stdout, r"(?m)^generation\s+1$")
        gw.close()
        gw.assert_no_key_material()

    def test_not_a_socket_is_left_alone(self):
        gw = self.gateway("file")
        os.makedirs(os.path.dirname(gw.socket))
        with open(gw.socket, "w") as f:
            f.write("not a socket\n")
        gw.launch()
        self.assertEqual(gw.wait_exit(), 1)
        self.assertIn(f"control socket {gw.socket}: Address already in use", gw.output())
        with open(gw.socket) as f:
            self.assertEqual(f.read(), "not a socket\n")

    def connect(self, gw):
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.settimeout(60)
        s.connect(gw.socket)
        self.addCleanup(s.close)
        return s

    def test_clients_that_close_early_or_never_read(self):
        gw = self.gateway("clients").start()
        # Requests, then close without reading: espgw once died of SIGPIPE.
        for _ in range(10):
            s = self.connect(gw)
            s.sendall(b'{"cmd":"all"}\n' * 20)
            s.close()
        # Requests, then shut the sending side and read: every answer arrives.
        s = self.connect(gw)
        s.sendall(b'{"cmd":"status"}\n' * 200)
        s.shutdown(socket.SHUT_WR)
        data = b""
        while chunk := s.recv(65536):
            data += chunk
        self.assertEqual(len(data.splitlines()), 200)
        # Megabytes of answers to a client that never reads them: the control thread once waited
        # for it, and nobody else got an answer (nor could espgw stop).
        stuck = self.connect(gw)
        stuck.sendall(b'{"cmd":"all"}\n' * 3000)
        stuck.shutdown(socket.SHUT_WR)
        r = gw.ctl("-t", "20", "status")
        self.assertRegex(r.stdout, r"(?m)^generation\s+1$")
        self.assertIsNone(gw.proc.poll())
        gw.ctl("stop")
        self.assertEqual(gw.wait_exit(), 0)

    @unittest.skipUnless(shutil.which("setpriv"), "needs setpriv (util-linux)")
    def test_other_user_is_refused(self):
        gw = self.gateway("perm").start()
        # Let nobody reach the file, so that only the socket's own mode stops it.
        for d in (gw.dir, os.path.dirname(gw.socket)):
            os.chmod(d, 0o755)
        p = subprocess.run(["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups",
                            ESPGWCTL, "-s", gw.socket, "status"],
                           capture_output=True, text=True, timeout=60)
        self.assertEqual(p.returncode, 3, p)
        self.assertIn(f"cannot connect to {gw.socket}: Permission denied", p.stderr)
        self.assertIn("mode 0600", p.stderr)


if __name__ == "__main__":
    h.skip_unless_runnable()
    unittest.main(verbosity=2)

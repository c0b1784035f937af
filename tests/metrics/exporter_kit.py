"""What the metrics tests share: espgw-exporter on a free localhost port, and a flooded espgw
(tests/control/ctl_harness.py) with tunnel "wide" of several lanes, an outbound SA per lane given
by sa-add "lane" over the control socket, beside the base config's one-lane tunnel "east"."""

import json
import os
import socket
import subprocess
import sys
import threading

from control import ctl_harness as h
from labkit.proc import die_with_parent, stop_process

WIDE = "wide"
WIDE_SPI = 0x7000  # lane k's outbound SA is WIDE_SPI + k
FLOOD_DST = "172.70.1.20"  # in wide's remote_cidrs


def main_args():
    """ESPGW ESPGWCTL EXPORTER from the command line, taken off sys.argv (unittest reads the rest)."""
    if len(sys.argv) < 4:
        print(f"usage: {sys.argv[0]} ESPGW ESPGWCTL EXPORTER", file=sys.stderr)
        sys.exit(2)
    args = sys.argv[1:4]
    del sys.argv[1:4]
    return args


class FakeIke(threading.Thread):
    """A stand-in for espgw-ike's status socket at `path`: each connection's request line gets
    answer(request) (bytes; None: no answer), then answered() is called, until stop()."""

    def __init__(self, path):
        super().__init__(daemon=True)
        self.path = path
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.bind(path)
        self.sock.listen(4)
        self.sock.settimeout(0.2)
        self.stopping = False

    def answer(self, request):
        raise NotImplementedError

    def answered(self):
        """After an answer was sent in full."""

    def run(self):
        while not self.stopping:
            try:
                c, _ = self.sock.accept()
            except OSError:
                continue
            with c:
                c.settimeout(5)
                try:
                    with c.makefile("rb") as f:
                        out = self.answer(json.loads(f.readline() or b"{}"))
                    if out is not None:
                        c.sendall(out)
                        self.answered()
                except (OSError, ValueError):
                    pass

    def start(self):
        super().start()
        return self

    def stop(self):
        self.stopping = True
        self.join(5)
        self.sock.close()
        os.unlink(self.path)


def start_exporter(exporter, control, ike):
    """espgw-exporter on 127.0.0.1, a port of the kernel's choosing, asking espgw at `control`
    and espgw-ike at `ike`: (its Popen, the port). It stops with the test, however that ends."""
    proc = subprocess.Popen(
        [exporter, "--listen", "127.0.0.1:0", "--control-socket", control, "--ike-socket", ike,
         "--timeout", "5"],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, text=True,
        preexec_fn=die_with_parent)
    line = proc.stdout.readline()
    if "listening on http://127.0.0.1:" not in line:
        proc.kill()
        proc.wait()
        raise AssertionError(f"exporter did not start: {line}")
    return proc, int(line.split("127.0.0.1:")[1].split("/")[0])


def stop_exporter(proc):
    stop_process(proc, timeout=10)
    proc.stdout.close()


def lane_keys(lanes):
    """The outbound keys of wide's lanes (aes128gcm16: key || salt), one per lane."""
    return [h.test_key(f"exporter lane {k}", 20) for k in range(lanes)]


def flooded_gateway(espgw, espgwctl, name, control, keys, copies=64):
    """A Gateway, not started, whose lan port floods toward wide's remote side."""
    gw = h.Gateway(espgw, espgwctl, name, socket_path=control, keys=keys,
                   file_limit=h.FloodTest.FILE_LIMIT)
    h.flood(gw, (FLOOD_DST,), copies)
    return gw


def add_wide(gw, keys):
    """Tunnel "wide" of len(keys) lanes and lane k's outbound SA (WIDE_SPI + k, keys[k]), in one
    apply; the answer."""
    wide = {"name": WIDE, "local": "198.51.100.1", "remote": "203.0.113.7",
            "local_cidrs": ["172.50.0.0/16"], "remote_cidrs": ["172.70.0.0/16"],
            "nat_t": True, "ike": {"psk_ref": "wide-psk", "dpd_delay_s": 0},
            "lanes": len(keys), "peer_kind": "espgw"}
    return gw.request({"cmd": "apply", "ops": [{"op": "tunnel-add", "tunnel": wide}] + [
        {"op": "sa-add", "tunnel": WIDE, "direction": "out", "lane": k,
         "sa": {"spi": WIDE_SPI + k, "algorithm": "aes128gcm16", "key": "0x" + key}}
        for k, key in enumerate(keys)]})


def wide_lanes(gw):
    """wide's `lanes` in the control socket's `tunnels` answer."""
    return next(t for t in gw.request({"cmd": "tunnels"})["tunnels"]
                if t["name"] == WIDE)["lanes"]


def delete_lane_sa(gw, lane):
    """Removes lane `lane`'s outbound SA; the answer."""
    return gw.request({"cmd": "sa-del", "direction": "out", "spi": WIDE_SPI + lane})

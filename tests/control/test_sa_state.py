#!/usr/bin/env python3
"""SA state in and out (docs/sa-state.md), against a real espgw:

- sa-add takes an outbound SA's last sequence number sent ("oseq") and an inbound SA's highest
  sequence number received ("seq") with the replay bitmap below it; `sas` gives the same back,
  and so does `espgwctl show sas SPI`; a state in the wrong place or out of range is refused
  with the key named and nothing changed;
- kill -9 and a restart with the same config: the tunnel's static SAs take up their state from
  the state file beside the control socket (espgw.sock: espgw.sa-state.json), as they are: the
  first ESP packet on the wire after the restart carries the last number saved + 1 + the jump
  (65,536), and the inbound window is the one saved; `status` counts what was loaded and
  resumed. The same from sa-state.json, the default of earlier releases, where the new file is
  missing (an upgrade's first start);
- two espgws whose sockets share a folder keep a state file each; one configured onto the
  other's file refuses to start, naming the key, the file and the process that holds it, and
  the first goes on writing its file.

Run by meson: test_sa_state.py ESPGW ESPGWCTL.
"""

import json
import os
import signal
import subprocess
import struct
import time
import unittest

from control import ctl_harness as h
from labkit.packets import read_pcap

ESPGW, ESPGWCTL = h.main_args()

OUT_KEY = h.test_key("state out", 20)
IN_KEY = h.test_key("state in", 20)
JUMP = 65536  # SaStateFile::kMinJump: no rate was seen in these runs


def sa_add(direction, spi, key, **state):
    return {"cmd": "sa-add", "tunnel": "east", "direction": direction,
            "sa": {"spi": spi, "algorithm": "aes128gcm16", "key": "0x" + key, **state}}


def saved_sas(path):
    """The SA records of a state file by (direction, SPI); {} where it is missing or partial."""
    try:
        with open(path) as f:
            return {(s["direction"], int(s["spi"], 16)): s for s in json.load(f)["sas"]}
    except (OSError, ValueError):
        return {}


def esp_seqs(pcap):
    """(SPI, sequence number) of each ESP-in-UDP frame: Ethernet, IPv4, UDP 4500."""
    out = []
    for f in read_pcap(pcap):
        if len(f) < 14 + 20 + 8 + 8 or f[12:14] != b"\x08\x00" or f[23] != 17:
            continue
        ihl = (f[14] & 0x0F) * 4
        udp = 14 + ihl
        if struct.unpack_from("!H", f, udp + 2)[0] != 4500:
            continue
        out.append(struct.unpack_from("!II", f, udp + 8))
    return out


class StateInAndOut(h.GatewayTest):
    ESPGW, ESPGWCTL, NAME, KEYS = ESPGW, ESPGWCTL, "sastate", [OUT_KEY, IN_KEY]

    def sa(self, direction, spi, state=True):
        sas = self.gw.request({"cmd": "sas", "state": state})["sas"]
        return next(s for s in sas if s["direction"] == direction and int(s["spi"], 16) == spi)

    def test_outbound_state_in_and_out(self):
        resp = self.gw.request(sa_add("out", 0x3001, OUT_KEY, oseq=4095))
        self.assertTrue(resp["ok"], resp)
        sa = self.sa("out", 0x3001)
        self.assertEqual((sa["oseq"], sa["next_seq"]), (4095, 4096))
        shown = self.gw.ctl("show", "sas", "0x3001").stdout
        self.assertRegex(shown, r"(?m)^oseq\s+4095$")

    def test_inbound_state_round_trip(self):
        resp = self.gw.request(sa_add("in", 0x3002, IN_KEY, seq=70000, replay_bitmap="0xff0f01"))
        self.assertTrue(resp["ok"], resp)
        sa = self.sa("in", 0x3002)
        self.assertEqual((sa["seq"], sa["highest_seq"], sa["replay_bitmap"]),
                         (70000, 70000, "ff0f01"))
        self.assertNotIn("replay_bitmap", self.sa("in", 0x3002, state=False))
        # What `sas` gives back is what sa-add takes: the SA moved to another SPI keeps its state.
        again = sa_add("in", 0x3003, IN_KEY, seq=sa["seq"], replay_bitmap=sa["replay_bitmap"])
        self.assertTrue(self.gw.request(again)["ok"])
        moved = self.sa("in", 0x3003)
        self.assertEqual((moved["seq"], moved["replay_bitmap"]), (70000, "ff0f01"))
        shown = self.gw.ctl("show", "sas", "0x3003").stdout
        self.assertRegex(shown, r"(?m)^replay_bitmap\s+ff0f01$")

    def test_state_in_the_wrong_place_or_out_of_range_is_refused(self):
        before = self.gw.state()
        for req, text in [
            (sa_add("in", 0x3010, IN_KEY, oseq=5), "\"oseq\" is an outbound SA's state"),
            (sa_add("out", 0x3011, OUT_KEY, seq=5), "\"seq\" is an inbound SA's state"),
            (sa_add("out", 0x3012, OUT_KEY, replay_bitmap="01"),
             "\"replay_bitmap\" is an inbound SA's state"),
            (sa_add("in", 0x3013, IN_KEY, replay_bitmap="zz"), "not a hex string"),
            (sa_add("in", 0x3014, IN_KEY, replay_bitmap="00" * 8193),
             "longer than the largest replay window"),
            # Without ESN the next number must fit in 32 bits.
            (sa_add("out", 0x3015, OUT_KEY, oseq=2**32 - 1), "out of range"),
            (sa_add("out", 0x3016, OUT_KEY, oseq=-1), "oseq: expected an integer"),
        ]:
            resp = self.gw.request(req)
            self.assertFalse(resp["ok"], req)
            self.assertIn(text, resp["error"])
            self.assertIn("sa-add", resp["error"])
        self.assertEqual(self.gw.state(), before)


class RestartAfterKill(unittest.TestCase):
    """The base config's tunnel east with static SAs 0x1001 (out) and 0x2001 (in), traffic from
    its lan port (LAN_PACKETS datagrams into east at each start)."""

    def test_static_sas_take_up_their_state_after_kill_9(self):
        self.restart_after_kill(upgrade=False)

    def test_the_earlier_releases_file_is_taken_up_where_the_new_one_is_missing(self):
        self.restart_after_kill(upgrade=True)

    def restart_after_kill(self, upgrade):
        """upgrade: the file is moved to sa-state.json, its name before, ahead of the restart."""
        gw = h.Gateway(ESPGW, ESPGWCTL, "sarestart", traffic=True)
        self.addCleanup(gw.cleanup)
        self.addCleanup(gw.close)
        gw.start()
        gw.wait_packets(h.LAN_PACKETS)
        path = os.path.join(os.path.dirname(gw.socket), "espgw.sa-state.json")
        status = gw.request({"cmd": "status"})["sa_state"]
        self.assertEqual((status["enabled"], status["path"], status["interval_ms"]),
                         (True, path, 100))
        sent = gw.request({"cmd": "sas", "spi": 0x1001})["sas"][0]["oseq"]
        self.assertEqual(sent, h.LAN_PACKETS)

        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            if saved_sas(path).get(("out", 0x1001), {}).get("oseq") == sent:
                break
            time.sleep(0.05)  # polling the file espgw writes every 100 ms, bounded
        else:
            self.fail(f"{path} never held oseq {sent}: {saved_sas(path)}")
        with open(path) as f:
            text = f.read()
        for key in (h.EAST_OUT_KEY, h.EAST_IN_KEY):
            self.assertNotIn(key, text)
        self.assertEqual(oct(os.stat(path).st_mode & 0o777), "0o600")

        gw.proc.send_signal(signal.SIGKILL)
        gw.proc.wait()
        gw.log.close()
        if upgrade:
            legacy = os.path.join(os.path.dirname(gw.socket), "sa-state.json")
            os.rename(path, legacy)
            path = legacy
        gw.start()  # the same config, socket and folder: the static SAs again
        gw.wait_packets(h.LAN_PACKETS)
        status = gw.request({"cmd": "status"})["sa_state"]
        self.assertEqual((status["loaded"], status["resumed"]), (2, 2),
                         f"{status}\n{gw.output()}")
        out = gw.request({"cmd": "sas", "spi": 0x1001})["sas"][0]
        self.assertEqual(out["oseq"], sent + JUMP + h.LAN_PACKETS)
        gw.close()
        seqs = [seq for spi, seq in esp_seqs(os.path.join(gw.dir, "wan_out.pcap"))
                if spi == 0x1001]
        self.assertEqual(seqs, list(range(sent + 1 + JUMP, sent + 1 + JUMP + h.LAN_PACKETS)))
        self.assertIn("SA state: 2 SA(s) from " + path, gw.output())


class SharedFolder(unittest.TestCase):
    """Sockets espgw.sock and other.sock in one folder; then a third espgw whose sa_state_file is
    the first's."""

    def saved_spis(self, path):
        return {spi for _, spi in saved_sas(path)}

    def wait_saved(self, path, spis):
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            if self.saved_spis(path) == spis:
                return
            time.sleep(0.05)  # polling the file espgw writes every 100 ms, bounded
        self.fail(f"{path} never held exactly {spis}: {self.saved_spis(path)}")

    def test_a_state_file_each_and_a_taken_one_refused(self):
        first = h.Gateway(ESPGW, ESPGWCTL, "sashared1")
        self.addCleanup(first.cleanup)
        self.addCleanup(first.close)
        first.start()
        run_dir = os.path.dirname(first.socket)
        second = h.Gateway(ESPGW, ESPGWCTL, "sashared2",
                           socket_path=os.path.join(run_dir, "other.sock"))
        self.addCleanup(second.cleanup)
        self.addCleanup(second.close)
        second.start()
        # The second's own SA, so that the two files differ.
        self.assertTrue(second.request(sa_add("in", 0x3001, h.test_key("second", 20)))["ok"])
        paths = [g.request({"cmd": "status"})["sa_state"]["path"] for g in (first, second)]
        self.assertEqual(paths, [os.path.join(run_dir, "espgw.sa-state.json"),
                                 os.path.join(run_dir, "other.sa-state.json")])
        self.wait_saved(paths[0], {0x1001, 0x2001})
        self.wait_saved(paths[1], {0x1001, 0x2001, 0x3001})

        third = h.Gateway(ESPGW, ESPGWCTL, "sashared3")
        self.addCleanup(third.cleanup)
        with open(third.config_path) as f:
            text = f.read()
        with open(third.config_path, "w") as f:
            f.write(text.replace("dataplane:\n", f"dataplane:\n  sa_state_file: {paths[0]}\n", 1))
        third.launch()
        self.assertEqual(third.wait_exit(), 1)
        third.log.close()
        out = third.output()
        self.assertIn(f"{third.config_path}: dataplane.sa_state_file: {paths[0]} is the SA state "
                      f"file of another running espgw (pid {first.proc.pid} holds {paths[0]}.lock)",
                      out)
        self.assertFalse(os.path.exists(third.socket))
        # The first still writes its file, and only its SAs are in it.
        self.assertTrue(first.request(sa_add("in", 0x4001, h.test_key("first", 20)))["ok"])
        self.wait_saved(paths[0], {0x1001, 0x2001, 0x4001})
        self.assertEqual(self.saved_spis(paths[1]), {0x1001, 0x2001, 0x3001})


class DiskFull(unittest.TestCase):
    """The state file on a tmpfs of 16 KiB: SAs enough to outgrow it make the write fail with
    ENOSPC, counted and logged once, the last whole file kept; fewer SAs, and it is written again
    (logged), without a restart."""

    def test_a_full_disk_keeps_the_last_file_and_recovers(self):
        gw = h.Gateway(ESPGW, ESPGWCTL, "sadiskfull")
        self.addCleanup(gw.cleanup)
        state_dir = os.path.join(gw.dir, "state")
        os.makedirs(state_dir)
        if subprocess.run(["mount", "-t", "tmpfs", "-o", "size=16k", "espgw-test", state_dir],
                          capture_output=True).returncode != 0:
            self.skipTest("cannot mount a tmpfs here")
        self.addCleanup(subprocess.run, ["umount", "-l", state_dir], capture_output=True)
        path = os.path.join(state_dir, "sa-state.json")
        with open(gw.config_path) as f:
            text = f.read()
        with open(gw.config_path, "w") as f:
            f.write(text.replace("dataplane:\n", f"dataplane:\n  sa_state_file: {path}\n", 1))
        self.addCleanup(gw.close)
        gw.start()

        def status_when(check, what):
            deadline = time.monotonic() + 10
            while time.monotonic() < deadline:
                s = gw.request({"cmd": "status"})["sa_state"]
                if check(s):
                    return s
                time.sleep(0.05)  # polling a status that changes every 100 ms, bounded
            self.fail(f"{what}: {s}")

        status_when(lambda s: s["writes"] >= 1, "a first write")
        ops = [{"op": "sa-add", "tunnel": "east", "direction": "in",
                "sa": {"spi": 0x10000 + i, "algorithm": "aes128gcm16",
                       "key": "0x" + h.test_key(f"disk {i}", 20)}} for i in range(120)]
        self.assertTrue(gw.request({"cmd": "apply", "ops": ops})["ok"])
        failing = status_when(lambda s: s["write_errors"] >= 2, "writes failing")
        self.assertIn("No space left on device", failing["error"])
        with open(path) as f:
            kept = json.load(f)  # whole, from before
        self.assertEqual(len(kept["sas"]), 2)
        self.assertFalse(os.path.exists(path + ".tmp"))
        gw.request({"cmd": "apply", "ops": [{"op": "sa-del", "direction": "in",
                                               "spi": 0x10000 + i} for i in range(120)]})
        again = status_when(lambda s: "error" not in s and s["writes"] > failing["writes"],
                            "writes again")
        self.assertGreaterEqual(again["write_errors"], failing["write_errors"])
        gw.close()
        log = gw.output()
        self.assertEqual(log.count("SA state not saved"), 1, log)
        self.assertIn("SA state saved again to " + path, log)


if __name__ == "__main__":
    unittest.main()

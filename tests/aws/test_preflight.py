#!/usr/bin/env python3
"""scripts/aws-preflight, run here (not EC2) and against a stand-in EC2: a metadata service on
127.0.0.1 (IMDSv2: a token first) and a /sys and /proc of an instance with an ENA bound to
vfio-pci, no IOMMU, hugepages and isolated CPUs (ESPGW_PREFLIGHT_SYS / _PROC).

What it proves:
  - Here: it finishes within its bounded metadata timeout, says it is not EC2 and goes on with
    the local checks; every line is a heading, an ok/warn/FAIL finding (with its fix), or the
    summary, whose counts match the findings; it exits non-zero exactly when something failed.
  - On the stand-in: it finds the instance, its ENIs, the ENA under vfio-pci, no-IOMMU mode,
    the hugepages, the isolated CPUs, and that the config's PCI device is bound to vfio-pci; a
    config that espgw refuses is a failure that shows the validator's message.
  - It never reaches the real metadata address in these tests (--imds points at 127.0.0.1).

Run by meson: test_preflight.py PREFLIGHT CONFIG_CHECK_DIR SAMPLES_DIR ESPGWCTL
"""

import http.server
import os
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import unittest

PREFLIGHT, TOOLS_PATH, ESPGWCTL = sys.argv[1:4]
del sys.argv[1:4]

LINE = re.compile(r"^(\[ ok \] |\[warn\] |\[FAIL\] |       fix: |         |== |espgw AWS preflight on |\d+ ok, )")


def write(path, text):
    with open(path, "w") as f:
        f.write(text)


def run(*args, env=None, timeout=60):
    e = dict(os.environ)
    e["PATH"] = TOOLS_PATH + ":" + e["PATH"]
    e.update(env or {})
    return subprocess.run([PREFLIGHT, *args], capture_output=True, text=True, timeout=timeout,
                          env=e)


def check_shape(test, out, rc):
    lines = [l for l in out.splitlines() if l]
    for l in lines:
        test.assertRegex(l, LINE)
    m = re.search(r"^(\d+) ok, (\d+) warnings, (\d+) failures", out, re.M)
    test.assertIsNotNone(m, out)
    oks, warns, fails = (int(x) for x in m.groups())
    test.assertEqual(oks, sum(l.startswith("[ ok ]") for l in lines))
    test.assertEqual(warns, sum(l.startswith("[warn]") for l in lines))
    test.assertEqual(fails, sum(l.startswith("[FAIL]") for l in lines))
    test.assertEqual(rc != 0, fails > 0, out)
    return fails


class Imds(http.server.BaseHTTPRequestHandler):
    TOKEN = "fake-token-123"
    DATA = {
        "instance-id": "i-0fake0000000000001",
        "instance-type": "c6in.2xlarge",
        "placement/availability-zone": "eu-west-1a",
        "network/interfaces/macs/": "02:00:00:00:00:01/\n02:00:00:00:00:02/",
        "network/interfaces/macs/02:00:00:00:00:01/interface-id": "eni-0fake000000000001",
        "network/interfaces/macs/02:00:00:00:00:01/device-number": "0",
        "network/interfaces/macs/02:00:00:00:00:01/local-ipv4s": "172.31.0.10",
        "network/interfaces/macs/02:00:00:00:00:02/interface-id": "eni-0fake000000000002",
        "network/interfaces/macs/02:00:00:00:00:02/device-number": "1",
        "network/interfaces/macs/02:00:00:00:00:02/local-ipv4s": "172.31.1.10",
        "network/interfaces/macs/02:00:00:00:00:02/public-ipv4s": "203.0.113.10",
    }

    def log_message(self, *a):
        pass

    def reply(self, code, body=""):
        self.send_response(code)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body.encode())

    def do_PUT(self):
        if self.path == "/latest/api/token" and self.headers.get("X-aws-ec2-metadata-token-ttl-seconds"):
            return self.reply(200, self.TOKEN)
        return self.reply(400)

    def do_GET(self):
        if self.headers.get("X-aws-ec2-metadata-token") != self.TOKEN:
            return self.reply(401)
        key = self.path.removeprefix("/latest/meta-data/")
        if key in self.DATA:
            return self.reply(200, self.DATA[key])
        return self.reply(404)


def fake_instance(root):
    """A /sys and /proc of an EC2 instance with two ENAs, one under vfio-pci."""
    sys_, proc = os.path.join(root, "sys"), os.path.join(root, "proc")
    drivers = os.path.join(sys_, "bus/pci/drivers")
    for drv in ("ena", "vfio-pci"):
        os.makedirs(os.path.join(drivers, drv))
    for addr, drv in (("0000:00:05.0", "ena"), ("0000:00:06.0", "vfio-pci")):
        d = os.path.join(sys_, "bus/pci/devices", addr)
        os.makedirs(d)
        write(os.path.join(d, "vendor"), "0x1d0f\n")
        write(os.path.join(d, "device"), "0xec20\n")
        os.symlink(os.path.join(drivers, drv), os.path.join(d, "driver"))
    os.makedirs(os.path.join(sys_, "module/vfio_pci"))
    os.makedirs(os.path.join(sys_, "module/vfio/parameters"))
    write(os.path.join(sys_, "module/vfio/parameters/enable_unsafe_noiommu_mode"), "Y\n")
    os.makedirs(os.path.join(sys_, "kernel/iommu_groups"))
    os.makedirs(os.path.join(sys_, "kernel/mm/hugepages/hugepages-1048576kB"))
    write(os.path.join(sys_, "kernel/mm/hugepages/hugepages-1048576kB/nr_hugepages"), "4\n")
    os.makedirs(os.path.join(sys_, "devices/system/cpu"))
    write(os.path.join(sys_, "devices/system/cpu/isolated"), "2-7\n")
    write(os.path.join(sys_, "devices/system/cpu/nohz_full"), "2-7\n")
    os.makedirs(proc)
    write(os.path.join(proc, "meminfo"), "HugePages_Total:    1024\nHugepagesize:       2048 kB\n")
    write(os.path.join(proc, "mounts"), "nodev /dev/hugepages hugetlbfs rw 0 0\n")
    write(os.path.join(proc, "cpuinfo"), "".join(f"processor\t: {i}\n\n" for i in range(8)))
    write(os.path.join(proc, "cmdline"), "BOOT_IMAGE=/vmlinuz hugepages=1024 isolcpus=2-7\n")
    return sys_, proc


class Preflight(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.dir = tempfile.mkdtemp(prefix="espgw-preflight-test-")
        samples = os.environ["ESPGW_AWS_SAMPLES"]
        cls.config = os.path.join(cls.dir, "espgw.yaml")
        r = subprocess.run([ESPGWCTL, "import-aws", os.path.join(samples, "aws-vpn-generic.txt"),
                            "--local-cidr", "10.20.0.0/16", "--remote-cidr", "10.10.0.0/16",
                            "--wan-address", "172.31.1.10/24", "--wan-interface", "0000:00:06.0",
                            "-o", cls.config], capture_output=True, text=True, timeout=60)
        assert r.returncode == 0, r.stderr

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.dir, ignore_errors=True)

    def test_here(self):
        # Port 9 on loopback: nothing listens, the token request fails at once.
        r = run("--imds", "http://127.0.0.1:9", "--imds-timeout", "1", "--config", self.config,
                "--control-socket", os.path.join(self.dir, "none.sock"))
        self.assertEqual(r.stderr, "")
        check_shape(self, r.stdout, r.returncode)
        self.assertIn("[warn] not EC2, or the metadata service is off", r.stdout)
        self.assertIn("not EC2: the AWS checks were skipped", r.stdout)
        self.assertIn(f"[ ok ] {self.config}: ok (1 interfaces, 2 tunnels, 1 routes)", r.stdout)
        self.assertIn("[warn] espgw is not running", r.stdout)

    def test_stand_in_instance(self):
        server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Imds)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        try:
            sys_, proc = fake_instance(self.dir + "/inst")
            env = {"ESPGW_PREFLIGHT_SYS": sys_, "ESPGW_PREFLIGHT_PROC": proc}
            url = f"http://127.0.0.1:{server.server_address[1]}"
            r = run("--imds", url, "--config", self.config, "--control-socket",
                    os.path.join(self.dir, "none.sock"), env=env)
            out = r.stdout
            check_shape(self, out, r.returncode)
            self.assertIn("[ ok ] EC2 instance i-0fake0000000000001, type c6in.2xlarge, in eu-west-1a", out)
            self.assertIn("[ ok ] ENI eni-0fake000000000002 (device 1, MAC 02:00:00:00:00:02): "
                          "private 172.31.1.10, public 203.0.113.10", out)
            self.assertIn("[ ok ] ENA 0000:00:06.0: bound to vfio-pci (for espgw)", out)
            self.assertIn("[ ok ] ENA 0000:00:05.0: kernel driver ena", out)
            self.assertIn("[ ok ] vfio-pci is loaded", out)
            self.assertIn("vfio runs in no-IOMMU mode", out)
            self.assertIn("[ ok ] hugepages: 1024 of 2048 kB, 4 of 1 GiB", out)
            self.assertIn("[ ok ] hugetlbfs mounted at /dev/hugepages", out)
            self.assertIn("[ ok ] 8 CPUs", out)
            self.assertIn("[ ok ] isolated CPUs: 2-7; nohz_full: 2-7", out)
            self.assertIn("[ ok ] config device 0000:00:06.0 is bound to vfio-pci", out)
            self.assertNotIn("not EC2", out)
            # A config espgw refuses: a failure with the validator's own words.
            bad = os.path.join(self.dir, "bad.yaml")
            with open(self.config) as f:
                write(bad, f.read().replace("mss: 1379", "mss: 99"))
            r = run("--imds", url, "--config", bad, env=env)
            self.assertNotEqual(r.returncode, 0)
            check_shape(self, r.stdout, r.returncode)
            self.assertIn(f"[FAIL] {bad} is refused:", r.stdout)
            self.assertIn("tunnels[0].mss: must be 536 to 9176", r.stdout)
        finally:
            server.shutdown()
            server.server_close()

    def test_usage(self):
        r = run("--frobnicate")
        self.assertEqual(r.returncode, 2)
        self.assertIn("unknown argument", r.stderr)


if __name__ == "__main__":
    unittest.main(verbosity=2)

#!/usr/bin/env python3
"""espgwctl's offline commands as an operator runs them: import-aws on both AWS samples,
import-ipsec-conf on the strongSwan sample, mesh on a regions file.

What it proves:
  - Each writes a config that espgw-config-check accepts and a secrets file of mode 0600 (the
    config itself 0644 and free of keys; mesh with static SAs 0600); no key is ever printed.
  - What is not carried over is reported on stderr with file and line; placeholders are listed
    as "edit before use" with their line in the output.
  - A truncated or malformed input exits 1 naming the line, and writes nothing; usage errors
    exit 2.

Run by meson: test_import_cli.py ESPGWCTL CONFIG_CHECK (ESPGW_AWS_SAMPLES: the samples).
"""

import os
import shutil
import stat
import subprocess
import sys
import tempfile
import unittest

import yaml

from unit.secret_echo_test import SECRETS, leaves, placed

ESPGWCTL, CHECK = sys.argv[1:3]
del sys.argv[1:3]
SAMPLES = os.environ["ESPGW_AWS_SAMPLES"]
SITE = ["--local-cidr", "10.20.0.0/16", "--remote-cidr", "10.10.0.0/16",
        "--wan-address", "172.31.1.10/24", "--wan-interface", "0000:00:06.0"]


def ctl(*args):
    return subprocess.run([ESPGWCTL, *args], capture_output=True, text=True, timeout=60)


def mode(path):
    return stat.S_IMODE(os.stat(path).st_mode)


class ImportCli(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.mkdtemp(prefix="espgw-import-cli-")
        self.addCleanup(shutil.rmtree, self.dir, True)

    def out(self, name):
        return os.path.join(self.dir, name)

    def assert_valid(self, config):
        r = subprocess.run([CHECK, config], capture_output=True, text=True, timeout=60)
        self.assertEqual(r.returncode, 0, r.stderr)
        return r.stdout

    def assert_no_key(self, *texts):
        for t in texts:
            self.assertNotIn("FAKE_", t)

    def test_aws_text_and_xml(self):
        for sample in ("aws-vpn-generic.txt", "aws-vpn-customer-gateway.xml"):
            cfg = self.out(sample + ".yaml")
            r = ctl("import-aws", os.path.join(SAMPLES, sample), *SITE, "-o", cfg)
            self.assertEqual(r.returncode, 0, r.stderr)
            secrets = self.out(sample + ".secrets.yaml")
            self.assertEqual(mode(secrets), 0o600)
            self.assertEqual(mode(cfg), 0o644)
            self.assertIn("2 tunnels", self.assert_valid(cfg))
            with open(cfg) as f:
                text = f.read()
            with open(secrets) as f:
                self.assertIn("FAKE_", f.read())
            self.assert_no_key(text, r.stdout, r.stderr)
            self.assertIn(f"secrets_file: {secrets}", text)
            self.assertIn("wrote", r.stderr)

    def test_aws_to_stdout_needs_a_secrets_file(self):
        src = os.path.join(SAMPLES, "aws-vpn-generic.txt")
        r = ctl("import-aws", src, *SITE)
        self.assertEqual(r.returncode, 2)
        self.assertIn("--secrets", r.stderr)
        secrets = self.out("s.yaml")
        r = ctl("import-aws", src, *SITE, "--secrets", secrets)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("peers:", r.stdout)
        self.assertEqual(mode(secrets), 0o600)
        self.assert_no_key(r.stdout, r.stderr)

    def test_aws_placeholders(self):
        cfg = self.out("p.yaml")
        r = ctl("import-aws", os.path.join(SAMPLES, "aws-vpn-generic.txt"),
                "--local-cidr", "10.20.0.0/16", "--remote-cidr", "10.10.0.0/16", "-o", cfg)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn(f"{cfg}: edit before use: line 12:", r.stderr)
        self.assertIn(f"{cfg}: edit before use: line 13:", r.stderr)
        self.assert_valid(cfg)

    def test_aws_refusals_write_nothing(self):
        with open(os.path.join(SAMPLES, "aws-vpn-generic.txt")) as f:
            text = f.read()
        cut = self.out("cut.txt")
        with open(cut, "w") as f:
            f.write(text[:text.index("IPSec Tunnel #2")] + "IPSec Tunnel #2\n")
        cfg = self.out("cut.yaml")
        r = ctl("import-aws", cut, *SITE, "-o", cfg)
        self.assertEqual(r.returncode, 1)
        self.assertRegex(r.stderr, r"cut\.txt:\d+: IPSec Tunnel #2 \(lines \d+-\d+\): no \"- Pre-Shared Key")
        self.assertFalse(os.path.exists(cfg))
        self.assertEqual([n for n in os.listdir(self.dir) if n != "cut.txt"], [])
        r = ctl("import-aws", self.out("missing.txt"), *SITE, "-o", cfg)
        self.assertEqual(r.returncode, 1)
        self.assertIn("cannot open", r.stderr)
        self.assertEqual(ctl("import-aws", cut, "--wan-address", "10.0.0.1", "-o", cfg).returncode, 2)
        self.assertEqual(ctl("import-aws", "--frob").returncode, 2)

    def test_ipsec_conf(self):
        cfg = self.out("ss.yaml")
        r = ctl("import-ipsec-conf", os.path.join(SAMPLES, "strongswan", "ipsec.conf"),
                "--wan-interface", "0000:00:06.0", "--wan-address", "172.50.1.10/24", "-o", cfg)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("3 tunnels", self.assert_valid(cfg))
        self.assertEqual(mode(self.out("ss.secrets.yaml")), 0o600)
        self.assertRegex(r.stderr, r"ipsec\.conf:13: conn vpc-b: keyingtries=%forever: not carried over")
        self.assertRegex(r.stderr, r"ipsec\.secrets:5: a RSA secret: not carried over")
        self.assertNotIn("edit before use", r.stderr)
        self.assert_no_key(r.stdout, r.stderr)

    def assert_not_echoed(self, args, secret, what):
        """espgwctl ARGS, which hold `secret`: no output contains it; whether it was refused."""
        r = ctl(*args)
        for stream in (r.stdout, r.stderr):
            self.assertNotIn(secret, stream, f"{what}: {' '.join(args)}")
        return r.returncode != 0

    def test_secret_in_every_option(self):
        """A pre-shared key pasted as the value of any option of import-aws, import-ipsec-conf
        and mesh, or as an option itself, is never printed (common/redact.h)."""
        text = os.path.join(SAMPLES, "aws-vpn-generic.txt")
        conf = os.path.join(SAMPLES, "strongswan", "ipsec.conf")
        values = ["--local-cidr", "--remote-cidr", "--wan-address", "--wan-gateway",
                  "--wan-interface", "--wan-mtu", "--lan-address", "--lan-gateway",
                  "--lan-interface", "--lan-mtu", "--workers", "--name", "--ike-version",
                  "--secrets-file", "--control-socket", "--lanes", "--tunnels"]
        runs = refused = 0
        for secret in SECRETS:
            for opt in values:
                for cmd in (["import-aws", text], ["import-ipsec-conf", conf]):
                    site = list(SITE)
                    if opt in site:
                        site[site.index(opt) + 1] = secret
                    else:
                        site += [opt, secret]
                    refused += self.assert_not_echoed(
                        cmd + site + ["-o", self.out("x.yaml")], secret, opt)
                    runs += 1
            for cmd in (["import-aws", text], ["mesh", "--regions", text]):
                refused += self.assert_not_echoed(cmd + [f"--{secret}", "-o", self.out("y")],
                                                  secret, "an option")
                runs += 1
        # Most of them are refused (a name may be anything): the check saw error paths.
        self.assertGreater(refused, runs // 2, (refused, runs))
        print(f"options: {runs} placements, {refused} refused, no output held a secret",
              flush=True)

    def test_secret_in_every_regions_value(self):
        """The same for every value and key of a mesh regions file."""
        doc = {"defaults": {"algorithm": "aes128gcm16", "lanes": 1, "wan_mtu": 1500},
               "regions": [{"name": "a", "wan_address": "172.31.1.10/24",
                            "vpc_cidr": "10.1.0.0/16"},
                           {"name": "b", "wan_address": "172.31.2.10/24",
                            "vpc_cidr": "10.2.0.0/16"}]}
        regions = self.out("regions.yaml")
        runs = refused = 0
        for secret in SECRETS:
            for path, kind in leaves(doc):
                with open(regions, "w") as f:
                    yaml.safe_dump(placed(doc, path, kind, secret), f)
                refused += self.assert_not_echoed(
                    ["mesh", "--regions", regions, "-o", self.out("m")], secret,
                    f"{kind} {'.'.join(map(str, path))}")
                runs += 1
        self.assertGreater(refused, runs // 2, (refused, runs))
        print(f"regions file: {runs} placements, {refused} refused, no output held a secret",
              flush=True)

    def test_mesh(self):
        regions = self.out("regions.yaml")
        with open(regions, "w") as f:
            f.write("regions:\n"
                    "  - {name: a, wan_address: 172.31.1.10/24, vpc_cidr: 10.1.0.0/16}\n"
                    "  - {name: b, wan_address: 172.31.2.10/24, vpc_cidr: 10.2.0.0/16}\n")
        r = ctl("mesh", "--regions", regions, "-o", self.out("ike"))
        self.assertEqual(r.returncode, 0, r.stderr)
        for name in ("a", "b"):
            self.assertEqual(mode(self.out(f"ike/{name}.secrets.yaml")), 0o600)
            with open(self.out(f"ike/{name}.yaml")) as f:
                self.assertIn(f"secrets_file: /etc/espgw/{name}.secrets.yaml", f.read())
        r = ctl("mesh", "--regions", regions, "-o", self.out("lab"), "--static-sas")
        self.assertEqual(r.returncode, 0, r.stderr)
        for name in ("a", "b"):
            self.assertEqual(mode(self.out(f"lab/{name}.yaml")), 0o600)  # it holds keys
            self.assert_valid(self.out(f"lab/{name}.yaml"))
        self.assertEqual(ctl("mesh", "--regions", regions).returncode, 2)

    def test_mesh_lanes(self):
        """mesh --lanes 4: configs that espgw-config-check accepts; without peer_kind: espgw the
        check names the file, line and key of `lanes`."""
        regions = self.out("regions.yaml")
        with open(regions, "w") as f:
            f.write("regions:\n"
                    "  - {name: a, wan_address: 172.31.1.10/24, vpc_cidr: 10.1.0.0/16}\n"
                    "  - {name: b, wan_address: 172.31.2.10/24, vpc_cidr: 10.2.0.0/16}\n")
        lanes = self.out("lanes")
        r = ctl("mesh", "--regions", regions, "-o", lanes, "--secrets-dir", lanes, "--lanes", "4")
        self.assertEqual(r.returncode, 0, r.stderr)
        config = os.path.join(lanes, "a.yaml")
        self.assert_valid(config)
        with open(config) as f:
            text = f.read()
        self.assertIn("lanes: 4", text)
        self.assertIn("peer_kind: espgw", text)
        lines = [line for line in text.splitlines(True) if "peer_kind" not in line]
        line = next(i for i, x in enumerate(lines, 1) if "lanes: 4" in x)
        with open(config, "w") as f:
            f.writelines(lines)
        r = subprocess.run([CHECK, config], capture_output=True, text=True, timeout=60)
        self.assertNotEqual(r.returncode, 0)
        self.assertIn(f"{config}:{line}: tunnels[0].lanes: more than one lane needs "
                      "peer_kind: espgw", r.stderr + r.stdout)
        self.assertNotEqual(ctl("mesh", "--regions", regions, "-o", lanes, "--lanes", "65")
                            .returncode, 0)


if __name__ == "__main__":
    unittest.main(verbosity=2)

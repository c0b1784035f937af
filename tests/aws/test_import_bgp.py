#!/usr/bin/env python3
"""import-aws on AWS's dynamic-routing (BGP) downloads, and mesh --bgp, as an operator runs them.

What it proves:
  - The Generic text and the XML dynamic-routing samples import to route-based tunnels: our
    inside /30 (the customer gateway's), selectors 0.0.0.0/0 both ways, a BGP neighbour with the
    Amazon side's ASN, AWS's inside address and the hold time (keepalive a third of it, no BFD),
    a top-level bgp with the customer gateway's ASN announcing --local-cidr, and no peer (both
    tunnels carry traffic); the IKE settings as a static import's. espgw-config-check accepts it.
  - --frr-dir writes zebra.conf, bgpd.conf and bfdd.conf holding the neighbours, ASNs and timers,
    the very text espgw-config-check --json renders for espgw-up (import_frr_load loads it in FRR).
  - --static-routing keeps the old import of a BGP download (one peer, --remote-cidr); the
    static samples give no bgp.
  - Refusals name the line and write nothing: more than 100 prefixes to announce, a neighbour
    outside our inside /30, a missing ASN, --frr-dir without BGP.
  - An IPv6 inside /126 (XML) becomes a second inside address with its own neighbour.
  - mesh --bgp: every region's config loads; each pair's inside addresses pair up (A's neighbour
    is B's inside address and the other way round), one /30 per pair, the same with and without
    lanes; ASNs 64512 + index, each region announcing its CIDRs; no routes to the other regions'
    CIDRs; BFD on, peer_kind espgw.

Run by meson: test_import_bgp.py ESPGWCTL CONFIG_CHECK (ESPGW_AWS_SAMPLES: the samples).
"""

import ipaddress
import json
import os
import shutil
import subprocess
import sys
import tempfile
import unittest

import yaml

ESPGWCTL, CHECK = sys.argv[1:3]
del sys.argv[1:3]
SAMPLES = os.environ["ESPGW_AWS_SAMPLES"]
TEXT = os.path.join(SAMPLES, "aws-vpn-generic-bgp.txt")
XML = os.path.join(SAMPLES, "aws-vpn-customer-gateway-bgp.xml")
SITE = ["--local-cidr", "10.20.0.0/16", "--local-cidr", "10.21.0.0/16",
        "--wan-address", "172.31.1.10/24", "--wan-interface", "0000:00:06.0"]


def ctl(*args):
    return subprocess.run([ESPGWCTL, *args], capture_output=True, text=True, timeout=60)


class ImportBgp(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.mkdtemp(prefix="espgw-import-bgp-")
        self.addCleanup(shutil.rmtree, self.dir, True)

    def out(self, name):
        return os.path.join(self.dir, name)

    def check(self, config):
        r = subprocess.run([CHECK, config], capture_output=True, text=True, timeout=60)
        self.assertEqual(r.returncode, 0, r.stderr)

    def imported(self, sample, *more, name="c"):
        """The config import-aws writes from `sample`, checked by espgw-config-check, as YAML and
        text, with the command's stderr."""
        cfg = self.out(name + ".yaml")
        r = ctl("import-aws", sample, *SITE, *more, "-o", cfg)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.check(cfg)
        with open(cfg) as f:
            text = f.read()
        return yaml.safe_load(text), text, r.stderr

    def assert_route_based(self, c, asn, tunnels):
        """`tunnels`: [(inside, remote_asn, neighbour)] of aws-tunnel1 and 2."""
        self.assertEqual(c["bgp"]["asn"], asn)
        self.assertEqual(c["bgp"]["announce"], ["10.20.0.0/16", "10.21.0.0/16"])
        self.assertNotIn("peers", c)
        self.assertEqual([t["name"] for t in c["tunnels"]], ["aws-tunnel1", "aws-tunnel2"])
        for t, (inside, remote_asn, neighbour) in zip(c["tunnels"], tunnels):
            self.assertEqual(t["inside"], [inside])
            self.assertEqual(t["local_cidrs"], ["0.0.0.0/0"])
            self.assertEqual(t["remote_cidrs"], ["0.0.0.0/0"])
            self.assertEqual(t["bgp"], {"remote_asn": remote_asn, "neighbours": [neighbour],
                                        "hold_s": 30, "keepalive_s": 10, "bfd": False})
            self.assertEqual(t["ike"]["psk_ref"], t["name"])
        # The routes are the WAN's default only: BGP brings the VPC's.
        self.assertEqual([r["prefix"] for r in c["routes"]], ["0.0.0.0/0"])

    def test_text(self):
        c, text, err = self.imported(TEXT)
        self.assert_route_based(c, 65000, [("169.254.116.138/30", 64512, "169.254.116.137"),
                                           ("169.254.201.22/30", 64512, "169.254.201.21")])
        self.assertIn("No peers: with BGP both tunnels carry traffic", text)
        # The IKE side as a static import writes it.
        ike = c["tunnels"][0]["ike"]
        self.assertEqual((ike["version"], ike["ike_proposals"], ike["esp_proposals"]),
                         (2, ["aes256-sha256-modp2048"], ["aes256-sha256-modp2048"]))
        self.assertEqual(c["tunnels"][0]["mss"], 1379)
        self.assertNotIn("FAKE_", text + err)

    def test_xml(self):
        c, _, err = self.imported(XML)
        self.assert_route_based(c, 65010, [("169.254.225.10/30", 7224, "169.254.225.9"),
                                           ("169.254.44.42/30", 7224, "169.254.44.41")])
        self.assertEqual(c["tunnels"][1]["ike"]["version"], 1)  # the XML names none
        self.assertNotIn("is not used", err)  # <bgp> and the inside addresses are read

    def test_frr_dir(self):
        frr = self.out("frr")
        self.imported(TEXT, "--frr-dir", frr)
        files = {}
        for name in ("zebra.conf", "bgpd.conf", "bfdd.conf"):
            with open(os.path.join(frr, name)) as f:
                files[name] = f.read()
        bgpd = files["bgpd.conf"]
        self.assertIn("router bgp 65000", bgpd)
        for nb in ("169.254.116.137", "169.254.201.21"):
            self.assertIn(f"neighbor {nb} remote-as 64512", bgpd)
            self.assertIn(f"neighbor {nb} timers 10 30", bgpd)
            self.assertNotIn(f"neighbor {nb} bfd", bgpd)
        self.assertIn("10.20.0.0/16", bgpd)
        self.assertIn("10.21.0.0/16", bgpd)
        self.assertIn("maximum-paths 8", bgpd)
        self.assertIn("fpm address 127.0.0.1 port 2620", files["zebra.conf"])
        # The same bytes as espgw-config-check --json renders for espgw-up (frr_conf_load and
        # import_frr_load load those in FRR).
        r = subprocess.run([CHECK, "--json", self.out("c.yaml")], capture_output=True, text=True,
                           timeout=60)
        self.assertEqual(r.returncode, 0, r.stderr)
        frr_json = json.loads(r.stdout)["frr"]
        for d in ("zebra", "bgpd", "bfdd"):
            self.assertEqual(files[d + ".conf"], frr_json[d], d)

    def test_static_routing_and_static_samples(self):
        c, _, err = self.imported(TEXT, "--static-routing", "--remote-cidr", "10.10.0.0/16")
        self.assertNotIn("bgp", c)
        self.assertEqual(c["peers"][0]["tunnels"], ["aws-tunnel1", "aws-tunnel2"])
        self.assertNotIn("inside", c["tunnels"][0])
        self.assertIn("--static-routing", err)
        self.assertEqual(ctl("import-aws", TEXT, *SITE, "--static-routing", "-o",
                             self.out("x.yaml")).returncode, 1)  # no --remote-cidr
        for sample in ("aws-vpn-generic.txt", "aws-vpn-customer-gateway.xml"):
            c, _, _ = self.imported(os.path.join(SAMPLES, sample), "--remote-cidr",
                                    "10.10.0.0/16", name=sample)
            self.assertNotIn("bgp", c)
            self.assertEqual(len(c["peers"]), 1)
            r = ctl("import-aws", os.path.join(SAMPLES, sample), *SITE, "--remote-cidr",
                    "10.10.0.0/16", "-o", self.out("s.yaml"), "--frr-dir", self.out("f"))
            self.assertEqual(r.returncode, 1)
            self.assertIn("static routing", r.stderr)
            self.assertFalse(os.path.exists(self.out("f")))

    def refused(self, text, *more):
        src = self.out("in.txt")
        with open(src, "w") as f:
            f.write(text)
        cfg = self.out("refused.yaml")
        r = ctl("import-aws", src, *SITE, *more, "-o", cfg)
        self.assertEqual(r.returncode, 1, r.stderr)
        self.assertFalse(os.path.exists(cfg))
        self.assertEqual(os.listdir(self.dir), ["in.txt"])
        return r.stderr

    def test_refusals(self):
        with open(TEXT) as f:
            text = f.read()
        many = []
        for i in range(100):
            many += ["--local-cidr", f"10.{100 + i // 4}.{(i % 4) * 64}.0/18"]
        self.assertIn("at most 100 prefixes", self.refused(text, *many))
        lines = text.splitlines(True)
        at = next(i for i, x in enumerate(lines) if "169.254.116.137" in x and "Neighbor" in x)
        bad = "".join(lines[:at] + [lines[at].replace("169.254.116.137", "169.254.117.1")] +
                      lines[at + 1:])
        self.assertIn(f"in.txt:{at + 1}: IPSec Tunnel #1: BGP: Neighbor IP Address: BGP "
                      "neighbour 169.254.117.1 is not the other end of our inside prefix "
                      "169.254.116.138/30", self.refused(bad))
        at = next(i for i, x in enumerate(lines) if "Customer Gateway ASN" in x)
        cut = "".join(lines[:at] + lines[at + 1:])
        self.assertRegex(self.refused(cut), r'in\.txt:\d+: IPSec Tunnel #1: no "- Customer '
                                            r'Gateway ASN : \.\.\."')

    def test_ipv6_inside(self):
        with open(XML) as f:
            xml = f.read()
        v6 = ("      <tunnel_inside_ipv6_address>\n        <ip_address>{}</ip_address>\n"
              "        <prefix_length>126</prefix_length>\n      </tunnel_inside_ipv6_address>\n")
        first_cgw = xml.index("      <bgp>")  # customer_gateway's, tunnel 1
        xml = xml[:first_cgw] + v6.format("fd00:44::2") + xml[first_cgw:]
        first_vgw = xml.index("      <bgp>", xml.index("<vpn_gateway>"))
        xml = xml[:first_vgw] + v6.format("fd00:44::1") + xml[first_vgw:]
        src = self.out("v6.xml")
        with open(src, "w") as f:
            f.write(xml)
        c, _, _ = self.imported(src, "--local-cidr", "fd00:20::/48")
        t = c["tunnels"][0]
        self.assertEqual(t["inside"], ["169.254.225.10/30", "fd00:44::2/126"])
        self.assertEqual(t["bgp"]["neighbours"], ["169.254.225.9", "fd00:44::1"])
        self.assertEqual(t["remote_cidrs"], ["0.0.0.0/0", "::/0"])
        self.assertIn("fd00:20::/48", c["bgp"]["announce"])

    def mesh(self, out, *more):
        regions = self.out("regions.yaml")
        with open(regions, "w") as f:
            f.write("regions:\n"
                    "  - {name: a, wan_address: 172.31.1.10/24, vpc_cidr: 10.1.0.0/16}\n"
                    "  - {name: b, wan_address: 172.31.2.10/24, vpc_cidr: 10.2.0.0/16}\n"
                    "  - {name: c, wan_address: 172.31.3.10/24,"
                    " vpc_cidrs: [10.3.0.0/16, 10.33.0.0/16]}\n")
        d = self.out(out)
        r = ctl("mesh", "--regions", regions, "-o", d, "--secrets-dir", d, "--bgp", *more)
        self.assertEqual(r.returncode, 0, r.stderr)
        configs = {}
        for name in "abc":
            self.check(os.path.join(d, f"{name}.yaml"))
            with open(os.path.join(d, f"{name}.yaml")) as f:
                configs[name] = yaml.safe_load(f)
        return configs

    def test_mesh_bgp(self):
        configs = self.mesh("one")
        cidrs = {"a": ["10.1.0.0/16"], "b": ["10.2.0.0/16"], "c": ["10.3.0.0/16", "10.33.0.0/16"]}
        asns = {name: 64512 + i for i, name in enumerate("abc")}
        nets = set()
        for name, c in configs.items():
            self.assertEqual(c["bgp"]["asn"], asns[name])
            self.assertEqual(c["bgp"]["announce"], cidrs[name])
            routed = [r["prefix"] for r in c["routes"]]
            for other in "abc":
                if other != name:
                    for p in cidrs[other]:
                        self.assertNotIn(p, routed)
            for t in c["tunnels"]:
                peer = t["name"][len("to-"):]
                back = next(x for x in configs[peer]["tunnels"] if x["name"] == "to-" + name)
                mine = ipaddress.ip_interface(t["inside"][0])
                theirs = ipaddress.ip_interface(back["inside"][0])
                self.assertEqual(mine.network.prefixlen, 30)
                self.assertEqual(mine.network, theirs.network)
                self.assertNotEqual(mine.ip, theirs.ip)
                self.assertEqual(t["bgp"]["neighbours"], [str(theirs.ip)])
                self.assertEqual(back["bgp"]["neighbours"], [str(mine.ip)])
                self.assertEqual(t["bgp"]["remote_asn"], asns[peer])
                self.assertTrue(t["bgp"]["bfd"])
                self.assertEqual(t["peer_kind"], "espgw")
                self.assertEqual(t["remote_cidrs"], ["0.0.0.0/0"])
                self.assertTrue(mine.network.subnet_of(ipaddress.ip_network("169.254.0.0/16")))
                nets.add(mine.network)
        self.assertEqual(len(nets), 3)  # one /30 per pair
        lanes = self.mesh("lanes", "--lanes", "4")
        for name in "abc":
            for t, u in zip(configs[name]["tunnels"], lanes[name]["tunnels"]):
                self.assertEqual(u["lanes"], 4)
                self.assertEqual((t["inside"], t["bgp"]), (u["inside"], u["bgp"]))

    def test_mesh_tunnels(self):
        """--tunnels 2: two tunnels per pair, each its own /30 and session, told apart in IKE by
        their identities (they share the outer addresses); refused without --bgp."""
        configs = self.mesh("two", "--tunnels", "2")
        nets = set()
        for name, c in configs.items():
            names = [t["name"] for t in c["tunnels"]]
            others = [o for o in "abc" if o != name]
            self.assertEqual(names, [n for o in others for n in (f"to-{o}", f"to-{o}-2")])
            for t in c["tunnels"]:
                peer = t["name"][len("to-"):].split("-")[0]
                back_name = "to-" + name + t["name"][len("to-" + peer):]
                back = next(x for x in configs[peer]["tunnels"] if x["name"] == back_name)
                mine = ipaddress.ip_interface(t["inside"][0])
                self.assertEqual(back["bgp"]["neighbours"], [str(mine.ip)])
                self.assertEqual(t["ike"]["local_id"], back["ike"]["remote_id"])
                nets.add(mine.network)
            ids = [t["ike"]["local_id"] for t in c["tunnels"]]
            self.assertEqual(len(ids), 4)
            self.assertEqual(len(set(zip(ids, [t["ike"]["remote_id"] for t in c["tunnels"]]))), 4)
        self.assertEqual(len(nets), 6)  # one /30 per tunnel
        regions = self.out("regions.yaml")
        r = ctl("mesh", "--regions", regions, "-o", self.out("no"), "--tunnels", "2")
        self.assertNotEqual(r.returncode, 0)
        self.assertIn("--tunnels 2 needs --bgp", r.stderr)


if __name__ == "__main__":
    unittest.main(verbosity=2)

#!/usr/bin/env python3
"""Failover between the two tunnels of an AWS VPN connection, as shipped: nothing tuned by hand.

    test_aws_failover.py BUILD PLUGIN [--rate PPS] [--max-failover S]

What a user does (docs/deploy-aws.md, docs/espgw-up.md), in the lab:

 1. `espgwctl import-aws` on the AWS sample tests/aws/samples/aws-vpn-generic.txt (two tunnels,
    IKEv2, customer gateway 203.0.113.10, the two AWS outside addresses and PSKs of the file),
    with documented options only: the net_af_packet ports on veths (`--wan-interface`,
    `--lan-interface`), `--wan-address` 172.31.1.10/24 (the private address behind the Elastic
    IP), `--lan-address`, `--lan-mtu` (the veths' 1500), `--local-cidr`, `--remote-cidr`,
    `--workers 1`, `-o`, `--secrets`. The config and secrets it writes are used as they are:
    busy polling (`idle_sleep_us` at its default), DPD and everything else the importer chose.
 2. `scripts/espgw-up run -c CONFIG --build BUILD -- EAL` with the lab's EAL options only
    (`--no-pci --no-huge -m 512`, a file prefix, the lcores). No `--charon-include`, no
    `--run-dir`, no back-off options: charon runs with the strongswan.conf espgw-up writes.
    The lab's plumbing is stack_lab.Stack's (a mount namespace with a private /run, where the
    config's default sockets under /run/espgw live, and the built plugin bound over charon's
    plugin folder); `--log-dir` and `--state-file` only say where espgw-up writes.

The AWS side (stack_lab.StackLab with nat=True: gw1 behind the "inet" router, which is gw1's 1:1
Elastic IP NAT). Each tunnel of an AWS VPN connection ends on its own AWS endpoint, so each is a
stock strongSwan 5.9.8 charon with kernel-libipsec (labkit.charon.Charon, PLUGINS_GW2) in its own
namespace: endpoint 1 in StackLab's gw2 (outside address 198.51.100.10), endpoint 2 in `aws2`
(198.51.100.138, on its own link to the inet router). Each is configured as AWS configures a
tunnel: IKEv2, the sample's PSK, identities the outside addresses, responder only (AWS waits for
the customer gateway), AWS's proposal sets (any of AES-128/256 CBC or GCM, SHA-1/SHA-2, DH groups
2 and 14 to 21), NAT-T as detected, no MOBIKE, lifetimes 28800 s and 3600 s, DPD every 10 s with
action clear. AWS declares a peer dead 30 s after its last packet (DPD interval 10 s, 3
retries); charon reads dpd_timeout for IKEv1 only, so each endpoint's charon gets
ha_lab.DPD_RETRANSMITS (10 s + 19.7 s of retransmissions): that models AWS, espgw's side is not
touched.

Which tunnel AWS sends B -> A on is AWS's choice. Here the VPC behind the connection (host B,
172.60.1.20) has endpoint 1 as its router: endpoint 1 routes A's CIDR into its tunnel while that
has a CHILD_SA (kernel-libipsec's route in table 220), and otherwise over the VPC link to
endpoint 2, which routes it into tunnel 2. So B -> A uses tunnel 1 whenever it is up, and moves
to tunnel 2 only when endpoint 1's own DPD clears tunnel 1: one charon with two addresses
(ha_lab) would instead send under whichever CHILD_SA was installed last (strongSwan's shared
reqid), and keep DPD state for both tunnels in one daemon, which AWS does not.

Host addresses are StackLab's: A 172.50.1.10 behind gw1's lan (172.50.1.1/16, the local CIDR
172.50.0.0/16), B 172.60.1.20 behind the AWS side (the remote CIDR 172.60.0.0/16).

Steps:
 1. Both tunnels established (gw1's charon and the endpoint hold the same CHILD_SA, espgw both
    SAs); sequence-numbered UDP streams A -> B and B -> A (ha_lab.streams: labkit/tools.py
    udp-seq-send and udp-seq-recv) at --rate each way; both cross tunnel 1.
    With both ways flowing espgw asks for no liveness check of tunnel 1 (QUIET_WINDOW_S).
 2. Endpoint 1 goes silent: the inet router drops everything from and to 198.51.100.10 (nft), as
    a dead endpoint would. Measured: when espgw moved A -> B to tunnel 2 (its log line "peer ...:
    traffic goes into tunnel ..."), and for each direction the outage (arrival of the last
    datagram before, first after, at the receiver) and the datagrams lost.
    A -> B must be back within 15 s (espgw's own liveness and DPD). B -> A depends on AWS's DPD
    alone (30 s after the last packet, and DPD runs every 10 s: 30-40 s): the bound is 45 s.
 3. The endpoint comes back (the rule goes). gw1's charon establishes tunnel 1 again (espgw-ike's
    dpd_action restart); espgw's traffic returns to tunnel 1 (failback: true), B -> A too. Over
    the whole run espgw moved the traffic exactly twice (to tunnel 2, back to tunnel 1), and not
    again for HOLD_S s after; the way back loses at most a second's worth each way.
At the end: no datagram twice, none lost outside the failover and the failback, espgw holds no SA
that charon does not have, espgw-up exits 0. The figures are printed as a table and as JSON.

Exit 0: pass; 1: fail; 77: cannot run here.
"""

import argparse
import json
import os
import re
import sys
import time

import ha_lab
import test_failover  # carrier, in_packets, out_packets
from ike_lab import (GW1_EIP, GW1_LAN, GW1_PRIVATE, INET_PUBLIC, NET_A, NET_B, PLUGINS_GW2, ROOT,
                     LabError, run_lab, say, teardown, wait_for)
from labkit import proc
from labkit.charon import Charon
from labkit.control import Control
from labkit.proc import exit_with, run, verdict
from labkit.traffic import check_stream, fmt_gap, stop_streams
from stack_lab import Stack, StackLab, stack_skip_reason

SAMPLE = os.path.join(ROOT, "tests", "aws", "samples", "aws-vpn-generic.txt")
AB_BOUND_S = 15        # A -> B on tunnel 2 after endpoint 1 went silent
BA_BOUND_S = 45        # B -> A: AWS's DPD, 30 s after the last packet, checked every 10 s
FAILBACK_LOSS_S = 1.0  # the way back loses at most this many seconds' worth each way
BA_WITHIN_S = 90       # how long to wait for AWS's DPD to move B -> A
BACK_WITHIN_S = 150    # tunnel 1 re-established after the endpoint returned (as shipped, charon's
                       # IKE_SA_INIT retransmissions are up to 76 s apart)
HOLD_S = 5             # no further move of the traffic for this long after the failback
QUIET_WINDOW_S = 3     # both ways flowing for this long: no liveness check (it needs 2 s quiet)
VPC_LINK = ("172.60.2.1", "172.60.2.2")  # endpoint 1 and endpoint 2 inside AWS's VPC

# What an AWS VPN tunnel accepts by default (its tunnel options): AES-128/256 in CBC with SHA-1 or
# SHA-2, or in GCM; DH groups 2 and 14 to 21 (24 and 22/23 are left out: no openssl-plugin names).
AWS_GROUPS = "modp1024-modp2048-modp3072-modp4096-modp6144-modp8192-ecp256-ecp384-ecp521"
AWS_IKE = (f"aes128-aes256-sha1-sha256-sha384-sha512-{AWS_GROUPS}, "
           f"aes128gcm16-aes256gcm16-prfsha1-prfsha256-prfsha384-prfsha512-{AWS_GROUPS}")
AWS_ESP = (f"aes128-aes256-sha1-sha256-sha384-sha512-{AWS_GROUPS}, "
           f"aes128gcm16-aes256gcm16-{AWS_GROUPS}")


def aws_tunnels(path):
    """The customer gateway address and [(outside address, pre-shared key)] of each tunnel of an
    AWS "Generic" download, in the file's order."""
    with open(path) as f:
        text = f.read()
    tunnels, cgw = [], set()
    for part in re.split(r"^IPSec Tunnel #\d+\s*$", text, flags=re.M)[1:]:
        psk = re.search(r"- Pre-Shared Key\s*:\s*(\S+)", part)
        vgw = re.search(r"- Virtual Private Gateway\s*:\s*([\d.]+)\s*$", part, re.M)
        cgw |= set(re.findall(r"- Customer Gateway\s*:\s*([\d.]+)\s*$", part, re.M))
        if not psk or not vgw:
            raise LabError(f"{path}: a tunnel without outside address or pre-shared key")
        tunnels.append((vgw.group(1), psk.group(1)))
    if len(tunnels) != 2 or len(cgw) != 1:
        raise LabError(f"{path}: {len(tunnels)} tunnels, customer gateways {sorted(cgw)}")
    return cgw.pop(), tunnels


class AsShipped(Stack):
    """gw1 as a user runs it: the config and secrets of `espgwctl import-aws`, espgw-up without
    the lab's charon include, run dir or back-off. The config's sockets keep their defaults under
    /run/espgw; the lab's private /run is this Stack's run/, so the test reaches them there."""

    def up_options(self):
        return []

    def import_aws(self, sample, site):
        """espgwctl import-aws SAMPLE SITE -o CONFIG --secrets SECRETS; the config's summary
        (espgw-config-check --json, as espgw-up reads it)."""
        espgwctl = os.path.join(self.lab.build, "dataplane", "espgwctl")
        r = run([espgwctl, "import-aws", sample, *site, "-o", self.config, "--secrets",
                 self.secrets])
        for line in r.stderr.splitlines():
            say(f"  import-aws: {line}")
        check = os.path.join(self.lab.build, "config", "espgw-config-check")
        summary = json.loads(run([check, "--json", self.config]).stdout)

        def here(path):  # a path under /run in gw1's mount namespace, seen from the test
            return os.path.join(self.run_dir, os.path.relpath(path, "/run"))

        self.socket = here(summary["control_socket"])
        self.vici = here(summary["vici_socket"])
        self.ike_socket = here(summary["ike_status_socket"])
        self.ctl = Control(self.socket)
        return summary


class AwsLab(ha_lab.Gw1State, StackLab):
    """StackLab (nat=True) with gw1 AsShipped and the two AWS endpoints (see the docstring)."""

    gw1_class = AsShipped

    def __init__(self, build, plugin, sample):
        super().__init__(build, plugin, peer="strongswan", prefix="aws", nat=True)
        self.sample = sample
        cgw, self.aws = aws_tunnels(sample)
        if cgw != GW1_EIP:
            raise LabError(f"{sample}: customer gateway {cgw}, the lab's Elastic IP is {GW1_EIP}")
        self.net.declare("aws2")
        # Endpoint 1 is StackLab's stock charon in gw2; endpoint 2 a second one in aws2.
        self.endpoints = [self.gw2, Charon(self, "aws2", "aws2", PLUGINS_GW2)]
        for c in self.endpoints:
            with open(c.conf, "a") as f:
                f.write(ha_lab.DPD_RETRANSMITS)
        self.tunnels = []  # espgw's tunnel names, tunnel 1 first (after import)
        self.endpoint = {}  # espgw's tunnel name -> its endpoint's Charon
        self.silence_file = os.path.join(self.workdir, "silence.nft")

    @property
    def ctl(self):
        return self.gw1.ctl

    # ---- network ----

    def up(self):
        super().up()
        (vgw1, _), (vgw2, _) = self.aws
        self.sh("gw2", "ip", "addr", "add", f"{vgw1}/24", "dev", self.dev["gw2_wan"])
        # Endpoint 2 on a link of its own to the inet router (inside inet2's /24: a host route).
        self.net.veth("inet3", "inet", "aws2", "aws2")
        self.sh("inet", "ip", "link", "set", self.dev["inet3"], "up")
        self.sh("inet", "ip", "route", "add", f"{vgw2}/32", "dev", self.dev["inet3"])
        self.net.address("aws2", "aws2", f"{vgw2}/24")
        self.sh("aws2", "ip", "route", "add", f"{GW1_EIP}/32", "via", INET_PUBLIC)
        # The VPC behind the connection: endpoint 1 is B's router and sends A's CIDR into its
        # tunnel while it has one (table 220), else to endpoint 2 over the VPC link.
        self.net.veth("vpc1", "gw2", "vpc2", "aws2")
        self.net.address("gw2", "vpc1", f"{VPC_LINK[0]}/24")
        self.net.address("aws2", "vpc2", f"{VPC_LINK[1]}/24")
        self.net.router("aws2")
        self.sh("gw2", "ip", "route", "add", NET_A, "via", VPC_LINK[1])
        self.sh("aws2", "ip", "route", "add", NET_B, "via", VPC_LINK[0])
        return self

    def silence(self, address):
        """The inet router drops everything from and to `address` (a dead endpoint)."""
        with open(self.silence_file, "w") as f:
            f.write(f"""table ip silence {{
  chain forward {{
    type filter hook forward priority 0; policy accept;
    ip saddr {address} drop
    ip daddr {address} drop
  }}
}}
""")
        self.sh("inet", "nft", "-f", self.silence_file)

    def restore(self):
        self.sh("inet", "nft", "delete", "table", "ip", "silence")

    # ---- start ----

    def import_config(self):
        """gw1's config from the sample, as deploy-aws.md's import step with the lab's ports."""
        site = ["--wan-interface", f"net_af_packet0,iface={self.dev['gw1_wan']}",
                "--wan-address", f"{GW1_PRIVATE}/24",
                "--lan-interface", f"net_af_packet1,iface={self.dev['gw1_lan']}",
                "--lan-address", f"{GW1_LAN}/16", "--lan-mtu", "1500",
                "--local-cidr", NET_A, "--remote-cidr", NET_B, "--workers", "1"]
        summary = self.gw1.import_aws(self.sample, site)
        by_remote = {t["remote"]: t["name"] for t in summary["tunnels"]}
        for (vgw, _), charon in zip(self.aws, self.endpoints):
            if vgw not in by_remote:
                raise LabError(f"the imported config has no tunnel to {vgw}: {summary}")
            self.tunnels.append(by_remote[vgw])
            self.endpoint[by_remote[vgw]] = charon

    def write_endpoint(self, n):
        """Endpoint n's swanctl.conf: tunnel n as AWS sets it up (see the docstring)."""
        vgw, psk = self.aws[n - 1]
        with open(self.endpoints[n - 1].swanctl_conf, "w") as f:
            f.write(f"""# AWS VPN endpoint {n}: tunnel {n} of the sample (test_aws_failover.py)
connections {{
  tunnel{n} {{
    version = 2
    local_addrs = {vgw}
    remote_addrs = {GW1_EIP}
    proposals = {AWS_IKE}
    mobike = no
    rekey_time = 28800s
    dpd_delay = 10s
    dpd_timeout = 30s
    local {{
      auth = psk
      id = {vgw}
    }}
    remote {{
      auth = psk
      id = {GW1_EIP}
    }}
    children {{
      tunnel{n} {{
        local_ts = {NET_B}
        remote_ts = {NET_A}
        esp_proposals = {AWS_ESP}
        rekey_time = 3600s
        dpd_action = clear
        start_action = none
      }}
    }}
  }}
}}
secrets {{
  ike-tunnel{n} {{
    id-1 = {vgw}
    id-2 = {GW1_EIP}
    secret = "{psk}"
  }}
}}
""")

    def start(self):
        """The AWS endpoints (they answer), then gw1 under espgw-up."""
        for n, charon in enumerate(self.endpoints, 1):
            self.write_endpoint(n)
            charon.start()
            charon.load()
        self.gw1.start()

    # ---- state ----

    def tunnel_up(self, tunnel, not_spi=None):
        """gw1's CHILD_SA of `tunnel` (inbound SPI other than not_spi) whose mirror its endpoint
        has installed and whose two SAs espgw holds; or None."""
        n = self.tunnels.index(tunnel) + 1
        theirs = {(c["spi_in"], c["spi_out"])
                  for c in self.endpoint[tunnel].installed(f"tunnel{n}")}
        sas = self.ctl.sas(tunnel)
        for c in self.gw1.installed(tunnel):
            if c["spi_in"] != not_spi and (c["spi_out"], c["spi_in"]) in theirs and \
                    {("in", c["spi_in"]), ("out", c["spi_out"])} <= set(sas):
                return c
        return None

    def liveness_checks(self, tunnel):
        """The tunnel's liveness_checks in espgw (0 once it has none: counted while it exists)."""
        return next((t["liveness_checks"] for t in self.ctl("tunnels")["tunnels"]
                     if t["name"] == tunnel), 0)

    def tunnel_names(self):
        return {t["name"] for t in self.ctl("tunnels")["tunnels"]}

    def moves(self, mark=0):
        """espgw's moves of the peer's traffic logged after offset `mark`: [(to, was or None)]."""
        text = self.gw1.log_text("espgw")[mark:]
        return [(to, was or None) for to, was in re.findall(
            r"espgw: peer \S+: traffic goes into tunnel (\S+)(?: \(was (\S+)\))?", text)]

    # ---- teardown ----

    def stop_daemons(self):
        return teardown([("charon aws2", lambda: self.endpoints[1].stop(timeout=10))]) \
            + super().stop_daemons()

    def dump_logs(self):
        super().dump_logs()
        print(f"---- charon aws2 log (tail) ----\n{self.endpoints[1].log_tail(60)}",
              file=sys.stderr)


def gap_figures(gaps):
    return {"outage_s": round(sum(g.get("seconds", 0) for g in gaps), 3),
            "lost": sum(g["missing"] for g in gaps)}


def print_table(figures):
    rows = [("A -> B failover", figures["a_to_b"]["failover"]),
            ("B -> A failover", figures["b_to_a"]["failover"]),
            ("A -> B failback", figures["a_to_b"]["failback"]),
            ("B -> A failback", figures["b_to_a"]["failback"])]
    print(f"{'':<18}{'outage s':>10}{'lost':>8}")
    for name, f in rows:
        print(f"{name:<18}{f['outage_s']:>10.3f}{f['lost']:>8}")
    print(f"espgw moved A -> B to tunnel 2 {figures['espgw_moved_after_cut_s']} s after the cut; "
          f"tunnel 1 back {figures['t1_back_after_restore_s']} s after the endpoint returned, "
          f"A -> B on it {figures['failback_after_restore_s']} s after; "
          f"{figures['rate_each_way']:g} datagrams/s each way", flush=True)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("build")
    ap.add_argument("plugin")
    ap.add_argument("--rate", type=float, default=300, help="datagrams per second, each way")
    ap.add_argument("--max-failover", type=float, default=240,
                    help="how long to wait for espgw to move A -> B (as shipped before the "
                         "liveness fix: about 170 s); the bound itself is 15 s")
    a = ap.parse_args()
    reason = stack_skip_reason(a.build, nat=True)
    if reason:
        print(f"SKIP: {reason}")
        return 77
    failures = []
    figures = {"rate_each_way": a.rate}

    def check(cond, msg):
        return proc.check(cond, msg, failures)

    def steps(lab):
        lab.import_config()
        t1, t2 = lab.tunnels
        say(f"step 1: {t1} (to {lab.aws[0][0]}) and {t2} (to {lab.aws[1][0]}) from "
            f"espgwctl import-aws, under espgw-up as shipped")
        lab.start()
        wait_for("both tunnels established", lambda: all(lab.tunnel_up(t) for t in lab.tunnels),
                 90, 0.2)
        streams = ha_lab.streams(lab, a.rate)
        for counter, what in ((test_failover.out_packets, "A -> B"),
                              (test_failover.in_packets, "B -> A")):
            wait_for(f"{what} on {t1}", lambda: test_failover.carrier(lab, counter) == t1, 30, 0)
        # Two-way traffic is no reason for a liveness check (dataplane/control/liveness.h): none
        # in a window longer than its 2 s of quiet.
        checks0 = lab.liveness_checks(t1)
        quiet_end = time.monotonic() + QUIET_WINDOW_S
        while time.monotonic() < quiet_end:
            time.sleep(0.2)
        check(lab.liveness_checks(t1) == checks0,
              f"no liveness check of {t1} while both ways flow ({checks0} -> "
              f"{lab.liveness_checks(t1)})")
        drops0 = lab.drops()
        mark = len(lab.gw1.log_text("espgw"))
        old_t1 = lab.tunnel_up(t1)

        say(f"step 2: AWS endpoint 1 ({lab.aws[0][0]}) goes silent")
        t_cut = time.monotonic()
        lab.silence(lab.aws[0][0])
        wait_for(f"espgw to move A -> B to {t2}", lambda: (t2, t1) in lab.moves(mark),
                 a.max_failover, 0.1)
        t_moved = time.monotonic()
        say(f"  espgw moved A -> B to {t2} {t_moved - t_cut:.1f} s after the cut")
        check(lab.liveness_checks(t1) > checks0 or t1 not in lab.tunnel_names(),
              f"espgw asked for a liveness check of {t1} after the cut")
        wait_for(f"AWS's DPD to move B -> A to {t2}",
                 lambda: test_failover.carrier(lab, test_failover.in_packets) == t2, BA_WITHIN_S,
                 0.2)
        t_ba = time.monotonic()  # B -> A's outage is measured at its receiver
        say(f"  B -> A crosses {t2} ({t_ba - t_cut:.1f} s after the cut)")

        say("step 3: endpoint 1 comes back")
        t_back = time.monotonic()
        lab.restore()
        c = wait_for(f"{t1} established again", lambda: lab.tunnel_up(t1, old_t1["spi_in"]),
                     BACK_WITHIN_S, 0.2)
        t_up = time.monotonic()
        say(f"  {t1} established again {t_up - t_back:.1f} s after: in 0x{c['spi_in']:08x} "
            f"out 0x{c['spi_out']:08x}")
        wait_for(f"espgw to move A -> B back to {t1}", lambda: (t1, t2) in lab.moves(mark), 30,
                 0.1)
        t_failback = time.monotonic()
        for counter, what in ((test_failover.out_packets, "A -> B"),
                              (test_failover.in_packets, "B -> A")):
            wait_for(f"{what} back on {t1}", lambda: test_failover.carrier(lab, counter) == t1,
                     30, 0)
        # No flapping: the traffic stays where it is for HOLD_S (a window of observation).
        seen, hold_end = set(), time.monotonic() + HOLD_S
        while time.monotonic() < hold_end:
            seen.add(test_failover.carrier(lab, test_failover.out_packets))
        check(seen == {t1}, f"A -> B stayed on {t1} for {HOLD_S} s after the failback ({seen})")
        moves = lab.moves(mark)
        check(moves == [(t2, t1), (t1, t2)], f"espgw moved the traffic twice: {moves}")

        results = stop_streams(streams)
        drops = ha_lab.drops_grown(drops0, lab.drops())
        for s, r in zip(streams, results):
            check_stream(r, s.name, failures, allow_missing=True)
        figures.update({
            "espgw_moved_after_cut_s": round(t_moved - t_cut, 1),
            "t1_back_after_restore_s": round(t_up - t_back, 1),
            "failback_after_restore_s": round(t_failback - t_back, 1),
            "espgw_drops": drops,
        })
        for key, r, t_dead in (("a_to_b", results[0], t_moved), ("b_to_a", results[1], t_ba)):
            failover = [g for g in r["gaps"] if g.get("after_t", 0) <= t_dead
                        and g.get("before_t", 1e18) >= t_cut]
            failback = [g for g in r["gaps"] if g.get("after_t", 0) >= t_back - 0.5
                        and g not in failover]
            others = [g for g in r["gaps"] if g not in failover and g not in failback]
            figures[key] = {"failover": gap_figures(failover), "failback": gap_figures(failback),
                            "sent": r["sent"], "lost": r["missing_count"]}
            name = key.replace("_to_", " -> ").upper()
            check(not others, f"{name}: nothing lost outside the failover and the failback "
                              f"({[fmt_gap(g) for g in others[:5]]})")
            bound = FAILBACK_LOSS_S * a.rate
            check(figures[key]["failback"]["lost"] <= bound,
                  f"{name}: the way back lost {figures[key]['failback']['lost']} datagrams "
                  f"(at most {bound:g}, {FAILBACK_LOSS_S:g} s worth)")
        print_table(figures)
        ab, ba = figures["a_to_b"]["failover"], figures["b_to_a"]["failover"]
        check(ab["outage_s"] <= AB_BOUND_S,
              f"A -> B moved to {t2} within {AB_BOUND_S} s: outage {ab['outage_s']} s, "
              f"{ab['lost']} lost")
        check(ba["outage_s"] <= BA_BOUND_S,
              f"B -> A moved to {t2} within {BA_BOUND_S} s (AWS's DPD): outage "
              f"{ba['outage_s']} s, {ba['lost']} lost")
        stale = lab.stale_sas()
        check(not stale, f"no SA in espgw that charon does not have ({stale})")
        if failures:
            raise LabError(f"{len(failures)} check(s) failed: " + "; ".join(failures))

    if run_lab(AwsLab(a.build, a.plugin, SAMPLE), steps) != 0 and not failures:
        failures.append("the lab did not run to its end")
    return verdict(figures, failures)


if __name__ == "__main__":
    exit_with(main)

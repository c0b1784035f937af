#!/usr/bin/env python3
"""espgw as the customer gateway of a dynamic-routing (BGP) AWS VPN connection, against the
AWS-like peer.

    test_aws_peer_espgw.py BUILD PLUGIN [SAMPLE]

aws_peer_lab.AwsPeerLab with espgw on `cgw` (behind the 1:1 NAT of its Elastic IP, as on EC2).
The customer side is what a user runs: `espgwctl import-aws` on SAMPLE (default
aws_peer_lab.SAMPLE, the dynamic-routing "Generic" download) with the documented site options,
the config and secrets used as written, under an unmodified scripts/espgw-up (the plumbing of
test_aws_failover.AsShipped: a private /run, the built plugin), which starts espgw, charon,
espgw-ike and FRR. The AWS-like peer is tunnel 1's endpoint (aws_peer_lab.aws_peer); tunnel 2's
endpoint is not in the lab, so tunnel 2 stays down.

 1. Tunnel 1's CHILD_SA is installed on both sides, its SAs in espgw.
 2. BGP is Established over it on both sides (espgw's side read with vtysh on its instance).
 3. espgw learnt the VPC's CIDR from FRR: `routes` has it with origin fpm, into tunnel 1; the
    AWS-like peer learnt the customer CIDR (BGP, and its kernel via ipsec0), and only that.
 4. The onprem host pings the VPC host through the tunnel, both ways; espgw's SAs counted it.
Exit 77 (skip) where it cannot run.
"""

import os
import sys
import time

from aws_peer_lab import (CGW_PRIVATE, INET_PRIVATE, ONPREM_CIDR, ONPREM_GW, ONPREM_HOST, SAMPLE,
                          VPC_CIDR, VPC_HOST, AwsPeerLab, check_established, ip_of, run_test, say,
                          skip_reason, wait_for)
from labkit.proc import LabError, begin_test, check, exit_with, run

# The IKE labs' Stack (espgw-up in a namespace) and test_aws_failover's AsShipped.
sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
                                "ike"))
from stack_lab import stack_skip_reason  # noqa: E402
from test_aws_failover import AsShipped  # noqa: E402

TUNNEL = "aws-tunnel1"  # import-aws's name for tunnel 1


def frr_json(gw, command):
    """vtysh against espgw's FRR instance, whose sockets are in the Stack's private /run."""
    import json  # noqa: PLC0415

    sockets = os.path.join(gw.run_dir, "frr", gw.summary["frr"]["instance"])
    out = run(["vtysh", "--vty_socket", sockets, "-c", command]).stdout
    return json.loads(out)


def espgw_route(gw, prefix):
    for r in gw.ctl("routes")["routes"]:
        if r.get("prefix") == prefix:
            return r
    return None


def ping(lab, ns, dst, count=3):
    return lab.sh(ns, "ping", "-c", str(count), "-i", "0.2", "-W", "1", dst,
                  check=False).returncode == 0


def steps(lab, gw, failures, figures):
    aws = lab.aws
    site = ["--wan-interface", f"net_af_packet0,iface={lab.ports('cgw')['wan']}",
            "--wan-address", f"{CGW_PRIVATE}/24", "--wan-gateway", INET_PRIVATE,
            "--lan-interface", f"net_af_packet1,iface={lab.ports('cgw')['lan']}",
            "--lan-address", f"{ONPREM_GW}/16", "--lan-mtu", "1500",
            "--local-cidr", ONPREM_CIDR, "--workers", "1"]
    gw.summary = gw.import_aws(lab.sample, site)
    if not gw.summary.get("frr"):
        raise LabError(f"the imported config runs no FRR: {gw.summary}")
    started = time.monotonic()
    aws.start()
    gw.start()
    say("1. tunnel 1 up")
    wait_for(f"{TUNNEL}'s CHILD_SA in charon and its SAs in espgw",
             lambda: gw.installed(TUNNEL) and len(gw.ctl.sas(TUNNEL)) >= 2, 45)
    check_established(lab, aws, 45)
    figures["established_s"] = round(time.monotonic() - started, 2)

    say("2. BGP on espgw's side")
    peer = ip_of(aws.inside)
    wait_for("espgw's BGP session Established", lambda: frr_json(
        gw, "show bgp summary json")["ipv4Unicast"]["peers"][peer]["state"] == "Established", 30)

    say("3. routes both ways")
    wait_for(f"{VPC_CIDR} in espgw with origin fpm", lambda: (espgw_route(gw, VPC_CIDR) or {})
             .get("origin") == "fpm", 20)
    r = espgw_route(gw, VPC_CIDR)
    check(TUNNEL in str(r), f"espgw routes {VPC_CIDR} into {TUNNEL}: {r}", failures)
    wait_for(f"{ONPREM_CIDR} on the AWS-like peer", lambda: aws.learnt(ONPREM_CIDR), 20)
    got = aws.frr.bgp_peer(ip_of(aws.neighbour)).get("pfxRcd")
    check(got == 1, f"the AWS-like peer received 1 prefix from espgw, got {got}", failures)
    figures["learnt_s"] = round(time.monotonic() - started, 2)

    say("4. onprem host <-> VPC host")
    before = gw.ctl.sas(TUNNEL)
    wait_for(f"ping {ONPREM_HOST} -> {VPC_HOST}", lambda: ping(lab, "onprem", VPC_HOST, 1), 15)
    check(ping(lab, "onprem", VPC_HOST, 5), f"ping {ONPREM_HOST} -> {VPC_HOST}", failures)
    check(ping(lab, "vpc", ONPREM_HOST, 5), f"ping {VPC_HOST} -> {ONPREM_HOST}", failures)
    after = gw.ctl.sas(TUNNEL)
    grew = sum(a["packets"] for a in after.values()) - sum(
        b["packets"] for k, b in before.items() if k in after)
    check(grew >= 20, f"espgw's SAs of {TUNNEL} counted {grew} packets", failures)


def sample_path():
    return sys.argv[3] if len(sys.argv) == 4 else SAMPLE


def why_skip():
    """Why the test cannot run here (FRR and charon, espgw-up's stack, the sample), or None."""
    sample = sample_path()
    return skip_reason() or stack_skip_reason(os.path.abspath(sys.argv[1]), nat=True) or (
        None if os.path.exists(sample) else f"no dynamic-routing sample {sample}")


def main():
    code = begin_test((2, 3), __doc__, why_skip)
    if code is not None:
        return code
    build, plugin = (os.path.abspath(a) for a in sys.argv[1:3])
    lab = AwsPeerLab(espgw_cgw=True, build=build, plugin=plugin)
    lab.sample = sample_path()
    # espgw is the lab's customer gateway: its logs and its stop go with the routers'.
    lab.cgw = gw = AsShipped(lab, "gw", "cgw", lab.ports("cgw"), f"{CGW_PRIVATE}/24",
                             f"{ONPREM_GW}/16", {})
    figures = {}
    return run_test(lab, lambda failures: steps(lab, gw, failures, figures), figures)


if __name__ == "__main__":
    exit_with(main)

#!/usr/bin/env python3
"""The AWS-like peer on its own: BGP over a route-based kernel-libipsec tunnel.

    test_aws_peer_bgp.py

aws_peer_lab.AwsPeerLab with a stock customer gateway: both `aws` and `cgw` run charon with
kernel-libipsec (CHILD_SA 0.0.0.0/0 <-> 0.0.0.0/0) and FRR (zebra, bgpd) peering over the
tunnel's inside addresses, hold 30 / keepalive 10 as AWS's. This proves the peer that the espgw
lab (test_aws_peer_espgw.py) points import-aws's config at, with a known-good customer side.

 1. Before the tunnel: no route to the other side's hosts on either router.
 2. The CHILD_SA is installed on both charons with 0.0.0.0/0 on both sides, the BGP session is
    Established on both, with the negotiated hold time 30 s and keepalive 10 s.
 3. aws learnt the customer's CIDR and cgw the VPC's, in BGP from the inside neighbour and in
    the kernel via the neighbour on ipsec0; each sent one prefix only.
 4. The vpc host pings the onprem host and back; the CHILD_SA counted the packets (they went
    through the tunnel: nothing else routes between them).
 5. The customer withdraws its CIDR (no network ...): it leaves aws's kernel and the ping fails:
    BGP's routes alone decide what enters the tunnel. kernel-libipsec's own 0.0.0.0/0 route into
    ipsec0 sits in table 220 behind a rule on a mark no packet has; without that mark (tried)
    the table comes before the main one and takes every packet, the replies to the vpc host on
    aws's own LAN too, and step 4 fails.
Exit 77 (skip) where it cannot run.
"""

import time

from aws_peer_lab import (AWS_ASN, CGW_ASN, HOLD_S, KEEPALIVE_S, ONPREM_CIDR, ONPREM_HOST,
                          UNUSED_FWMARK, VPC_CIDR, VPC_HOST, AwsPeerLab, check_established, ip_of,
                          run_test, say, skip_reason, wait_for)
from labkit.proc import begin_test, check, exit_with


def routes_to(lab, ns, prefix):
    return lab.sh(ns, "ip", "-4", "route", "show", "match", prefix.split("/")[0]).stdout.strip()


def ping(lab, ns, dst, count=3):
    return lab.sh(ns, "ping", "-c", str(count), "-i", "0.2", "-W", "1", dst,
                  check=False).returncode == 0


def steps(lab, failures, figures):
    aws, cgw = lab.aws, lab.cgw
    say("1. before the tunnel: no route to the far hosts")
    check(routes_to(lab, "aws", ONPREM_CIDR) == "", f"aws has no route to {ONPREM_HOST}",
          failures)
    check(routes_to(lab, "cgw", VPC_CIDR) == "", f"cgw has no route to {VPC_HOST}", failures)

    started = time.monotonic()
    aws.start()
    cgw.start()
    say("2. the CHILD_SA and BGP over it")
    for r in (aws, cgw):
        check_established(lab, r, 30)
    figures["established_s"] = round(time.monotonic() - started, 2)
    for r in (aws, cgw):
        out = r.charon.swanctl("--list-sas", "--raw", "--noblock").stdout
        check("local-ts=[0.0.0.0/0]" in out and "remote-ts=[0.0.0.0/0]" in out,
              f"{r.name}'s CHILD_SA is 0.0.0.0/0 <-> 0.0.0.0/0", failures)
        n = r.frr.json("show bgp neighbors json")[ip_of(r.neighbour)]
        got = (n["bgpState"], n["bgpTimerHoldTimeMsecs"], n["bgpTimerKeepAliveIntervalMsecs"],
               n["remoteAs"], n["localAs"])
        want = ("Established", HOLD_S * 1000, KEEPALIVE_S * 1000, r.remote_asn, r.asn)
        check(got == want, f"{r.name}'s session (state, hold ms, keepalive ms, remote AS, "
                           f"local AS) {got} == {want}", failures)
    check({aws.asn, cgw.asn} == {AWS_ASN, CGW_ASN}, "the sample's ASNs", failures)
    rules = lab.sh("aws", "ip", "rule", "show").stdout
    table = lab.sh("aws", "ip", "route", "show", "table", "220").stdout
    check(f"fwmark {UNUSED_FWMARK} lookup 220" in rules and "default dev ipsec0" in table,
          f"kernel-libipsec's 0.0.0.0/0 dev ipsec0 is in table 220 behind the rule on fwmark "
          f"{UNUSED_FWMARK}", failures)

    say("3. routes learnt over the tunnel")
    for r, prefix in ((aws, ONPREM_CIDR), (cgw, VPC_CIDR)):
        wait_for(f"{prefix} on {r.name}", lambda r=r, p=prefix: r.learnt(p), 15)
        peer = r.frr.bgp_peer(ip_of(r.neighbour))
        check((peer.get("pfxRcd"), peer.get("pfxSnt")) == (1, 1),
              f"{r.name}: 1 prefix received and 1 sent, got {peer.get('pfxRcd')}/"
              f"{peer.get('pfxSnt')}", failures)
        say(f"  {r.name}: {routes_to(lab, r.ns, prefix)}")
    figures["learnt_s"] = round(time.monotonic() - started, 2)

    say("4. vpc host <-> onprem host through the tunnel")
    before = aws.child_sa()
    wait_for(f"ping {VPC_HOST} -> {ONPREM_HOST}", lambda: ping(lab, "vpc", ONPREM_HOST, 1), 10)
    check(ping(lab, "vpc", ONPREM_HOST, 5), f"ping {VPC_HOST} -> {ONPREM_HOST}", failures)
    check(ping(lab, "onprem", VPC_HOST, 5), f"ping {ONPREM_HOST} -> {VPC_HOST}", failures)
    after = aws.child_sa()
    grew = (after["packets_in"] - before["packets_in"], after["packets_out"] - before["packets_out"])
    check(after["spi_in"] == before["spi_in"] and min(grew) >= 10,
          f"aws's CHILD_SA carried the pings: {grew[0]} packets in, {grew[1]} out", failures)

    say("5. the customer withdraws its CIDR")
    t0 = time.monotonic()
    cgw.frr.vtysh("configure terminal", f"router bgp {cgw.asn}", "address-family ipv4 unicast",
                  f"no network {ONPREM_CIDR}")
    wait_for(f"{ONPREM_CIDR} gone from aws's kernel",
             lambda: routes_to(lab, "aws", ONPREM_CIDR) == "", 10)
    figures["withdraw_s"] = round(time.monotonic() - t0, 2)
    check(not ping(lab, "vpc", ONPREM_HOST, 2), f"no ping {VPC_HOST} -> {ONPREM_HOST} after "
          "the withdraw", failures)


def main():
    code = begin_test(0, __doc__, skip_reason)
    if code is not None:
        return code
    lab = AwsPeerLab()
    figures = {}
    return run_test(lab, lambda failures: steps(lab, failures, figures), figures)


if __name__ == "__main__":
    exit_with(main)

#!/usr/bin/env python3
"""Interop: espgw against espgw, both sides the full stack, with ESN and a replay window of 1024.

    test_interop_espgw.py BUILD PLUGIN

One lab (stack_lab.StackLab, peer "espgw", nat): gw1 and gw2 each run espgw on net_af_packet
veths, charon with kernel-espgw and espgw-ike, started and supervised by scripts/espgw-up. gw1
initiates (start_action start), gw2 responds (start_action none); both tunnels have replay_window
1024 and ESN in their ESP proposals. gw1 is behind a 1:1 NAT (an Elastic IP) and checks its peer
every 2 s of silence (DPD).

 1. aes256gcm16 with ESN: charon negotiated ESN on both sides; espgw's `sas` on both gateways show
    the SAs with esn true and replay_window 1024 (inbound); ping both ways, 4 MiB over TCP each
    way with the SHA-256 of both ends equal, iperf3 each way.
 2. gw1's config changed to aes128-sha256 with ESN (SIGHUP to espgw-up): renegotiated, the same
    checks on the new SAs.
 3. gw2's espgw killed: espgw-up starts it again, gw2's plugin re-adds the SAs, which take up
    their sequence numbers (ESN) and replay windows from gw2's state file: the same SAs, no rekey,
    again with ESN and the window, traffic B -> A checked.
 4. The NAT's mapping of gw1's UDP 4500 moves to port 4501: gw1's next DPD check reaches gw2
    from the new port, gw2's charon updates the CHILD_SA (kernel-espgw's sa-update) and gw2's
    espgw sends to 4501 on the same SAs (sequence numbers, counters kept); traffic both ways.
Prints the throughput of each case. Exit 77 (skip) where it cannot run.
"""

import os
import shutil
import sys

import ike_lab
from ike_lab import A_IP, B_IP, ESP_CASES, TUNNEL, LabError, say
from labkit.traffic import iperf3, ping_ok, tcp_transfer, wait_ping
from stack_lab import StackLab, stack_skip_reason

WINDOW = 1024
TRANSFER = 4 * 1024 * 1024
IPERF_S = 3
PROPOSALS = ("aes256gcm16", "aes128-sha256")
DPD = "\n      dpd_delay_s: 2"


def esp(p):
    return f"{p}-esn-modp2048"


def check_esn(lab, child, proposal):
    """Both charons negotiated ESN; both espgws hold the SAs with esn and the window."""
    if child["esn"] != "1":
        raise LabError(f"gw1's CHILD_SA was negotiated without ESN: {child}")
    encr, keysize, integ = ESP_CASES[proposal]
    if (child["encr"], child["keysize"], child["integ"]) != (encr, keysize, integ):
        raise LabError(f"gw1's CHILD_SA: {child['encr']}-{child['keysize']}/{child['integ']}")
    theirs = [c for c in lab.gw2.installed("to-gw1") if c["spi_in"] == child["spi_out"]]
    if not theirs or theirs[0]["esn"] != "1":
        raise LabError(f"gw2's CHILD_SA: {theirs}")
    for gw, tunnel, spi_in, spi_out in ((lab.gw1, TUNNEL, child["spi_in"],
                                         child["spi_out"]),
                                        (lab.gw2, "to-gw1", child["spi_out"], child["spi_in"])):
        sas = gw.ctl.sas(tunnel)
        sa_in, sa_out = sas[("in", spi_in)], sas[("out", spi_out)]
        for sa in (sa_in, sa_out):
            if not sa["esn"] or sa["algorithm"] != proposal:
                raise LabError(f"{gw.name}'s SA {sa['spi']}: esn {sa['esn']}, "
                               f"{sa['algorithm']}")
        if sa_in["replay_window"] < WINDOW:
            raise LabError(f"{gw.name}'s inbound SA {sa_in['spi']}: replay window "
                           f"{sa_in['replay_window']}, want {WINDOW} or more")
    say(f"  {proposal}: ESN on both sides, replay windows "
        f"{lab.gw1.ctl.sas(TUNNEL)[('in', child['spi_in'])]['replay_window']} (gw1) and "
        f"{lab.gw2.ctl.sas('to-gw1')[('in', child['spi_out'])]['replay_window']} (gw2)")


def traffic(lab, proposal, seed):
    wait_ping(lab, "a", B_IP)
    ping_ok(lab, "a", B_IP, count=5)
    ping_ok(lab, "b", A_IP, count=5)
    ab = tcp_transfer(lab, "a", "b", B_IP, TRANSFER, seed=seed)
    ba = tcp_transfer(lab, "b", "a", A_IP, TRANSFER, seed=seed + 1)
    up = iperf3(lab, "a", "b", B_IP, seconds=IPERF_S)
    down = iperf3(lab, "a", "b", B_IP, seconds=IPERF_S, reverse=True)
    say(f"  {proposal}: ping both ways; {TRANSFER} bytes each way, SHA-256 equal "
        f"({ab['sha256'][:12]}..., {ba['sha256'][:12]}...); iperf3 A->B "
        f"{up['bps'] / 1e6:.0f} Mbit/s, B->A {down['bps'] / 1e6:.0f} Mbit/s")
    return up["bps"], down["bps"]


def nat_rebind(lab, child):
    """The NAT maps gw1's UDP 4500 to 4501 from now on; gw2 follows with sa-update."""
    say("the NAT moves gw1's UDP 4500 to public port 4501 (conntrack flushed)")
    key_out = ("out", child["spi_in"])  # gw2 sends on the SA gw1 receives on
    before = lab.gw2.ctl.sas("to-gw1")
    if before[key_out]["remote_port"] != 4500:
        raise LabError(f"gw2's outbound SA before the change: {before[key_out]}")
    nft = f"""flush chain ip eip post
add rule ip eip post ip saddr {ike_lab.GW1_PRIVATE} udp sport 4500 snat to {ike_lab.GW1_EIP}:4501
add rule ip eip post ip saddr {ike_lab.GW1_PRIVATE} snat to {ike_lab.GW1_EIP}
"""
    lab.sh("inet", "nft", "-f", "-", stdin=nft)
    lab.sh("inet", "conntrack", "-D", "-p", "udp", check=False)

    def moved():
        sas = lab.gw2.ctl.sas("to-gw1")
        out = sas.get(key_out)
        return sas if out and out["remote_port"] == 4501 else None

    # gw1's DPD check comes after 2 s without traffic from gw2.
    after = ike_lab.wait_for("gw2's outbound SA sending to port 4501 (sa-update)", moved, 30,
                             0.2)
    if set(after) != set(before):
        raise LabError(f"gw2's SAs changed: {sorted(before)} -> {sorted(after)}")
    if after[key_out]["next_seq"] < before[key_out]["next_seq"]:
        raise LabError("gw2's outbound SA lost its sequence number in the update")
    if f"kernel-espgw: SA 0x{child['spi_in']:08x} now" not in lab.gw2.log_text("charon"):
        raise LabError("gw2's charon log shows no update of the SA by kernel-espgw")
    ping_ok(lab, "a", B_IP, count=5)
    ping_ok(lab, "b", A_IP, count=5)
    tcp_transfer(lab, "b", "a", A_IP, TRANSFER, seed=77)
    sas = lab.gw2.ctl.sas("to-gw1")
    if sas[key_out]["packets"] <= after[key_out]["packets"]:
        raise LabError("gw2's updated outbound SA carries nothing")
    say(f"  gw2's SA 0x{child['spi_in']:08x} now sends to {ike_lab.GW1_EIP}:4501, same SPIs "
        "and sequence numbers; ping both ways and 4 MiB B -> A checked")


def steps(lab):
    rows = []
    lab.configure_gw2(esp=[esp(p) for p in PROPOSALS], replay_window=WINDOW)
    lab.configure_gw1(esp=[esp(PROPOSALS[0])], replay_window=WINDOW, extra_ike=DPD)
    lab.start()
    say("gw1 and gw2: espgw, charon and espgw-ike up under espgw-up")
    child = None
    for i, proposal in enumerate(PROPOSALS):
        old = set()
        if child:
            old = {child["spi_in"]}
            lab.configure_gw1(esp=[esp(proposal)], replay_window=WINDOW, extra_ike=DPD)
            lab.gw1.hup()
        child = lab.established(proposal, old_spis=old)
        lab.only_current_sas(child)
        check_esn(lab, child, proposal)
        rows.append((proposal, *traffic(lab, proposal, 10 * i)))
    say("gw2's espgw (the responder's) killed: espgw-up starts it again, gw2's plugin re-adds "
        "the SAs, which resume from gw2's state file")
    pid = lab.gw2.kill("espgw")
    lab.gw2.wait_restarted("espgw", pid)
    new = lab.established(PROPOSALS[-1], timeout=60)
    lab.only_current_sas(new)
    if (new["spi_in"], new["spi_out"]) != (child["spi_in"], child["spi_out"]):
        raise LabError(f"gw2's espgw restart rekeyed 0x{child['spi_in']:08x} -> "
                       f"0x{new['spi_in']:08x}: its SAs did not resume")
    wait_ping(lab, "a", B_IP)
    check_esn(lab, new, PROPOSALS[-1])
    tcp_transfer(lab, "b", "a", A_IP, TRANSFER, seed=99)
    say(f"  resumed 0x{new['spi_in']:08x} (no rekey); ping and a checked transfer B -> A")
    nat_rebind(lab, new)
    print("\n  espgw <-> espgw, ESN, replay window 1024 (iperf3, one TCP stream, "
          f"{IPERF_S} s)")
    for proposal, up, down in rows:
        print(f"  {proposal:14} A->B {up / 1e6:6.0f} Mbit/s   B->A {down / 1e6:6.0f} Mbit/s")


def main():
    if len(sys.argv) != 3:
        print(__doc__, file=sys.stderr)
        return 2
    build, plugin = (os.path.abspath(a) for a in sys.argv[1:])
    reason = stack_skip_reason(build, nat=True) or (
        None if shutil.which("conntrack") else "conntrack is not installed (package conntrack)")
    if reason:
        print(f"SKIP: {reason}")
        return 77
    return ike_lab.run_lab(StackLab(build, plugin, peer="espgw", nat=True), steps)


if __name__ == "__main__":
    sys.exit(main())

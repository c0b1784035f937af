#!/usr/bin/env python3
"""Traffic starts IKE: `start_action: trap` (and `dpd_action: trap`) with espgw's acquire events.

    test_trap.py BUILD PLUGIN

One lab (stack_lab.StackLab, peer "espgw"): gw1 and gw2 each run the full stack under
scripts/espgw-up. gw1's tunnel has start_action trap and dpd_action trap, gw2's start_action
none: neither initiates on its own, so only traffic can bring the tunnel up.

 1. Both stacks up: no IKE_SA on either side, gw1's espgw has no SA and has raised no acquire.
 2. A ping from A (gw1's LAN side): espgw drops it as tunnel_down and sends an `acquire` event,
    kernel-espgw raises it as the kernel's acquire of the trap's reqid, gw1's charon initiates.
    Within a bounded wait the IKE_SA is ESTABLISHED with gw1 the initiator, the CHILD_SA
    INSTALLED and its SAs in both espgws; then pings pass both ways.
 3. gw1's IKE_SA terminated (swanctl --terminate): the trap stays, the tunnel is down again; the
    next ping from A starts IKE again (a second acquire on gw1's espgw).
 4. Neither gateway's kernel took a packet from espgw's veths (nft counters on its input and
    forward hooks, labkit.capture.WireWatch): IKE, ESP in UDP and pings reached it through the
    taps only, once each (labkit.netns.Net.gateway_port; needs nft, else not checked).
Exit 77 (skip) where it cannot run.
"""

import os
import shutil
import sys
import time

import ike_lab
from ike_lab import A_IP, B_IP, TUNNEL, LabError, say
from labkit import traffic
from labkit.capture import WireWatch
from stack_lab import StackLab, stack_skip_reason

ESTABLISH_S = 60


def acquires(gw, tunnel):
    t = next((t for t in gw.ctl("tunnels")["tunnels"] if t["name"] == tunnel), None)
    if t is None:
        raise LabError(f"{gw.name}'s espgw has no tunnel {tunnel}")
    return t["acquires"]


def up_by_traffic(lab, before):
    """Pings from A until the tunnel carries one; checks that gw1's acquire started IKE."""
    started = time.monotonic()
    traffic.wait_ping(lab, "a", B_IP, timeout=ESTABLISH_S)
    took = time.monotonic() - started
    child = lab.established("aes128gcm16", timeout=15)
    sas = lab.gw1.ike_sas(TUNNEL)
    if len(sas) != 1 or sas[0].get("state") != "ESTABLISHED" or sas[0].get("initiator") != "yes":
        raise LabError(f"gw1's IKE_SAs: {sas}; want one ESTABLISHED that gw1 initiated")
    n = acquires(lab.gw1, TUNNEL)
    if n <= before:
        raise LabError(f"gw1's espgw raised no acquire ({n}) and yet IKE started")
    if "acquire for reqid" not in lab.gw1.log_text("charon"):
        raise LabError("gw1's charon log shows no acquire raised by kernel-espgw")
    traffic.ping_ok(lab, "a", B_IP, count=5)
    traffic.ping_ok(lab, "b", A_IP, count=5)
    say(f"  a ping from A brought the tunnel up in {took:.1f} s ({n - before} acquire(s) on "
        f"gw1); CHILD_SA 0x{child['spi_in']:08x} installed, 5 pings each way pass")
    return child, n


def steps(lab):
    # The kernels of both gateways take nothing from espgw's veths (Net.gateway_port).
    wire = [WireWatch(lab, gw, (f"{gw}_wan", f"{gw}_lan"))
            for gw in (("gw1", "gw2") if shutil.which("nft") else ())]
    lab.configure_gw2(start_action="none")
    lab.configure_gw1(start_action="trap", extra_ike="\n      dpd_action: trap")
    lab.start()
    say("gw1 (start_action trap) and gw2 (start_action none): full stacks up")
    for gw, conn in ((lab.gw1, TUNNEL), (lab.gw2, "to-gw1")):
        if gw.ike_sas(conn):
            raise LabError(f"{gw.name} has an IKE_SA before any traffic: {gw.ike_sas(conn)}")
    if lab.gw1.ctl.sas(TUNNEL) or acquires(lab.gw1, TUNNEL) != 0:
        raise LabError("gw1's espgw has SAs or acquires before any traffic")
    if acquires(lab.gw2, "to-gw1") != 0:
        raise LabError("gw2's espgw raised an acquire with no traffic")
    say("  no IKE_SA on either side, no SA and no acquire in gw1's espgw")
    child, n = up_by_traffic(lab, 0)
    say("gw1's IKE_SA terminated: the trap stays, the next ping starts IKE again")
    lab.gw1.swanctl("--terminate", "--ike", TUNNEL, "--timeout", "10")
    ike_lab.wait_for("gw1's espgw without the CHILD_SA's SAs",
                     lambda: not lab.gw1.ctl.sas(TUNNEL), 15, 0.2)
    again, _ = up_by_traffic(lab, n)
    if again["spi_in"] == child["spi_in"]:
        raise LabError("the CHILD_SA after the second acquire is the old one")
    for w in wire:
        w.check_unheard()
    say("  gw1's and gw2's kernels took nothing from espgw's veths: IKE reached each charon once"
        if wire else "  (no nft here: the veths' reverse-path drop is not checked)")


def main():
    if len(sys.argv) != 3:
        print(__doc__, file=sys.stderr)
        return 2
    build, plugin = (os.path.abspath(a) for a in sys.argv[1:])
    reason = stack_skip_reason(build, nat=False)
    if reason:
        print(f"SKIP: {reason}")
        return 77
    return ike_lab.run_lab(StackLab(build, plugin, peer="espgw", prefix="tr"), steps)


if __name__ == "__main__":
    sys.exit(main())

#!/usr/bin/env python3
"""A full mesh of three regions with IKE: the configs of `espgwctl mesh` without --static-sas.

    test_mesh.py BUILD PLUGIN

The network, the regions file and the proofs are tests/e2e/e2e_mesh.py's (this test imports it):

    host 1 (172.50.1.10) - gw1 -+                      +- gw2 - host 2 (172.60.1.10)
                                 +- router (internet) -+
                                 +- gw3 - host 3 (172.70.1.10)

but each gateway runs the full stack under scripts/espgw-up (ike_lab.Stack): espgw on
net_af_packet veths (--no-huge, a --file-prefix of its own), stock charon with kernel-espgw and
the strongswan.conf espgw-up writes from the config, and espgw-ike loading the generated tunnels
and the pair's pre-shared key from the generated secrets file. Each espgw-up runs in a private
mount namespace with its own /run (charon's VICI socket is the config's default,
/run/espgw/charon.vici, under it). Regions are named so that region-one initiates to both
others, region-three to region-two (the generator's rule: the region first by name starts IKE,
the other one traps: start_action trap, its traffic would start IKE too); the gateways start
responders first.

What it proves, on top of e2e_mesh's proofs (every host pings every other one without loss; per
ordered pair exactly the four SAs of the pair move, by exactly the number of pings; no other SA
moves; no gateway drops a packet):
  - Within a bounded wait, each gateway's charon has one ESTABLISHED IKE_SA and one INSTALLED
    CHILD_SA per peer (six IKE_SAs in all, three pairs), the initiator of each the region first
    by name, and its espgw holds exactly that CHILD_SA's two SAs (origin ike), mirrored by the
    peer's.
  - Traffic from the waiting side starts IKE: with region-one's IKE_SA to region-two
    terminated (no SA left on either side), pings from host 2 to host 1 bring the pair up again,
    the IKE_SA initiated by region-two (its trap, espgw's acquire), and pass.
  - espgw-up on each gateway stops cleanly (exit 0).
Namespaces, processes, DPDK folders and the work folder go however the test ends; a run killed
outright is swept by the next lab (labkit.lab.Lab). Exit 77 where it cannot run.
"""

import os
import sys

import ike_lab
import stack_lab
from e2e import e2e_mesh as M

ESTABLISH_S = 60


class IkeMesh(M.Mesh):
    """e2e_mesh.Mesh with the generator's IKE configs and a Stack per gateway."""

    generator_options = []
    origin = "ike"

    def __init__(self, build, plugin):
        self.plugin = os.path.abspath(plugin)
        super().__init__(build, "ipsec-mb")
        # The configs name their secrets files where the generator writes them.
        self.generator_options = ["--secrets-dir", self.configs]

    def make_gateways(self):
        gateways = []
        for i, name in enumerate(M.NAMES):
            g = stack_lab.Stack(self, f"gw{i + 1}", f"gw{i + 1}", {}, None, None, {})
            g.region = name
            g.config = os.path.join(self.configs, f"{name}.yaml")
            # The config keeps espgw-ike's default sockets, under the stack's private /run.
            g.vici = os.path.join(g.run_dir, "espgw", "charon.vici")
            g.ike_socket = os.path.join(g.run_dir, "espgw", "espgw-ike.sock")
            gateways.append(g)
        return gateways

    def secret_files(self):
        return [os.path.join(self.configs, f"{name}.secrets.yaml") for name in M.NAMES]

    def start_gateways(self):
        # Responders first: an initiator finds its peers' tunnels loaded.
        for g in sorted(self.gateways, key=lambda g: g.region, reverse=True):
            g.start()
            M.say(f"{g.name} ({g.region}): espgw, charon and espgw-ike up under espgw-up")
        ike_lab.wait_for("an installed CHILD_SA on each gateway to each of its two peers, its SAs "
                         "in espgw", self.established, ESTABLISH_S, 0.2)
        M.say("six IKE_SAs established, each with its CHILD_SA installed in espgw")

    def peers(self, i):
        return [j for j in range(3) if j != i]

    def established(self):
        for i, g in enumerate(self.gateways):
            try:
                sas = g.ctl("sas")["sas"]
            except OSError as e:
                raise ike_lab.LabError(f"{g.name}'s espgw: {e}") from e
            for j in self.peers(i):
                tunnel = f"to-{M.NAMES[j]}"
                if not g.installed(tunnel):
                    return None
                mine = [s for s in sas if s["tunnel"] == tunnel]
                if not any(s["direction"] == "in" for s in mine) or not any(
                        s["direction"] == "out" and s.get("in_use") for s in mine):
                    return None
        return True

    def check_sas(self, failures):
        for i, g in enumerate(self.gateways):
            for j in self.peers(i):
                tunnel = f"to-{M.NAMES[j]}"
                ike = [s for s in g.ike_sas(tunnel) if s.get("state") == "ESTABLISHED"]
                first = M.NAMES[i] < M.NAMES[j]
                M.check(len(ike) == 1 and (ike[0].get("initiator") == "yes") == first,
                        f"{M.NAMES[i]}: one IKE_SA {tunnel}, "
                        f"{'initiated' if first else 'answered'} by this region ({ike})",
                        failures)
                children = g.installed(tunnel)
                M.check(len(children) == 1, f"{M.NAMES[i]}: one CHILD_SA {tunnel} installed",
                        failures)
                if children:
                    sas = g.ctl.sas(tunnel)
                    want = {("in", children[0]["spi_in"]), ("out", children[0]["spi_out"])}
                    M.check(set(sas) == want,
                            f"{M.NAMES[i]}: espgw holds exactly that CHILD_SA's SAs on {tunnel}",
                            failures)
        super().check_sas(failures)

    def more_proofs(self, failures):
        one, two = self.gateways[0], self.gateways[1]
        one.swanctl("--terminate", "--ike", "to-region-two", "--timeout", "10")
        ike_lab.wait_for("no SA between region-one and region-two",
                         lambda: not one.ctl.sas("to-region-two")
                         and not two.ctl.sas("to-region-one"), 15, 0.2)
        before = next(t["acquires"] for t in two.ctl("tunnels")["tunnels"]
                      if t["name"] == "to-region-one")
        ike_lab.wait_for("a ping h2 -> h1 through the trapped tunnel",
                         lambda: self.sh("h2", "ping", "-c", "1", "-W", "1",
                                         f"{M.LAN_NETS[0]}.10", check=False).returncode == 0,
                         ESTABLISH_S, 0)
        ike = [s for s in two.ike_sas("to-region-one") if s.get("state") == "ESTABLISHED"]
        after = next(t["acquires"] for t in two.ctl("tunnels")["tunnels"]
                     if t["name"] == "to-region-one")
        M.check(len(ike) == 1 and ike[0].get("initiator") == "yes" and after > before,
                f"region-two: its traffic started IKE to region-one (acquires {before} -> "
                f"{after}, {ike})", failures)
        r = self.sh("h2", "ping", "-n", "-q", "-c", "5", "-i", "0.2", "-W", "2",
                    f"{M.LAN_NETS[0]}.10", check=False, timeout=60)
        M.check("5 received" in r.stdout, "h2 -> h1: 5 pings answered after the trap", failures)

    def stop_gateway(self, g):
        code = g.stop()
        return None if code == 0 else f"espgw-up exited with {code}"

    def dump_logs(self):
        for g in self.gateways:
            g.dump_logs()


def main():
    if len(sys.argv) != 3:
        print(__doc__, file=sys.stderr)
        return 2
    build, plugin = (os.path.abspath(a) for a in sys.argv[1:])
    reason = stack_lab.stack_skip_reason(build)
    if reason:
        print(f"SKIP: {reason}")
        return 77
    return M.run_mesh(IkeMesh(build, plugin))


if __name__ == "__main__":
    sys.exit(main())

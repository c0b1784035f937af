"""A full mesh of three espgw gateways, each a region with its VPC host, built from a regions file
by `espgwctl mesh`. This test runs the generator's lab mode, `--static-sas`; the same network and
proofs with the generator's default, IKE with a pre-shared key per pair, are the IKE test
`ike_mesh` (tests/ike/test_mesh.py, which imports this module).

    host 1 (172.50.1.10) - gw1 -+                      +- gw2 - host 2 (172.60.1.10)
                                 +- router (internet) -+
                                 +- gw3 - host 3 (172.70.1.10)

Each gateway has a tunnel to each of the other two (plain ESP: no NAT between the regions;
AES-256-GCM keys drawn by the generator per pair). Namespaces are mesh-<tag>-*; they, the
processes, their DPDK folders and the work folder go however the test ends, and a run killed
outright is swept by the next lab (labkit.lab.Lab).

What it proves:
  - The generator's three configs start three gateways whose SAs mirror each other pairwise.
  - Every host pings every other host without loss.
  - Per ordered pair (a, b), pinging from a to b moves exactly four SA counters by exactly the
    number of pings: a's SA out to b, b's SA in from a (the requests), b's SA out to a and a's SA
    in from b (the replies). No other SA of any gateway moves, and no gateway drops a packet.

Exit 0: pass; 1: fail; 77: cannot run here (not root, tools missing).
"""

import os
import sys

from e2e import lab as L
from labkit import lab as labkit_lab
from labkit import traffic
from labkit.espgw import Espgw, binary as espgw_binary
from labkit.proc import check

PINGS = 10
ROUTER_IPS = ["198.51.100.254", "203.0.113.254", "192.0.2.254"]
WAN_IPS = ["198.51.100.1", "203.0.113.2", "192.0.2.3"]
LAN_NETS = ["172.50.1", "172.60.1", "172.70.1"]
NAMES = ["region-one", "region-two", "region-three"]


def say(msg):
    print(f"[mesh] {msg}", flush=True)


class MeshGateway(Espgw):
    """An espgw with the config `espgwctl mesh` wrote for its region."""

    def __init__(self, mesh, index):
        name = f"gw{index + 1}"
        super().__init__(mesh, name, name, espgw_binary(mesh.build),
                         os.path.join(mesh.configs, NAMES[index] + ".yaml"),
                         os.path.join(mesh.workdir, f"{name}.sock"),
                         os.path.join(mesh.workdir, f"{name}.log"))
        self.region = NAMES[index]


class Mesh(labkit_lab.Lab):
    """The network, the regions file and the generator's configs; the gateways are espgw alone
    with static SAs here, the full IKE stack in tests/ike/test_mesh.py (a subclass)."""

    prefix = "mesh"
    mac_prefix = "02:a5:00:00:00"
    generator_options = ["--static-sas"]
    origin = "config"  # what espgw's `sas` says each SA came from (a static_sa of the config)

    def __init__(self, build, crypto):
        super().__init__(say=say)
        self.build = os.path.abspath(build)
        self.crypto = crypto
        self.configs = os.path.join(self.workdir, "configs")
        self.net.declare("inet", "gw1", "gw2", "gw3", "h1", "h2", "h3")
        self.gateways = self.make_gateways()

    def make_gateways(self):
        return [MeshGateway(self, i) for i in range(3)]

    def up(self):
        net = self.net
        self.up_namespaces("inet", "gw1", "gw2", "gw3", "h1", "h2", "h3")
        net.router("inet")
        regions = ["defaults:", f"  dataplane: {{crypto: {self.crypto}, idle_sleep_us: 20}}",
                   "regions:"]
        for i in range(3):
            gw, host, inet = f"gw{i + 1}", f"h{i + 1}", f"inet{i + 1}"
            wan, lan = f"{gw}_wan", f"{gw}_lan"
            net.veth(wan, gw, inet, "inet")
            net.veth(lan, gw, host, host)
            net.address("inet", inet, f"{ROUTER_IPS[i]}/24")
            net.neighbour("inet", WAN_IPS[i], wan, inet)
            net.host(host, host, f"{LAN_NETS[i]}.10/24", f"{LAN_NETS[i]}.1")
            for end in (wan, lan):
                # As in lab.py: the gateway's kernel hears these wires only through espgw's taps.
                net.gateway_port(gw, end)
            regions += [
                f"  - name: {NAMES[i]}",
                f"    wan_address: {WAN_IPS[i]}/24",
                f"    wan_gateway: {ROUTER_IPS[i]}",
                f"    wan_device: net_af_packet0,iface={self.dev[wan]},framecnt=4096",
                f"    lan_device: net_af_packet1,iface={self.dev[lan]},framecnt=4096",
                f"    lan_address: {LAN_NETS[i]}.1/24",
                "    lan_mtu: 1500",
                f"    vpc_cidr: {LAN_NETS[i]}.0/24",
                f"    control_socket: {self.gateways[i].socket}",
            ]
        path = os.path.join(self.workdir, "regions.yaml")
        with open(path, "w") as f:
            f.write("\n".join(regions) + "\n")
        espgwctl = os.path.join(self.build, "dataplane", "espgwctl")
        r = L.run([espgwctl, "mesh", "--regions", path, "-o", self.configs,
                   *self.generator_options])
        for line in r.stderr.strip().splitlines():
            say(line)
        for secret in self.secret_files():
            mode = os.stat(secret).st_mode & 0o777
            if mode != 0o600:
                raise L.LabError(f"{secret}: mode {mode:o}, expected 600 (it holds keys)")
        self.start_gateways()

    def secret_files(self):
        """The generator's files that hold keys: the configs themselves with static SAs."""
        return [g.config for g in self.gateways]

    def start_gateways(self):
        for g in self.gateways:
            g.start()
        for g in self.gateways:
            st = g.wait_ready()
            say(f"espgw {g.name} ({g.region}) running: {st['tunnels']} tunnels, "
                f"{st['inbound_sas']}+{st['outbound_sas']} SAs")

    def stop_gateway(self, g):
        """Stops one gateway; a problem to report, or None."""
        g.stop()
        return None

    def stop_daemons(self):
        errors = []
        for g in self.gateways:
            try:
                problem = self.stop_gateway(g)
                if problem:
                    errors.append(f"{g.name}: {problem}")
            except Exception as e:  # noqa: BLE001 - teardown goes on
                errors.append(f"{g.name}: {e}")
        return errors

    def dump_logs(self):
        for g in self.gateways:
            print(f"--- {g.name} log:\n{g.log_tail()}")

    def sas(self):
        """{gateway index: espgw's `sas` list}."""
        return {i: g.ctl("sas")["sas"] for i, g in enumerate(self.gateways)}

    def sa_counts(self):
        """{(gateway index, tunnel, direction): packets}, and the drops of each gateway."""
        out, drops = {}, []
        for i, g in enumerate(self.gateways):
            for sa in g.ctl("sas")["sas"]:
                out[(i, sa["tunnel"], sa["direction"])] = sa["packets"]
            drops.append(sum(g.ctl("counters")["drops"].values()))
        return out, drops

    def more_proofs(self, failures):
        """After prove(): what a subclass proves on top (IKE: traffic starts a tunnel)."""

    def check_sas(self, failures):
        """Each tunnel has one SA each way, of this mesh's origin; what i sends to j, j takes in."""
        spis, kinds = {}, set()
        for i, sas in self.sas().items():
            for sa in sas:
                kinds.add(f"{sa['algorithm']}{' in UDP' if sa['nat_t'] else ''}")
                key = (i, sa["tunnel"], sa["direction"])
                check(key not in spis, f"{NAMES[i]}: one {sa['direction']} SA on {sa['tunnel']}",
                      failures)
                check(sa.get("origin") == self.origin,
                      f"{NAMES[i]}: SA {sa['spi']} from {sa.get('origin')}", failures)
                spis[key] = sa["spi"]
        say(f"{len(spis)} SAs: {', '.join(sorted(kinds))}")
        for i in range(3):
            for j in range(3):
                if i != j:
                    check(spis.get((i, f"to-{NAMES[j]}", "out"))
                          == spis.get((j, f"to-{NAMES[i]}", "in")),
                          f"{NAMES[i]} -> {NAMES[j]}: the outbound SPI is the peer's inbound one",
                          failures)


def prove(mesh, failures):
    """Every host pings every other one; each ordered pair moves its four SAs and nothing else."""
    mesh.check_sas(failures)
    # First pings wait for ARP on both ends: one answered echo per pair proves the path.
    for i in range(3):
        for j in range(3):
            if i != j:
                traffic.wait_ping(mesh, f"h{i + 1}", f"{LAN_NETS[j]}.10")
    for i in range(3):
        for j in range(3):
            if i == j:
                continue
            before, drops_before = mesh.sa_counts()
            # Exactly PINGS echoes, each given 10 s for its answer (traffic.ping: iputils ping
            # gives up on a late answer two round trips after its last echo, and with -w sends
            # past -c): each echo and its answer cross the pair's four SAs.
            r = traffic.ping(mesh, f"h{i + 1}", f"{LAN_NETS[j]}.10", PINGS, 0.05, wait=10)
            check(r["received"] == PINGS,
                  f"h{i + 1} -> h{j + 1}: {PINGS} pings answered ({r})", failures)
            expected = {(i, f"to-{NAMES[j]}", "out"): PINGS, (j, f"to-{NAMES[i]}", "in"): PINGS,
                        (j, f"to-{NAMES[i]}", "out"): PINGS, (i, f"to-{NAMES[j]}", "in"): PINGS}

            def moved():
                after, drops_after = mesh.sa_counts()
                delta = {k: after[k] - before.get(k, 0) for k in after}
                return (delta, drops_after) if all(
                    delta.get(k) == v for k, v in expected.items()) else None

            try:
                delta, drops_after = L.wait_for("the four SA counters of the pair", moved, 5)
            except L.LabError:
                delta, drops_after = mesh.sa_counts()
                delta = {k: delta[k] - before.get(k, 0) for k in delta}
            others = {k: v for k, v in delta.items() if k not in expected and v}
            check(all(delta.get(k) == v for k, v in expected.items()),
                  f"h{i + 1} -> h{j + 1}: the pair's four SAs carried the {PINGS} echoes "
                  f"and their answers ({[delta.get(k) for k in expected]})", failures)
            check(not others, f"h{i + 1} -> h{j + 1}: no other SA moved ({others})", failures)
            check(drops_after == drops_before,
                  f"h{i + 1} -> h{j + 1}: no drops ({drops_before} -> {drops_after})", failures)


def run_mesh(mesh):
    """Up, the proofs (and the mesh's own, more_proofs), down whatever happened; the exit
    code."""
    L.on_signals_unwind()
    failures = []
    try:
        mesh.up()
        prove(mesh, failures)
        mesh.more_proofs(failures)
    except Exception as e:  # noqa: BLE001 - any failure is reported, and teardown runs
        failures.append(str(e))
        print(f"  FAIL  {e}", flush=True)
        mesh.dump_logs()
    finally:
        errors = mesh.down()
        check(not errors, f"teardown: {errors or 'clean'}", failures)
    print(f"mesh: {len(failures)} failures")
    return 1 if failures else 0


def main():
    a = L.arguments()
    return run_mesh(Mesh(a.build, a.crypto))


if __name__ == "__main__":
    sys.exit(main())

"""Route-based tunnels' inside interfaces (docs/routing.md "Inside interfaces"): two espgw
gateways joined by one wire and a route-based static-SA tunnel (selectors 0.0.0.0/0 and ::/0),
each with inside addresses on the TUN device espgw makes for the tunnel.

    gw1 (espgw)  192.0.2.1 ---- wire ---- 192.0.2.2  gw2 (espgw)
      espin-t: 169.254.44.1/30, fd00:44::1/126    espin-t: 169.254.44.2/30, fd00:44::2/126

What it proves:
  - Each espgw made its inside interface: up, with its inside addresses and the tunnel's inner MTU
    as the `tunnels` report gives it.
  - Ping works both ways between the inside addresses, IPv4 and IPv6, and TCP carries data both
    ways (SHA-256 checked): the kernel's packets go into the tunnel, the peer's come out of it.
  - The tunnels report counts them (inside_packets to_kernel / from_kernel), and nothing is
    dropped.
  - Priority: with exception_pps 200, a UDP flood from gw2's kernel to gw1's inside address is
    rate limited (gw1's exception_rate_limited grows), yet a TCP connection to port 179 (BGP)
    opens and carries data during it; so does one from gw1 to gw2's port 179. Without the
    priority, a SYN would pass the 200 pps budget against the flood's tens of thousands a second
    about once in a hundred tries.
  - When espgw stops, its inside interface is gone.

Exit 0: pass; 1: fail; 77: cannot run here (not root, tools missing).
"""

import json
import os
import sys

from e2e import lab as L
from labkit import lab as labkit_lab
from labkit import traffic
from labkit.control import new_gcm_key
from labkit import proc
from labkit.espgw import Espgw, binary as espgw_binary
from labkit.proc import PYTHON, check, exit_with, on_signals_unwind, result, wait_for, write_secret

WAN = {"gw1": "192.0.2.1", "gw2": "192.0.2.2"}
INSIDE4 = {"gw1": "169.254.44.1", "gw2": "169.254.44.2"}
INSIDE6 = {"gw1": "fd00:44::1", "gw2": "fd00:44::2"}
IFNAME = "espin-t"
EXCEPTION_PPS = 200

# A UDP flood to (address, port) at FLOOD_PPS (100 times gw1's exception budget), paced in bursts
# of 1 ms, until killed. Paced, not as fast as the kernel takes it: what overflows the sender's
# own TUN queue would also take the sender's BGP packets, which no dataplane can help.
FLOOD_PPS = 20000
FLOOD = """
import socket, sys, time
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
to, per_ms = (sys.argv[1], int(sys.argv[2])), int(sys.argv[3]) // 1000
payload = bytes(64)
print("ready", flush=True)
t = time.monotonic()
while True:
    for _ in range(per_ms):
        try:
            s.sendto(payload, to)
        except OSError:
            pass
    t += 0.001
    time.sleep(max(0.0, t - time.monotonic()))
"""


def say(msg):
    print(f"[inside] {msg}", flush=True)


class Gateway(Espgw):
    def __init__(self, lab, name, peer, out_sa, in_sa):
        super().__init__(lab, name, name, espgw_binary(lab.build),
                         os.path.join(lab.workdir, f"{name}.yaml"),
                         os.path.join(lab.workdir, f"{name}.sock"),
                         os.path.join(lab.workdir, f"{name}.log"))
        self.peer, self.out_sa, self.in_sa = peer, out_sa, in_sa

    def write_config(self):
        lab = self.lab
        (out_spi, out_key), (in_spi, in_key) = self.out_sa, self.in_sa
        write_secret(self.config, f"""# espgw lab gateway {self.name}, tests/e2e/e2e_inside.py: LAB ONLY keys
dataplane:
  workers: 1
  crypto: {lab.crypto}
  control_socket: {self.socket}
  idle_sleep_us: 20
  exception_pps: {EXCEPTION_PPS}
interfaces:
  - name: wan
    device: net_af_packet0,iface={lab.dev[self.name + '_wan']},framecnt=4096
    addresses: [{WAN[self.name]}/24]
tunnels:
  - name: t
    local: {WAN[self.name]}
    remote: {WAN[self.peer]}
    local_cidrs: [0.0.0.0/0, "::/0"]
    remote_cidrs: [0.0.0.0/0, "::/0"]
    inside: [{INSIDE4[self.name]}/30, "{INSIDE6[self.name]}/126"]
    inside_interface: {IFNAME}
    static_sa:
      outbound: {{spi: 0x{out_spi:08x}, algorithm: aes128gcm16, key: 0x{out_key.hex()}}}
      inbound: {{spi: 0x{in_spi:08x}, algorithm: aes128gcm16, key: 0x{in_key.hex()}}}
""")


class InsideLab(labkit_lab.Lab):
    prefix = "ins"
    mac_prefix = "02:e2:e1:00:00"

    def __init__(self, build, crypto):
        super().__init__(say=say)
        self.build = os.path.abspath(build)
        self.crypto = crypto
        self.net.declare("gw1", "gw2")
        a2b = (0x1000 + int.from_bytes(os.urandom(2), "big"), new_gcm_key())
        b2a = (0x20000 + int.from_bytes(os.urandom(2), "big"), new_gcm_key())
        self.gw1 = Gateway(self, "gw1", "gw2", a2b, b2a)
        self.gw2 = Gateway(self, "gw2", "gw1", b2a, a2b)
        self.gateways = (self.gw1, self.gw2)

    def up(self):
        net = self.net
        self.up_namespaces("gw1", "gw2")
        net.veth("gw1_wan", "gw1", "gw2_wan", "gw2")
        for gw in self.gateways:
            net.gateway_port(gw.name, f"{gw.name}_wan")
            # The lab's namespaces have IPv6 off; the inside interface, made after this, has it.
            self.sh(gw.name, "sysctl", "-qw", "net.ipv6.conf.default.disable_ipv6=0")
            gw.write_config()
            gw.start()
        for gw in self.gateways:
            gw.wait_ready()
        return self

    def stop_daemons(self):
        return labkit_lab.teardown((gw.name, gw.stop) for gw in self.gateways)

    def link(self, ns):
        """`ip -j addr show` of the inside interface in namespace ns, or None."""
        r = self.sh(ns, "ip", "-j", "addr", "show", "dev", IFNAME, check=False)
        return json.loads(r.stdout)[0] if r.returncode == 0 else None

    def tunnel(self, gw):
        return gw.ctl("tunnels")["tunnels"][0]


def bgp_port_transfer(lab, src, dst, failures, timeout):
    """A TCP connection to port 179 of dst's inside address opens within `timeout` and carries
    64 KiB (checked); the seconds it took."""
    recv = lab.tool(dst, "tcp-recv", "--bind", INSIDE4[dst], "--port", "179", "--timeout",
                    str(timeout + 5))
    send = lab.tool(src, "tcp-send", "--to", INSIDE4[dst], "--port", "179", "--bytes", "65536",
                    "--timeout", str(timeout))
    try:
        s = result(send, f"tcp-send {src} -> {dst}:179", timeout + 10)
        r = result(recv, f"tcp-recv {dst}:179", 10)
    except L.LabError as e:
        check(False, f"{src} -> {dst} port 179 during the flood: {e}", failures)
        return None
    check(r["sha256"] == s["sha256"] and r["bytes"] == 65536,
          f"{src} -> {dst} port 179: 64 KiB arrived intact", failures)
    return s["seconds"]


def prove(lab, failures, figures):
    for gw in lab.gateways:
        link = lab.link(gw.name)
        check(link is not None, f"{gw.name}: inside interface {IFNAME} exists", failures)
        if link is None:
            continue
        t = lab.tunnel(gw)
        addrs = sorted(f"{a['local']}/{a['prefixlen']}" for a in link["addr_info"]
                       if not a["local"].startswith("fe80"))
        want = sorted([f"{INSIDE4[gw.name]}/30", f"{INSIDE6[gw.name]}/126"])
        check(addrs == want, f"{gw.name}: {IFNAME} has {addrs}, want {want}", failures)
        check("UP" in link["flags"], f"{gw.name}: {IFNAME} is up ({link['flags']})", failures)
        check(link["mtu"] == t["inner_mtu"],
              f"{gw.name}: {IFNAME} MTU {link['mtu']} = the tunnel's inner MTU {t['inner_mtu']}",
              failures)
        check(t.get("inside_interface") == IFNAME and t.get("inside_interface_up") is True
              and sorted(t.get("inside", [])) == want,
              f"{gw.name}: tunnels report names {IFNAME} and its addresses: {t}", failures)
        inside = sorted(r["prefix"] for r in gw.ctl("routes")["routes"]
                        if r["origin"] == "inside" and r.get("tunnel") == t["name"]
                        and r["selected"])
        check(inside == want, f"{gw.name}: routes lists the inside prefixes into the tunnel "
              f"({inside})", failures)

    # The first ping may wait on nothing (no ARP inside a tunnel); one answered proves the path.
    traffic.wait_ping(lab, "gw1", INSIDE4["gw2"], timeout=10)
    for src, dst in (("gw1", "gw2"), ("gw2", "gw1")):
        for addr in (INSIDE4[dst], INSIDE6[dst]):
            r = traffic.ping(lab, src, addr, count=10, interval=0.02)
            check(r["received"] == r["sent"],
                  f"ping {src} -> {addr}: {r['received']}/{r['sent']}", failures)
        # 64 KiB: about 50 packets each way, within the exception path's budget (its one
        # second's burst of EXCEPTION_PPS), so that nothing before the flood is rate limited.
        traffic.tcp_transfer(lab, src, dst, INSIDE4[dst], 64 << 10, port=5300)

    for gw in lab.gateways:
        p = lab.tunnel(gw)["inside_packets"]
        check(p["to_kernel"] >= 60 and p["from_kernel"] >= 60,
              f"{gw.name}: inside packets counted both ways: {p}", failures)
        drops = {k: v for k, v in gw.ctl("counters")["drops"].items() if v}
        check(not drops, f"{gw.name}: no drops before the flood: {drops}", failures)

    # Priority: a flood of UDP from gw2's kernel to gw1's inside address, over gw1's budget.
    before = lab.gw1.ctl("counters")["drops"].get("exception_rate_limited", 0)
    flood = proc_ready(lab, "gw2", INSIDE4["gw1"], 9)
    try:
        wait_for("gw1 rate limiting the flood", lambda: lab.gw1.ctl("counters")["drops"].get(
            "exception_rate_limited", 0) > before + 1000, 20)
        for src, dst in (("gw2", "gw1"), ("gw1", "gw2")):
            secs = bgp_port_transfer(lab, src, dst, failures, timeout=4)
            if secs is not None:
                figures[f"bgp_port_{src}_to_{dst}_during_flood_s"] = round(secs, 3)
    finally:
        flood.kill()
        flood.wait()
    gw1_limited = lab.gw1.ctl("counters")["drops"].get("exception_rate_limited", 0)
    figures["flood_rate_limited"] = gw1_limited - before
    check(gw1_limited - before > 1000, f"gw1: the flood was rate limited ({gw1_limited - before})",
          failures)

    # Gone with espgw.
    lab.gw2.stop()
    check(lab.link("gw2") is None, f"gw2: {IFNAME} gone once espgw stopped", failures)


def proc_ready(lab, ns, addr, port):
    return proc.ready(lab.spawn(ns, PYTHON, "-c", FLOOD, addr, str(port), str(FLOOD_PPS)),
                      f"UDP flood in {ns}")


def main():
    args = L.arguments()
    on_signals_unwind()
    failures, figures = [], {}
    with InsideLab(args.build, args.crypto) as lab:
        try:
            lab.up()
            prove(lab, failures, figures)
        except Exception:
            for gw in lab.gateways:
                print(f"--- {gw.name} log:\n{gw.log_tail()}")
            raise
    return L.verdict(figures, failures)


if __name__ == "__main__":
    sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
    exit_with(main)

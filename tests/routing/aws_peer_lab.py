"""The AWS-like peer: a stock strongSwan with kernel-libipsec and FRR, route-based, as an AWS
virtual private gateway runs one tunnel of a dynamic-routing (BGP) VPN connection.

    vpc host ----- aws ---------------- inet ---------------- cgw ----- onprem host
    10.20.1.10   lan 10.20.1.1                                lan 172.16.1.1   172.16.1.10
                 wan 198.51.100.30   .1 198.51.100/24         wan 203.0.113.30 (espgw:
                                        203.0.113/24 .1       172.31.1.10 behind a 1:1 NAT)

The kernel here has no ESP (docs/platform-notes.md). `aws` runs charon with kernel-libipsec:
ESP in user space, always in UDP, with the decrypted packets handed to the kernel through its TUN
device ipsec0 and whatever the kernel routes into ipsec0 matched against the CHILD_SA's traffic
selectors, 0.0.0.0/0 <-> 0.0.0.0/0 as AWS's dynamic VPN negotiates. What makes it route-based
(docs/routing.md, "The AWS-like peer"):

- kernel-libipsec installs a route for every outbound policy whatever `charon.install_routes`
  says (it is read by kernel-netlink's IPsec half only): 0.0.0.0/0 dev ipsec0 in charon's table
  220, which the rule `from all lookup 220` at priority 220 puts before the main table, so every
  packet of the namespace would enter the tunnel (tried: even the replies to the VPC host on the
  namespace's own LAN did). `charon.plugins.kernel-netlink.fwmark` set to
  a mark without `!` makes kernel-netlink add the rule as `from all fwmark <mark> lookup 220`,
  and no packet carries the mark: the route is there and never used.
- the AWS inside address (169.254.116.137/30 in the sample) goes on ipsec0 once charon has
  made it; the /30's connected route takes bgpd's packets to our inside address into the tunnel, and the peer's
  packets to it come out of ipsec0 to bgpd.
- FRR in the namespace (zebra and bgpd, no bfdd: AWS runs no BFD), `-N` its own path space,
  hold time 30 and keepalive 10 as AWS's, announcing the VPC's CIDR; the routes it learns go to
  the kernel through ipsec0, and decide what enters the tunnel.

`inet` is the Internet between them; `cgw` is the customer gateway: another such router
(LibipsecRouter, the control) or espgw under scripts/espgw-up.

The addresses, ASNs, pre-shared key and proposals are those of tunnel 1 of the dynamic-routing
sample in tests/aws/samples (SAMPLE), read from it (sample_tunnel).
"""

import os
import re
import sys

from labkit import lab as labkit_lab
from labkit.charon import Charon
from labkit.proc import LabError, verdict
from labkit.proc import wait_for as labkit_wait_for
from frr_kit import Frr

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SAMPLE = os.path.join(ROOT, "tests", "aws", "samples", "aws-vpn-generic-bgp.txt")



def sample_tunnel(path, n=1):
    """Tunnel n of an AWS dynamic-routing "Generic" download: its outside and inside addresses
    (AWS's and the customer's), ASNs, pre-shared key and hold time, read as a user reads them."""
    with open(path) as f:
        part = re.split(r"^IPSec Tunnel #\d+\s*$", f.read(), flags=re.M)[n]

    def field(label, which=0):
        found = re.findall(r"^\s*- " + label + r"\s*:\s*(\S+)\s*$", part, re.M)
        if len(found) <= which:
            raise LabError(f"{path}: tunnel {n} has no {label!r}")
        return found[which]

    return {"cgw_outside": field("Customer Gateway"), "aws_outside":
            field("Virtual Private Gateway"), "cgw_inside": field("Customer Gateway", 1),
            "aws_inside": field("Virtual Private Gateway", 1), "psk": field("Pre-Shared Key"),
            "cgw_asn": int(field("Customer Gateway ASN")),
            "aws_asn": int(field(r"Virtual Private\s+Gateway ASN")),
            "hold_s": int(field("Neighbor Hold Time"))}


# Tunnel 1 of SAMPLE: the peer's side is configured from the same file as espgw's.
_T1 = sample_tunnel(SAMPLE)
AWS_OUTSIDE, CGW_OUTSIDE = _T1["aws_outside"], _T1["cgw_outside"]
AWS_INSIDE, CGW_INSIDE = _T1["aws_inside"], _T1["cgw_inside"]
AWS_ASN, CGW_ASN = _T1["aws_asn"], _T1["cgw_asn"]
PSK = _T1["psk"]
HOLD_S, KEEPALIVE_S = _T1["hold_s"], 10  # AWS's keepalive: a third of the hold time
IKE_PROPOSALS = "aes256-sha256-modp2048, aes128-sha256-modp2048, aes128-sha1-modp2048"
ESP_PROPOSALS = "aes256-sha256-modp2048, aes128-sha256-modp2048, aes128-sha1-modp2048, " \
                "aes128gcm16-modp2048, aes256gcm16-modp2048"

# The lab's networks.
INET_AWS, INET_CGW = "198.51.100.1", "203.0.113.1"
# espgw as the customer gateway runs as on EC2: its WAN port has a private address behind a 1:1
# NAT to the sample's customer gateway address (its Elastic IP), as in tests/ike/ike_lab.py.
CGW_PRIVATE, INET_PRIVATE = "172.31.1.10", "172.31.1.1"
EIP_NAT = f"""table ip eip {{
  chain pre {{ type nat hook prerouting priority -100; ip daddr {CGW_OUTSIDE} dnat to {CGW_PRIVATE}; }}
  chain post {{ type nat hook postrouting priority 100; ip saddr {CGW_PRIVATE} snat to {CGW_OUTSIDE}; }}
}}
"""
VPC_CIDR, VPC_GW, VPC_HOST = "10.20.0.0/16", "10.20.1.1", "10.20.1.10"
ONPREM_CIDR, ONPREM_GW, ONPREM_HOST = "172.16.0.0/16", "172.16.1.1", "172.16.1.10"

PLUGINS = "random nonce openssl kdf kernel-libipsec kernel-netlink socket-default vici"
# The mark of the rule to charon's routing table (see the module's comment): no packet has it.
UNUSED_FWMARK = "0x61770000"
TUN = "ipsec0"  # kernel-libipsec's TUN device: "ipsec%d", the first in a namespace


def say(msg):
    print(f"[aws-peer] {msg}", flush=True)


def wait_for(what, predicate, timeout, interval=0.1):
    """A LabError from the predicate (vtysh before a daemon answers) counts as "not yet"."""
    return labkit_wait_for(what, predicate, timeout, interval, retry=True)


def ip_of(cidr):
    return cidr.split("/")[0]


def bgpd_conf(asn, router_id, neighbour, remote_asn, announce):
    """bgpd's config of a route-based tunnel's end, as AWS's: eBGP to the inside neighbour,
    keepalive 10, hold 30, no BFD, `announce` as networks and nothing else sent (without the
    outbound route-map eBGP sends back what it learnt: docs/routing.md)."""
    nets = "".join(f"  network {p}\n" for p in announce)
    plist = "".join(f"ip prefix-list announce seq {5 * (i + 1)} permit {p}\n"
                    for i, p in enumerate(announce))
    return f"""! bgpd of a lab's route-based tunnel end (tests/routing/aws_peer_lab.py)
{plist}route-map announce permit 10
 match ip address prefix-list announce
exit
route-map accept permit 10
exit
router bgp {asn}
 bgp router-id {router_id}
 no bgp ebgp-requires-policy
 no bgp network import-check
 neighbor {neighbour} remote-as {remote_asn}
 neighbor {neighbour} timers {KEEPALIVE_S} {HOLD_S}
 neighbor {neighbour} timers connect 1
 address-family ipv4 unicast
{nets}  neighbor {neighbour} route-map accept in
  neighbor {neighbour} route-map announce out
 exit-address-family
"""


class LibipsecRouter:
    """A route-based IPsec router in namespace `ns`: stock charon with kernel-libipsec (one
    connection, 0.0.0.0/0 <-> 0.0.0.0/0), `inside` on ipsec0, and FRR peering with the other
    inside address over the tunnel. initiate: start_action start (else the responder, as AWS's
    endpoint by default)."""

    def __init__(self, lab, name, ns, *, local, remote, inside, neighbour, asn, remote_asn,
                 announce, initiate):
        self.lab, self.name, self.ns = lab, name, ns
        self.local, self.remote = local, remote
        self.inside, self.neighbour = inside, neighbour
        self.asn, self.remote_asn, self.announce = asn, remote_asn, announce
        self.initiate = initiate
        self.conn = f"vpn-{name}"
        self.charon = Charon(lab, name, ns, PLUGINS, extra_conf=f"""    kernel-netlink {{
      # kernel-libipsec routes 0.0.0.0/0 into ipsec0 in table 220 whatever install_routes
      # says; a rule on a mark no packet has leaves that table unused: routes decide
      fwmark = {UNUSED_FWMARK}
    }}""")
        self.frr = Frr(lab, lab.name(name), ns, {
            "zebra": f"! zebra of {name}\n",
            "bgpd": bgpd_conf(asn, ip_of(inside), ip_of(neighbour), remote_asn, announce),
        })

    def write_swanctl(self):
        start = "start" if self.initiate else "none"
        with open(self.charon.swanctl_conf, "w") as f:
            f.write(f"""connections {{
  {self.conn} {{
    version = 2
    local_addrs = {self.local}
    remote_addrs = {self.remote}
    proposals = {IKE_PROPOSALS}
    encap = yes
    dpd_delay = 10s
    local {{
      auth = psk
      id = {self.local}
    }}
    remote {{
      auth = psk
      id = {self.remote}
    }}
    children {{
      {self.conn} {{
        local_ts = 0.0.0.0/0
        remote_ts = 0.0.0.0/0
        esp_proposals = {ESP_PROPOSALS}
        dpd_action = restart
        start_action = {start}
      }}
    }}
  }}
}}
secrets {{
  ike-{self.conn} {{
    id-1 = {self.local}
    id-2 = {self.remote}
    secret = "{PSK}"
  }}
}}
""")

    def start(self):
        """charon, the inside address on its TUN device, FRR, then the connection loaded."""
        self.write_swanctl()
        self.charon.start()
        # kernel-libipsec makes ipsec0 while charon loads its plugins, before VICI answers.
        self.lab.sh(self.ns, "ip", "addr", "add", self.inside, "dev", TUN)
        self.frr.start()
        self.charon.load()

    def stop(self):
        errors = self.frr.stop()
        self.charon.stop(timeout=10)
        return errors

    # ---- state ----

    def child_sa(self):
        """The installed CHILD_SA (labkit.charon's dict), or None."""
        sas = self.charon.installed(self.conn)
        return sas[0] if sas else None

    def bgp_state(self):
        return self.frr.bgp_peer(ip_of(self.neighbour)).get("state")

    def learnt(self, prefix):
        """The prefix is in BGP's table from the neighbour and in the kernel through ipsec0."""
        paths = self.frr.bgp_routes().get(prefix, [])
        if not any(p.get("peerId") == ip_of(self.neighbour) for p in paths):
            return False
        out = self.lab.sh(self.ns, "ip", "-4", "route", "show", prefix).stdout
        return f"via {ip_of(self.neighbour)} dev {TUN}" in out and "proto bgp" in out

    def dump_logs(self):
        print(f"---- charon {self.name} (tail) ----\n{self.charon.log_tail(40)}", file=sys.stderr)
        for d in ("zebra", "bgpd"):
            print(f"---- {d} {self.name} (tail) ----\n{self.frr.log_tail(d, 20)}",
                  file=sys.stderr)


def aws_peer(lab):
    """The AWS-like peer of SAMPLE's tunnel 1 in lab's namespace "aws"."""
    return LibipsecRouter(lab, "aws", "aws", local=AWS_OUTSIDE, remote=CGW_OUTSIDE,
                          inside=AWS_INSIDE, neighbour=CGW_INSIDE, asn=AWS_ASN,
                          remote_asn=CGW_ASN, announce=[VPC_CIDR], initiate=False)


class AwsPeerLab(labkit_lab.Lab):
    """vpc - aws - inet - cgw - onprem (the module's comment). The customer gateway `cgw` is
    a stock LibipsecRouter unless espgw_cgw, where its veths are espgw's wires
    (labkit.netns.Net.gateway_port) and the caller runs espgw there."""

    prefix = "awsp"
    mac_prefix = "02:1a:a3:00:00"

    def __init__(self, espgw_cgw=False, build=None, plugin=None):
        super().__init__(say=say)
        self.espgw_cgw = espgw_cgw
        self.build, self.plugin = build, plugin  # espgw's (stack_lab.Stack reads them)
        self.net.declare("vpc", "aws", "inet", "cgw", "onprem")
        # veth ends (labkit.netns.short_name: "aws1" -> "a1"): 1 is a router's LAN, 2 its WAN
        for end in ("vpc", "aws1", "aws2", "inet1", "inet2", "cgw2", "cgw1", "prem"):
            self.net.end(end)
        self.aws = aws_peer(self)
        self.cgw = None if espgw_cgw else LibipsecRouter(
            self, "cgw", "cgw", local=CGW_OUTSIDE, remote=AWS_OUTSIDE, inside=CGW_INSIDE,
            neighbour=AWS_INSIDE, asn=CGW_ASN, remote_asn=AWS_ASN, announce=[ONPREM_CIDR],
            initiate=True)

    def up(self):
        net = self.net
        self.up_namespaces(*self.ns)
        net.veth("vpc", "vpc", "aws1", "aws")
        net.veth("aws2", "aws", "inet1", "inet")
        net.veth("inet2", "inet", "cgw2", "cgw")
        net.veth("cgw1", "cgw", "prem", "onprem")
        net.host("vpc", "vpc", f"{VPC_HOST}/24", VPC_GW)
        net.host("onprem", "prem", f"{ONPREM_HOST}/24", ONPREM_GW)
        # The routers have no default route: only what BGP learns reaches the other side.
        net.address("aws", "aws1", f"{VPC_GW}/24")
        net.address("aws", "aws2", f"{AWS_OUTSIDE}/24")
        self.sh("aws", "ip", "route", "add", "203.0.113.0/24", "via", INET_AWS)
        net.router("aws")
        net.address("inet", "inet1", f"{INET_AWS}/24")
        net.router("inet")
        if self.espgw_cgw:
            net.address("inet", "inet2", f"{INET_PRIVATE}/24")
            self.sh("inet", "nft", "-f", "-", stdin=EIP_NAT)
            for end in ("cgw1", "cgw2"):
                net.gateway_port("cgw", end)
            return self
        net.address("inet", "inet2", f"{INET_CGW}/24")
        net.address("cgw", "cgw1", f"{ONPREM_GW}/24")
        net.address("cgw", "cgw2", f"{CGW_OUTSIDE}/24")
        self.sh("cgw", "ip", "route", "add", "198.51.100.0/24", "via", INET_CGW)
        net.router("cgw")
        return self

    def ports(self, gw):
        """A router's veths as espgw's config names them: {"wan": veth, "lan": veth}."""
        return {"wan": self.dev[f"{gw}2"], "lan": self.dev[f"{gw}1"]}

    def routers(self):
        return [r for r in (self.aws, self.cgw) if r is not None]

    def stop_daemons(self):
        # The customer gateway first: espgw's test stopped espgw-up before the lab went.
        return labkit_lab.teardown((r.name, r.stop) for r in reversed(self.routers()))

    def dump_logs(self):
        for r in self.routers():
            r.dump_logs()


def run_test(lab, steps, figures):
    """lab.up(), then steps(failures); a LabError is a failure too (and a FAIL line); on any
    failure the routers' logs' tails; lab.down() however it ends. The exit code (verdict)."""
    failures = []
    try:
        lab.up()
        steps(failures)
    except LabError as e:
        failures.append(str(e))
        print(f"FAIL: {e}", file=sys.stderr)
    finally:
        if failures:
            lab.dump_logs()
        lab.down()
    return verdict(figures, failures)


def check_established(lab, router, timeout):
    """router's CHILD_SA installed and its BGP session Established; the CHILD_SA."""
    child = wait_for(f"{router.name}'s CHILD_SA", router.child_sa, timeout)
    wait_for(f"{router.name}'s BGP session to {ip_of(router.neighbour)} Established",
             lambda: router.bgp_state() == "Established", timeout)
    return child


def skip_reason():
    from labkit.charon import skip_reason as charon_skip  # noqa: PLC0415
    import frr_kit  # noqa: PLC0415

    return charon_skip() or frr_kit.skip_reason()


__all__ = ["AwsPeerLab", "LibipsecRouter", "LabError", "check_established", "run_test",
           "skip_reason"]

"""A peer of two tunnels (the config's peers[]) added to a ctl_harness.Gateway's config, for the
tests of the peer's tunnel in use (docs/ike-ha.md, "Two tunnels to one peer").

"vpn1" (preferred) and "vpn2" carry the same remote CIDR, 172.70.0.0/16, over two outer paths
(203.0.113.11 and .12, through the base config's route to 203.0.113.0/24), each with static SAs.
Peers are read from the config at start only, so this edits the file before Gateway.start().
"""

import os

from control import ctl_harness as h

PEER = "vpn"
TUNNELS = ["vpn1", "vpn2"]
PEER_CIDR = "172.70.0.0/16"
# SPIs per tunnel: outbound, inbound.
SPIS = {"vpn1": (0x6001, 0x6002), "vpn2": (0x7001, 0x7002)}
KEYS = {(t, d): h.test_key(f"peer {t} {d}", 20) for t in TUNNELS for d in ("out", "in")}

TUNNEL = """\
  - name: {name}
    local: 198.51.100.1
    remote: {remote}
    local_cidrs: [172.50.0.0/16]
    remote_cidrs: [{cidr}]
    nat_t: true
    static_sa:
      outbound: {{spi: {out_spi}, algorithm: aes128gcm16, key: 0x{out_key}}}
      inbound: {{spi: {in_spi}, algorithm: aes128gcm16, key: 0x{in_key}}}
"""


def spi_hex(spi):
    return f"0x{spi:08x}"


def add_peer(gw, failback=True, traffic=0):
    """Appends vpn1, vpn2 and peer "vpn" to gw's config (its tunnels: list ends the base config);
    with traffic, the lan port reads that many packets to 172.70.1.20 instead of its own."""
    with open(gw.config_path) as f:
        text = f.read()
    assert text.rstrip().splitlines()[-1].lstrip().startswith("inbound:"), "tunnels: ends it"
    for i, t in enumerate(TUNNELS):
        out_spi, in_spi = SPIS[t]
        text += TUNNEL.format(name=t, remote=f"203.0.113.{11 + i}", cidr=PEER_CIDR,
                              out_spi=hex(out_spi), in_spi=hex(in_spi),
                              out_key=KEYS[(t, "out")], in_key=KEYS[(t, "in")])
    text += (f"peers:\n  - name: {PEER}\n    tunnels: [{', '.join(TUNNELS)}]\n"
             f"    failback: {'true' if failback else 'false'}\n")
    with open(gw.config_path, "w") as f:
        f.write(text)
    gw.keys += list(KEYS.values())
    if traffic:
        frames = [h.udp_frame("172.50.1.10", "172.70.1.20", 2000 + i, 5201, bytes(range(100)))
                  for i in range(traffic)]
        h.write_pcap(os.path.join(gw.dir, "lan_in.pcap"), frames)
    return gw

"""What bench/run's rows are made of: the algorithms and sizes it measures, the packets in a pcap,
the lab keys, and the configs that espgw and ipsec-secgw run for a row (the same SA pair).

bench/run plans its rows and writes its pcaps and configs from these; its report lays its tables
out by them.
"""

ALGS = ["aes128gcm16", "aes256gcm16", "aes128-sha256"]
SIZES = ["64", "imix", "1400"]
IMIX_MEAN = (7 * 64 + 4 * 570 + 1518) / 12
TARGET_ALG = "aes128gcm16"
PACKETS = 240  # per pcap: 20 IMIX patterns, one flow each
# Keys (LAB ONLY): derived, fixed, published here.
KEYS = {
    "aes128gcm16": dict(key=20),
    "aes256gcm16": dict(key=36),
    "aes128-sha256": dict(key=16, auth_key=32),
}
SPI_OUT = 0x1001
SPI_IN = 0x2001
LAN_MAC, WAN_MAC = "02:00:00:00:01:01", "02:00:00:00:02:01"
HOST_MAC, ROUTER_MAC = "02:00:00:00:01:10", "02:00:00:00:02:fe"


def scaling_key(kind, size, workers, mem="huge"):
    """A row of bench/run's Workers table: kind "encrypt" or "decrypt" (espgw, AES-128-GCM) or
    "harness" (testpmd io alone); workers as a string."""
    return ("scaling", kind, "-" if kind == "harness" else TARGET_ALG, size, str(workers), mem,
            "pcap")


def keyhex(label, n):
    import hashlib
    out = b""
    i = 0
    while len(out) < n:
        out += hashlib.sha256(("espgw-bench/%s/%d" % (label, i)).encode()).digest()
        i += 1
    return out[:n].hex()


def sa_yaml(alg, spi, label):
    k = KEYS[alg]
    s = '{spi: 0x%x, algorithm: %s, key: "0x%s"' % (spi, alg, keyhex(label, k["key"]))
    if "auth_key" in k:
        s += ', auth_key: "0x%s"' % keyhex(label + "/auth", k["auth_key"])
    return s + "}"


def espgw_config(sock, lan_dev, wan_dev, alg=None, natt=False, workers=1, extra_tunnels="",
                 lanes=1):
    """Two ports: lan 172.50.1.1/24 (hosts 172.50.0.0/16 behind 172.50.1.10), wan 198.51.100.1/24
    (router .254); a tunnel to 203.0.113.2 for 172.60.0.0/16 (of `lanes` lanes: its static SA pair
    is lane 0's), or, with alg None, a plain route."""
    tunnel = ""
    routes = ["{prefix: 0.0.0.0/0, via: 198.51.100.254, interface: wan}",
              "{prefix: 172.50.0.0/16, via: 172.50.1.10, interface: lan}"]
    if alg is None:
        routes.append("{prefix: 172.60.0.0/16, via: 198.51.100.254, interface: wan}")
    else:
        tunnel = """tunnels:
  - name: peer
    local: 198.51.100.1
    remote: 203.0.113.2
    local_cidrs: [172.50.0.0/16]
    remote_cidrs: [172.60.0.0/16]
    nat_t: %s
    replay_window: 0%s
    static_sa:  # LAB ONLY
      outbound: %s
      inbound: %s
%s""" % ("true" if natt else "false",
         "\n    lanes: %d\n    peer_kind: espgw" % lanes if lanes > 1 else "",
         sa_yaml(alg, SPI_OUT, alg + "/out"), sa_yaml(alg, SPI_IN, alg + "/in"), extra_tunnels)
    return """dataplane:
  workers: %d
  control_socket: %s
interfaces:
  - name: lan
    device: "%s"
    mac: "%s"
    addresses: [172.50.1.1/24]
    mtu: 1600
    exception: none
    neighbours: [{address: 172.50.1.10, mac: "%s"}]
  - name: wan
    device: "%s"
    mac: "%s"
    addresses: [198.51.100.1/24]
    mtu: 1600
    exception: none
    neighbours: [{address: 198.51.100.254, mac: "%s"}]
routes:
%s
%s""" % (workers, sock, lan_dev, LAN_MAC, HOST_MAC, wan_dev, WAN_MAC, ROUTER_MAC,
         "\n".join("  - " + r for r in routes), tunnel)


def secgw_config(alg):
    """ipsec-secgw's sa/sp/rt lines for the same SA pair (tunnel mode, IPv4; it insists on both
    directions). Port 0 is the protected side (the LAN), port 1 the unprotected one (-u 0x2: the
    WAN, where ESP arrives)."""
    k = KEYS[alg]
    colon = lambda h: ":".join(h[i:i + 2] for i in range(0, len(h), 2))

    def crypto(label):
        key = colon(keyhex(label, k["key"]))
        if alg.endswith("gcm16"):
            return "aead_algo aes-%d-gcm aead_key %s" % (128 if alg.startswith("aes128") else 256,
                                                         key)
        return "cipher_algo aes-128-cbc cipher_key %s auth_algo sha256-hmac auth_key %s" % (
            key, colon(keyhex(label + "/auth", k["auth_key"])))
    return (
        "sp ipv4 out esp protect %d pri 1 dst 172.60.0.0/16 sport 0:65535 dport 0:65535\n"
        "sp ipv4 in esp protect %d pri 1 dst 172.50.0.0/16 sport 0:65535 dport 0:65535\n"
        "sa out %d %s mode ipv4-tunnel src 198.51.100.1 dst 203.0.113.2\n"
        "sa in %d %s mode ipv4-tunnel src 203.0.113.2 dst 198.51.100.1\n"
        "rt ipv4 dst 203.0.113.0/24 port 1\n"
        "rt ipv4 dst 172.50.0.0/16 port 0\n" % (
            SPI_OUT, SPI_IN, SPI_OUT, crypto(alg + "/out"), SPI_IN, crypto(alg + "/in")))

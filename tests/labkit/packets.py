"""ESP crafted and opened with scapy: an espgw config's static SAs as scapy's
SecurityAssociation, packets encrypted as espgw would (and by hand, for what scapy will not build),
ESP opened with its trailer, Ethernet frames, ICMP errors, fragments and a small pcap reader and
writer.

Used by the scenario tests (tests/scenarios: every case's gen.py through scenlib.py, and
run_scenario.py to decrypt and compare what espgw sent), the scapy interop test
(tests/interop: the algorithm table and the workarounds for scapy 2.5) and bench/pcapgen.
Run with Debian's /usr/bin/python3 (python3-scapy 2.5, python3-cryptography, python3-yaml).

Importing this module does not fail where scapy is missing: a script calls skip_without_scapy()
first, which exits 77 (meson's "skipped") there.

Determinism: what gen.py scripts write must be the same bytes every time. IVs come from iv_for()
(a hash of SPI and sequence number), pcap timestamps from write_pcap() (a fixed clock), never
os.urandom().
"""

import hashlib
import struct
import sys

try:
    import yaml
    from scapy.compat import raw
    from scapy.config import conf
    from scapy.layers.inet import IP, UDP
    from scapy.layers.inet6 import IPv6
    from scapy.layers.ipsec import ESP, IPSecIntegrityError, SecurityAssociation, _ESPPlain
    from scapy.packet import Raw

    MISSING = None if conf.crypto_valid else "scapy finds no usable python3-cryptography"
except ImportError as e:  # pragma: no cover - depends on the machine
    MISSING = f"scapy (or PyYAML) is not importable: {e}"


def skip_without_scapy():
    """Exits 77 (meson's "skipped") where scapy, its cryptography or PyYAML is missing."""
    if MISSING:
        print(f"SKIP: {MISSING} (with {sys.executable})")
        sys.exit(77)


# espgw algorithm -> (scapy crypt_algo, key bytes, scapy auth_algo, HMAC key bytes, ICV bytes).
# ICV sizes: RFC 4106 6 (GCM, the 16-octet ICV), RFC 2404 (SHA1-96), RFC 4868 (SHA2 truncated to
# half the output); HMAC key sizes: RFC 2404 3, RFC 4868 2.1.1 (key = output length). GCM keying
# material is the key followed by a 4-byte salt (RFC 4106 8.1).
ALGORITHMS = {
    "aes128gcm16": ("AES-GCM", 16, None, 0, 16),
    "aes256gcm16": ("AES-GCM", 32, None, 0, 16),
    "aes128-sha1": ("AES-CBC", 16, "HMAC-SHA1-96", 20, 12),
    "aes256-sha1": ("AES-CBC", 32, "HMAC-SHA1-96", 20, 12),
    "aes128-sha256": ("AES-CBC", 16, "SHA2-256-128", 32, 16),
    "aes256-sha256": ("AES-CBC", 32, "SHA2-256-128", 32, 16),
    "aes128-sha384": ("AES-CBC", 16, "SHA2-384-192", 48, 24),
    "aes256-sha384": ("AES-CBC", 32, "SHA2-384-192", 48, 24),
    "aes128-sha512": ("AES-CBC", 16, "SHA2-512-256", 64, 32),
    "aes256-sha512": ("AES-CBC", 32, "SHA2-512-256", 64, 32),
}
ALIASES = {
    "aes128gcm128": "aes128gcm16", "aes256gcm128": "aes256gcm16",
    "aes128-sha": "aes128-sha1", "aes256-sha": "aes256-sha1",
    "aes128-sha2_256": "aes128-sha256", "aes256-sha2_256": "aes256-sha256",
    "aes128-sha2_384": "aes128-sha384", "aes256-sha2_384": "aes256-sha384",
    "aes128-sha2_512": "aes128-sha512", "aes256-sha2_512": "aes256-sha512",
}

def unhex(text):
    text = text.replace(":", "")
    if text[:2].lower() == "0x":
        text = text[2:]
    return bytes.fromhex(text)


def load_config(path):
    """The case's config.yaml as plain strings (BaseLoader: '0x1001' stays text, as espgw reads
    it; PyYAML's default loader would turn hex keys into numbers and lose leading zeros)."""
    with open(path) as f:
        return yaml.load(f, Loader=yaml.BaseLoader)


class EsnHmac:
    """Works around a scapy 2.5 bug: with ESN and a separate integrity algorithm, scapy leaves the
    high 32 bits of the sequence number out of the ESP ICV. RFC 4303 2.2.1 and 3.3.2.1 (and 3.4.4.1
    on receipt) put them, unsent, after the Next Header field for the ICV computation. In scapy,
    SecurityAssociation._encrypt_esp calls `self.auth_algo.sign(esp, self.auth_key)` without the
    ESN (ipsec.py:975), _decrypt_esp calls `self.auth_algo.verify(encrypted, self.auth_key)`
    (ipsec.py:1087), and AuthAlgo.sign/verify hash `raw(pkt[ESP])` alone for ESP (ipsec.py:616 and
    654); only AH and the AEAD AAD honour esn. Fixed upstream in secdev/scapy#3908 (after 2.5.0).

    This stands in for the SA's AuthAlgo: the same HMAC object from scapy (AuthAlgo.new_mac, i.e.
    python3-cryptography), the same truncation, plus the four seq_hi bytes the RFC asks for, taken
    from the SA's `esn` at the time of the call."""

    def __init__(self, algo, sa):
        self.algo = algo
        self.sa = sa
        self.name = algo.name
        self.icv_size = algo.icv_size

    def _icv(self, esp_bytes, key):
        mac = self.algo.new_mac(key)
        mac.update(esp_bytes + struct.pack("!L", self.sa.esn))
        return mac.finalize()[: self.icv_size]

    def sign(self, pkt, key, esn_en=False, esn=0):
        pkt[ESP].data += self._icv(raw(pkt[ESP]), key)
        return pkt

    def verify(self, pkt, key, esn_en=False, esn=0):
        icv = pkt.data[len(pkt.data) - self.icv_size :]
        clone = pkt.copy()
        clone.data = clone.data[: len(clone.data) - self.icv_size]
        computed = self._icv(raw(clone), key)
        if icv != computed:
            raise IPSecIntegrityError(f"pkt_icv={icv.hex()}, computed_icv={computed.hex()}")


def set_seq(sa, seq):
    """Points scapy's SecurityAssociation at 64-bit sequence number `seq`. scapy reads
    `seq_num or self.seq_num` and `esn or self.esn` (ipsec.py:950, 973, 1094), so a low half or a
    seq_hi of 0 passed as an argument would be ignored; setting the attributes works for every
    value, 0 included."""
    sa.seq_num = seq & 0xFFFFFFFF
    sa.esn = seq >> 32


def repair_natt_udp_len(wire, ip_len):
    """Works around a scapy 2.5 bug: with nat_t_header and an IPv4 tunnel_header,
    SecurityAssociation._encrypt_esp re-parses the outer header before the ESP layer is attached
    (/usr/lib/python3/dist-packages/scapy/layers/ipsec.py:990,
    `ip_header = ip_header.__class__(raw(ip_header))`), which freezes the UDP length at 8: the
    packet it returns says UDP length 8 while the ESP payload follows (RFC 768: the length covers
    header and data). Fixed upstream in secdev/scapy#4125 (after 2.5.0). The UDP checksum is 0
    (RFC 3948 2.1) and the IPv4 header checksum does not cover UDP, so the length is the only field
    to set. Only a length of exactly 8 is repaired; any other wrong length is left for espgw to
    catch, and a scapy that writes the right length is left alone. `wire`: the outer packet's
    bytes, its IP header `ip_len` bytes long."""
    wire = bytearray(wire)
    if struct.unpack_from("!H", wire, ip_len + 4)[0] == 8:
        struct.pack_into("!H", wire, ip_len + 4, len(wire) - ip_len)
    return bytes(wire)


class Sa:
    """One static SA of a tunnel in the config, from the sender's side: direction "out" is what
    espgw sends (local -> remote), "in" what the peer sends to espgw (remote -> local)."""

    def __init__(self, tunnel, direction):
        static = tunnel["static_sa"]["outbound" if direction == "out" else "inbound"]
        self.tunnel = tunnel["name"]
        self.direction = direction
        self.spi = int(static["spi"], 0)
        alg = static["algorithm"]
        self.alg = ALIASES.get(alg, alg)
        (self.crypt_algo, _, self.auth_algo, _, self.icv_len) = ALGORITHMS[self.alg]
        self.aead = self.auth_algo is None
        self.iv_len = 8 if self.aead else 16
        self.align = 4 if self.aead else 16
        key = unhex(static["key"])
        self.salt = b""
        self.auth_key = b""
        if self.aead:
            if "salt" in static:
                self.salt = unhex(static["salt"])
            else:
                key, self.salt = key[:-4], key[-4:]
        else:
            self.auth_key = unhex(static["auth_key"])
        self.enc_key = key
        self.esn = tunnel.get("esn", "false") == "true"
        self.nat_t = tunnel.get("nat_t", "false") == "true"
        local_port = int(tunnel.get("local_port", "4500"))
        remote_port = int(tunnel.get("remote_port", "4500"))
        local, remote = tunnel["local"], tunnel["remote"]
        if direction == "out":
            self.src, self.dst, self.sport, self.dport = local, remote, local_port, remote_port
        else:
            self.src, self.dst, self.sport, self.dport = remote, local, remote_port, local_port
        self.outer_v6 = ":" in local

    def scapy_sa(self, seq=1):
        """scapy's SecurityAssociation for this SA, pointed at 64-bit sequence number `seq`."""
        sa = SecurityAssociation(
            ESP, spi=self.spi, crypt_algo=self.crypt_algo,
            crypt_key=self.enc_key + self.salt,  # scapy takes the GCM salt at the key's end
            auth_algo=self.auth_algo, auth_key=self.auth_key or None, esn_en=self.esn)
        if self.esn and not self.aead:
            sa.auth_algo = EsnHmac(sa.auth_algo, sa)
        set_seq(sa, seq)
        return sa


def sas(config):
    """Every static SA of the config by SPI and direction: {("out", spi): Sa, ("in", spi): Sa}."""
    out = {}
    for t in config.get("tunnels", []):
        if "static_sa" in t:
            for d in ("out", "in"):
                sa = Sa(t, d)
                out[(d, sa.spi)] = sa
    return out


def find_sa(config, tunnel, direction):
    for t in config["tunnels"]:
        if t["name"] == tunnel:
            return Sa(t, direction)
    raise KeyError(tunnel)


def iv_for(sa, seq):
    """A fixed IV per SA and sequence number, so that gen.py writes the same pcaps every time."""
    return hashlib.sha256(struct.pack("!IQ", sa.spi, seq)).digest()[: sa.iv_len]


def outer_header(sa, esp_len, tos=0, df=False, ttl=64, ip_id=0, ecn=None, udp_len=None,
                 ip_len=None):
    """The outer IP (and RFC 3948 UDP) header in front of `esp_len` bytes of ESP, as scapy
    layers. IPv4 UDP checksum 0 (RFC 3948 2.1); IPv6 UDP checksum computed by scapy."""
    if ecn is not None:
        tos = (tos & 0xFC) | ecn
    proto = 17 if sa.nat_t else 50
    l4 = 8 if sa.nat_t else 0
    if sa.outer_v6:
        ip = IPv6(src=sa.src, dst=sa.dst, tc=tos, hlim=ttl, nh=proto)
    else:
        ip = IP(src=sa.src, dst=sa.dst, tos=tos, ttl=ttl, id=ip_id, flags="DF" if df else 0,
                proto=proto)
        if ip_len is not None:
            ip.len = ip_len
    if sa.nat_t:
        udp = UDP(sport=sa.sport, dport=sa.dport, len=udp_len if udp_len else l4 + esp_len)
        if not sa.outer_v6:
            udp.chksum = 0
        return ip / udp
    return ip


def encap(sa, inner, seq, tos=None, df=None, ttl=64, ip_id=0, ecn=None):
    """Encrypts inner packet `inner` (scapy IP/IPv6 or bytes) with scapy's SecurityAssociation as
    SA `sa` would, sequence number `seq` (64 bits with ESN), tunnel mode. Outer TOS and DF default
    to what espgw's defaults give (copy DSCP and ECN, copy DF; IPv6 inner counts as DF). Returns
    the outer IP packet's bytes (no Ethernet)."""
    if isinstance(inner, (bytes, bytearray)):
        inner = IP(inner) if inner[0] >> 4 == 4 else IPv6(inner)
    inner_bytes = raw(inner)
    v4 = inner_bytes[0] >> 4 == 4
    if tos is None:
        tos = inner_bytes[1] if v4 else ((inner_bytes[0] << 4) | (inner_bytes[1] >> 4)) & 0xFF
    if ecn is not None:
        tos = (tos & 0xFC) | ecn
    if df is None:
        df = (inner_bytes[6] & 0x40) != 0 if v4 else True
    s = sa.scapy_sa(seq)
    if sa.outer_v6:
        s.tunnel_header = IPv6(src=sa.src, dst=sa.dst, tc=tos, hlim=ttl)
    else:
        s.tunnel_header = IP(src=sa.src, dst=sa.dst, tos=tos, ttl=ttl, id=ip_id,
                             flags="DF" if df else 0)
    if sa.nat_t:
        s.nat_t_header = UDP(sport=sa.sport, dport=sa.dport)
    pkt = s.encrypt(inner.__class__(inner_bytes), iv=iv_for(sa, seq))
    wire = raw(pkt)
    if sa.nat_t:
        ip_len = 40 if sa.outer_v6 else 20
        wire = bytearray(repair_natt_udp_len(wire, ip_len))
        if sa.outer_v6:
            # scapy writes checksum 0, which IPv6 does not allow (RFC 8200 8.1); espgw computes it
            struct.pack_into("!H", wire, ip_len + 6, udp6_checksum(bytes(wire)))
    return bytes(wire)


def inet_checksum(data):
    if len(data) % 2:
        data += b"\0"
    s = sum(struct.unpack("!%dH" % (len(data) // 2), data))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return ~s & 0xFFFF


def udp6_checksum(wire):
    """The UDP checksum an IPv6/UDP packet (bytes, no extension headers) should carry."""
    udp = bytearray(wire[40:])
    udp[6:8] = b"\0\0"
    pseudo = wire[8:40] + struct.pack("!IxxxB", len(udp), 17)
    c = inet_checksum(pseudo + bytes(udp))
    return c if c != 0 else 0xFFFF


def craft(sa, seq, payload, padding=None, padlen=None, nh=4, iv=None, tos=0, df=False, ttl=64,
          ecn=None, spi=None, corrupt_icv=False, trailer=True, ip_id=0):
    """A hand-made ESP packet of SA `sa`, for what scapy's encrypt() will not build: any
    payload, pad bytes, pad length and next header; a wrong SPI; a broken ICV. The crypto is
    still scapy's (its CryptAlgo and AuthAlgo objects). Returns the outer packet's bytes.
    payload: the plaintext in front of the trailer (bytes or a scapy packet).
    padding: the pad bytes (default 1, 2, 3, ... to the cipher's alignment); padlen: the pad
    length byte (default len(padding)). trailer=False: `payload` is the whole plaintext."""
    s = sa.scapy_sa(seq)
    data = raw(payload) if not isinstance(payload, (bytes, bytearray)) else bytes(payload)
    if trailer:
        if padding is None:
            n = -(len(data) + 2) % sa.align
            padding = bytes(range(1, n + 1))
        if padlen is None:
            padlen = len(padding)
    esp = _ESPPlain(spi=spi if spi is not None else sa.spi, seq=seq & 0xFFFFFFFF,
                    iv=iv if iv is not None else iv_for(sa, seq))
    if trailer:
        esp.data = Raw(data)
        esp.padding = padding
        esp.padlen = padlen
        esp.nh = nh
    else:
        # data_for_encryption() appends padlen and nh: give the whole plaintext but the last two
        esp.data = Raw(data[:-2])
        esp.padding = b""
        esp.padlen = data[-2]
        esp.nh = data[-1]
    icv = s.crypt_algo.icv_size if s.crypt_algo.is_aead else 0
    enc = s.crypt_algo.encrypt(s, esp, s.crypt_key, icv, esn_en=sa.esn, esn=seq >> 32)
    s.auth_algo.sign(enc, s.auth_key)
    body = bytearray(raw(enc))
    if corrupt_icv:
        body[-1] ^= 0x01
    hdr = outer_header(sa, len(body), tos=tos, df=df, ttl=ttl, ecn=ecn, ip_id=ip_id)
    return raw(hdr / Raw(bytes(body)))


def seal_esp(sa, seq, plaintext, iv):
    """ESP bytes (SPI to ICV) around `plaintext` (inner packet, padding, pad length and next
    header, as open_esp() returns it), with scapy's cipher and HMAC."""
    s = sa.scapy_sa(seq)
    esp = _ESPPlain(spi=sa.spi, seq=seq & 0xFFFFFFFF, iv=iv, data=Raw(plaintext[:-2]), padding=b"",
                    padlen=plaintext[-2], nh=plaintext[-1])
    icv = s.crypt_algo.icv_size if s.crypt_algo.is_aead else 0
    enc = s.crypt_algo.encrypt(s, esp, s.crypt_key, icv, esn_en=sa.esn, esn=seq >> 32)
    s.auth_algo.sign(enc, s.auth_key)
    return raw(enc)


# ---- opening ESP ------------------------------------------------------------------------------


class EspError(Exception):
    pass


def esp_offset(wire):
    """Where ESP starts in an outer IP packet (bytes), and whether it came in UDP."""
    if wire[0] >> 4 == 4:
        ihl = (wire[0] & 0x0F) * 4
        proto = wire[9]
    else:
        ihl = 40
        proto = wire[6]
    if proto == 50:
        return ihl, False
    if proto == 17:
        return ihl + 8, True
    raise EspError(f"not ESP: IP protocol {proto}")


def open_esp(sa, esp_bytes, seq_hi=0):
    """Verifies and decrypts the ESP part (from the SPI to the ICV) with SA `sa`, using scapy's
    cipher and HMAC objects. Returns (plaintext with trailer, inner packet bytes, pad bytes, pad
    length, next header). Raises EspError when the ICV does not verify or the trailer is bad.

    The plaintext comes from scapy's CryptAlgo pieces rather than SecurityAssociation.decrypt(),
    which throws the trailer away and gets the pad bytes wrong (ipsec.py:441-446)."""
    s = sa.scapy_sa(seq_hi << 32)
    algo = s.crypt_algo
    spi, seq = struct.unpack_from("!II", esp_bytes)
    if spi != sa.spi:
        raise EspError(f"SPI {spi:#010x}, the SA's is {sa.spi:#010x}")
    iv = esp_bytes[8 : 8 + sa.iv_len]
    body = esp_bytes[8 + sa.iv_len : len(esp_bytes) - sa.icv_len]
    icv = esp_bytes[len(esp_bytes) - sa.icv_len :]
    if len(body) <= 0 or len(body) % sa.align:
        raise EspError(f"ciphertext of {len(body)} bytes for {sa.alg}")
    try:
        if sa.aead:
            aad = (struct.pack("!LLL", spi, seq_hi, seq) if sa.esn else esp_bytes[:8])
            pt = algo.cipher(s.crypt_key).decrypt(s.crypt_salt + iv, body + icv, aad)
        else:
            s.auth_algo.verify(ESP(esp_bytes), s.auth_key)
            dec = algo.new_cipher(s.crypt_key, iv).decryptor()
            pt = dec.update(body) + dec.finalize()
    except Exception as e:  # InvalidTag, IPSecIntegrityError
        raise EspError(f"ICV does not verify with {sa.alg} SPI {sa.spi:#010x}: "
                       f"{type(e).__name__} {e}") from None
    padlen, nh = pt[-2], pt[-1]
    if padlen + 2 > len(pt):
        raise EspError(f"pad length {padlen} in {len(pt)} bytes of plaintext")
    inner = pt[: len(pt) - 2 - padlen]
    pad = pt[len(pt) - 2 - padlen : len(pt) - 2]
    # The same through SecurityAssociation.decrypt(), scapy's own tunnel-mode path: it must
    # find the same inner packet.
    s = sa.scapy_sa(seq_hi << 32)
    s.tunnel_header = (IPv6 if sa.outer_v6 else IP)(src=sa.src, dst=sa.dst)
    outer = (IPv6(src=sa.src, dst=sa.dst, nh=50) if sa.outer_v6 else
             IP(src=sa.src, dst=sa.dst, proto=50)) / ESP(esp_bytes)
    try:
        theirs = raw(s.decrypt(outer.__class__(raw(outer))))
    except Exception as e:
        raise EspError(f"scapy's SecurityAssociation.decrypt() refuses it: {e}") from None
    if nh in (4, 41) and theirs != inner:
        raise EspError("scapy's SecurityAssociation.decrypt() finds another inner packet")
    return pt, inner, pad, padlen, nh


# ---- pcap files -------------------------------------------------------------------------------

PCAP_MAGIC_US = 0xA1B2C3D4
PCAP_MAGIC_NS = 0xA1B23C4D
EPOCH = 1700000000  # the fixed clock of written pcaps


def write_pcap(path, frames):
    """Writes Ethernet frames (bytes or scapy packets) as a classic pcap with fixed timestamps:
    the same frames give the same file."""
    with open(path, "wb") as f:
        f.write(struct.pack("<IHHiIII", PCAP_MAGIC_US, 2, 4, 0, 0, 262144, 1))
        for i, fr in enumerate(frames):
            b = bytes(fr) if isinstance(fr, (bytes, bytearray)) else raw(fr)
            f.write(struct.pack("<IIII", EPOCH, i, len(b), len(b)))
            f.write(b)


def read_pcap(path):
    """The frames of a pcap file (micro- or nanosecond, either byte order) as bytes."""
    with open(path, "rb") as f:
        data = f.read()
    if len(data) < 24:
        raise ValueError(f"{path}: {len(data)} bytes, not a pcap file")
    magic = struct.unpack_from("<I", data)[0]
    if magic in (PCAP_MAGIC_US, PCAP_MAGIC_NS):
        e = "<"
    elif struct.unpack_from(">I", data)[0] in (PCAP_MAGIC_US, PCAP_MAGIC_NS):
        e = ">"
    else:
        raise ValueError(f"{path}: not a pcap file (magic {magic:#x})")
    frames = []
    off = 24
    while off + 16 <= len(data):
        _, _, caplen, _ = struct.unpack_from(e + "IIII", data, off)
        off += 16
        frames.append(data[off : off + caplen])
        off += caplen
    return frames


# ---- building frames ----------------------------------------------------------------------------


def l3(pkt):
    """A scapy IP/IPv6 packet (or bytes) as bytes."""
    return bytes(pkt) if isinstance(pkt, (bytes, bytearray)) else raw(pkt)


def frame(src_mac, dst_mac, pkt, pad_to=0):
    """An Ethernet frame around an IP/IPv6 packet (scapy or bytes), optionally padded with zeros
    to `pad_to` bytes as a NIC pads short frames (60 without the FCS)."""
    b = l3(pkt)
    etype = 0x0800 if b[0] >> 4 == 4 else 0x86DD
    f = bytes.fromhex(dst_mac.replace(":", "")) + bytes.fromhex(src_mac.replace(":", "")) + \
        struct.pack("!H", etype) + b
    return f + b"\0" * max(0, pad_to - len(f))


def routed(pkt, hops=1):
    """The packet as a router forwards it: TTL / hop limit lower by `hops`, IPv4 header checksum
    recomputed (bytes in, bytes out)."""
    b = bytearray(l3(pkt))
    if b[0] >> 4 == 4:
        b[8] -= hops
        ihl = (b[0] & 0x0F) * 4
        b[10:12] = b"\0\0"
        struct.pack_into("!H", b, 10, inet_checksum(bytes(b[:ihl])))
    else:
        b[7] -= hops
    return bytes(b)


def set_ecn(pkt, ecn):
    """The packet with its ECN field set (bytes in, bytes out; IPv4 checksum recomputed)."""
    b = bytearray(l3(pkt))
    if b[0] >> 4 == 4:
        b[1] = (b[1] & 0xFC) | ecn
        ihl = (b[0] & 0x0F) * 4
        b[10:12] = b"\0\0"
        struct.pack_into("!H", b, 10, inet_checksum(bytes(b[:ihl])))
    else:
        b[1] = (b[1] & 0xCF) | (ecn << 4)
    return bytes(b)


def garp(mac, ip):
    """The gratuitous ARP espgw sends for each IPv4 address of a port when it starts (RFC 5227 3:
    a broadcast request with sender and target both our address)."""
    from scapy.layers.l2 import ARP, Ether
    return raw(Ether(src=mac, dst="ff:ff:ff:ff:ff:ff") /
               ARP(op=1, hwsrc=mac, psrc=ip, hwdst="00:00:00:00:00:00", pdst=ip))


def icmp4_error(src, about, icmp_type, code, mtu=0):
    """espgw's ICMP error about packet `about` (as it stands when the error is made): TOS 0xc0
    (internetwork control), TTL 64, no DF, ID 0 (espgw's ID is its own; the runner does not
    compare it), the quote cut so the error fits 576 bytes (RFC 1812 4.3.2.3); for fragmentation
    needed, the next-hop MTU (RFC 1191). Bytes of the IP packet."""
    quote = l3(about)[: 576 - 28]
    icmp = bytearray(struct.pack("!BBHHH", icmp_type, code, 0, 0, mtu) + quote)
    struct.pack_into("!H", icmp, 2, inet_checksum(bytes(icmp)))
    return raw(IP(src=src, dst=IP(l3(about)).src, tos=0xC0, ttl=64, id=0, proto=1) /
               Raw(bytes(icmp)))


def icmp6_error(src, about, icmp_type, code, mtu=0):
    """espgw's ICMPv6 error about `about`: hop limit 64, traffic class 0, the quote cut so the
    error fits 1280 bytes (RFC 4443 2.4(c)); for packet too big, the MTU (RFC 4443 3.2)."""
    quote = l3(about)[: 1280 - 48]
    dst = IPv6(l3(about)).src
    icmp = bytearray(struct.pack("!BBHI", icmp_type, code, 0, mtu) + quote)
    hdr = IPv6(src=src, dst=dst, hlim=64, nh=58, plen=len(icmp))
    pseudo = raw(hdr)[8:40] + struct.pack("!IxxxB", len(icmp), 58)
    struct.pack_into("!H", icmp, 2, inet_checksum(pseudo + bytes(icmp)))
    return raw(hdr / Raw(bytes(icmp)))


def fragments(pkt, mtu):
    """RFC 791 fragmentation of IPv4 packet bytes: data in multiples of 8 bytes, the first
    fragment with every option, later ones with the copied options only (padded with
    end-of-options to a multiple of 4 bytes)."""
    b = bytes(pkt)
    ihl = (b[0] & 0x0F) * 4
    frag = struct.unpack_from("!H", b, 6)[0]
    base, more = (frag & 0x1FFF) * 8, bool(frag & 0x2000)
    opts, i = b"", 20
    while i < ihl and b[i] != 0:
        if b[i] == 1:
            i += 1
            continue
        if b[i] & 0x80:
            opts += b[i : i + b[i + 1]]
        i += b[i + 1]
    opts += b"\0" * (-len(opts) % 4)
    later = bytearray(b[:20] + opts)
    later[0] = 0x40 | (len(later) // 4)
    payload, off, out = b[ihl:], 0, []
    while off < len(payload):
        hdr = bytearray(b[:ihl] if off == 0 else later)
        chunk = min(len(payload) - off, (mtu - len(hdr)) & ~7)
        last = off + chunk == len(payload)
        struct.pack_into("!H", hdr, 2, len(hdr) + chunk)
        struct.pack_into("!H", hdr, 6, (base + off) // 8 | (0x2000 if (not last or more) else 0))
        struct.pack_into("!H", hdr, 10, 0)
        struct.pack_into("!H", hdr, 10, inet_checksum(bytes(hdr)))
        out.append(bytes(hdr) + payload[off : off + chunk])
        off += chunk
    return out


def check_reassembly(frags, whole):
    """The fragments give back the packet's payload at the right offsets."""
    data = bytearray()
    for f in sorted(frags, key=lambda f: struct.unpack_from("!H", f, 6)[0] & 0x1FFF):
        ihl = (f[0] & 0x0F) * 4
        assert (struct.unpack_from("!H", f, 6)[0] & 0x1FFF) * 8 == len(data) + \
            (struct.unpack_from("!H", whole, 6)[0] & 0x1FFF) * 8
        data += f[ihl:]
    assert bytes(data) == whole[(whole[0] & 0x0F) * 4:], "fragments do not reassemble"

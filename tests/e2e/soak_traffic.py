"""Mixed valid and malformed traffic for the soak test (tests/e2e/e2e_soak.py), sent as raw
frames from inside a lab namespace. Every malformed frame is built so that exactly one of
espgw's drop reasons applies to it (dataplane/common/drop_reason.h; classify.cpp, route.cpp,
esp.cpp, esp_inbound.cpp decide which), and the script counts what it sent under that reason.

  --side wan  (from the router, at gw2's WAN port): IP header junk, transit junk (martian, TTL 1,
              cleartext from the tunnel's remote CIDR), ESP junk against the lab's real inbound
              SA (forged ICV, bad lengths, plain ESP on a NAT-T SA), unknown and reserved SPIs,
              outer fragments, and a soak SA whose key we hold: valid packets (a sequence-numbered
              stream to host B), replays of them, and well-authenticated packets with bad
              padding, next header, inner header, ECN or selectors. Plus traffic for the exception
              path: floods of UDP 500, IKE on 4500, NAT-T keepalives, other ethertypes.
  --side lan  (from host A, at gw1's LAN port): IP header junk, TTL 1, martian and out-of-
              selector sources (none of those with --route-based: its selectors take any).

Built with scapy (headers, checksums) and python3-cryptography (AES-GCM, RFC 4106); sent with one
AF_PACKET socket pinned to one CPU, so that the frames arrive in the order they were sent (replays
are classified by their distance to the newest sequence number). Prints "ready", runs for
--seconds, then one JSON line: {"expected": {reason: n}, "per_sa": {spi: {reason: n}},
"exception": n, "valid": n, "frames": n, "seed": s}.
"""

import argparse
import json
import os
import random
import socket
import struct
import sys
import time

from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from scapy.all import IP, UDP, Ether, Raw, raw

MAGIC = b"e2eq"
END = 0xFFFFFFFFFFFFFFFF
WINDOW = 128  # the lab's replay window (config default)


class Sender:
    def __init__(self, a):
        self.a = a
        self.rng = random.Random(a.seed)
        self.sock = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)
        self.sock.bind((a.iface, 0))
        self.eth = raw(Ether(src=a.src_mac, dst=a.dst_mac, type=0x0800))[:12]
        self.expected = {}
        self.per_sa = {}
        self.exception = 0
        self.keepalives = 0  # dummy packets under the soak SA
        self.frames = 0
        self.valid = 0

    def count(self, reason, n=1, spi=None):
        self.expected[reason] = self.expected.get(reason, 0) + n
        if spi is not None:
            d = self.per_sa.setdefault(f"0x{spi:08x}", {})
            d[reason] = d.get(reason, 0) + n

    def send(self, frame):
        self.sock.send(frame)
        self.frames += 1

    def ip_frame(self, pkt):
        return self.eth + b"\x08\x00" + raw(pkt)

    def junk(self, n):
        return bytes(self.rng.getrandbits(8) for _ in range(n))

    # ---- IP header junk: classify.cpp, in the order it checks ----

    def bad_ip_header(self):
        # Random bytes whose first byte is not IPv4 with a header of 20 bytes or more.
        first = self.rng.choice([b for b in range(256) if not 0x45 <= b <= 0x4F])
        self.send(self.eth + b"\x08\x00" + bytes([first]) + self.junk(self.rng.randint(19, 300)))
        self.count("bad_ip_header")

    def ip_length(self, dst):
        p = bytearray(raw(IP(src=self.a.peer_ip, dst=dst) / UDP(sport=9, dport=9) /
                          Raw(self.junk(self.rng.randint(20, 200)))))
        struct.pack_into("!H", p, 2, len(p) + self.rng.randint(1, 1000))  # longer than the frame
        struct.pack_into("!H", p, 10, 0)
        struct.pack_into("!H", p, 10, ip_checksum(p[:20]))
        self.send(self.eth + b"\x08\x00" + bytes(p))
        self.count("ip_length")

    def ip_checksum(self, dst):
        p = bytearray(raw(IP(src=self.a.peer_ip, dst=dst) / UDP(sport=9, dport=9) /
                          Raw(self.junk(self.rng.randint(0, 200)))))
        p[10] ^= 0x5A  # the header checksum, now wrong
        self.send(self.eth + b"\x08\x00" + bytes(p))
        self.count("ip_checksum")

    # ---- transit junk: route.cpp ----

    def martian(self, dst):
        self.send(self.ip_frame(IP(src="0.0.0.0", dst=dst) / UDP(sport=9, dport=9) /
                                Raw(self.junk(32))))
        self.count("martian")

    def ttl_exceeded(self, src, dst):
        self.send(self.ip_frame(IP(src=src, dst=dst, ttl=1) / UDP(sport=9, dport=9) /
                                Raw(self.junk(32))))
        self.count("ttl_exceeded")

    def unprotected(self):
        # Cleartext from the tunnel's remote CIDR arriving on the WAN (RFC 4301 5.2).
        self.send(self.ip_frame(IP(src=self.a.inner_src, dst=self.a.inner_dst) /
                                UDP(sport=9, dport=9) / Raw(self.junk(32))))
        self.count("unprotected")

    def selector_out(self):
        # From the LAN, to the tunnel's remote CIDR, from outside its local CIDRs.
        self.send(self.ip_frame(IP(src="10.9.9.9", dst=self.a.inner_dst) / UDP(sport=9, dport=9)
                                / Raw(self.junk(32))))
        self.count("selector_mismatch")

    # ---- ESP junk: esp_inbound.cpp ----

    def natt(self, esp, **ip):
        return self.ip_frame(IP(src=self.a.peer_ip, dst=self.a.gw_ip, **ip) /
                             UDP(sport=4500, dport=4500, chksum=0) / Raw(esp))

    def truncated(self):
        if self.rng.random() < 0.5:
            # Under 8 bytes of ESP header, plain ESP or in UDP (not a keepalive, not IKE).
            esp = b"\x01" + self.junk(self.rng.randint(0, 6))
            if self.rng.random() < 0.5:
                self.send(self.ip_frame(IP(src=self.a.peer_ip, dst=self.a.gw_ip, proto=50) /
                                        Raw(esp)))
            else:
                self.send(self.natt(esp))
            self.count("truncated")
        else:
            # The real SA's SPI, shorter than header + IV + ICV + one block (36 bytes).
            esp = struct.pack("!II", self.a.lab_spi, 0xF0000000) + self.junk(
                self.rng.randint(0, 27))
            self.send(self.natt(esp))
            self.count("truncated", spi=self.a.lab_spi)

    def unknown_spi(self):
        while True:
            spi = self.rng.randint(256, 0xFFFFFFFF)
            if spi not in (self.a.lab_spi, self.a.soak_spi, *self.a.other_spi):
                break
        self.send(self.natt(struct.pack("!II", spi, 1) + self.junk(self.rng.randint(40, 400))))
        self.count("unknown_spi")

    def reserved_spi(self):
        spi = self.rng.randint(1, 255)
        self.send(self.natt(struct.pack("!II", spi, 1) + self.junk(self.rng.randint(40, 400))))
        self.count("reserved_spi")

    def forged(self):
        # The real SA, a sequence number far right of its window, a ciphertext of whole 4-byte
        # units: passes every check before the ICV, which fails.
        seq = 0xF0000000 + self.rng.randint(0, 0x0FFFFFFF)
        body = self.junk(8 + 4 * self.rng.randint(1, 300) + 16)
        self.send(self.natt(struct.pack("!II", self.a.lab_spi, seq) + body))
        self.count("auth_failed", spi=self.a.lab_spi)

    def bad_cipher_length(self):
        ct = 4 * self.rng.randint(1, 300) + self.rng.randint(1, 3)
        self.send(self.natt(struct.pack("!II", self.a.lab_spi, 0xF0000000) + self.junk(8 + ct + 16)))
        self.count("bad_cipher_length", spi=self.a.lab_spi)

    def encap_mismatch(self):
        # Plain ESP (protocol 50) under an SA that expects UDP encapsulation.
        esp = struct.pack("!II", self.a.lab_spi, 0xF0000000) + self.junk(100)
        self.send(self.ip_frame(IP(src=self.a.peer_ip, dst=self.a.gw_ip, proto=50) / Raw(esp)))
        self.count("encap_mismatch", spi=self.a.lab_spi)

    def outer_fragment(self):
        esp = struct.pack("!II", self.a.lab_spi, 0xF0000000) + self.junk(200)
        kind = self.rng.randrange(3)
        if kind == 0:  # first fragment of ESP in UDP: classified as ESP, refused there
            self.send(self.natt(esp, flags="MF", id=self.rng.randint(1, 65535)))
        elif kind == 1:  # first fragment of plain ESP
            self.send(self.ip_frame(IP(src=self.a.peer_ip, dst=self.a.gw_ip, proto=50,
                                       flags="MF", id=self.rng.randint(1, 65535)) / Raw(esp)))
        else:  # a later fragment of plain ESP
            self.send(self.ip_frame(IP(src=self.a.peer_ip, dst=self.a.gw_ip, proto=50,
                                       frag=self.rng.randint(1, 100)) / Raw(esp)))
        self.count("outer_fragment")

    # ---- the soak SA: we hold its key ----

    def soak_esp(self, plaintext, next_header, seq=None, pad=None, pad_len=None, tos=0):
        """ESP in UDP under the soak SA, AES-128-GCM (RFC 4106): SPI, seq, 8-byte IV, ciphertext
        of payload | padding | pad length | next header, 16-byte ICV over SPI | seq as AAD."""
        if seq is None:
            self.seq += 1
            seq = self.seq
        n = len(plaintext) + 2
        if pad is None:
            pad = bytes(range(1, (-n % 4) + 1))
        trailer = pad + bytes([len(pad) if pad_len is None else pad_len, next_header])
        header = struct.pack("!II", self.a.soak_spi, seq)
        iv = self.rng.getrandbits(64).to_bytes(8, "big")
        ct = self.aead.encrypt(self.salt + iv, plaintext + trailer, header)
        return self.natt(header + iv + ct, tos=tos), seq

    def inner(self, seq, src=None, payload=None):
        data = payload if payload is not None else MAGIC + struct.pack("!Q", seq) + bytes(100)
        return raw(IP(src=src or self.a.inner_src, dst=self.a.inner_dst) /
                   UDP(sport=self.a.inner_port, dport=self.a.inner_port) / Raw(data))

    def valid_soak(self):
        frame, seq = self.soak_esp(self.inner(self.stream), 4)
        self.history.append((seq, frame))
        self.stream += 1
        self.valid += 1
        self.send(frame)

    def replay(self):
        top = self.seq
        recent = [f for s, f in self.history[-64:] if top - s < WINDOW - 8]
        old = [f for s, f in self.history if top - s > WINDOW + 64]
        if self.rng.random() < 0.5 and recent:
            self.send(self.rng.choice(recent))
            self.count("replay_duplicate", spi=self.a.soak_spi)
        elif old:
            self.send(self.rng.choice(old))
            self.count("replay_old", spi=self.a.soak_spi)

    def authentic_but_bad(self):
        """Authentic packets (the ICV verifies, the window moves) with bad contents."""
        kind = self.rng.randrange(8)
        ip4 = self.inner(0)
        if kind == 0:
            n = (-(len(ip4) + 2) % 4) or 4  # whole 4-byte units, or the length is what is bad
            frame, _ = self.soak_esp(ip4, 4, pad=bytes(range(1, n)) + b"\x07")
            reason = "bad_padding"
        elif kind == 1:
            frame, _ = self.soak_esp(b"\x45" + bytes(5), 4, pad=b"", pad_len=200)
            reason = "bad_pad_length"
        elif kind == 2:
            # RFC 4303 2.6 dummy packet: authentic, so counted as a keepalive (docs/lanes.md
            # "Lane liveness"), not as a drop.
            frame, _ = self.soak_esp(self.junk(40), 59)
            reason = None
        elif kind == 3:
            frame, _ = self.soak_esp(ip4, 17)  # neither IPv4 (4), IPv6 (41) nor dummy (59)
            reason = "bad_next_header"
        elif kind == 4:
            frame, _ = self.soak_esp(b"", 4, pad=b"\x01\x02")
            reason = "zero_length_payload"
        elif kind == 5:
            bad = bytearray(ip4)
            bad[0] = 0x65  # says IPv6 under next header 4
            frame, _ = self.soak_esp(bytes(bad), 4)
            reason = "inner_header"
        elif kind == 6:
            frame, _ = self.soak_esp(ip4[:60], 4)  # the inner total length says more
            reason = "inner_length"
        else:
            frame, _ = self.soak_esp(self.inner(0, src="10.9.9.9"), 4)
            reason = "selector_mismatch"
        self.send(frame)
        if reason is None:
            self.keepalives += 1
        else:
            self.count(reason, spi=self.a.soak_spi)

    def ecn_ce_over_not_ect(self):
        frame, _ = self.soak_esp(self.inner(0), 4, tos=3)  # outer CE, inner not-ECT
        self.send(frame)
        self.count("ecn_ce_not_ect", spi=self.a.soak_spi)

    # ---- the exception path: to the kernel, rate limited ----

    def udp500_burst(self, n):
        frame = self.ip_frame(IP(src=self.a.peer_ip, dst=self.a.gw_ip) /
                              UDP(sport=500, dport=500) / Raw(self.junk(120)))
        for _ in range(n):
            self.send(frame)
        self.exception += n

    def ike_and_keepalive(self):
        self.send(self.natt(bytes(4) + self.junk(60)))  # non-ESP marker: IKE
        self.send(self.natt(b"\xff"))  # NAT-T keepalive (RFC 3948 2.3)
        self.send(self.eth + b"\x88\xb5" + self.junk(60))  # local experimental ethertype
        self.exception += 3

    # ---- the run ----

    def run(self):
        a = self.a
        if a.side == "wan":
            key = bytes.fromhex(a.soak_key)
            self.aead, self.salt = AESGCM(key[:16]), key[16:]
            self.seq = 0
            self.stream = 0
            self.history = []
            junk = [self.bad_ip_header, lambda: self.ip_length(a.gw_ip),
                    lambda: self.ip_checksum(a.gw_ip), lambda: self.martian(a.inner_dst),
                    lambda: self.ttl_exceeded(a.transit_src, a.inner_dst), self.unprotected,
                    self.truncated, self.unknown_spi, self.reserved_spi, self.forged,
                    self.bad_cipher_length, self.encap_mismatch, self.outer_fragment,
                    self.authentic_but_bad, self.ecn_ce_over_not_ect]
        else:
            junk = [self.bad_ip_header, lambda: self.ip_length(a.inner_dst),
                    lambda: self.ip_checksum(a.inner_dst), lambda: self.martian(a.inner_dst),
                    lambda: self.ttl_exceeded(a.inner_src, a.inner_dst)]
            if not a.route_based:
                junk.append(self.selector_out)
        print("ready", flush=True)
        t0 = time.monotonic()
        rounds = 0
        while time.monotonic() - t0 < a.seconds:
            work = [self.rng.choice(junk) for _ in range(a.junk_per_round)]
            if a.side == "wan":
                work += [self.valid_soak] * a.valid_per_round
                if self.history:
                    work += [self.replay] * (a.junk_per_round // 4)
                work.append(self.ike_and_keepalive)
                if rounds % 10 == 5:
                    work.append(lambda: self.udp500_burst(a.udp500_burst))
            self.rng.shuffle(work)
            for w in work:
                w()
            rounds += 1
            due = t0 + rounds * a.round_seconds
            if due > time.monotonic():
                time.sleep(due - time.monotonic())
        if a.side == "wan":
            # The soak stream's end markers (tools.py udp-seq-recv), under the soak SA.
            for _ in range(3):
                frame, _ = self.soak_esp(self.inner(0, payload=MAGIC + struct.pack(
                    "!QQ", END, self.stream)), 4)
                self.send(frame)
        print(json.dumps({"expected": self.expected, "per_sa": self.per_sa,
                          "keepalives": self.keepalives,
                          "exception": self.exception, "valid": self.valid,
                          "soak_esp_packets": getattr(self, "seq", 0), "frames": self.frames,
                          "rounds": rounds, "seed": a.seed}))


def ip_checksum(header):
    s = sum(struct.unpack(f"!{len(header) // 2}H", bytes(header)))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return ~s & 0xFFFF


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--side", choices=("wan", "lan"), required=True)
    p.add_argument("--iface", required=True)
    p.add_argument("--src-mac", required=True)
    p.add_argument("--dst-mac", required=True)
    p.add_argument("--gw-ip", help="the gateway's address on this side")
    p.add_argument("--peer-ip", required=True, help="our source address on this side")
    p.add_argument("--transit-src", help="source of transit junk (gets the ICMP errors)")
    p.add_argument("--inner-src", required=True)
    p.add_argument("--inner-dst", required=True)
    p.add_argument("--inner-port", type=int, default=7002)
    p.add_argument("--lab-spi", type=lambda s: int(s, 0))
    p.add_argument("--other-spi", type=lambda s: int(s, 0), action="append", default=[])
    p.add_argument("--soak-spi", type=lambda s: int(s, 0))
    p.add_argument("--soak-key", help="hex, 20 bytes: AES-128 key and salt")
    p.add_argument("--seconds", type=float, default=30)
    p.add_argument("--round-seconds", type=float, default=0.1)
    p.add_argument("--junk-per-round", type=int, default=40)
    p.add_argument("--valid-per-round", type=int, default=40)
    p.add_argument("--udp500-burst", type=int, default=600)
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--route-based", action="store_true",
                   help="the tunnel's selectors are 0.0.0.0/0 (BGP): no out-of-selector junk")
    a = p.parse_args()
    # One CPU: frames leave, and cross the veth's backlog, in the order they were sent.
    os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})
    Sender(a).run()


if __name__ == "__main__":
    sys.exit(main())

#!/usr/bin/python3
"""ESP interop between espgw's engine and scapy's SecurityAssociation (tunnel mode).

For one or more algorithms, every combination of NAT-T (RFC 3948, UDP 4500) on/off, ESN on/off
(sequence numbers across 2^32), outer IPv4/IPv6, inner IPv4/IPv6 and both crypto backends, in both
directions:
  scapy -> espgw: scapy encrypts packets of several sizes; espgw-esp-tool decrypts them
                  (EspEngine::inbound) and must return every inner packet byte for byte. Then a
                  replayed packet, a tampered packet and the genuine one after it.
  espgw -> scapy: espgw-esp-tool encrypts (EspEngine::encrypt); the outer headers scapy parses must
                  be as RFC 4303/3948 want them, and scapy must decrypt every packet back to the
                  inner packet, byte for byte.

Deterministic: keys, IVs and payloads come from random.Random seeded with the case's name.

Run with Debian's /usr/bin/python3 (python3-scapy 2.5 and python3-cryptography), with tests/ on
PYTHONPATH (tests/labkit/packets.py: the algorithm table and the workarounds for scapy 2.5's bugs):
  PYTHONPATH=tests tests/interop/esp_scapy_interop.py
      --tool build/tests/interop/espgw-esp-tool [--alg aes128gcm16 ...]
Exit status: 0 all passed, 1 a failure, 77 (meson's "skipped") when scapy or cryptography is
missing.
"""

import argparse
import random
import struct
import subprocess
import sys
import unittest

from labkit import packets
from labkit.packets import ALGORITHMS, EsnHmac, repair_natt_udp_len, set_seq

packets.skip_without_scapy()
from scapy.compat import raw  # noqa: E402
from scapy.layers.inet import IP, UDP  # noqa: E402
from scapy.layers.inet6 import IPv6  # noqa: E402
from scapy.layers.ipsec import ESP, IPSecIntegrityError, SecurityAssociation  # noqa: E402

BACKENDS = ("ipsec-mb", "openssl")

SPI = 0xC0DE1234
# Outer addresses: "gw" is espgw, "peer" is scapy.
OUTER = {
    4: ("198.51.100.1", "203.0.113.2"),
    6: ("2001:db8:1::1", "2001:db8:2::2"),
}
NATT_PORT = 4500
# A NAT in front of the peer maps its port 4500 to another; a few extra cases use this one.
MAPPED_PEER_PORT = 62000
# UDP payload sizes of the inner packets: empty, odd, around the 16-byte CBC block and the
# 4-byte GCM alignment, and a full-size packet (1500 bytes as IPv6, 1480 as IPv4).
PAYLOAD_SIZES = (0, 1, 13, 14, 15, 16, 100, 1452)
# With ESN the packets straddle 2^32, so seq_hi is 0 for the first three and 1 after; without,
# they start where a new SA starts.
FIRST_SEQ_ESN = (1 << 32) - 3
FIRST_SEQ = 1
REPLAY_WINDOW = 64


class Case:
    """One SA configuration of the matrix."""

    def __init__(self, alg, natt, esn, outer, inner, backend, peer_port=NATT_PORT):
        self.alg, self.natt, self.esn = alg, natt, esn
        self.peer_port = peer_port
        self.outer, self.inner, self.backend = outer, inner, backend
        (self.crypt_algo, self.key_len, self.auth_algo, self.auth_key_len,
         self.icv_len) = ALGORITHMS[alg]
        self.aead = self.auth_algo is None
        self.iv_len = 8 if self.aead else 16
        self.align = 4 if self.aead else 16
        self.first_seq = FIRST_SEQ_ESN if esn else FIRST_SEQ
        self.gw, self.peer = OUTER[outer]

    def label(self):
        natt = "plain-esp"
        if self.natt:
            natt = "natt" if self.peer_port == NATT_PORT else f"natt-peer-port-{self.peer_port}"
        return (f"{self.alg} {natt} "
                f"{'esn' if self.esn else 'no-esn'} outer-ipv{self.outer} "
                f"inner-ipv{self.inner} backend={self.backend}")

    def ident(self):
        natt = "esp"
        if self.natt:
            natt = "natt" if self.peer_port == NATT_PORT else f"natt{self.peer_port}"
        return (f"{self.alg.replace('-', '_')}_{natt}_"
                f"{'esn' if self.esn else 'noesn'}_out{self.outer}_in{self.inner}_"
                f"{self.backend.replace('-', '')}")


class Keys:
    def __init__(self, case, rng):
        self.enc = rng.randbytes(case.key_len)
        self.salt = rng.randbytes(4) if case.aead else b""
        self.auth = rng.randbytes(case.auth_key_len) if not case.aead else b""


def inner_packets(case, rng):
    """Inner packets as bytes: UDP over IPv4 or IPv6 with random payloads of PAYLOAD_SIZES."""
    pkts = []
    for n, size in enumerate(PAYLOAD_SIZES):
        payload = rng.randbytes(size)
        udp = UDP(sport=40000 + n, dport=5201)
        if case.inner == 4:
            ip = IP(src="172.50.1.10", dst="172.60.1.20", id=n + 1, flags="DF" if n % 2 else 0)
        else:
            ip = IPv6(src="fd00:50::10", dst="fd00:60::20", fl=n)
        pkts.append(raw(ip / udp / payload))
    return pkts


def parse_inner(case, data):
    return IP(data) if case.inner == 4 else IPv6(data)


def scapy_sa(case, keys, as_is):
    """scapy's end of the SA. The tunnel header (peer -> gw) is what scapy sends; when decrypting,
    scapy only needs one set to strip the outer header as tunnel mode does (ipsec.py:1096)."""
    tunnel = (IP if case.outer == 4 else IPv6)(src=case.peer, dst=case.gw)
    sa = SecurityAssociation(
        ESP,
        spi=SPI,
        crypt_algo=case.crypt_algo,
        # scapy takes the GCM salt as the last 4 bytes of crypt_key (RFC 4106 8.1 keying material)
        crypt_key=keys.enc + keys.salt,
        auth_algo=case.auth_algo,
        auth_key=keys.auth or None,
        tunnel_header=tunnel,
        nat_t_header=UDP(sport=case.peer_port, dport=NATT_PORT) if case.natt else None,
        esn_en=case.esn,
    )
    if case.esn and not case.aead and not as_is:
        sa.auth_algo = EsnHmac(sa.auth_algo, sa)
    return sa


class Tool:
    path = None

    @classmethod
    def run(cls, case, keys, command, lines, extra=()):
        args = [
            cls.path, command,
            "--spi", hex(SPI),
            "--alg", case.alg,
            "--enc-key", keys.enc.hex(),
            "--local", case.gw,
            "--remote", case.peer,
            "--first-seq", str(case.first_seq),
            "--backend", case.backend,
        ]
        if case.aead:
            args += ["--salt", keys.salt.hex()]
        else:
            args += ["--auth-key", keys.auth.hex()]
        if case.natt:
            args += ["--natt", "--local-port", str(NATT_PORT), "--remote-port",
                     str(case.peer_port)]
        if case.esn:
            args.append("--esn")
        args += list(extra)
        proc = subprocess.run(args, input="".join(line + "\n" for line in lines),
                              capture_output=True, text=True, timeout=60)
        if proc.returncode != 0:
            raise AssertionError(f"espgw-esp-tool {command} exited {proc.returncode}: "
                                 f"{proc.stderr.strip()}")
        out = proc.stdout.splitlines()
        if len(out) != len(lines):
            raise AssertionError(f"espgw-esp-tool {command}: {len(lines)} packets in, "
                                 f"{len(out)} lines out")
        return out


def packet_difference(got, want):
    """Says where two packets (bytes) first differ, and how scapy reads both."""
    if len(got) != len(want):
        where = f"{len(got)} bytes, expected {len(want)}"
    else:
        first = next(i for i in range(len(got)) if got[i] != want[i])
        where = f"byte {first} is {got[first]:#04x}, expected {want[first]:#04x}"

    def show(b):
        try:
            return (IP if b[:1] and b[0] >> 4 == 4 else IPv6)(b).summary()
        except Exception:  # a summary is a courtesy; the bytes are what count
            return "unparseable"

    return f"{where}; got {show(got)}, expected {show(want)}\n  got      {got.hex()}\n  " \
           f"expected {want.hex()}"


def esp_plaintext(case, sa, esp_bytes, seq):
    """Decrypts the ESP payload (from the SPI on) with scapy's own cipher objects, keeping the
    trailer that SecurityAssociation.decrypt throws away (it neither returns nor checks the pad
    bytes: ipsec.py:441-446)."""
    iv = esp_bytes[8 : 8 + case.iv_len]
    body = esp_bytes[8 + case.iv_len : len(esp_bytes) - case.icv_len]
    if case.aead:
        aad = (struct.pack("!LLL", SPI, seq >> 32, seq & 0xFFFFFFFF) if case.esn else
               esp_bytes[:8])
        icv = esp_bytes[len(esp_bytes) - case.icv_len :]
        return sa.crypt_algo.cipher(sa.crypt_key).decrypt(sa.crypt_salt + iv, body + icv, aad)
    decryptor = sa.crypt_algo.new_cipher(sa.crypt_key, iv).decryptor()
    return decryptor.update(body) + decryptor.finalize()


class Interop(unittest.TestCase):
    scapy_as_is = False
    maxDiff = None

    def assert_packet(self, got_line, want, what):
        if got_line.startswith("drop"):
            self.fail(f"{what}: espgw dropped it: {got_line}")
        got = bytes.fromhex(got_line)
        if got != want:
            self.fail(f"{what}: inner packet differs: {packet_difference(got, want)}")

    def check_scapy_to_espgw(self, case):
        rng = random.Random("scapy->espgw " + case.label())
        keys = Keys(case, rng)
        inners = inner_packets(case, rng)
        sa = scapy_sa(case, keys, self.scapy_as_is)
        ip_len = 20 if case.outer == 4 else 40

        def scapy_encrypt(seq, inner):
            set_seq(sa, seq)
            pkt = sa.encrypt(parse_inner(case, inner), iv=rng.randbytes(case.iv_len))
            wire = raw(pkt)
            if case.natt and not self.scapy_as_is:
                wire = repair_natt_udp_len(wire, ip_len)
            return wire

        wires = [scapy_encrypt(case.first_seq + k, inner) for k, inner in enumerate(inners)]
        n = len(inners)
        # Then: a replay of the first packet; the next packet with one ciphertext bit flipped; that
        # packet unharmed (RFC 4303 3.4.3: an unauthenticated packet must not move the window).
        nxt = scapy_encrypt(case.first_seq + n, inners[0])
        tampered = bytearray(nxt)
        tampered[len(tampered) - case.icv_len - 1] ^= 0x01
        lines = [w.hex() for w in wires] + [wires[0].hex(), tampered.hex(), nxt.hex()]

        out = Tool.run(case, keys, "decrypt", lines,
                       extra=["--replay-window", str(REPLAY_WINDOW)])
        for k, inner in enumerate(inners):
            seq = case.first_seq + k
            what = (f"{case.label()}: scapy -> espgw, packet {k} (seq {seq:#x}, "
                    f"{PAYLOAD_SIZES[k]}-byte UDP payload)")
            self.assert_packet(out[k], inner, what)
        what = f"{case.label()}: scapy -> espgw"
        self.assertEqual(out[n], "drop replay_duplicate", f"{what}: replayed packet 0")
        self.assertEqual(out[n + 1], "drop auth_failed", f"{what}: tampered packet {n}")
        self.assert_packet(out[n + 2], inners[0],
                           f"{what}: packet {n}, sent again unharmed after its tampered copy")

    def check_espgw_to_scapy(self, case):
        rng = random.Random("espgw->scapy " + case.label())
        keys = Keys(case, rng)
        inners = inner_packets(case, rng)
        sa = scapy_sa(case, keys, self.scapy_as_is)
        out = Tool.run(case, keys, "encrypt", [p.hex() for p in inners])

        outer_cls = IP if case.outer == 4 else IPv6
        ip_len = 20 if case.outer == 4 else 40
        esp_off = ip_len + (8 if case.natt else 0)
        ivs = set()
        for k, inner in enumerate(inners):
            seq = case.first_seq + k
            what = (f"{case.label()}: espgw -> scapy, packet {k} (seq {seq:#x}, "
                    f"{PAYLOAD_SIZES[k]}-byte UDP payload)")
            if out[k].startswith("drop"):
                self.fail(f"{what}: espgw dropped it: {out[k]}")
            wire = bytes.fromhex(out[k])
            pkt = outer_cls(wire)

            # Outer IP header.
            self.assertEqual(pkt.src, case.gw, f"{what}: outer source")
            self.assertEqual(pkt.dst, case.peer, f"{what}: outer destination")
            proto = 17 if case.natt else 50
            if case.outer == 4:
                self.assertEqual(pkt.proto, proto, f"{what}: outer protocol")
                self.assertEqual(pkt.len, len(wire), f"{what}: IPv4 total length")
                self.assertEqual(pkt.ihl, 5, f"{what}: IPv4 header length")
                rebuilt = IP(wire[:20])
                del rebuilt.chksum
                self.assertEqual(pkt.chksum, IP(raw(rebuilt)).chksum,
                                 f"{what}: IPv4 header checksum")
            else:
                self.assertEqual(pkt.nh, proto, f"{what}: outer next header")
                self.assertEqual(pkt.plen, len(wire) - 40, f"{what}: IPv6 payload length")

            # RFC 3948 2.1: UDP header before ESP, ports as configured, checksum 0 over IPv4.
            if case.natt:
                self.assertTrue(pkt.haslayer(UDP), f"{what}: no UDP header")
                udp = pkt[UDP]
                self.assertEqual((udp.sport, udp.dport), (NATT_PORT, case.peer_port),
                                 f"{what}: UDP ports")
                self.assertEqual(udp.len, len(wire) - ip_len, f"{what}: UDP length")
                if case.outer == 4:
                    self.assertEqual(udp.chksum, 0, f"{what}: UDP checksum (RFC 3948 2.1: 0)")
                else:
                    # A zero UDP checksum over IPv6 needs RFC 6936's conditions; espgw computes it.
                    rebuilt = IPv6(wire)
                    del rebuilt[UDP].chksum
                    self.assertEqual(udp.chksum, IPv6(raw(rebuilt))[UDP].chksum,
                                     f"{what}: IPv6 UDP checksum")

            # ESP header and length: SPI, low 32 bits of the sequence number, IV, ciphertext
            # padded to the minimum (RFC 4303 2.4), ICV.
            self.assertTrue(pkt.haslayer(ESP), f"{what}: scapy finds no ESP layer")
            esp = pkt[ESP]
            self.assertEqual(esp.spi, SPI, f"{what}: SPI")
            self.assertEqual(esp.seq, seq & 0xFFFFFFFF, f"{what}: sequence number")
            ct_len = -(-(len(inner) + 2) // case.align) * case.align
            self.assertEqual(len(wire) - esp_off, 8 + case.iv_len + ct_len + case.icv_len,
                             f"{what}: ESP length (IV {case.iv_len}, ciphertext {ct_len}, "
                             f"ICV {case.icv_len})")
            # RFC 4106 3.1: a GCM IV never repeats under one key (and a CBC IV that repeated
            # would not be the random one RFC 3602 3 asks for).
            iv = wire[esp_off + 8 : esp_off + 8 + case.iv_len]
            self.assertNotIn(iv, ivs, f"{what}: IV {iv.hex()} used twice")
            ivs.add(iv)

            set_seq(sa, seq)
            try:
                inner_back = sa.decrypt(pkt)
            except IPSecIntegrityError as e:
                self.fail(f"{what}: scapy says the ICV does not verify: {e!r}")
            back = raw(inner_back)
            if back != inner:
                self.fail(f"{what}: inner packet differs after scapy decrypted it: "
                          f"{packet_difference(back, inner)}")

            # The trailer, which scapy does not check: pad bytes 1, 2, 3, ... (RFC 4303 2.4), pad
            # length, next header 4 or 41 (tunnel mode, RFC 4303 3.1.2).
            plain = esp_plaintext(case, sa, wire[esp_off:], seq)
            pad_len, next_header = plain[-2], plain[-1]
            self.assertEqual(pad_len, ct_len - len(inner) - 2, f"{what}: pad length")
            self.assertEqual(plain[len(inner) : -2], bytes(range(1, pad_len + 1)),
                             f"{what}: pad bytes")
            self.assertEqual(next_header, 4 if case.inner == 4 else 41, f"{what}: next header")


def add_case(case):
    for direction in ("scapy_to_espgw", "espgw_to_scapy"):
        def method(self, case=case, check="check_" + direction):
            getattr(self, check)(case)

        method.__doc__ = f"{case.label()}: {direction.replace('_', ' ')}"
        setattr(Interop, f"test_{case.ident()}_{direction}", method)


def add_tests(algorithms, backends):
    for alg in algorithms:
        for backend in backends:
            for natt in (False, True):
                for esn in (False, True):
                    for outer in (4, 6):
                        for inner in (4, 6):
                            add_case(Case(alg, natt, esn, outer, inner, backend))
            add_case(Case(alg, True, True, 4, 6, backend, peer_port=MAPPED_PEER_PORT))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--tool", required=True, help="path of espgw-esp-tool")
    ap.add_argument("--alg", action="append", choices=sorted(ALGORITHMS),
                    help="algorithm to test (repeatable; default: all)")
    ap.add_argument("--backend", action="append", choices=BACKENDS,
                    help="espgw crypto backend (repeatable; default: both)")
    ap.add_argument("--scapy-as-is", action="store_true",
                    help="leave out the workarounds for scapy 2.5's bugs (to see them fail)")
    ap.add_argument("-v", "--verbose", action="store_true", help="one line per test")
    args = ap.parse_args()

    Tool.path = args.tool
    Interop.scapy_as_is = args.scapy_as_is
    add_tests(args.alg or list(ALGORITHMS), args.backend or list(BACKENDS))
    suite = unittest.defaultTestLoader.loadTestsFromTestCase(Interop)
    result = unittest.TextTestRunner(verbosity=2 if args.verbose else 1, stream=sys.stdout,
                                     failfast=False).run(suite)
    return 0 if result.wasSuccessful() else 1


if __name__ == "__main__":
    sys.exit(main())

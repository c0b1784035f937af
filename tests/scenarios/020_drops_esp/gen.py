#!/usr/bin/python3
"""020_drops_esp: ESP packets of two SAs, broken in every way the engine checks (see
config.yaml), between genuine ones; expected: only the genuine ones on the LAN."""
import copy
import os
import struct

from scenarios.scenlib import *  # noqa: F403
from scapy.all import IP, UDP, IPv6, Raw

out = out_dir(__file__)
cfg = case_config(__file__)
gcm, cbc = find_sa(cfg, "gcm", "in"), find_sa(cfg, "cbc", "in")
wan_in, lan_exp = [], [garp(LAN_MAC, LAN_IP)]


def inner(src, n, size=24, tos=0):
    return IP(src=src, dst=HOST_IP, id=n, tos=tos) / UDP(sport=n, dport=9) / Raw(bytes(size))


def send(outer, delivered=None):
    wan_in.append(frame(ROUTER_MAC, WAN_MAC, outer))
    if delivered is not None:
        lan_exp.append(frame(LAN_MAC, HOST_MAC, routed(delivered)))


def flip(b, off_from_end):
    b = bytearray(b)
    b[len(b) - off_from_end] ^= 0x80
    return bytes(b)


G, C = "172.60.1.20", "172.61.1.20"
# ---- gcm (plain ESP, window 64)
p = inner(G, 1)
send(encap(gcm, p, 1), p)                                    # genuine
send(encap(gcm, p, 1))                                       # replay_duplicate
p = inner(G, 2)
send(encap(gcm, p, 100), p)                                  # genuine, window moves to 100
send(encap(gcm, inner(G, 3), 36))                            # replay_old: 100 - 36 >= 64
send(encap(gcm, inner(G, 4), 37), inner(G, 4))               # inside the window: accepted
send(flip(encap(gcm, inner(G, 5), 5000), 1))                 # auth_failed (ICV) far ahead...
send(encap(gcm, inner(G, 6), 101), inner(G, 6))              # ...did not move the window
send(flip(encap(gcm, inner(G, 7), 102), 30))                 # auth_failed (ciphertext)
wrong = copy.copy(gcm)
wrong.enc_key = bytes(16)
send(encap(wrong, inner(G, 8), 103))                         # auth_failed (another key)
send(encap(gcm, inner(G, 9), 102), inner(G, 9))              # 102 was not spent by the forgery
cbc_like = copy.copy(gcm)
cbc_like.nat_t, cbc_like.sport, cbc_like.dport = True, 4500, 4500
send(encap(cbc_like, inner(G, 10), 104))                     # encap_mismatch: in UDP
b = bytearray(encap(gcm, inner(G, 11), 105))                 # bad_cipher_length: 2 extra bytes
b += b"\0\0"
struct.pack_into("!H", b, 2, len(b))
b[10:12] = b"\0\0"
struct.pack_into("!H", b, 10, inet_checksum(bytes(b[:20])))
send(bytes(b))
# after decryption (valid ICVs over bad plaintext)
send(craft(gcm, 106, inner(G, 12), padlen=200))               # bad_pad_length
send(craft(gcm, 107, inner(G, 13), padding=b"\x02\x01"))  # bad_padding
send(craft(gcm, 108, inner(G, 14), nh=17))                    # bad_next_header
send(craft(gcm, 109, inner(G, 15), nh=59))                    # dummy
send(craft(gcm, 110, b""))                                    # zero_length_payload
send(craft(gcm, 111, raw(IPv6(src="2001:db8:60::1", dst="2001:db8:50::1") / UDP()), nh=4))
send(craft(gcm, 112, raw(inner(G, 16))[:16]))                  # inner_header: < 20 bytes
b = bytearray(raw(inner(G, 17)))
b[0] = 0x44                                                   # inner_header: IHL 4
send(craft(gcm, 113, bytes(b)))
send(craft(gcm, 114, raw(inner(G, 18)), nh=41))               # inner_header: IPv4 under 41
b = bytearray(raw(inner(G, 19)))
struct.pack_into("!H", b, 2, len(b) + 4)                      # inner_length
send(craft(gcm, 115, bytes(b)))
send(encap(gcm, inner(G, 20, tos=0), 116, ecn=3))             # ecn_ce_not_ect
send(encap(gcm, inner(G, 21), 117), inner(G, 21))             # and a genuine one to close
# ---- cbc (NAT-T)
p = inner(C, 31)
send(encap(cbc, p, 1), p)                                     # genuine
plain = copy.copy(cbc)
plain.nat_t = False
send(encap(plain, inner(C, 32), 2))                           # encap_mismatch: plain ESP
b = bytearray(encap(cbc, inner(C, 33), 3))                    # bad_cipher_length: 4 more bytes
b += bytes(4)
struct.pack_into("!H", b, 2, len(b))
struct.pack_into("!H", b, 24, len(b) - 20)
b[10:12] = b"\0\0"
struct.pack_into("!H", b, 10, inet_checksum(bytes(b[:20])))
send(bytes(b))
send(flip(encap(cbc, inner(C, 34), 4), 1))                    # auth_failed (HMAC)
send(craft(cbc, 5, inner(C, 35, size=14), padding=b"\x01\x02\x03\x00"))  # bad_padding
send(craft(cbc, 6, inner(C, 36), nh=59))                      # dummy
send(encap(cbc, inner(C, 37), 7), inner(C, 37))               # genuine

write_pcap(os.path.join(out, "input_wan.pcap"), wan_in)
write_pcap(os.path.join(out, "expected_lan.pcap"), lan_exp)
write_pcap(os.path.join(out, "expected_wan.pcap"), [garp(WAN_MAC, WAN_IP)])

"""The scenario runner's packet comparison: run_scenario.py runs a case, this judges its pcaps.

compare_pcap() takes what espgw sent on one port and the case's expected pcap and returns the
mismatches, one line each, naming the pcap, the packet and the field with expected and actual
values: plain frames byte for byte (compare_plain, mask_random), ESP frames of the case's static
SAs field by field and then decrypted (esp_frame, outer_fields, compare_esp), espgw's gratuitous
ARPs wherever they are (gratuitous_arp); run_scenario.py's docstring says what is compared and
what is masked. Context is what it needs to know of the case: its SAs, the gateway's addresses,
its NAT-T ports. Needs scapy: the runner calls packets.skip_without_scapy() before importing it.
"""

import struct

from labkit import packets
from scapy.layers.l2 import Ether
from scapy.packet import NoPayload


class Context:
    """What the comparison needs to know about the case: its SAs and our addresses."""

    def __init__(self, config):
        self.sas = packets.sas(config)
        self.ours = set()
        for ifc in config["interfaces"]:
            for a in ifc.get("addresses", []):
                self.ours.add(a.split("/")[0])
        self.natt_ports = {4500}
        for t in config.get("tunnels", []):
            if t.get("nat_t") == "true":
                self.natt_ports.add(int(t.get("local_port", "4500")))
                self.natt_ports.add(int(t.get("remote_port", "4500")))


def short(v, n=72):
    s = repr(v)
    return s if len(s) <= n else s[: n - 3] + "..."


def field_diffs(exp, act):
    """Differences between two frames as scapy reads them: "Layer.field: expected X, actual Y"."""
    out = []
    e, a = Ether(exp), Ether(act)
    while not isinstance(e, NoPayload) and not isinstance(a, NoPayload):
        if type(e) is not type(a):
            out.append(f"layer {e.name}: expected {e.name}, actual {a.name}")
            return out
        for f in e.fields_desc:
            ev, av = e.getfieldval(f.name), a.getfieldval(f.name)
            if ev != av:
                try:
                    er, ar = f.i2repr(e, ev), f.i2repr(a, av)
                except Exception:
                    er, ar = ev, av
                out.append(f"{e.name}.{f.name}: expected {short(er)}, actual {short(ar)}")
        e, a = e.payload, a.payload
    if not isinstance(e, NoPayload):
        out.append(f"layer {e.name} missing in the actual packet")
    elif not isinstance(a, NoPayload):
        out.append(f"extra layer {a.name} in the actual packet")
    return out


def byte_diff(exp, act):
    if len(exp) != len(act):
        head = f"length: expected {len(exp)} bytes, actual {len(act)}"
    else:
        head = "same length"
    for i in range(min(len(exp), len(act))):
        if exp[i] != act[i]:
            return f"{head}; first difference at byte {i}: expected {exp[i]:#04x}, " \
                   f"actual {act[i]:#04x}"
    return head


def ip_version(b, off):
    return b[off] >> 4 if len(b) > off else 0


def icmp_error_from_us(ctx, b, off):
    """An IPv4 ICMP error that the gateway made: its ID and checksum are the gateway's choice."""
    if len(b) < off + 21 or ip_version(b, off) != 4 or b[off + 9] != 1:
        return False
    src = ".".join(str(x) for x in b[off + 12 : off + 16])
    ihl = (b[off] & 0x0F) * 4
    return src in ctx.ours and len(b) > off + ihl and b[off + ihl] in (3, 4, 5, 11, 12)


def mask_random(ctx, b, off, what):
    """Masks the fields that are random by design; returns (masked bytes, problems)."""
    problems = []
    if icmp_error_from_us(ctx, b, off):
        ihl = (b[off] & 0x0F) * 4
        if packets.inet_checksum(bytes(b[off : off + ihl])) != 0:
            problems.append(f"{what}: ICMP error's IPv4 header checksum is wrong")
        b = bytearray(b)
        b[off + 4 : off + 6] = b"\0\0"
        b[off + 10 : off + 12] = b"\0\0"
        b = bytes(b)
    return b, problems


def compare_plain(ctx, exp, act, what, l3=False):
    """Plain frames (or, with l3, bare IP packets): byte for byte but for the masked fields."""
    off = 0 if l3 else 14
    em, _ = mask_random(ctx, exp, off, what)
    am, problems = mask_random(ctx, act, off, what)
    if em == am:
        return problems
    out = [f"{what}: {byte_diff(em, am)}"]
    try:
        if l3:
            etype = b"\x08\x00" if em[0] >> 4 == 4 else b"\x86\xdd"
            pad = b"\x02\0\0\0\0\1\x02\0\0\0\0\2" + etype
            diffs = field_diffs(pad + em, pad + am)
        else:
            diffs = field_diffs(em, am)
    except Exception as e:  # the bytes above are what counts
        diffs = [f"(scapy cannot parse: {e})"]
    out += [f"  {d}" for d in diffs[:12]]
    return out + problems


def esp_frame(ctx, b):
    """(Sa, ESP offset from the frame start) if `b` is ESP of one of the case's SAs, else None."""
    if len(b) < 14:
        return None
    etype = struct.unpack_from("!H", b, 12)[0]
    if etype == 0x0800 and len(b) >= 34:
        ihl = (b[14] & 0x0F) * 4
        proto, l4 = b[23], 14 + ihl
    elif etype == 0x86DD and len(b) >= 54:
        proto, l4 = b[20], 54
    else:
        return None
    if proto == 50:
        off = l4
    elif proto == 17 and len(b) >= l4 + 16:
        sport, dport = struct.unpack_from("!HH", b, l4)
        if sport not in ctx.natt_ports and dport not in ctx.natt_ports:
            return None
        off = l4 + 8
    else:
        return None
    if len(b) < off + 8:
        return None
    spi = struct.unpack_from("!I", b, off)[0]
    sa = ctx.sas.get(("out", spi)) or ctx.sas.get(("in", spi))
    return (sa, off) if sa else None


def outer_fields(b, esp_off):
    """The outer header fields that are compared, by name, and the fields whose integrity is
    checked instead (checksums of random content)."""
    f = {"eth.dst": b[0:6].hex(":"), "eth.src": b[6:12].hex(":"), "eth.type": b[12:14].hex()}
    v = b[14] >> 4
    checks = []
    if v == 4:
        ihl = (b[14] & 0x0F) * 4
        tos = b[15]
        flags = struct.unpack_from("!H", b, 20)[0]
        f.update({
            "ip.version": v, "ip.ihl": ihl, "ip.dscp": tos >> 2, "ip.ecn": tos & 3,
            "ip.len": struct.unpack_from("!H", b, 16)[0],
            "ip.df": bool(flags & 0x4000), "ip.mf": bool(flags & 0x2000),
            "ip.frag": flags & 0x1FFF, "ip.ttl": b[22], "ip.proto": b[23],
            "ip.src": ".".join(map(str, b[26:30])), "ip.dst": ".".join(map(str, b[30:34])),
        })
        if packets.inet_checksum(bytes(b[14 : 14 + ihl])) != 0:
            checks.append("ip.chksum: wrong")
        l4 = 14 + ihl
    else:
        tc = ((b[14] & 0x0F) << 4) | (b[15] >> 4)
        f.update({
            "ip6.version": v, "ip6.dscp": tc >> 2, "ip6.ecn": tc & 3,
            "ip6.flow": ((b[15] & 0x0F) << 16) | struct.unpack_from("!H", b, 16)[0],
            "ip6.plen": struct.unpack_from("!H", b, 18)[0], "ip6.nh": b[20],
            "ip6.hlim": b[21], "ip6.src": b[22:38].hex(), "ip6.dst": b[38:54].hex(),
        })
        l4 = 54
    if esp_off != l4:
        sport, dport, ulen, csum = struct.unpack_from("!HHHH", b, l4)
        f.update({"udp.sport": sport, "udp.dport": dport, "udp.len": ulen})
        if v == 4:
            f["udp.chksum"] = csum  # RFC 3948 2.1: zero
        elif packets.udp6_checksum(bytes(b[14:])) != csum:
            checks.append(f"udp.chksum: {csum:#06x} is wrong")
    spi, seq = struct.unpack_from("!II", b, esp_off)
    f.update({"esp.spi": f"{spi:#010x}", "esp.seq": seq, "frame length": len(b)})
    return f, checks


def compare_esp(ctx, sa, off, exp, act, what):
    out = []
    if esp_frame(ctx, act) is None:
        return [f"{what}: expected ESP of SA {sa.spi:#010x} ({sa.tunnel}), actual is not:"] + \
            [f"  {d}" for d in field_diffs(exp, act)[:12]]
    _, aoff = esp_frame(ctx, act)
    ef, _ = outer_fields(exp, off)
    af, checks = outer_fields(act, aoff)
    for k in ef:
        if ef[k] != af.get(k):
            out.append(f"{what}: outer {k}: expected {ef[k]}, actual {af.get(k)}")
    out += [f"{what}: outer {c}" for c in checks]
    try:
        _, einner, _, _, enh = packets.open_esp(sa, exp[off:])
    except packets.EspError as e:
        return out + [f"{what}: the EXPECTED packet does not decrypt (regenerate?): {e}"]
    try:
        _, ainner, apad, _, anh = packets.open_esp(sa, act[aoff:])
    except packets.EspError as e:
        return out + [f"{what}: {e}"]
    if apad != bytes(range(1, len(apad) + 1)):
        out.append(f"{what}: pad bytes {apad.hex()} are not 1, 2, 3, ... (RFC 4303 2.4)")
    if enh != anh:
        out.append(f"{what}: ESP next header: expected {enh}, actual {anh}")
    out += compare_plain(ctx, einner, ainner, f"{what} inner packet", l3=True)
    return out


def gratuitous_arp(frame, mac):
    """Our gratuitous ARP (RFC 5227 3: a request with sender = target = our address), sent when
    espgw starts, from the control thread: its place among forwarded frames is timing."""
    return (len(frame) >= 42 and frame[12:14] == b"\x08\x06" and frame[20:22] == b"\0\x01"
            and frame[28:32] == frame[38:42] and mac is not None and frame[22:28] == mac)


def compare_pcap(ctx, exp_frames, act_frames, name, mac=None):
    """Packet by packet, in order; our gratuitous ARPs (mac: the port's) match wherever they are."""
    out = []
    exp_garp = [f for f in exp_frames if gratuitous_arp(f, mac)]
    act_garp = [f for f in act_frames if gratuitous_arp(f, mac)]
    if sorted(exp_garp) != sorted(act_garp):
        out.append(f"{name}: gratuitous ARPs: expected {[summary(f) for f in exp_garp]}, "
                   f"actual {[summary(f) for f in act_garp]}")
    # (number in its pcap, counting from 1; frame)
    exp_frames = [(i + 1, f) for i, f in enumerate(exp_frames) if not gratuitous_arp(f, mac)]
    act_frames = [(i + 1, f) for i, f in enumerate(act_frames) if not gratuitous_arp(f, mac)]
    if len(exp_frames) != len(act_frames):
        out.append(f"{name}: expected {len(exp_frames)} packets, actual {len(act_frames)} "
                   f"(not counting gratuitous ARPs)")
    for (ei, exp), (ai, act) in zip(exp_frames, act_frames):
        what = f"{name} packet {ai}" + (f" (expected packet {ei})" if ei != ai else "")
        esp = esp_frame(ctx, exp)
        if esp is not None:
            out += compare_esp(ctx, esp[0], esp[1], exp, act, what)
        else:
            out += compare_plain(ctx, exp, act, what)
    for ai, act in act_frames[len(exp_frames):]:
        out.append(f"{name} packet {ai} (unexpected): {summary(act)}")
    for ei, exp in exp_frames[len(act_frames):]:
        out.append(f"{name} expected packet {ei} (missing): {summary(exp)}")
    return out


def summary(frame):
    try:
        return Ether(frame).summary()
    except Exception:
        return frame.hex()

#!/usr/bin/env python3
"""FPM listener from the routing spike (docs/routing.md); not wired into meson yet.

Accepts zebra's dplane_fpm_nl connection on 127.0.0.1:--port, decodes the 4-byte FPM header
(version 1, type 1 = netlink, big-endian length including the header) and every netlink
message in the frame (zebra 8.4 puts RTM_DELROUTE + RTM_NEWROUTE in one frame for an update),
and appends one JSON line per netlink message to --log.
fpm_samples.jsonl beside it holds frames captured from FRR 8.4.4 with this listener."""
import socket, struct, json, time, ipaddress, argparse

RTM = {24: "RTM_NEWROUTE", 25: "RTM_DELROUTE", 104: "RTM_NEWNEXTHOP", 105: "RTM_DELNEXTHOP",
       28: "RTM_NEWNEIGH", 29: "RTM_DELNEIGH"}
RTA = {1: "RTA_DST", 2: "RTA_SRC", 3: "RTA_IIF", 4: "RTA_OIF", 5: "RTA_GATEWAY", 6: "RTA_PRIORITY",
       7: "RTA_PREFSRC", 8: "RTA_METRICS", 9: "RTA_MULTIPATH", 11: "RTA_FLOW", 15: "RTA_TABLE",
       21: "RTA_ENCAP_TYPE", 22: "RTA_ENCAP", 30: "RTA_NH_ID", 19: "RTA_PREF"}
NHA = {1: "NHA_ID", 2: "NHA_GROUP", 3: "NHA_GROUP_TYPE", 4: "NHA_BLACKHOLE", 5: "NHA_OIF",
       6: "NHA_GATEWAY", 7: "NHA_ENCAP_TYPE", 8: "NHA_ENCAP"}
PROTO = {2: "kernel", 3: "boot", 4: "static", 186: "bgp", 188: "ospf", 196: "zstatic", 11: "zebra"}

def addr(fam, b):
    try:
        return str(ipaddress.ip_address(b))
    except ValueError:
        return b.hex()

def attrs(buf, names, fam):
    out = []
    off = 0
    while off + 4 <= len(buf):
        ln, ty = struct.unpack_from("=HH", buf, off)
        if ln < 4:
            break
        val = buf[off + 4:off + ln]
        t = ty & 0x3fff
        name = names.get(t, str(t))
        if name in ("RTA_DST", "RTA_GATEWAY", "RTA_PREFSRC", "RTA_SRC", "NHA_GATEWAY"):
            v = addr(fam, val)
        elif name == "RTA_MULTIPATH":
            v = []
            o = 0
            while o + 8 <= len(val):
                rl, fl, hops, ifi = struct.unpack_from("=HBBi", val, o)
                v.append({"rtnh_len": rl, "flags": fl, "hops": hops, "ifindex": ifi,
                          "attrs": attrs(val[o + 8:o + rl], RTA, fam)})
                o += (rl + 3) & ~3
        elif name == "NHA_GROUP":
            v = [dict(zip(("id", "weight"), struct.unpack_from("=IB", val, i))) for i in range(0, len(val), 8)]
        elif len(val) == 4:
            v = struct.unpack("=I", val)[0]
        elif len(val) == 2:
            v = struct.unpack("=H", val)[0]
        elif len(val) == 1:
            v = val[0]
        else:
            v = val.hex()
        out.append([name, v])
        off += (ln + 3) & ~3
    return out

def decode(nl):
    ln, ty, flags, seq, pid = struct.unpack_from("=IHHII", nl, 0)
    d = {"nlmsg_len": ln, "type": RTM.get(ty, ty), "flags": hex(flags), "seq": seq, "pid": pid}
    body = nl[16:ln]
    if ty in (24, 25):
        fam, dlen, slen, tos, table, proto, scope, rtype, rflags = struct.unpack_from("=BBBBBBBBI", body, 0)
        d.update(family=fam, dst_len=dlen, table=table, protocol=PROTO.get(proto, proto),
                 scope=scope, rtm_type=rtype, rtm_flags=rflags, attrs=attrs(body[12:], RTA, fam))
    elif ty in (104, 105):
        fam, scope, proto, _r, fl = struct.unpack_from("=BBBBI", body, 0)
        d.update(family=fam, scope=scope, protocol=PROTO.get(proto, proto), nh_flags=fl,
                 attrs=attrs(body[8:], NHA, fam))
    return d

def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int, default=2620)
    ap.add_argument("--log", required=True)
    a = ap.parse_args()
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(("127.0.0.1", a.port))
    s.listen(1)
    log = open(a.log, "a", buffering=1)
    while True:
        c, peer = s.accept()
        conn_t = time.time()
        log.write(json.dumps({"t": conn_t, "event": "connect", "peer": list(peer)}) + "\n")
        buf = b""
        n = 0
        while True:
            chunk = c.recv(65536)
            if not chunk:
                log.write(json.dumps({"t": time.time(), "event": "close", "messages": n}) + "\n")
                break
            buf += chunk
            while len(buf) >= 4:
                ver, typ, flen = struct.unpack_from("!BBH", buf, 0)
                if len(buf) < flen:
                    break
                nl = buf[4:flen]
                now = time.time()
                parts = []
                o = 0
                while o + 16 <= len(nl):
                    ml = struct.unpack_from("=I", nl, o)[0]
                    parts.append(nl[o:o + ml])
                    o += (ml + 3) & ~3
                for k, p in enumerate(parts):
                    rec = {"t": now, "fpm": {"version": ver, "type": typ, "len": flen,
                           "hdr_hex": buf[:4].hex(), "part": k, "parts": len(parts)},
                           "nl": decode(p), "hex": p.hex()}
                    log.write(json.dumps(rec) + "\n")
                n += 1
                buf = buf[flen:]

main()

"""bench/run's lane rows (docs/lanes.md): one NAT-T tunnel of 1 or 4 lanes, decrypted by 2 workers.

What the rows show: a tunnel's decrypt rate is no longer bound to one worker. Each worker polls one
RX queue of every port; a NIC's RSS puts each outer flow (5-tuple) on one queue. A 1-lane tunnel is
one outer flow, so all of its packets land on one queue and one worker; a 4-lane tunnel is 4 outer
flows (the peer sends lane k from its own UDP source port), which RSS spreads over the queues.

net_pcap cannot hash: each of its RX queues replays its own pcap (`rx_pcap=` once per queue). So the
harness does what RSS would: it puts each lane's packets in the pcap of the queue that a Toeplitz
hash of the lane's outer 4-tuple picks, with the common default RSS key (below) and a 128-entry
indirection table filled round robin (DPDK's default). With that key the peer's lane ports
4500..4503 fall on queues 0, 1, 0, 1. A NIC with another key may split 4 flows 3:1 or 4:0; that
imbalance is why docs/deploy-aws.md provisions twice the lanes a target needs.

Inner flows reach the lanes as the peer espgw would send them: lane_hash4() of the inner packet
(dataplane/lanes/lane_hash.h), its bucket's home lane (dataplane/lanes/lane_map.h). Lane 0 is the
tunnel's static SA pair; lanes 1..N-1 get an SA pair each by `sa-add ... "lane": k` over the
control socket before the windows start.
"""

import copy
import ipaddress
import json
import os
import statistics
import struct
import subprocess
import tempfile

from run_rows import KEYS, PACKETS, SPI_IN, SPI_OUT, keyhex

LANE_COUNTS = (1, 4)
LANE_SIZES = ("64", "1400")
LANE_WORKERS = 2
# The peer's source port of lane k (docs/lanes.md, "Decision"): the IKE port for lane 0, then
# base + k - 1 with the default base 4501. The destination is always the IKE port, 4500.
PEER_PORT_BASE = 4501
# The RSS key of Microsoft's RSS specification, the default of many NICs and DPDK PMDs.
RSS_KEY = bytes.fromhex("6d5a56da255b0ec24167253d43a38fb0d0ca2bcbae7b30b477cb2da3"
                        "8030f20c6a42b73bbeac01fa")
RETA_SIZE = 128


def peer_port(k):
    return 4500 if k == 0 else PEER_PORT_BASE + k - 1


def toeplitz(data, key=RSS_KEY):
    """The Toeplitz hash of `data` (RSS): for each set bit of the input, the 32 key bits from that
    bit's position on are XORed in."""
    k, kbits = int.from_bytes(key, "big"), len(key) * 8
    bits, n = int.from_bytes(data, "big"), len(data) * 8
    h = 0
    for i in range(n):
        if bits >> (n - 1 - i) & 1:
            h ^= (k >> (kbits - 32 - i)) & 0xFFFFFFFF
    return h


def rss_queue(src, dst, sport, dport, queues):
    """The RX queue of an IPv4 UDP flow: the hash's low bits index the indirection table, whose
    entry i is queue i mod queues."""
    h = toeplitz(ipaddress.IPv4Address(src).packed + ipaddress.IPv4Address(dst).packed +
                 struct.pack("!HH", sport, dport))
    return (h % RETA_SIZE) % queues


def peer_lane(src, dst, sport, dport, lanes):
    """The lane the peer espgw gives an inner IPv4 UDP flow with every lane up (labkit.lanes
    models lane_hash4() and the buckets' home lanes)."""
    from labkit import lanes as lanes_model  # tests/ is on the path once pcapgen_lib is in
    return lanes_model.home_lane(lanes, src, dst, 17, sport, dport)


def sa_fields(alg, spi, label):
    """An SA as the config's and sa-add's objects have it (strings, as YAML's BaseLoader gives)."""
    k = KEYS[alg]
    sa = {"spi": "0x%x" % spi, "algorithm": alg, "key": "0x" + keyhex(label, k["key"])}
    if "auth_key" in k:
        sa["auth_key"] = "0x" + keyhex(label + "/auth", k["auth_key"])
    return sa


def lane_sa(alg, k, direction):
    """Lane k's SA: lane 0 is the tunnel's static SA pair (run_rows.espgw_config)."""
    base, label = (SPI_IN, alg + "/in") if direction == "in" else (SPI_OUT, alg + "/out")
    return sa_fields(alg, base + k, label if k == 0 else "%s/lane%d" % (label, k))


def sa_ops(alg, lanes):
    """The control socket's ops that give lanes 1..N-1 their SA pair."""
    ops = []
    for k in range(1, lanes):
        for d in ("in", "out"):
            sa = lane_sa(alg, k, d)
            sa["spi"] = int(sa["spi"], 0)  # JSON numbers (docs/control-protocol.md)
            ops.append({"op": "sa-add", "tunnel": "peer", "direction": d, "lane": k, "sa": sa})
    return ops


def pcap_names(alg, size, lanes):
    return ["lanes_%s_%d_%s_q%d.pcap" % (alg, lanes, size, q) for q in range(LANE_WORKERS)]


def write_pcaps(data_dir, tunnel, alg, size, lanes):
    """One pcap per RX queue of the WAN port: the ESP-in-UDP packets that RSS would give it, of
    PACKETS inner flows spread over the lanes by the peer's hash. A queue that no lane hashes to
    gets a pcap without packets. Returns {queue: {lane: packets}}."""
    import pcapgen_lib
    from labkit import packets
    from scapy.compat import raw
    from scapy.layers.inet import IP
    from scapy.layers.l2 import Ether
    from run_rows import ROUTER_MAC, WAN_MAC
    srcs = pcapgen_lib.hosts(tunnel["remote_cidrs"], PACKETS)
    dsts = pcapgen_lib.hosts(tunnel["local_cidrs"], 16)
    sas, queue_of = [], []
    for k in range(lanes):
        t = copy.deepcopy(tunnel)
        t["static_sa"]["inbound"] = lane_sa(alg, k, "in")
        t["remote_port"] = str(peer_port(k))
        sas.append(packets.Sa(t, "in"))
        queue_of.append(rss_queue(t["remote"], t["local"], peer_port(k), 4500, LANE_WORKERS))
    frames = [[] for _ in range(LANE_WORKERS)]
    split = {q: {} for q in range(LANE_WORKERS)}
    seq = [0] * lanes
    for i, n in enumerate(pcapgen_lib.sizes_of(size, PACKETS)):
        src, dst, sport, dport = srcs[i], dsts[i % 16], 1024 + i, 5001 + i % 16
        k = peer_lane(src, dst, sport, dport, lanes)
        seq[k] += 1
        pkt = IP(packets.encap(sas[k], pcapgen_lib.inner(src, dst, sport, dport, n), seq[k]))
        q = queue_of[k]
        frames[q].append(raw(Ether(dst=WAN_MAC, src=ROUTER_MAC) / pkt))
        split[q][k] = split[q].get(k, 0) + 1
    for q, name in enumerate(pcap_names(alg, size, lanes)):
        pcapgen_lib.write_pcap(os.path.join(data_dir, name), frames[q])
    return split


def make_pcaps(data_dir, tunnel_of, alg):
    """Every lane row's pcaps, and what each queue carries (kept beside them)."""
    splits = {}
    for size in LANE_SIZES:
        for lanes in LANE_COUNTS:
            splits["%s/%d" % (size, lanes)] = write_pcaps(data_dir, tunnel_of(lanes), alg, size,
                                                          lanes)
    with open(os.path.join(data_dir, "lanes.json"), "w") as f:
        json.dump(splits, f)


def lane_choice_cycles(build, quick):
    """bench/lane_bench: TSC cycles per packet of the lane choice, by the tunnel's lanes, and the
    command line; ({}, None) when it is not built."""
    binary = os.path.join(build, "bench", "lane_bench")
    if not os.access(binary, os.X_OK):
        return {}, None
    out = os.path.join(tempfile.gettempdir(), "espgw-bench-lanes-%d.json" % os.getpid())
    argv = [binary, "--benchmark_repetitions=%d" % (3 if quick else 7),
            "--benchmark_min_time=0.1", "--benchmark_enable_random_interleaving=true",
            "--benchmark_out_format=json", "--benchmark_out=" + out]
    subprocess.run(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True)
    doc = json.load(open(out))
    os.unlink(out)
    reps = {}
    for b in doc["benchmarks"]:
        if b.get("run_type") == "iteration":
            lanes = b["run_name"].split("lanes:")[1].split("/")[0]
            reps.setdefault(lanes, []).append(b["cycles_per_pkt"])
    return ({k: sorted(v) for k, v in reps.items()},
            " ".join([os.path.join("build", "bench", "lane_bench")] + argv[1:-1]))


def pair_ratios(R, mem, size, per_proc):
    """4 lanes over 1 lane, wall Mpps, per interleaved pair of processes (each process's median
    over its `per_proc` windows): the A/B figure that load on the machine moves least."""
    def procs(lanes):
        ws = R.get(("lanes", "decrypt", "aes128gcm16", size, str(lanes), mem, "pcap"), [])
        return [statistics.median(w["wall_mpps"] for w in ws[i:i + per_proc])
                for i in range(0, len(ws), per_proc)]
    return sorted(b / a for a, b in zip(procs(LANE_COUNTS[0]), procs(LANE_COUNTS[-1])) if a > 0)


def report(R, summary, fmt, fmt_s, mem, splits, choice, choice_cmd, how, per_proc):
    """The markdown of the lanes section: R the windows by row key, summary/fmt/fmt_s
    run_report's, splits what each queue's pcap carries, choice lane_choice_cycles()'s figures,
    `how` the paragraph on how and when this was measured, per_proc the windows per process."""
    ratios = []
    for size in LANE_SIZES:
        r = pair_ratios(R, mem, size, per_proc)
        if r:
            ratios.append("%s B: %.2f (%.2f .. %.2f, %d pairs)" % (
                size, statistics.median(r), r[0], r[-1], len(r)))
    rows = ["| lanes | size | tunnel decrypt Mpps (wall) | x 1 lane | Mpps per worker CPU | "
            "cycles/pkt | worker 0 / worker 1 packets | worker 0 / worker 1 busy | "
            "lanes on queue 0 / queue 1 | CPU per worker | windows |",
            "|---|---|---|---|---|---|---|---|---|---|---|"]
    for size in LANE_SIZES:
        one = None
        for lanes in LANE_COUNTS:
            k = ("lanes", "decrypt", "aes128gcm16", size, str(lanes), mem, "pcap")
            ws = R.get(k, [])
            w, c, cy = summary(ws, "wall_mpps"), summary(ws), summary(ws, "cycles")
            if w is None:
                continue
            if lanes == 1:
                one = w["med"]
            per = [sum(x["worker_pkts"][i] for x in ws) for i in range(LANE_WORKERS)]
            tot = sum(per) or 1
            sp = splits.get("%s/%d" % (size, lanes), {})
            qs = " / ".join(",".join(str(lane) for lane in sorted(sp.get(str(q), {}), key=int))
                            or "none" for q in range(LANE_WORKERS))
            busy = [statistics.median(x["worker_busy"][i] for x in ws) if all(
                "worker_busy" in x for x in ws) else None for i in range(LANE_WORKERS)]
            rows.append("| %d | %s | %s | %s | %s | %s | %s | %s | %s | %.0f%% | %d |" % (
                lanes, size, fmt_s(w), fmt(w["med"] / one if one else None), fmt_s(c),
                fmt(cy["med"] if cy else None, 0),
                " / ".join("%.0f%%" % (100 * p / tot) for p in per),
                " / ".join("–" if b is None else "%.0f%%" % (100 * b) for b in busy), qs,
                100 * statistics.median(x["cpu_share"] for x in ws), w["n"]))
    crows = []
    base = statistics.median(choice["1"]) if choice.get("1") else None
    for lanes in sorted(choice, key=int):
        v = choice[lanes]
        m = statistics.median(v)
        crows.append("| %s | %.2f | %.2f .. %.2f | %s |" % (
            lanes, m, v[0], v[-1], "–" if lanes == "1" or base is None else
            "%+.2f (bound +5: %s)" % (m - base, "**pass**" if m - base <= 5 else "**FAIL**")))
    choice_md = ("| lanes | cycles/pkt (median) | min .. max | over 1 lane |\n|---|---|---|---|\n" +
                 "\n".join(crows)) if crows else "lane_bench not built"
    return """## Lanes: one tunnel's decrypt over 2 workers (AES-128-GCM, NAT-T)

%s

| | |
|---|---|
| machine | 2 vCPUs shared with other builds: worker 0 shares CPU 0 with the main lcore (mostly asleep), worker 1 has CPU 1 |
| source | `net_pcap`, one `rx_pcap` per queue (queue q to worker q), each the ESP-in-UDP packets RSS would give that queue: Toeplitz with the default key (bench/run_lanes.py); a queue no lane hashes to replays a pcap without packets |
| rows | lane counts interleaved (1, 4, 1, 4, ...), one process each |

%s

4 lanes over 1 lane, wall Mpps, the median over interleaved pairs of processes (min .. max):
%s.

*Tunnel decrypt Mpps (wall)* counts the packets out of the LAN sink per second of wall time: the
tunnel's rate. *Mpps per worker CPU* divides them by the CPU time both workers got (an idle
worker's polling included); *cycles/pkt* counts each worker's CPU time times its own busy share
(`busy_tsc` / `total_tsc`). *Worker 0 / worker 1 packets* is each worker's share of the packets
(its `packets` counter), *busy* the share of its loops that found packets, *CPU per worker* the
CPU time each worker thread got (schedstat; under 100%% the machine's other work took the rest): with 1 lane one worker
does all the decryption and the other polls an empty queue; with 4 lanes each worker decrypts the
lanes on its queue. Each queue's pcap repeats without end, so each
worker runs flat out and the split shows who works, not the lanes' shares of a real tunnel's
flows. On a larger machine with idle cores the 4-lane rate scales with the queues its lanes hash
to; here the two workers share the two vCPUs with everything else.

The lane choice per packet on the encrypting side (`%s`; packets in cache; the bound is 5 TSC
cycles over a 1-lane tunnel, which chooses nothing):

%s
""" % (how, "\n".join(rows), "; ".join(ratios) or "–", choice_cmd or "bench/lane_bench", choice_md)

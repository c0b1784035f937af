"""bench/profile's stage mapping: a perf.data of espgw's worker thread -> shares per pipeline stage.

Shares are of *self* samples (the function the CPU was in). A sample goes to a stage by, in order:

1. its innermost source line: in `dataplane/common/counter.h` -> "counters", whatever function the
   counter code was inlined into (perf report's srcline of the sample);
2. PASS_TO_CALLER (libc copies, the dynamic TLS resolver, mempool/mbuf helpers): the stage of
   its first caller on the DWARF call chain that has one (a memmove in intel-ipsec-mb is crypto,
   one in bench_source's fill is the source; net_null's free calls `__tls_get_addr`: TX);
3. ESPGW_RULES on the symbol, for samples in the espgw binary (first match wins);
4. LIBRARY_RULES on the shared object, for samples in a library (DPDK's PMDs ship stripped, so
   their samples have no symbol: they go by library);
5. anything else (other libc functions, the kernel, ld.so): like 2, the first caller's stage.
A sample that finds no stage that way is "unmapped: LIBRARY SYMBOL" and listed as such, so a new
function that the rules miss shows up in the table instead of being spread over the others.

`docs/hot-path-profile.md` explains the stages; STAGES is their order in the tables.
"""

import collections
import re
import subprocess

STAGES = ["classify", "ESP inbound", "route", "outbound framing", "crypto (intel-ipsec-mb)",
          "crypto (espgw glue)", "neighbour", "TX", "counters", "poll loop", "RX source (harness)"]
# espgw's own: everything but the crypto library and the harness's source.
OWN = [s for s in STAGES if s not in ("crypto (intel-ipsec-mb)", "RX source (harness)")]

# "ESP side": the per-packet policy work both directions share (selectors, MSS clamp, the packet
# view of the decrypted payload) counts as outbound framing when encrypting, ESP inbound when
# decrypting.
ESPGW_RULES = [  # (regex on the demangled symbol, stage)
    (r"stages::classify|classify4|classify6|udp_carries_esp|natt_port", "classify"),
    (r"stages::esp_inbound|EspEngine::decrypt|EspEngine::claim|EspEngine::parse_inbound|"
     r"parse_one|replay|EspEngine::finish_inbound|inbound", "ESP inbound"),
    (r"stages::route|IpAddress::v4_host|lookup4|lookup6|Dir24_8|martian|to_host|ecmp_member|"
     r"local_port",
     "route"),
    (r"stages::esp_outbound|EspEngine::encrypt|EspEngine::frame_as|reserve_sequence|copy_outer|"
     r"udp6_checksum|outbound", "outbound framing"),
    # The packets that waited in the crypto lanes (AES-CBC + HMAC), handed on once per loop.
    (r"selectors_match|view_of|apply_view|clamp_mss|stages::.*clamp|esp_reap|EspEngine::reap|"
     r"finish_deferred|inbound_to|tunnel_output", "ESP side"),
    (r"IpsecMbBackend|submit_cbc|set_cbc_hmac_job|crypto::|icv_bytes", "crypto (espgw glue)"),
    (r"l2_output|neighbour|port_owns", "neighbour"),
    (r"Worker::send|Worker::flush|tx_error|rte_eth_tx", "TX"),
    (r"\(anonymous namespace\)::fill|bench_source", "RX source (harness)"),
    (r"Worker::run|poll_port|poll_control|poll_kernel|keepalives|Rcu|rcu", "poll loop"),
]
LIBRARY_RULES = [  # (regex on the shared object's file name, stage)
    (r"libIPSec_MB", "crypto (intel-ipsec-mb)"),
    (r"libcrypto", "crypto (espgw glue)"),  # CRYPTO_memcmp: the ICV compare
    (r"librte_net_null", "TX"),  # the sink's TX frees the burst (mempool put)
    (r"librte_net_pcap", "RX source (harness)"),  # its RX copies each packet into a new mbuf
    (r"librte_fib|librte_lpm|librte_rib", "route"),
    (r"librte_ethdev", "TX"),
]
PASS_TO_CALLER = r"memmove|memcpy|memset|__tls_get_addr|rte_mempool|rte_pktmbuf"
COUNTER_SOURCE = "counter.h"
NO_SYMBOL = "(no symbol)"


def norm_sym(sym):
    sym = re.sub(r"^\[[.kgu]\] ", "", sym.strip())
    if sym.startswith("0x") or sym.startswith("[unknown]") or not sym:
        return NO_SYMBOL
    return re.sub(r"\+0x[0-9a-f]+$", "", sym)


def own_stage(dso, sym, direction):
    """A sample's stage from its own library and symbol (rules 3 and 4); None: ask the caller."""
    if re.search(PASS_TO_CALLER, sym):
        return None
    if dso == "espgw":
        for rx, stage in ESPGW_RULES:
            if re.search(rx, sym):
                if stage == "ESP side":
                    return "ESP inbound" if direction == "decrypt" else "outbound framing"
                return stage
        return None
    for rx, stage in LIBRARY_RULES:
        if re.search(rx, dso):
            return stage
    return None


def _perf(args):
    r = subprocess.run(["perf"] + args, capture_output=True, text=True)
    if r.returncode != 0:
        raise RuntimeError("perf %s failed: %s" % (args[0], (r.stderr.strip().splitlines()
                                                             or ["exit %d" % r.returncode])[-1]))
    return r.stdout


def flat_rows(data):
    """perf report's self samples: [(percent, dso, symbol, srcline)]."""
    rep = _perf(["report", "-i", data, "--no-children", "--sort", "dso,sym,srcline", "-g", "none",
                 "--stdio", "-t", "|", "--percent-limit", "0"])
    rows = []
    for line in rep.splitlines():
        if line.startswith("#") or "|" not in line:
            continue
        f = [x.strip() for x in line.split("|")]
        if len(f) < 4 or not f[0].endswith("%"):
            continue
        rows.append((float(f[0].rstrip("%")), f[1] or "[unknown]", norm_sym(f[2]), f[3]))
    return rows


def caller_stages(data, direction):
    """{(dso, symbol) of a sample without a stage of its own: Counter(stage of its first caller
    that has one)} over the DWARF call chains; also the number of samples."""
    scr = _perf(["script", "--no-inline", "-i", data, "-F", "ip,sym,dso"])
    frame = re.compile(r"\S+\s+(.*)\s+\((.*)\)$")
    out = collections.defaultdict(collections.Counter)
    samples = 0
    for block in scr.split("\n\n"):
        frames = [frame.match(l.strip()) for l in block.strip().splitlines()]
        frames = [(m.group(2).rsplit("/", 1)[-1], norm_sym(m.group(1))) for m in frames if m]
        if not frames:
            continue
        samples += 1
        dso0, sym0 = frames[0]
        if own_stage(dso0, sym0, direction) is not None:
            continue
        stage = next((s for s in (own_stage(d, sm, direction) for d, sm in frames[1:])
                      if s is not None), None)
        out[(dso0, sym0)][stage] += 1
    return out, samples


def analyse(data, direction):
    """Stage shares (percent of the worker's samples) and the top functions of a perf.data."""
    rows = flat_rows(data)
    callers, samples = caller_stages(data, direction)
    if not rows or not samples:
        raise RuntimeError("perf recorded no samples of the worker thread (%s)" % data)
    total = sum(r[0] for r in rows)
    stages = collections.Counter()
    funcs = collections.Counter()
    for pct, dso, sym, src in rows:
        pct = pct * 100.0 / total
        funcs[(dso, sym)] += pct
        if src.startswith(COUNTER_SOURCE):
            stages["counters"] += pct
            continue
        stage = own_stage(dso, sym, direction)
        if stage is not None:
            stages[stage] += pct
            continue
        dist = callers.get((dso, sym))
        n = sum(dist.values()) if dist else 0
        if not n:
            stages["unmapped: %s %s" % (dso, sym)] += pct
            continue
        for s, c in dist.items():
            stages[s or "unmapped: %s %s" % (dso, sym)] += pct * c / n
    return {"samples": samples, "stages": dict(stages),
            "top": [[p, d, s] for (d, s), p in funcs.most_common(25)]}

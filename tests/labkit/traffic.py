"""Traffic between a lab's namespaces: echo requests, iperf3, checked TCP, sequence-numbered UDP streams.

Each function takes the lab (labkit.lab.Lab) and namespace names. The helpers inside the
namespaces are labkit/tools.py's; each says "ready" once bound, so nothing
here sleeps.
"""

import json
import signal
import subprocess

from labkit.lab import TOOLS
from labkit.proc import PYTHON, LabError, check, result, wait_for


def ping(lab, src, dst, count=20, interval=0.05, size=56, pattern=None, wait=2):
    """Exactly `count` echo requests from namespace `src`, each given `wait` seconds for its
    answer (labkit/tools.py icmp-echo: ping would give the last ones 2 RTTs); {"sent",
    "received", "corrupt", "rtt_min/avg/max_ms"}."""
    cmd = ["icmp-echo", "--to", dst, "--count", str(count), "--interval", str(interval),
           "--size", str(size), "--wait", str(wait)]
    if pattern:
        cmd += ["--pattern", pattern]
    r = lab.sh(src, PYTHON, TOOLS, *cmd, check=False, timeout=count * interval + wait + 30)
    try:
        return json.loads(r.stdout.strip().splitlines()[-1])
    except (IndexError, ValueError):
        raise LabError(f"echo {dst} from {src}: no result: {r.stdout}{r.stderr}") from None


def ping_ok(lab, src, dst, count=3, interval=0.2, check=True):
    """The path answers: at least one of `count` echoes answered;
    LabError (with check) or False otherwise."""
    r = ping(lab, src, dst, count=count, interval=interval)
    ok = r["received"] > 0
    if check and not ok:
        raise LabError(f"ping {src} -> {dst}: none of {r['sent']} echoes answered")
    return ok


def wait_ping(lab, src, dst, timeout=30):
    """The path carries a ping (ARP on every hop first): one echo answered."""
    wait_for(f"a ping {src} -> {dst}", lambda: lab.sh(
        src, "ping", "-n", "-c", "1", "-W", "1", dst, check=False).returncode == 0, timeout, 0)


def wait_listening(lab, ns, port, proto="t", timeout=10):
    wait_for(f"a listener on {proto}cp port {port} in {lab.ns[ns]}",
             lambda: lab.sh(ns, "ss", f"-Hln{proto}", f"sport = :{port}").stdout.strip(), timeout)


def iperf3(lab, client, server, server_ip, seconds=5, reverse=False, port=5201, udp=None):
    """One iperf3 run. TCP: {"sent_bps", "received_bps", "bps" (received), "retransmits",
    "bytes"}; UDP at rate `udp`: {"bits_per_second", "lost", "packets"}."""
    srv = lab.spawn(server, "iperf3", "-s", "-1", "-B", server_ip, "-p", str(port))
    wait_listening(lab, server, port)
    cmd = ["iperf3", "-c", server_ip, "-p", str(port), "-t", str(seconds), "-J"]
    if reverse:
        cmd.append("-R")
    if udp:
        cmd += ["-u", "-b", udp]
    r = lab.sh(client, *cmd, check=False, timeout=seconds + 60)
    try:
        srv.wait(30)
    except subprocess.TimeoutExpired:
        srv.kill()
    try:
        j = json.loads(r.stdout)
    except json.JSONDecodeError as e:
        raise LabError(f"iperf3 {client} -> {server}: {r.stdout}{r.stderr}") from e
    if "error" in j:
        raise LabError(f"iperf3 {client} -> {server}: {j['error']}")
    end = j["end"]
    if udp:
        s = end["sum"]
        return {"bits_per_second": s["bits_per_second"], "lost": s["lost_packets"],
                "packets": s["packets"]}
    received = end["sum_received"]["bits_per_second"]
    return {"sent_bps": end["sum_sent"]["bits_per_second"], "received_bps": received,
            "bps": received, "retransmits": end["sum_sent"].get("retransmits", 0),
            "bytes": end["sum_received"]["bytes"]}


def tcp_transfer(lab, src, dst, dst_ip, nbytes, port=5300, seed=1):
    """nbytes of pseudo-random data over TCP; the SHA-256 of what was sent and of what arrived
    must agree."""
    recv = lab.tool(dst, "tcp-recv", "--bind", dst_ip, "--port", str(port))
    send = lab.tool(src, "tcp-send", "--to", dst_ip, "--port", str(port), "--bytes",
                    str(nbytes), "--seed", str(seed))
    s = result(send, f"tcp-send {src} -> {dst}", 120)
    r = result(recv, f"tcp-recv in {dst}", 60)
    if r["bytes"] != nbytes or r["sha256"] != s["sha256"]:
        raise LabError(f"TCP {src} -> {dst}: sent {nbytes} bytes sha256 {s['sha256']}, "
                       f"received {r['bytes']} bytes sha256 {r['sha256']}")
    return {"bytes": nbytes, "sha256": s["sha256"], "seconds": s["seconds"],
            "bps": nbytes * 8 / s["seconds"]}


class Stream:
    """One sequence-numbered UDP stream from namespace `src` to `dst` while it runs (tools.py
    udp-seq-send, received by udp-seq-recv, which times each arrival).
    Start it with start(); stop() ends the sender (it sends its end markers), collect() gives the
    receiver's result with the sender's under "sender"."""

    def __init__(self, lab, src, dst, dst_ip, port, rate, bind_ip=None, send_args=()):
        self.lab = lab
        self.name = f"{src.upper()} -> {dst.upper()}"
        self.src, self.dst, self.dst_ip, self.port, self.rate = src, dst, dst_ip, port, rate
        self.bind_ip = bind_ip or dst_ip
        self.send_args = list(send_args)
        self.recv = self.send = None

    def start(self, timeout=300):
        """The receiver first, then the sender."""
        args = ("udp-seq-recv", "--bind", self.bind_ip, "--port", str(self.port), "--timeout",
                str(timeout))
        self.recv = self.lab.tool(self.dst, *args)
        self.send = self.lab.tool(self.src, "udp-seq-send", "--to", self.dst_ip, "--port",
                                  str(self.port), "--rate", str(self.rate), *self.send_args)
        return self

    def stop(self):
        self.send.send_signal(signal.SIGTERM)

    def collect(self, timeout=60):
        sent = result(self.send, f"udp-seq-send {self.name}", 30)
        got = result(self.recv, f"udp-seq-recv {self.name}", timeout)
        got["sender"] = sent
        return got


def stop_streams(streams):
    for s in streams:
        s.stop()
    return [s.collect() for s in streams]


def fmt_gap(g):
    s = f"{g['missing']} datagrams (#{g['first_missing']}..#{g['last_missing']})"
    if "seconds" in g:
        s += f", {g['seconds'] * 1000:.0f} ms between the last before and the first after"
    return s


def check_stream(r, name, failures, allow_missing=False):
    """Every datagram exactly once (or, with allow_missing, none twice); one report line each."""
    check(r["ended"] and r["sent"] == r["sender"]["sent"],
          f"{name}: {r['sent']} datagrams in {r['sender']['seconds']:.1f} s, end marker received",
          failures)
    if not allow_missing:
        check(r["missing_count"] == 0,
              f"{name}: none missing ({r['missing_count']}"
              + (": " + "; ".join(fmt_gap(g) for g in r["gaps"][:5]) if r["gaps"] else "") + ")",
              failures)
    check(r["duplicate_count"] == 0,
          f"{name}: none twice ({r['duplicate_count']}: {r['duplicates'][:10]})", failures)
    check(r["foreign"] == 0 and r["beyond_end"] == 0,
          f"{name}: nothing else arrived ({r['foreign']}, {r['beyond_end']})", failures)


def kernel_drops(lab, namespaces):
    """{ns: {counter: n}}: where a namespace's kernel dropped packets (UDP's receive buffer and
    input errors, /proc/net/snmp; each interface's rx and tx drops, /proc/net/dev), to say where a
    stream's missing datagrams went (kernel_drops_grown)."""
    out = {}
    for ns in namespaces:
        c = {}
        snmp = lab.sh(ns, "cat", "/proc/net/snmp").stdout.splitlines()
        for names, values in zip(snmp, snmp[1:]):
            if names.startswith("Udp:") and values.startswith("Udp:"):
                row = dict(zip(names.split()[1:], values.split()[1:]))
                for k in ("RcvbufErrors", "InErrors", "SndbufErrors"):
                    c[f"udp {k}"] = int(row.get(k, 0))
                break
        for line in lab.sh(ns, "cat", "/proc/net/dev").stdout.splitlines()[2:]:
            name, _, fields = line.partition(":")
            f = fields.split()
            if len(f) >= 12:
                c[f"{name.strip()} rx_drop"] = int(f[3])
                c[f"{name.strip()} tx_drop"] = int(f[11])
        out[ns] = c
    return out


def kernel_drops_grown(before, after):
    """The counters of kernel_drops() that grew: {"ns counter": n}."""
    return {f"{ns} {k}": n - before.get(ns, {}).get(k, 0)
            for ns, c in after.items() for k, n in c.items() if n > before.get(ns, {}).get(k, 0)}

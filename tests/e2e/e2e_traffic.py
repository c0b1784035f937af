"""End to end through two espgw gateways (tests/e2e/lab.py): ping both ways, TCP with the data
checked, iperf3 both ways, and the counters of both gateways checked against what was sent.

What it proves:
  - Traffic between VPC A and VPC B crosses the "internet" as ESP in UDP 4500 only: a capture on
    the router sees no other IP packet, exactly one ESP packet per inner packet, and never the
    ping payload's pattern in the clear.
  - ping A -> B and B -> A: no loss; each of the four SAs counts exactly the packets that crossed
    it, and every frame each gateway received is accounted for (encrypted, decrypted, ARP answered,
    to the kernel, or dropped under a reason; here none is dropped).
  - ping from each host to the far gateway's inside address: the decrypted echo requests reach
    that gateway's kernel (exception path) and the replies go back through the tunnel.
  - TCP both ways (64 MiB each, pseudo-random): the SHA-256 at the receiver equals the sender's;
    the gateways clamp the SYNs' MSS, so no TCP segment needs fragmenting before encryption.
  - iperf3 both ways: throughput reported (not asserted).
  - Under load, per direction: packets out of the sending gateway's SA = packets decrypted by the
    receiving gateway's SA + drops there + losses on the wires, where the losses are read from the
    kernel's veth counters (af_packet ring overflow, which DPDK 22.11's PMD does not report). No
    packet is dropped by espgw under any reason.

Exit 0: pass; 1: fail; 77: cannot run here (not root, tools missing).
"""

import os

from e2e import lab as L
from labkit.capture import Capture
from labkit.proc import check

PATTERN = "e2e2c0dec0de"  # ping payload pattern, looked for in the capture


def check_capture(path, expected_esp, failures):
    from scapy.all import IP, UDP, rdpcap  # noqa: PLC0415 - scapy is slow to import

    pkts = rdpcap(path)
    esp = other = leaks = 0
    pattern = bytes.fromhex(PATTERN)
    for p in pkts:
        if IP not in p:
            other += 1
            continue
        ip = p[IP]
        if (UDP in ip and ip[UDP].sport == 4500 and ip[UDP].dport == 4500
                and {ip.src, ip.dst} == {L.GW1_WAN, L.GW2_WAN}):
            esp += 1
        else:
            other += 1
        if pattern in bytes(p):
            leaks += 1
    check(other == 0, f"capture on the internet: no IP packet other than ESP in UDP 4500 "
          f"between the gateways (saw {other})", failures)
    check(esp == expected_esp, f"capture on the internet: {esp} ESP packets, expected "
          f"{expected_esp} (one per inner packet)", failures)
    check(leaks == 0, f"capture on the internet: the ping payload never appears in the clear "
          f"({leaks} packets with it)", failures)


def main():
    def more(ap):
        ap.add_argument("--pings", type=int, default=50)
        ap.add_argument("--tcp-bytes", type=int, default=64 << 20)
        ap.add_argument("--iperf-seconds", type=int, default=5)

    a = L.arguments(more)
    L.on_signals_unwind()
    failures = []
    figures = {}
    with L.Lab(a.build, crypto=a.crypto) as lab:
        lab.up()
        lab.wait_tunnel()
        s1 = lab.settle("the warm-up ping to drain")
        a2b, b2a = lab.spi_a2b, lab.spi_b2a
        n = a.pings

        print("== ping A -> B and B -> A, captured on the internet", flush=True)
        pcap = os.path.join(lab.workdir, "wan.pcap")
        cap = Capture(lab, "inet", "inet1", pcap).start()
        p_ab = lab.ping("a", L.B_IP, a.pings, 0.02, pattern=PATTERN)
        p_ba = lab.ping("b", L.A_IP, a.pings, 0.02, pattern=PATTERN)
        s2 = lab.settle("the pings to drain")
        err = cap.stop(4 * n)
        figures["ping_a_b"], figures["ping_b_a"] = p_ab, p_ba
        check(p_ab["received"] == n, f"ping A -> B: {p_ab['received']}/{n} answered", failures)
        check(p_ba["received"] == n, f"ping B -> A: {p_ba['received']}/{n} answered", failures)
        for gw, direction, spi in (("gw1", "out", a2b), ("gw2", "in", a2b), ("gw2", "out", b2a),
                                   ("gw1", "in", b2a)):
            d = L.sa_packets(s2, gw, direction, spi) - L.sa_packets(s1, gw, direction, spi)
            check(d == 2 * n, f"{gw} SA {direction} 0x{spi:08x}: {d} packets, expected {2 * n} "
                  f"({n} echo requests and {n} replies)", failures)
        for gw in ("gw1", "gw2"):
            rx, accounted = L.rx_identity(s1, s2, gw)
            check(rx == accounted, f"{gw}: {rx} frames received, {accounted} accounted for",
                  failures)
            drops = L.drops_delta(s1[gw]["counters"], s2[gw]["counters"])
            check(not drops, f"{gw}: no drops ({drops})", failures)
        check_capture(pcap, 4 * n, failures)
        print("  tcpdump: " + " | ".join(err.strip().splitlines()[-3:]))

        print("== ping the far gateway's inside address through the tunnel", flush=True)
        m = 10
        g_a = lab.ping("a", L.GW2_LAN, m, 0.02)
        g_b = lab.ping("b", L.GW1_LAN, m, 0.02)
        s2b = lab.settle("the pings to drain")
        figures["ping_a_gw2"], figures["ping_b_gw1"] = g_a, g_b
        check(g_a["received"] == m, f"ping A -> gw2 {L.GW2_LAN}: {g_a['received']}/{m} answered",
              failures)
        check(g_b["received"] == m, f"ping B -> gw1 {L.GW1_LAN}: {g_b['received']}/{m} answered",
              failures)
        for gw in ("gw1", "gw2"):
            d = L.port_delta(s2, s2b, gw, "lan", "to_kernel")
            check(d == m, f"{gw}: {d} decrypted echo requests handed to its kernel (expected {m})",
                  failures)
        for gw, direction, spi in (("gw1", "out", a2b), ("gw2", "in", a2b), ("gw2", "out", b2a),
                                   ("gw1", "in", b2a)):
            d = L.sa_packets(s2b, gw, direction, spi) - L.sa_packets(s2, gw, direction, spi)
            check(d == 2 * m, f"{gw} SA {direction} 0x{spi:08x}: {d} packets, expected {2 * m}",
                  failures)
        s2 = s2b

        print("== TCP with checked data, A -> B and B -> A", flush=True)
        t_ab = lab.tcp_transfer("a", "b", L.B_IP, a.tcp_bytes, port=5300, seed=11)
        t_ba = lab.tcp_transfer("b", "a", L.A_IP, a.tcp_bytes, port=5301, seed=12)
        figures["tcp_a_b"], figures["tcp_b_a"] = t_ab, t_ba
        check(True, f"A -> B: {t_ab['bytes']} bytes, SHA-256 equal, {t_ab['bps'] / 1e6:.0f} Mbit/s",
              failures)
        check(True, f"B -> A: {t_ba['bytes']} bytes, SHA-256 equal, {t_ba['bps'] / 1e6:.0f} Mbit/s",
              failures)

        print(f"== iperf3 A -> B and B -> A, {a.iperf_seconds} s each", flush=True)
        i_ab = lab.iperf3("a", "b", L.B_IP, a.iperf_seconds)
        i_ba = lab.iperf3("a", "b", L.B_IP, a.iperf_seconds, reverse=True)
        figures["iperf3_a_b"], figures["iperf3_b_a"] = i_ab, i_ba
        for name, r in (("A -> B", i_ab), ("B -> A", i_ba)):
            print(f"  {name}: {r['received_bps'] / 1e9:.2f} Gbit/s received, "
                  f"{r['retransmits']} TCP retransmissions", flush=True)
        s3 = lab.settle("the TCP traffic to drain")

        print("== counters over the TCP and iperf3 phases", flush=True)
        for src, dst, spi in (("gw1", "gw2", a2b), ("gw2", "gw1", b2a)):
            acc = L.direction_accounting(s2, s3, src, dst, spi)
            figures[f"esp_{src}_{dst}"] = acc
            check(acc["closes"], f"{src} -> {dst}: {acc['sent']} sent = {acc['decrypted']} "
                  f"decrypted + {acc['dropped']} dropped + {acc['tx_loss']} lost at TX + "
                  f"{acc['router_loss']} in the router + {acc['rx_ring_loss']} in {dst}'s RX ring",
                  failures)
            check(acc["dropped"] == 0, f"{dst}: no ESP packet of 0x{spi:08x} dropped", failures)
        for gw in ("gw1", "gw2"):
            wb, wa = s2[gw]["counters"]["workers"]["0"], s3[gw]["counters"]["workers"]["0"]
            clamped = wa["mss_clamped"] - wb["mss_clamped"]
            frags = wa["fragments"] - wb["fragments"]
            check(clamped > 0 and frags == 0, f"{gw}: {clamped} SYNs had their MSS clamped to "
                  f"the tunnel's, so TCP needed no fragmentation ({frags} fragments)", failures)
            drops = L.drops_delta(s2[gw]["counters"], s3[gw]["counters"])
            check(not drops, f"{gw}: no drops under any reason ({drops})", failures)
            rx, accounted = L.rx_identity(s2, s3, gw)
            check(rx == accounted, f"{gw}: {rx} frames received, {accounted} accounted for",
                  failures)
            figures[f"{gw}_lan_ring_loss"] = L.lan_ring_loss(s2, s3, gw)
            print(f"  {gw}: {figures[f'{gw}_lan_ring_loss']} frames from the host lost in the "
                  f"LAN port's RX ring", flush=True)

        codes = [gw.stop() for gw in lab.gateways]
        check(codes == [0, 0], f"both gateways stop cleanly (exit codes {codes})", failures)

    return L.verdict(figures, failures)


if __name__ == "__main__":
    L.exit_with(main)

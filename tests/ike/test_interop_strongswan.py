#!/usr/bin/env python3
"""Interop: espgw's full stack against a stock strongSwan (the AWS VPN endpoint's stand-in).

    test_interop_strongswan.py BUILD PLUGIN

One lab (stack_lab.StackLab, peer "strongswan", nat): gw1 runs espgw on net_af_packet veths, charon
with kernel-espgw and espgw-ike, all started and supervised by scripts/espgw-up from one config;
gw2 is a stock charon with kernel-libipsec whose connections take every proposal below. gw1 sits
behind a 1:1 NAT as an EC2 instance behind its Elastic IP: its WAN port has 172.31.1.10, the
peer knows it as 203.0.113.10 (address and IKE identity, local_id), a router namespace translates. Between
cases gw1's config changes and espgw-up's SIGHUP makes espgw-ike reload it (the changed tunnel is
loaded again, its IKE_SA terminated and initiated anew): one lab for the whole matrix.

 1. IKEv2, PSK, NAT-T through the NAT (both charons detect it; ESP in UDP 4500), ESP proposals aes128gcm16, aes256gcm16, aes128-sha256,
    aes256-sha256 and aes128-sha1, each: negotiated by both charons, installed in espgw (`sas`:
    algorithm, origin ike, nat_t, the SA in use) with nothing else left there; ping A -> B; 2 MiB
    over TCP with the SHA-256 of both ends equal; iperf3 A -> B; espgw's SAs counted it. Then the
    peer rekeys the CHILD_SA: espgw holds the new SAs only, traffic flows on them.
 2. Supervision, each process killed with SIGKILL and started again by espgw-up: espgw (the
    plugin re-adds the SAs, which take up their sequence numbers from espgw's state file: the same
    SPIs, no rekey, traffic again), charon (the new charon's
    plugin flushes the old SAs, espgw-ike loads and initiates again: only the new CHILD_SA in
    espgw), espgw-ike (it loads charon again and leaves the running SAs alone).
 3. IKEv1 main mode, ESP aes256-sha256: ping, TCP with checked data, iperf3, a rekey by the
    peer (quick mode); a change of the dataplane's part of the config (the tunnel's MSS) at
    SIGHUP: espgw-up restarts espgw, which gets its SAs back, resumed; `espgwctl ike status`.
 4. SIGTERM to espgw-up stops espgw-ike, charon and espgw in that order, exit 0.
Prints the matrix with the throughput of each case. Exit 77 (skip) where it cannot run.
"""

import os
import re
import subprocess
import sys
import time

import ike_lab
from ike_lab import B_IP, ESP_CASES, TUNNEL, LabError, say, wait_for
from labkit.traffic import iperf3, ping_ok, tcp_transfer, wait_ping
from labkit.proc import on_signals_unwind
from stack_lab import StackLab, stack_skip_reason

TRANSFER = 2 * 1024 * 1024
IPERF_S = 3


def check_charons(lab, child, proposal, peer_conn):
    """Both charons negotiated `proposal` (encr-alg, keysize, integ-alg), SPIs mirrored."""
    want = ESP_CASES[proposal]
    theirs = [c for c in lab.gw2.installed(peer_conn)
              if c["spi_in"] == child["spi_out"] and c["spi_out"] == child["spi_in"]]
    if not theirs:
        raise LabError(f"gw2 has no CHILD_SA {peer_conn} mirroring gw1's "
                       f"0x{child['spi_in']:08x}/0x{child['spi_out']:08x}")
    for who, c in (("gw1", child), ("gw2", theirs[0])):
        if (c["encr"], c["keysize"], c["integ"]) != want:
            raise LabError(f"{who}'s CHILD_SA: {c['encr']}-{c['keysize']}/{c['integ']}, want "
                           f"{want}")


def check_nat(lab):
    """gw1's IKE_SA (espgw-ike's status) runs from the private address, under the EIP as its
    identity, with the NAT detected on our side; the peer sees it from the EIP."""
    t = next(t for t in lab.gw1.ike_status()["tunnels"] if t["name"] == TUNNEL)
    sa = next(s for s in t["ike_sas"] if s["state"] == "ESTABLISHED")
    got = (sa["local"]["host"], sa["local"]["id"], sa["remote"]["host"], sa["local"]["port"],
           sa["nat_local"])
    want = (ike_lab.GW1_PRIVATE, ike_lab.GW1_EIP, ike_lab.GW2_WAN, 4500, True)
    if got != want:
        raise LabError(f"gw1's IKE_SA (local host, local id, remote host, port, nat_local) "
                       f"{got}, want {want}")
    out = lab.gw2.swanctl("--list-sas", "--raw", "--noblock", "--ike", "v2").stdout
    if f"remote-host={ike_lab.GW1_EIP}" not in out or "nat-remote=yes" not in out:
        raise LabError(f"gw2 does not see gw1 behind a NAT at {ike_lab.GW1_EIP}:\n{out}")
    say(f"  NAT detected: gw1 {ike_lab.GW1_PRIVATE}[4500] (id {ike_lab.GW1_EIP}) <-> "
        f"{ike_lab.GW2_WAN}[4500]; gw2 sees {ike_lab.GW1_EIP}")


def traffic(lab, child, label):
    """Ping, a checked TCP transfer and iperf3; espgw's SAs carried them."""
    wait_ping(lab, "a", B_IP)
    ping_ok(lab, "a", B_IP, count=5)
    before = lab.gw1.ctl.sas(TUNNEL)
    t = tcp_transfer(lab, "a", "b", B_IP, TRANSFER, seed=len(label))
    ip = iperf3(lab, "a", "b", B_IP, seconds=IPERF_S)
    after = lab.gw1.ctl.sas(TUNNEL)
    key_in, key_out = ("in", child["spi_in"]), ("out", child["spi_out"])
    grew_out = after[key_out]["bytes"] - before[key_out]["bytes"]
    grew_in = after[key_in]["packets"] - before[key_in]["packets"]
    if grew_out < TRANSFER or grew_in == 0:
        raise LabError(f"{label}: espgw's SAs counted {grew_out} bytes out, {grew_in} packets "
                       f"in for a {TRANSFER}-byte transfer and iperf3")
    say(f"  {label}: ping ok, {TRANSFER} bytes sha256 {t['sha256'][:16]}... equal, iperf3 "
        f"{ip['bps'] / 1e6:.0f} Mbit/s ({ip['retransmits']} retransmissions)")
    return ip


def peer_rekey(lab, child, proposal, peer_conn):
    """The stock peer rekeys the CHILD_SA (gw1 answers): espgw sends on the new SAs and holds
    none that charon does not know (IKEv2 deletes the old CHILD_SA at once; IKEv1 keeps the old
    inbound SA until it expires, charon.delete_rekeyed = no), and traffic flows on them."""
    lab.gw2.swanctl("--rekey", "--child", peer_conn)
    new = lab.established(proposal, old_spis={child["spi_in"]})
    if peer_conn == "v2":
        lab.only_current_sas(new)
    else:
        lab.mirrors_charon(new)
    ping_ok(lab, "a", B_IP, count=5)
    sas = lab.gw1.ctl.sas(TUNNEL)
    if sas[("in", new["spi_in"])]["packets"] < 5 or sas[("out", new["spi_out"])]["packets"] < 5:
        raise LabError(f"the rekeyed SAs carry no traffic: {sas}")
    say(f"  rekeyed by the peer: 0x{child['spi_in']:08x} -> 0x{new['spi_in']:08x}; espgw "
        "sends on the new SAs and holds only SAs charon has, ping ok")
    return new


def reconfigure(lab, child, **kw):
    """gw1's config changed, SIGHUP to espgw-up; the renegotiated CHILD_SA."""
    lab.configure_gw1(**kw)
    lab.gw1.hup()
    old = {child["spi_in"]} if child else set()
    return old


def main():
    if len(sys.argv) != 3:
        print(__doc__, file=sys.stderr)
        return 2
    build, plugin = (os.path.abspath(a) for a in sys.argv[1:])
    reason = stack_skip_reason(build, nat=True)
    if reason:
        print(f"SKIP: {reason}")
        return 77
    on_signals_unwind()
    lab = StackLab(build, plugin, peer="strongswan", nat=True)
    matrix = []
    ok = False
    started = time.monotonic()
    try:
        lab.up()
        lab.configure_gw1(esp=["aes128gcm16-modp2048"])
        lab.start()
        say(f"gw1: espgw, charon and espgw-ike up under espgw-up; pids {lab.gw1.pids()[0]}")

        say("1. IKEv2 with PSK and NAT-T, one ESP proposal at a time")
        child = None
        for proposal in ESP_CASES:
            old = reconfigure(lab, child, esp=[f"{proposal}-modp2048"]) if child else set()
            child = lab.established(proposal, old_spis=old)
            check_charons(lab, child, proposal, "v2")
            if not old:
                check_nat(lab)
            lab.only_current_sas(child)
            ip = traffic(lab, child, f"IKEv2 {proposal}")
            matrix.append(("IKEv2", proposal, f"0x{child['spi_in']:08x}", ip["bps"]))
        child = peer_rekey(lab, child, proposal, "v2")

        say("2. supervision: each process killed, started again by espgw-up")
        proposal = "aes128gcm16"
        reconfigure(lab, child, esp=[f"{proposal}-modp2048"])
        child = lab.established(proposal, old_spis={child["spi_in"]})
        lab.only_current_sas(child)
        wait_ping(lab, "a", B_IP)

        pid = lab.gw1.kill("espgw")
        lab.gw1.wait_restarted("espgw", pid)
        new = lab.established(proposal, timeout=60)
        lab.only_current_sas(new)
        wait_ping(lab, "a", B_IP)
        # The SAs took up their sequence numbers from espgw's state file: the stock peer accepts
        # what espgw sends under them, without a rekey (docs/sa-state.md).
        if (new["spi_in"], new["spi_out"]) != (child["spi_in"], child["spi_out"]):
            raise LabError(f"espgw's restart rekeyed 0x{child['spi_in']:08x} -> "
                           f"0x{new['spi_in']:08x}: its SAs did not resume")
        say(f"  espgw killed and restarted: SAs re-added, resumed from the state file "
            f"(0x{new['spi_in']:08x}, no rekey); ping ok")
        child = new

        pid = lab.gw1.kill("charon")
        lab.gw1.wait_restarted("charon", pid)
        new = lab.established(proposal, old_spis={child["spi_in"]}, timeout=60)
        lab.only_current_sas(new)
        wait_ping(lab, "a", B_IP)
        if "kernel-espgw: connected to espgw" not in lab.gw1.log_text("charon"):
            raise LabError("the restarted charon's plugin did not connect to espgw")
        say(f"  charon killed and restarted: stale SAs flushed, espgw-ike initiated again: "
            f"0x{child['spi_in']:08x} -> 0x{new['spi_in']:08x}; ping ok")
        child = new

        mark = len(lab.gw1.log_text("espgw-ike"))
        pid = lab.gw1.kill("espgw-ike")
        lab.gw1.wait_restarted("espgw-ike", pid)
        wait_for("the restarted espgw-ike to load charon", lambda: re.search(
            r"loaded into charon: .*\b" + TUNNEL, lab.gw1.log_text("espgw-ike")[mark:]), 30)
        lab.only_current_sas(child)
        ping_ok(lab, "a", B_IP, count=3)
        st = lab.gw1.ike_status()
        t = next(t for t in st["tunnels"] if t["name"] == TUNNEL)
        if t["state"] != "ESTABLISHED" or not t["loaded"]:
            raise LabError(f"espgw-ike's status after its restart: {t}")
        say("  espgw-ike killed and restarted: it loaded charon again, the SAs stayed as they were")
        restarts = lab.gw1.pids()[1]
        if restarts != {"espgw": 1, "charon": 1, "espgw-ike": 1}:
            raise LabError(f"restart counts {restarts}")

        say("3. IKEv1 main mode")
        proposal = "aes256-sha256"
        old = reconfigure(lab, child, version=1, esp=[f"{proposal}-modp2048"])
        child = lab.established(proposal, old_spis=old)
        check_charons(lab, child, proposal, "v1")
        versions = {s.get("version") for s in lab.gw1.ike_sas(TUNNEL)
                    if s.get("state") == "ESTABLISHED"}
        if versions != {"1"}:
            raise LabError(f"gw1's IKE_SAs of {TUNNEL}: versions {versions}, want 1")
        lab.only_current_sas(child)
        ip = traffic(lab, child, f"IKEv1 {proposal}")
        matrix.append(("IKEv1", proposal, f"0x{child['spi_in']:08x}", ip["bps"]))
        child = peer_rekey(lab, child, proposal, "v1")
        say("  a dataplane change (the tunnel's MSS) at SIGHUP: espgw-up restarts espgw")
        pid = lab.gw1.pids()[0]["espgw"]
        reconfigure(lab, child, version=1, esp=[f"{proposal}-modp2048"], mss=1300)
        lab.gw1.wait_restarted("espgw", pid)
        new = lab.established(proposal, timeout=60)
        if new["spi_in"] != child["spi_in"]:
            raise LabError(f"espgw's restart rekeyed 0x{child['spi_in']:08x} -> "
                           f"0x{new['spi_in']:08x}: its SAs did not resume")
        child = new
        lab.mirrors_charon(child)
        wait_ping(lab, "a", B_IP)
        tunnel = next(t for t in lab.gw1.ctl("tunnels")["tunnels"] if t["name"] == TUNNEL)
        if tunnel["mss"] != 1300:
            raise LabError(f"espgw's tunnel after the reload: {tunnel}")
        say(f"  espgw restarted with MSS 1300, SAs handed back and resumed: 0x{child['spi_in']:08x}")
        text = subprocess.run([os.path.join(build, "dataplane", "espgwctl"), "-s",
                               lab.gw1.ike_socket, "ike", "status"], capture_output=True,
                              text=True, timeout=30).stdout
        if not re.search(rf"^{TUNNEL}: ESTABLISHED, IKEv1 ", text, re.M) or \
                f"in 0x{child['spi_in']:08x}" not in text:
            raise LabError(f"espgwctl ike status:\n{text}")
        print(text, flush=True)

        say("4. SIGTERM to espgw-up: espgw-ike, charon, espgw stopped in that order")
        mark = lab.gw1.log_size()
        code = lab.gw1.stop()
        log = lab.gw1.log_text("espgw-up")[mark:]
        order = [m.group(1) for m in re.finditer(r"espgw-up: (\S+) stopped \(", log)]
        if code != 0 or order != ["espgw-ike", "charon", "espgw"]:
            raise LabError(f"espgw-up exit {code}, stop order {order}:\n{log}")
        if "status 0" not in log.split("espgw stopped")[-1] and not re.search(
                r"espgw stopped \(status 0\)", log):
            raise LabError(f"espgw did not stop cleanly:\n{log}")

        print("\n  interop matrix (gw1 espgw full stack <-> gw2 strongSwan 5.9.8 kernel-libipsec)")
        print(f"  {'IKE':6} {'ESP':14} {'SPI in':11} {'iperf3 A->B':>12}")
        for version, prop, spi, bps in matrix:
            print(f"  {version:6} {prop:14} {spi:11} {bps / 1e6:8.0f} Mbit/s")
        say(f"all checks passed in {time.monotonic() - started:.0f} s")
        ok = True
    except (LabError, Exception) as e:  # noqa: BLE001
        print(f"FAIL: {e}", file=sys.stderr)
        lab.dump_logs()
    finally:
        lab.down()
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())

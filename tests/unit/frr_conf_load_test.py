"""FRR's config as espgw renders it (config/frr_conf.h) loads in the real FRR: Debian's frr 8.4.

For each config below, espgw-config-check --json renders zebra's, bgpd's and bfdd's text (its
"frr" section); the three daemons start in a throwaway namespace with `-N <instance> -f <file>`
(zebra with dplane_fpm_nl, as espgw-up runs it), and then:
  - no daemon's log reports a config line it refused ("... on config line N: ...");
  - every line of the rendered text is in `show running-config` (less the comments, and the
    defaults FRR does not write back: fpm's port 2620, a BFD detect-multiplier of 3);
  - bgpd has exactly the neighbours the config's tunnels name (`show bgp neighbors json`), with
    BFD on exactly those that have it, and the timers given.
The namespace, the daemons and /var/run/frr/<instance> go whatever happens (labkit.lab.Lab,
frr_kit.Frr.stop). Exit 77 (skip) without root or FRR.

  frr_conf_load_test.py CONFIG_CHECK EXAMPLES_DIR
"""

import json
import os
import re
import shutil
import sys

from labkit import proc
from labkit.lab import Lab
from labkit.proc import LabError, run

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "routing"))
import frr_kit  # noqa: E402


class ZebraWithFpm:
    """The lab as frr_kit.Frr sees it, but zebra gets dplane_fpm_nl, which `fpm address` needs
    (espgw-up runs zebra with it)."""

    def __init__(self, lab):
        self._lab = lab

    def __getattr__(self, attr):
        return getattr(self._lab, attr)

    def nsexec(self, ns, *cmd):
        if cmd and os.path.basename(cmd[0]) == "zebra":
            cmd = (*cmd, "-M", "dplane_fpm_nl")
        return self._lab.nsexec(ns, *cmd)


# The example's config, with its secrets file in the test's folder, and variants of it.
def variants(example):
    return {
        "example": example,
        # One family announced, no v6 neighbour, other BFD timers and instance, no BFD at all.
        "v4-only": example.replace("announce: [10.20.0.0/16]",
                                   'announce: [10.20.0.0/16, 10.21.0.0/16, "fd00:20::/48"]')
                          .replace("interval_ms: 200, multiplier: 3",
                                   "interval_ms: 50, multiplier: 5")
                          .replace('inside: [169.254.44.1/30, "fd00:44::1/126"]',
                                   "inside: [169.254.44.1/31]")
                          .replace("bgp: {remote_asn: 65030}",
                                   "bgp: {remote_asn: 65030, bfd: false, hold_s: 0}"),
    }


DEFAULT_LINES = {"detect-multiplier 3"}


def expected_lines(text):
    """The rendered text's lines that `show running-config` should hold, as it writes them."""
    out = []
    for line in text.splitlines():
        s = line.strip()
        if not s or s.startswith("!") or s in DEFAULT_LINES or s == "exit":
            continue
        out.append(re.sub(r"^(fpm address \S+) port 2620$", r"\1", s))
    return out


def check_instance(lab, name, yaml_text, check_bin, failures):
    path = os.path.join(lab.workdir, f"{name}.yaml")
    with open(path, "w") as f:
        f.write(yaml_text)
    r = run([check_bin, "--json", path], check=False)
    if not proc.check(r.returncode == 0, f"{name}: espgw-config-check --json: exit "
                      f"{r.returncode} {r.stderr.strip()}", failures):
        return
    summary = json.loads(r.stdout)
    frr = summary["frr"]
    instance = f"cfgt{lab.tag}-{name}"
    inst = frr_kit.Frr(ZebraWithFpm(lab), instance, name, {d: frr[d] for d in frr_kit.Frr.ORDER})
    try:
        inst.start()
        refused = []
        for d in ("zebra", "bfdd", "bgpd"):
            refused += [f"{d}: {line}" for line in inst.log_tail(d, 1000).splitlines()
                        if "config line" in line or "Unknown command" in line]
        proc.check(not refused, f"{name}: no daemon refused a config line "
                   f"{refused if refused else ''}", failures)
        running = {s.strip() for s in inst.vtysh("show running-config").stdout.splitlines()}
        for d in ("zebra", "bgpd", "bfdd"):
            missing = [s for s in expected_lines(frr[d]) if s not in running]
            proc.check(not missing, f"{name}: {d}'s {len(expected_lines(frr[d]))} lines in "
                       f"show running-config{': missing ' + repr(missing) if missing else ''}",
                       failures)
        want = {}
        for t in summary["tunnels"]:
            for a in (t["bgp"] or {}).get("neighbours", []):
                want[a] = t["bgp"]
        got = inst.json("show bgp neighbors json")
        proc.check(set(got) == set(want), f"{name}: bgpd's neighbours {sorted(got)} are the "
                   f"tunnels' {sorted(want)}", failures)
        for a, b in want.items():
            n = got.get(a, {})
            bfd = "peerBfdInfo" in n
            proc.check(bfd == b["bfd"], f"{name}: {a}: BFD {bfd}, as configured", failures)
            hold = n.get("bgpTimerConfiguredHoldTimeMsecs")
            keep = n.get("bgpTimerConfiguredKeepAliveIntervalMsecs")
            # Hold 0: no keepalives either (RFC 4271 4.4).
            want_keep = b["keepalive_s"] if b["hold_s"] else 0
            proc.check(hold == b["hold_s"] * 1000 and keep == want_keep * 1000,
                       f"{name}: {a}: configured timers {keep}/{hold} ms are "
                       f"{want_keep}/{b['hold_s']} s", failures)
    finally:
        for e in inst.stop():
            print(f"  note: {e}", flush=True)


def run_test(name, prefix, texts_of, check_bin):
    """A test's run: exit 77 (skip) without root or FRR; else the Lab `prefix`, the configs
    texts_of(lab) gives ({namespace: YAML text}) each through check_instance in its namespace,
    the verdict line; the exit code."""
    if os.geteuid() != 0:
        print("skip: needs root (network namespaces, FRR's daemons)")
        return 77
    why = frr_kit.skip_reason()
    if why:
        print(f"skip: {why}")
        return 77
    failures = []
    with Lab(prefix=prefix) as lab:
        try:
            texts = texts_of(lab)
            lab.up_namespaces(*texts)
            for ns, text in texts.items():
                check_instance(lab, ns, text, check_bin, failures)
        except LabError as e:
            proc.check(False, str(e), failures)
    print(f"{name}: " + ("all checks passed" if not failures else
                         f"{len(failures)} checks failed"))
    return 1 if failures else 0


def example_texts(lab, examples):
    """The example's config and its variants, its secrets file copied to the lab's folder."""
    secrets = os.path.join(lab.workdir, "bgp.secrets.yaml")
    shutil.copy(os.path.join(examples, "bgp.secrets.yaml"), secrets)
    os.chmod(secrets, 0o600)
    with open(os.path.join(examples, "bgp.yaml")) as f:
        return variants(f.read().replace("/etc/espgw/bgp.secrets.yaml", secrets))


def main():
    check_bin, examples = sys.argv[1], sys.argv[2]
    return run_test("frr_conf_load", "frrconf", lambda lab: example_texts(lab, examples),
                    check_bin)


if __name__ == "__main__":
    sys.exit(main())

#!/usr/bin/env python3
"""What import-aws writes for a dynamic-routing download, and what mesh --bgp writes, loads in the
real FRR (Debian's frr 8.4), through frr_conf_load's check (tests/unit/frr_conf_load_test.py):
the daemons start in a throwaway namespace on the rendered text, none refuses a line, every line
is in `show running-config`, bgpd has exactly the tunnels' neighbours with their timers, BFD on
exactly those with bfd (none towards AWS, all in the mesh).

Configs: import-aws of the text and the XML BGP samples, and region a of a 3-region mesh --bgp.
import_bgp shows that --frr-dir writes the same text as espgw-config-check --json gives here.
Exit 77 (skip) without root or FRR.

  test_import_frr_load.py ESPGWCTL CONFIG_CHECK   (ESPGW_AWS_SAMPLES: the samples)
"""

import os
import subprocess
import sys

from labkit.proc import LabError

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "unit"))
import frr_conf_load_test  # noqa: E402

SAMPLES = os.environ.get("ESPGW_AWS_SAMPLES", "")
REGIONS = """regions:
  - {name: a, wan_address: 172.31.1.10/24, vpc_cidr: 10.1.0.0/16}
  - {name: b, wan_address: 172.31.2.10/24, vpc_cidr: 10.2.0.0/16}
  - {name: c, wan_address: 172.31.3.10/24, vpc_cidrs: [10.3.0.0/16, 10.33.0.0/16]}
"""


def ctl(espgwctl, *args):
    r = subprocess.run([espgwctl, *args], capture_output=True, text=True, timeout=60)
    if r.returncode != 0:
        raise LabError(f"espgwctl {' '.join(args[:2])}: exit {r.returncode}: {r.stderr.strip()}")


def configs(espgwctl, workdir):
    """{name: YAML text} of the imported and generated configs (their secrets in `workdir`)."""
    out = {}
    for name, sample in (("awstext", "aws-vpn-generic-bgp.txt"),
                         ("awsxml", "aws-vpn-customer-gateway-bgp.xml")):
        cfg = os.path.join(workdir, f"import-{name}.yaml")
        ctl(espgwctl, "import-aws", os.path.join(SAMPLES, sample), "--local-cidr", "10.20.0.0/16",
            "--local-cidr", "10.21.0.0/16", "--wan-address", "172.31.1.10/24", "-o", cfg)
        with open(cfg) as f:
            out[name] = f.read()
    regions = os.path.join(workdir, "regions.yaml")
    with open(regions, "w") as f:
        f.write(REGIONS)
    mesh = os.path.join(workdir, "mesh")
    ctl(espgwctl, "mesh", "--regions", regions, "-o", mesh, "--secrets-dir", mesh, "--bgp")
    with open(os.path.join(mesh, "a.yaml")) as f:
        out["mesh"] = f.read()
    return out


def main():
    espgwctl, check_bin = sys.argv[1], sys.argv[2]
    return frr_conf_load_test.run_test("import_frr_load", "impfrr",
                                       lambda lab: configs(espgwctl, lab.workdir), check_bin)


if __name__ == "__main__":
    sys.exit(main())

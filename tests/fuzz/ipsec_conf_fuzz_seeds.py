#!/usr/bin/env python3
"""Writes the seed corpus of import_ipsec_conf_fuzz: the strongSwan sample of the importer's tests
(tests/aws/samples/strongswan: ipsec.conf, its included ipsec.d/aws-vpn.conf and ipsec.secrets)
as the target reads its input: an ipsec.conf, a line "#%secrets", an ipsec.secrets.
   ipsec_conf_fuzz_seeds.py DIR"""
import os
import sys

here = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "aws", "samples", "strongswan")


def read(name):
    with open(os.path.join(here, name)) as f:
        return f.read()


conf, extra, secrets = read("ipsec.conf"), read("ipsec.d/aws-vpn.conf"), read("ipsec.secrets")
for i, text in enumerate([conf + "\n#%secrets\n" + secrets, extra + "\n#%secrets\n" + secrets,
                          conf + extra]):
    with open(os.path.join(sys.argv[1], f"seed-{i}"), "w") as out:
        out.write(text)

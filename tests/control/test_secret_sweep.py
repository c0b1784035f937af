#!/usr/bin/env python3
"""A secret in the wrong place of every control request (issue: "one redaction rule";
docs/architecture.md "Secrets in messages"), against a real espgw: each command and each op of a
transaction is sent with every one of its fields, in turn, replaced by a secret of each shape
(hex keys with and without 0x, strongSwan's aa:bb: form, an AWS-style pre-shared key, base64),
and with the secret as an unknown member and as the command's name. No response, no line of
espgw's log and no output of `espgwctl` for the same request may hold the secret.

Run by meson: test_secret_sweep.py ESPGW ESPGWCTL.
"""

import json
import unittest

from control import ctl_harness as h

ESPGW, ESPGWCTL = h.main_args()

SECRETS = [
    "0x" + h.test_key("sweep hex", 16),
    h.test_key("sweep bare", 20),
    ":".join(h.test_key("sweep colon", 16)[i:i + 2] for i in range(0, 32, 2)),
    "Zq7KpW2vNc9RtY4mXb8LsJ3h",          # an AWS-style pre-shared key
    "q4T+Jm8wPz0Vx6Rk2Nd5Lc1Ys9Ha7Bf=",  # base64
]

SA = {"spi": 0x4001, "algorithm": "aes128gcm16", "key": "0x" + h.test_key("sweep sa", 20)}
TUNNEL = {"name": "west", "local": "198.51.100.1", "remote": "203.0.113.9",
          "local_cidrs": ["172.50.0.0/16"], "remote_cidrs": ["172.70.0.0/16"]}
ROUTE = {"prefix": "192.0.2.0/24", "via": "198.51.100.254", "interface": "wan"}

# One well-formed request per command and op: each field of each is swept.
REQUESTS = [
    {"cmd": "status"},
    {"cmd": "sas", "spi": "0x1001"},
    {"cmd": "sas", "state": True},
    {"cmd": "tunnels"},
    {"cmd": "counters"},
    {"cmd": "sa-query", "direction": "in", "spi": "0x2001"},
    {"cmd": "sa-update", "direction": "out", "spi": "0x1001", "local": "198.51.100.1",
     "remote": "203.0.113.2", "nat_t": True, "local_port": 4500, "remote_port": 4500},
    {"cmd": "if-last-use", "if_id": 1, "direction": "out"},
    {"cmd": "route-add", "route": ROUTE},
    {"cmd": "route-add-many", "prefixes": ["192.0.3.0/24"], "interface": "wan",
     "via": "198.51.100.254"},
    {"cmd": "route-replace", "route": ROUTE},
    {"cmd": "route-del", "prefix": "192.0.2.0/24"},
    {"cmd": "tunnel-add", "tunnel": TUNNEL},
    {"cmd": "tunnel-replace", "tunnel": TUNNEL},
    {"cmd": "tunnel-del", "name": "west"},
    {"cmd": "sa-add", "tunnel": "east", "direction": "in", "sa": SA},
    {"cmd": "sa-replace", "tunnel": "east", "direction": "in", "sa": SA},
    {"cmd": "sa-del", "direction": "in", "spi": "0x4001"},
    {"cmd": "sa-flush", "origin": "ike"},
    {"cmd": "apply", "ops": [{"op": "sa-add", "tunnel": "east", "direction": "out", "sa": SA}]},
]


def paths(value, at=()):
    """Every place in a request that holds a value: (path, value)."""
    if isinstance(value, dict):
        for k, v in value.items():
            yield from paths(v, at + (k,))
    elif isinstance(value, list):
        for i, v in enumerate(value):
            yield from paths(v, at + (i,))
    if at:
        yield at, value


def put(value, path, new):
    if not path:
        return new
    copy = dict(value) if isinstance(value, dict) else list(value)
    copy[path[0]] = put(value[path[0]], path[1:], new)
    return copy


def variants(req, secret):
    """The request with the secret in each of its places, as an unknown member, as the command."""
    for path, _ in paths(req):
        if path != ("cmd",):
            yield put(req, path, secret)
    yield dict(req, **{secret: 1})
    yield dict(req, cmd=secret)
    for path, v in paths(req):  # inside each object, as an unknown key
        if isinstance(v, dict):
            yield put(req, path, dict(v, **{secret: "x"}))


class SecretSweep(h.GatewayTest):
    ESPGW, ESPGWCTL, NAME = ESPGW, ESPGWCTL, "sweep"
    KEYS = [SA["key"][2:]]

    def test_no_output_holds_a_secret(self):
        sent = refused = 0
        leaks = []
        for req in REQUESTS:
            for secret in SECRETS:
                for v in variants(req, secret):
                    line = json.dumps(v)
                    resp = self.gw.raw(line)
                    sent += 1
                    refused += '"ok":false' in resp.replace(" ", "")
                    if secret.lower() in resp.lower():
                        leaks.append(f"{line} -> {resp}")
                    # Undo what an accepted change did, so that the next starts alike.
                    self.gw.request({"cmd": "apply", "ops": [
                        {"op": "sa-flush", "origin": "control"}]})
                    for name in ("west", secret):  # a secret is a valid name: listings show names
                        self.gw.raw(json.dumps({"cmd": "tunnel-del", "name": name}))
                    for prefix in ("192.0.2.0/24", "192.0.3.0/24"):
                        self.gw.raw(json.dumps({"cmd": "route-del", "prefix": prefix}))
        # The same through espgwctl: a secret as its command, as an SPI, as a name.
        for secret in SECRETS:
            for args in (["show", "sas", secret], ["sa", "del", "in", secret],
                         ["tunnel", "del", secret], ["route", "del", secret], [secret],
                         ["sa", "add", "east", "in", secret, "aes128gcm16", secret]):
                r = self.gw.ctl(*args, expect=None)
                sent += 1
                if secret.lower() in (r.stdout + r.stderr).lower():
                    leaks.append(f"espgwctl {' '.join(args)} -> {r.stdout}{r.stderr}")
        log = self.gw.output()
        for secret in SECRETS:
            if secret.lower() in log.lower():
                leaks.append(f"espgw's log holds {secret[:6]}...")
        print(f"{sent} requests with a secret in the wrong place, {refused} refused; "
              f"{len(leaks)} outputs held it")
        self.assertFalse(leaks, "\n".join(leaks))
        self.assertGreater(refused, sent // 2)


if __name__ == "__main__":
    unittest.main()

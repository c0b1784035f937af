#!/usr/bin/env python3
"""A pre-shared key pasted into the wrong place of a config is never echoed by
espgw-config-check (common/redact.h: the one rule for repeating input in a message).

For every example config (config/examples), and for each of its values and keys in turn, the
value (or the key's name) is replaced by a secret of each shape the rule knows, and the whole
output of espgw-config-check (stdout and stderr, plain and --json where it fails) must not
contain it. Shapes: an AWS-style pre-shared key (letters, digits, '.', '_'), a base64 one
(strongSwan's 0s... form) and a hex key. The secrets file gets the same treatment for its keys.
The run also counts how many placements the check refuses, so that a check that accepts
everything cannot pass for one that hides secrets.

Run by meson: secret_echo_test.py CONFIG_CHECK EXAMPLES_DIR
"""

import copy
import os
import subprocess
import sys
import tempfile

import yaml

SECRETS = ["Qm7_Vx2.Lr9pZt4wKs", "0sTWFyeS5oYWQuYS5saXR0bGUubGFtYg9=", "0x8f14e45fceea167a5a36dedd4bea2543"]


def leaves(node, path=()):
    """Every (path, kind) where a secret can go: scalar values, and map keys."""
    if isinstance(node, dict):
        for k, v in node.items():
            yield path + (k,), "key"
            yield from leaves(v, path + (k,))
    elif isinstance(node, list):
        for i, v in enumerate(node):
            yield from leaves(v, path + (i,))
    else:
        yield path, "value"


def placed(doc, path, kind, secret):
    doc = copy.deepcopy(doc)
    node = doc
    for p in path[:-1]:
        node = node[p]
    last = path[-1]
    if kind == "value":
        node[last] = secret
    else:
        node[secret] = node.pop(last)
    return doc


def placements(examples, tmp, names=None):
    """Each placement of each secret in the example configs (names: those files only), written to
    tmp: yields (what, config path) with the config, and its secrets file where it has one, as
    the placement leaves them until the next one."""
    for name in sorted(names or os.listdir(examples)):
        if not name.endswith(".yaml") or name.endswith(".secrets.yaml"):
            continue
        src = os.path.join(examples, name)
        with open(src) as f:
            doc = yaml.safe_load(f)
        secrets_path = None
        secrets_doc = None
        named = (doc.get("ike") or {}).get("secrets_file")
        if named:
            with open(os.path.join(examples, os.path.basename(named))) as f:
                secrets_doc = yaml.safe_load(f)
            secrets_path = os.path.join(tmp, os.path.basename(named))
            with open(secrets_path, "w") as f:
                yaml.safe_dump(secrets_doc, f)
            os.chmod(secrets_path, 0o600)
            doc["ike"]["secrets_file"] = secrets_path
        out = os.path.join(tmp, name)
        for path, kind in list(leaves(doc)):
            for s in SECRETS:
                with open(out, "w") as f:
                    yaml.safe_dump(placed(doc, path, kind, s), f)
                yield f"{name} {kind} {'.'.join(map(str, path))}", out
        if secrets_doc is not None:
            with open(out, "w") as f:
                yaml.safe_dump(doc, f)
            for path, kind in list(leaves(secrets_doc)):
                if kind == "value" and path[:1] == ("psk",):
                    continue  # a secret where a secret belongs
                for s in SECRETS:
                    with open(secrets_path, "w") as f:
                        yaml.safe_dump(placed(secrets_doc, path, kind, s), f)
                    yield f"{os.path.basename(secrets_path)} {kind} {'.'.join(map(str, path))}", \
                        out
            with open(secrets_path, "w") as f:
                yaml.safe_dump(secrets_doc, f)


def leaked(out):
    """Whether out holds any of SECRETS, whole or without its 0x / 0s prefix."""
    return any(s in out or s.removeprefix("0x").removeprefix("0s") in out for s in SECRETS)


def main():
    check, examples = sys.argv[1:]
    tmp = tempfile.mkdtemp(prefix="espgw-secret-echo-")
    runs = rejected = 0
    leaks = []

    def run(config_path, what):
        """espgw-config-check FILE, and --json FILE where the config is refused (a config that
        loads: --json shows what it holds, by design)."""
        nonlocal runs, rejected
        for args in ([config_path], ["--json", config_path]):
            r = subprocess.run([check, *args], capture_output=True, text=True, timeout=30)
            runs += 1
            out = r.stdout + r.stderr
            if leaked(out):
                leaks.append(f"{what}: {' '.join(args)}: {out.strip()[:300]}")
            if r.returncode == 0:
                break
            if args[0] != "--json":
                rejected += 1

    for what, config_path in placements(examples, tmp):
        run(config_path, what)
    placed_n = runs - rejected  # each refused placement ran twice
    print(f"{placed_n} placements, {rejected} refused, {runs} runs of espgw-config-check, "
          f"{len(leaks)} leaks")
    for leak in leaks[:40]:
        print("LEAK:", leak)
    if leaks:
        return 1
    if rejected < placed_n // 4:
        print("too few placements rejected: the check does not look at the values")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())

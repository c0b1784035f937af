#!/usr/bin/env python3
"""Every binary reports the same version and git commit (--version: "NAME VERSION (commit C)"):
espgw, espgwctl, espgw-config-check, espgw-ike, espgw-exporter and the installed form of espgw-up.
The version is the project's (meson.build); in a git checkout the commit is the checkout's
(scripts/lib/stamp-version --print-commit), and the kernel-espgw plugin, where built, carries the same
strings (it logs them when charon loads it).

Run by meson: version_test.py SOURCE_ROOT PROJECT_VERSION COMMIT_OPTION PLUGIN_OR_- BINARY...
"""

import os
import re
import subprocess
import sys


def main():
    root, project_version, fallback, plugin, *binaries = sys.argv[1:]
    seen = {}
    for b in binaries:
        b = os.path.abspath(b)  # meson may name a custom target's output relative to the build
        out = subprocess.run([b, "--version"], capture_output=True, text=True, check=True,
                             timeout=30).stdout
        m = re.fullmatch(r"(\S+) (\S+) \(commit ([0-9a-f]{12}(?:-dirty)?|unknown)\)\n", out)
        if not m:
            sys.exit(f"{b} --version: unexpected answer {out!r}")
        if m.group(1) != os.path.basename(b):
            sys.exit(f"{b} --version names itself {m.group(1)!r}")
        seen[b] = (m.group(2), m.group(3))
        print(out.strip())
    versions = set(seen.values())
    if len(versions) != 1:
        sys.exit(f"the binaries disagree: {seen}")
    version, commit = versions.pop()
    if version != project_version:
        sys.exit(f"version {version}, but meson.build says {project_version}")
    want = subprocess.run([os.path.join(root, "scripts", "lib", "stamp-version"),
                           "--source-root", root, "--fallback", fallback, "--print-commit"],
                          capture_output=True, text=True, check=True).stdout.strip()
    if commit != want:
        sys.exit(f"commit {commit}, but the source tree is at {want}")
    if plugin != "-":
        data = open(plugin, "rb").read()
        for s in (f"\0{version}\0", f"\0{commit}\0"):
            if s.encode() not in data:
                sys.exit(f"{plugin} lacks the string {s.strip(chr(0))!r}")
        print(f"{os.path.basename(plugin)}: {version} (commit {commit})")
    return 0


if __name__ == "__main__":
    sys.exit(main())

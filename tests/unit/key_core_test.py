#!/usr/bin/env python3
"""SA keys are not in a core dump (dataplane/crypto/key_memory.h): gdb's gcore dumps
tests/unit/key_core_probe while it holds an SA's keys, and the key schedule intel-ipsec-mb
expanded (64 bytes that only SaKeys holds) is nowhere in the core file; with --heap-copy, where the
probe keeps a copy of its SaKeys on the heap, the same search finds it (so the search works, and
a core of this process does hold its heap). gcore, like the kernel's dumper, leaves out mappings
marked MADV_DONTDUMP.

Skipped (77) without gcore (Debian's gdb, scripts/lib/common.sh installs it); a gcore that fails
fails the test.
Run by meson: key_core_test.py PROBE.
"""

import os
import shutil
import subprocess
import sys
import tempfile
import unittest

PROBE = os.path.abspath(sys.argv.pop(1))


def dump(heap_copy):
    """(schedule bytes, core file bytes) of one probe run."""
    args = [PROBE] + (["--heap-copy"] if heap_copy else [])
    with tempfile.TemporaryDirectory(prefix="espgw-key-core-") as d, \
            subprocess.Popen(args, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                             text=True) as p:
        try:
            schedule = bytes.fromhex(p.stdout.readline().strip())
            assert p.stdout.readline().strip() == "ready"
            r = subprocess.run(["gcore", "-o", os.path.join(d, "core"), str(p.pid)],
                               capture_output=True, text=True, timeout=120)
            core = os.path.join(d, f"core.{p.pid}")
            if r.returncode != 0 or not os.path.exists(core):
                raise AssertionError(f"gcore failed: {r.stdout[-500:]} {r.stderr[-500:]}")
            with open(core, "rb") as f:
                data = f.read()
        finally:
            p.stdin.close()
            p.wait(timeout=30)
        return schedule, data


class KeyCore(unittest.TestCase):
    def test_schedule_found_on_the_heap(self):
        schedule, core = dump(heap_copy=True)
        self.assertEqual(len(schedule), 64)
        self.assertGreater(len(core), 1 << 20)
        self.assertIn(schedule, core)

    def test_keys_not_in_the_core(self):
        schedule, core = dump(heap_copy=False)
        self.assertEqual(len(schedule), 64)
        self.assertGreater(len(core), 1 << 20)
        self.assertNotIn(schedule, core)
        # Nor any 16 bytes of it (a round key).
        for i in range(0, 64, 16):
            self.assertNotIn(schedule[i:i + 16], core, f"round key {10 + i // 16} in the core")


if __name__ == "__main__":
    if shutil.which("gcore") is None:
        print("SKIP: no gcore on PATH (Debian package gdb)")
        sys.exit(77)
    unittest.main(verbosity=2)

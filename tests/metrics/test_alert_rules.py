#!/usr/bin/env python3
"""The alerting rules espgw ships (metrics/alerts/espgw-rules.yml, docs/metrics.md#alerts):

  - `promtool check rules` accepts them;
  - `promtool test rules` passes tests/metrics/alerts/espgw-rules.test.yml, where each alert fires
    on series named and labelled as espgw-exporter writes them;
  - every alert has a case there that fires it and one where it stays quiet (before its `for`, or
    for the healthy series beside it);
  - every series a rule or a test case reads is one espgw-exporter writes (a name in
    metrics/*.cpp), or Prometheus's own `up`: a renamed metric cannot leave a rule that never
    fires;
  - docs/metrics.md names every alert.

Skipped (77) without promtool (Debian's prometheus, scripts/lib/common.sh installs it).
Run by meson: test_alert_rules.py RULES TESTS SOURCE_ROOT.
"""

import glob
import os
import re
import shutil
import subprocess
import sys
import unittest

import yaml

RULES, TESTS, ROOT = (os.path.abspath(a) for a in sys.argv[1:4])
del sys.argv[1:4]

PROMETHEUS_OWN = {"up"}


def exporter_metrics():
    """Every espgw_* name in the exporter's sources."""
    names = set()
    for path in glob.glob(os.path.join(ROOT, "metrics", "*.cpp")):
        with open(path) as f:
            names.update(re.findall(r'"(espgw_[a-z0-9_]+)"', f.read()))
    return names


def metric_names(expr):
    """The metric names a PromQL expression or series selector reads (identifiers followed by
    a selector, a range or an operator; label names inside braces excluded)."""
    without_labels = re.sub(r"\{[^}]*\}", "{}", expr)
    without_by = re.sub(r"\b(by|without|on|ignoring)\s*\([^)]*\)", "", without_labels)
    words = set(re.findall(r"\b([a-zA-Z_:][a-zA-Z0-9_:]*)\b", without_by))
    functions = {"rate", "sum", "max", "min", "or", "and", "unless", "bool", "count", "avg"}
    return {w for w in words if w not in functions and not re.fullmatch(r"\d+[smhd]?", w)}


class AlertRules(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        with open(RULES) as f:
            cls.rules = [r for g in yaml.safe_load(f)["groups"] for r in g["rules"]]
        with open(TESTS) as f:
            cls.tests = yaml.safe_load(f)["tests"]
        cls.promtool = shutil.which("promtool")

    def run_promtool(self, *args, cwd=None):
        r = subprocess.run([self.promtool, *args], cwd=cwd, capture_output=True, text=True,
                           timeout=120)
        print(r.stdout + r.stderr, flush=True)
        self.assertEqual(r.returncode, 0, f"promtool {' '.join(args)} failed")

    def test_check_rules(self):
        self.run_promtool("check", "rules", RULES)

    def test_test_rules(self):
        self.run_promtool("test", "rules", os.path.basename(TESTS), cwd=os.path.dirname(TESTS))

    def test_every_alert_fires_and_stays_quiet(self):
        alerts = [r["alert"] for r in self.rules if "alert" in r]
        self.assertEqual(len(alerts), len(set(alerts)), "an alert name twice")
        fires, quiet = set(), set()
        for t in self.tests:
            for case in t.get("alert_rule_test", []):
                (fires if case.get("exp_alerts") else quiet).add(case["alertname"])
        self.assertEqual(sorted(set(alerts) - fires), [], "alerts no case fires")
        self.assertEqual(sorted(set(alerts) - quiet), [], "alerts no case expects quiet")
        self.assertEqual(sorted((fires | quiet) - set(alerts)), [], "cases for no such alert")

    def test_series_are_the_exporters(self):
        known = exporter_metrics() | PROMETHEUS_OWN
        self.assertIn("espgw_lane_up", known)  # the scan itself works
        for r in self.rules:
            names = metric_names(r["expr"])
            self.assertTrue(names, r["expr"])
            self.assertEqual(sorted(names - known), [], f"{r.get('alert')}: {r['expr']}")
        for t in self.tests:
            for s in t.get("input_series", []):
                name = s["series"].split("{", 1)[0]
                self.assertIn(name, known, f"{t['name']}: {s['series']}")

    def test_documented(self):
        with open(os.path.join(ROOT, "docs", "metrics.md")) as f:
            doc = f.read()
        for r in self.rules:
            if "alert" in r:
                self.assertTrue(f"`{r['alert']}`" in doc, f"docs/metrics.md does not name {r['alert']}")


if __name__ == "__main__":
    if shutil.which("promtool") is None:
        print("SKIP: no promtool on PATH (Debian package prometheus)")
        sys.exit(77)
    unittest.main(verbosity=2)

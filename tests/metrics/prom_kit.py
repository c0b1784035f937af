"""A real Prometheus for the metrics tests: Debian's `prometheus` scraping one localhost target
every second into a TSDB of its own in the test's folder, read back through its HTTP API only
(tests/metrics/test_prometheus.py, tests/routing/test_frr_state.py)."""

import json
import os
import shutil
import socket
import urllib.parse
import urllib.request

from labkit.proc import LabError, alive_or_raise, start, stop_process, tail, wait_for

WAIT_S = 30  # each bounded wait on Prometheus (start, first scrape, a change seen)

CONFIG = """\
global:
  scrape_interval: 1s
  scrape_timeout: 1s
  evaluation_interval: 1s
scrape_configs:
  - job_name: espgw
    static_configs:
      - targets: ["127.0.0.1:{port}"]
"""


def binary():
    """The prometheus binary on PATH, or None."""
    return shutil.which("prometheus")


MISSING = ("no prometheus binary on PATH (Debian package prometheus, "
           "scripts/lib/common.sh installs it)")


def free_port():
    """A localhost TCP port free now (Prometheus cannot tell which port :0 gave it)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Prometheus:
    """One prometheus process scraping 127.0.0.1:target every second; its config, TSDB and log
    in `folder`. stop() kills it (SIGTERM, then SIGKILL)."""

    def __init__(self, binary, folder, target, wait_s=WAIT_S, rules=None):
        self.folder = folder
        self.wait_s = wait_s
        self.log = os.path.join(folder, "prometheus.log")
        config = os.path.join(folder, "prometheus.yml")
        with open(config, "w") as f:
            f.write(CONFIG.format(port=target))
            if rules:  # alerting rules, evaluated every second
                f.write(f"rule_files: [{json.dumps(os.path.abspath(rules))}]\n")
        self.port = free_port()
        self.texts = []  # every answer, for the key check
        self.proc = start([binary, f"--config.file={config}",
                           f"--storage.tsdb.path={os.path.join(folder, 'tsdb')}",
                           f"--web.listen-address=127.0.0.1:{self.port}",
                           "--storage.tsdb.retention.time=1h"], log=self.log)

    def stop(self):
        stop_process(self.proc, timeout=15)

    def alive(self):
        alive_or_raise(self.proc, "prometheus", tail(self.log))

    def get(self, path, **params):
        """The JSON answer to GET path?params; LabError when Prometheus does not answer."""
        self.alive()
        url = f"http://127.0.0.1:{self.port}{path}"
        if params:
            url += "?" + urllib.parse.urlencode(params)
        try:
            with urllib.request.urlopen(url, timeout=10) as r:
                text = r.read().decode()
        except OSError as e:
            raise LabError(f"GET {url}: {e}") from e
        self.texts.append(text)
        return json.loads(text)

    def wait_ready(self):
        def ready():
            self.alive()
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/-/ready", timeout=5) as r:
                    return r.status == 200
            except OSError:
                return False

        wait_for("prometheus ready", ready, self.wait_s)

    def targets(self):
        return self.get("/api/v1/targets")["data"]["activeTargets"]

    def wait_target_up(self):
        """The one target once Prometheus has scraped it healthy (its activeTargets entry)."""
        def target_up():
            ts = self.targets()
            return len(ts) == 1 and ts[0]["health"] == "up" and ts[0]
        return wait_for("the exporter's target up", target_up, self.wait_s)

    def alerts(self, name):
        """[(labels, state)] of the alert `name` now pending or firing."""
        return [(a["labels"], a["state"]) for a in self.get("/api/v1/alerts")["data"]["alerts"]
                if a["labels"].get("alertname") == name]

    def rules(self):
        """Every loaded rule of every group (/api/v1/rules)."""
        return [r for g in self.get("/api/v1/rules")["data"]["groups"] for r in g["rules"]]

    def query(self, expr):
        """An instant query's vector: [(labels, value)]."""
        r = self.get("/api/v1/query", query=expr)
        if r.get("status") != "success" or r["data"]["resultType"] != "vector":
            raise AssertionError(f"{expr}: {r}")
        return [(x["metric"], float(x["value"][1])) for x in r["data"]["result"]]

    def by_label(self, expr, label):
        """{label's value: value} of a query whose series differ by that label only."""
        rows = self.query(expr)
        out = {m.get(label): v for m, v in rows}
        if len(out) != len(rows):
            raise AssertionError(f"{expr}: several series per {label}: {rows}")
        return out

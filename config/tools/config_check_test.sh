#!/usr/bin/env bash
# espgw-config-check: every example passes with its summary line; a bad file fails (exit 1) with
# the expected message; a missing file fails; no argument is a usage error (exit 2).
#   config_check_test.sh CHECK_BINARY EXAMPLES_DIR TESTDATA_DIR
set -uo pipefail
check=$1 examples=$2 testdata=$3
fail=0
bad() { echo "FAIL: $*"; fail=1; }

tmp=$(mktemp -d) || exit 1
trap 'rm -rf "$tmp"' EXIT

# NAME.secrets.yaml holds the pre-shared keys of NAME.yaml, for /etc/espgw/: the check reads a
# copy of NAME.yaml that names a mode 0600 copy of it instead (git keeps no file modes).
n=0
for f in "$examples"/*.yaml; do
  [[ $f == *.secrets.yaml ]] && continue
  if named=$(sed -n 's/^ *secrets_file: *\([^ #]*\).*/\1/p' "$f") && [[ -n $named ]]; then
    install -m 600 "$examples/$(basename "$named")" "$tmp/$(basename "$named")"
    sed "s#secrets_file: *$named#secrets_file: $tmp/$(basename "$named")#" "$f" >"$tmp/$(basename "$f")"
    f="$tmp/$(basename "$f")"
  fi
  out=$("$check" "$f" 2>&1); rc=$?
  [[ $rc -eq 0 ]] || bad "$f: exit $rc: $out"
  [[ $out =~ ^"$f: ok ("[0-9]+" interfaces, "[0-9]+" tunnels, "[0-9]+" routes)"$ ]] ||
    bad "$f: unexpected output: $out"
  n=$((n + 1))
done
((n >= 4)) || bad "only $n examples found in $examples"

out=$("$check" "$examples/aws-classic.yaml"); rc=$?
[[ $out == "$examples/aws-classic.yaml: ok (2 interfaces, 1 tunnels, 2 routes)" ]] ||
  bad "aws-classic summary: $out"

f="$testdata/bad.yaml"
out=$("$check" "$f" 2>&1 >/dev/null); rc=$?
[[ $rc -eq 1 ]] || bad "bad.yaml: exit $rc, expected 1"
want="$f:8: tunnels[0].local: not an address of any interface \"192.0.2.9\""
[[ $out == "$want" ]] || bad "bad.yaml: got '$out', expected '$want'"

f="$testdata/bad-routing.yaml"
out=$("$check" "$f" 2>&1 >/dev/null); rc=$?
want="$f:8: routes[0].tunnel: tunnel \"policy\" is not route-based (it has no inside addresses): its remote_cidrs are what it carries"
[[ $rc -eq 1 && $out == "$want" ]] || bad "bad-routing.yaml: exit $rc, got '$out', expected '$want'"

# --json of the dynamic-routing example: routing.fpm, the tunnels' inside and bgp, FRR's config.
install -m 600 "$examples/bgp.secrets.yaml" "$tmp/bgp.secrets.yaml"
sed "s#/etc/espgw/bgp.secrets.yaml#$tmp/bgp.secrets.yaml#" "$examples/bgp.yaml" >"$tmp/bgp.yaml"
if json=$("$check" --json "$tmp/bgp.yaml"); then
  /usr/bin/python3 - "$json" <<'PY' || bad "bgp.yaml --json: $json"
import json, sys
d = json.loads(sys.argv[1])
assert d["routing"]["fpm"] == {"enabled": True, "address": "127.0.0.1", "port": 2620,
                               "grace_s": 30, "distance": 20}, d["routing"]
t = {x["name"]: x for x in d["tunnels"]}
assert t["branch"]["inside"] == ["169.254.44.1/30", "fd00:44::1/126"], t["branch"]
assert t["branch"]["inside_interface"] == "espt-branch"
assert t["branch"]["bgp"] == {"remote_asn": 65030, "neighbours": ["169.254.44.2", "fd00:44::2"],
                              "bfd": True, "hold_s": 30, "keepalive_s": 10}, t["branch"]["bgp"]
assert t["aws-tunnel1"]["bgp"]["bfd"] is False
assert t["aws-tunnel1"]["inside_interface"].startswith("espt")
frr = d["frr"]
assert frr["instance"] == "espgw"
assert "fpm address 127.0.0.1 port 2620\nno fpm use-next-hop-groups\n" in frr["zebra"]
assert "router bgp 65001\n" in frr["bgpd"] and " neighbor fd00:44::2 bfd profile espgw\n" in frr["bgpd"]
assert " profile espgw\n" in frr["bfdd"]
PY
else
  bad "bgp.yaml --json failed"
fi
# Without bgp: no frr section, no inside.
json=$("$check" --json "$examples/gw1.yaml") || bad "gw1.yaml --json failed"
/usr/bin/python3 -c 'import json, sys; d = json.loads(sys.argv[1]); assert d["frr"] is None and d["bgp"] is None and not d["routing"]["fpm"]["enabled"] and d["tunnels"][0]["inside"] == [] and d["tunnels"][0]["bgp"] is None and d["tunnels"][0]["inside_interface"] is None' "$json" ||
  bad "gw1.yaml --json: $json"

out=$("$check" "$testdata/no-such-file.yaml" 2>&1); rc=$?
[[ $rc -eq 1 && $out == "$testdata/no-such-file.yaml: cannot open: No such file or directory" ]] ||
  bad "missing file: exit $rc: $out"

"$check" >/dev/null 2>&1; rc=$?
[[ $rc -eq 2 ]] || bad "no argument: exit $rc, expected 2"

((fail == 0)) && echo "espgw-config-check: all checks passed ($n examples)"
exit $fail

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

out=$("$check" "$testdata/no-such-file.yaml" 2>&1); rc=$?
[[ $rc -eq 1 && $out == "$testdata/no-such-file.yaml: cannot open: No such file or directory" ]] ||
  bad "missing file: exit $rc: $out"

"$check" >/dev/null 2>&1; rc=$?
[[ $rc -eq 2 ]] || bad "no argument: exit $rc, expected 2"

((fail == 0)) && echo "espgw-config-check: all checks passed ($n examples)"
exit $fail

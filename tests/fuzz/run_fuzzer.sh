#!/bin/sh
# Runs a libFuzzer target briefly from its seed corpus and fails on any crash, leak, timeout or
# sanitizer report. Crash inputs are kept in ARTIFACTS for reproduction:
#   run_fuzzer.sh FUZZER SEEDS ARTIFACTS [libFuzzer flags...]
# FUZZ_CORPUS (scripts/fuzz): a folder that keeps the corpus from run to run (default: a
# scratch folder).
# SEEDS: a program that writes the seeds into the folder it is given, or committed folders
# (':' between them) whose files are the seeds.
set -eu
fuzzer=$1
seedgen=$2
artifacts=$3
shift 3
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
corpus=${FUZZ_CORPUS:-$work/corpus}
mkdir -p "$work/seeds" "$corpus" "$artifacts"
if [ -d "${seedgen%%:*}" ]; then
  n=0
  for d in $(printf '%s' "$seedgen" | tr ':' ' '); do
    n=$((n + 1))
    for f in "$d"/*; do
      [ -f "$f" ] && cp "$f" "$work/seeds/$n-$(basename "$f")"
    done
  done
else
  "$seedgen" "$work/seeds"
fi
# New inputs go to the scratch corpus (the first directory), never into the seeds.
status=0
"$fuzzer" "$corpus" "$work/seeds" -artifact_prefix="$artifacts/" "$@" || status=$?
# libFuzzer exits 77 (its -error_exitcode) on a crash or a sanitizer report, which meson would
# count as a skipped test.
[ "$status" -eq 77 ] && status=1
exit $status

#!/usr/bin/env bash
# The `sanitize` test setup's wrapper (tests/meson.build; docs/reliability.md, "Sanitizers over
# the labs"): runs one test with every AddressSanitizer and UBSan report written to a folder of
# its own, then fails the test if that folder holds any report, whatever the test's own result.
# Reports go to files, not to stderr, so that a report from a daemon a lab started (espgw,
# espgw-ike, the plugin inside charon, espgwctl) is not lost in that daemon's log.
#
# gcc links UBSan's runtime apart from ASan's, and beside ASan UBSan writes its own messages to
# stderr whatever log_path says. So UBSan halts at its first report (halt_on_error) by abort(),
# and ASan, which takes SIGABRT (handle_abort), writes a report of the abort into the folder: its
# stack names the __ubsan_handle_* function and the line where the undefined behaviour was. Any
# other abort() of an instrumented process is reported the same way, and fails the test too.
#   sanitized_test.sh COMMAND...
set -uo pipefail
reports=$(mktemp -d /tmp/espgw-sanitizer.XXXXXX)
trap 'rm -rf "$reports"' EXIT
suppressions=$(dirname "$0")/lsan.supp
# UBSAN_OPTIONS names the same log_path: ASan reads UBSAN_OPTIONS after ASAN_OPTIONS.
export ASAN_OPTIONS="log_path=$reports/asan:detect_leaks=1:handle_abort=1:${ASAN_OPTIONS:-}"
export LSAN_OPTIONS="suppressions=$suppressions:print_suppressions=0:${LSAN_OPTIONS:-}"
export UBSAN_OPTIONS="log_path=$reports/asan:print_stacktrace=1:halt_on_error=1:abort_on_error=1:${UBSAN_OPTIONS:-}"
"$@"
status=$?
shopt -s nullglob
found=("$reports"/*)
if [ ${#found[@]} -gt 0 ]; then
  for f in "${found[@]}"; do
    echo "==== sanitizer report $(basename "$f") (pid after the dot):"
    cat "$f"
  done
  echo "FAILED: ${#found[@]} sanitizer report(s); the test itself exited $status"
  exit 1
fi
exit $status

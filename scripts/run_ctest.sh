#!/usr/bin/env bash
# Runs ctest in a build tree and keeps its summary ("N% tests passed, ..." and "Total Test
# time") at the very end of the output, where CI reads it: ctest itself prints the list of
# skipped tests (unsupported conformance cases) after the summary, so that list is moved
# before it. The exit code is ctest's.
#   usage: scripts/run_ctest.sh BUILD_DIR [CTEST_ARGS...]
set -uo pipefail

build_dir="${1:?usage: run_ctest.sh BUILD_DIR [CTEST_ARGS...]}"
shift
cd "$build_dir" || exit 1

ctest "$@" 2>&1 | awk '
  /^[0-9]+% tests passed/ { in_tail = 1 }
  !in_tail { print; fflush(); next }
  /^The following tests did not run:/ { in_skipped = 1; skipped = skipped $0 "\n"; next }
  in_skipped && /^\t/ { skipped = skipped $0 "\n"; next }
  { in_skipped = 0; rest[n++] = $0 }
  END {
    printf "%s", skipped
    if (skipped != "") print ""
    while (n > 0 && rest[n - 1] == "") n--
    for (i = 0; i < n; i++) print rest[i]
  }'
exit "${PIPESTATUS[0]}"

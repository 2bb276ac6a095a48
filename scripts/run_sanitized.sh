#!/usr/bin/env bash
# Runs a binary of the ASan+UBSan tree with the options of the sanitizer tests: any report
# (memory error, leak, undefined behaviour) aborts the process, so the test fails.
#   usage: scripts/run_sanitized.sh BINARY [ARGS...]
set -euo pipefail

repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
binary="${1:?usage: run_sanitized.sh BINARY [ARGS...]}"
shift
if [[ ! -x "$binary" ]]; then
  echo "run_sanitized: $binary not built; run scripts/build_sanitized.sh first" >&2
  exit 1
fi

export ASAN_OPTIONS="detect_leaks=1:abort_on_error=1:check_initialization_order=1:strict_init_order=1${ASAN_OPTIONS:+:$ASAN_OPTIONS}"
export UBSAN_OPTIONS="halt_on_error=1:abort_on_error=1:print_stacktrace=1${UBSAN_OPTIONS:+:$UBSAN_OPTIONS}"
export LSAN_OPTIONS="suppressions=$repo_root/scripts/sanitizer.supp:print_suppressions=0${LSAN_OPTIONS:+:$LSAN_OPTIONS}"
exec "$binary" "$@"

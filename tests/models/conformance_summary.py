#!/usr/bin/env python3
"""Tabulates `accel verify` over the ONNX backend test folders: counts and reasons.

Usage: conformance_summary.py --accel build/tools/accel [--data-dir DIR] [--exclude-file F]

Runs verify once per folder (node, pytorch-converted, pytorch-operator, simple) and prints
Markdown: passed/failed/skipped per folder, every failure, and the skip reasons grouped (the
unsupported op or feature named by libaccel's Unsupported status, or the exclusion reason).
Exits 1 when any test failed.
"""

import argparse
import collections
import os
import re
import subprocess
import sys

FOLDERS = ["node", "pytorch-converted", "pytorch-operator", "simple"]
LINE = re.compile(r"^(PASS|FAIL|SKIP) ([^:]+)(?:: (.*))?$")


def skip_reason(message):
    """Groups messages: drops the model path and keeps what is unsupported."""
    message = re.sub(r"^\S+\.onnx: ", "", message)
    message = re.sub(r"^test_data_set_\d+: ", "", message)
    message = re.sub(r"^node (#\d+|'[^']*') \([^)]*\): ", "", message)
    return re.sub(r"value '[^']*'", "value", message)


def run_folder(accel, folder_dir, exclude_file):
    command = [accel, "verify", folder_dir]
    if exclude_file:
        command[2:2] = ["--exclude-file", exclude_file]
    run = subprocess.run(command, capture_output=True, text=True)
    results = []
    for line in run.stdout.splitlines():
        match = LINE.match(line)
        if match:
            results.append((match.group(1), match.group(2), match.group(3) or ""))
    if not results and run.returncode != 0:
        sys.exit(f"{' '.join(command)} failed: {run.stderr.strip()}")
    return results


def main():
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--accel", required=True, help="the accel CLI binary")
    parser.add_argument("--data-dir", default="/usr/share/libonnx-testdata/data")
    parser.add_argument("--exclude-file", default=os.path.join(
        os.path.dirname(os.path.abspath(__file__)), "..", "conformance_exclusions.txt"))
    parser.add_argument("--top", type=int, default=40, help="skip reasons to list")
    args = parser.parse_args()

    rows, failures, reasons = [], [], collections.Counter()
    for folder in FOLDERS:
        results = run_folder(args.accel, os.path.join(args.data_dir, folder), args.exclude_file)
        counts = collections.Counter(verdict for verdict, _, _ in results)
        rows.append((folder, counts["PASS"], counts["FAIL"], counts["SKIP"], len(results)))
        for verdict, name, message in results:
            if verdict == "FAIL":
                failures.append(f"{folder}/{name}: {message}")
            elif verdict == "SKIP":
                reasons[skip_reason(message)] += 1

    print("| folder | passed | failed | skipped | total |")
    print("|---|---:|---:|---:|---:|")
    for row in rows:
        print("| " + " | ".join(str(v) for v in row) + " |")
    totals = [sum(r[i] for r in rows) for i in range(1, 5)]
    print("| **all** | " + " | ".join(f"**{t}**" for t in totals) + " |")
    print(f"\nFailures ({len(failures)}):\n")
    for failure in failures:
        print(f"- {failure}")
    print(f"\nSkip reasons (tests per reason, top {args.top} of {len(reasons)}):\n")
    print("| tests | reason |")
    print("|---:|---|")
    for reason, count in reasons.most_common(args.top):
        print(f"| {count} | {reason.replace('|', '/')} |")
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main()

#!/usr/bin/env bash
# Checks (or with --fix, applies) clang-format on every tracked C++ file of the project.
set -euo pipefail

repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
clang_format="${CLANG_FORMAT:-clang-format}"
cd "$repo_root"

dirs=(include src tools examples tests benchmarks)
if git rev-parse --is-inside-work-tree >/dev/null 2>&1; then
  mapfile -t files < <(git ls-files -- "${dirs[@]/%//*.h}" "${dirs[@]/%//*.cc}" \
                                       "${dirs[@]/%//*.cu}")
else
  # A source tarball: check what is there.
  mapfile -t files < <(find "${dirs[@]}" -type f \( -name '*.h' -o -name '*.cc' -o -name '*.cu' \) \
                       2>/dev/null | sort)
fi
# A tracked file deleted in the work tree is not there to check.
existing=()
for f in "${files[@]}"; do [[ -f "$f" ]] && existing+=("$f"); done
if [[ ${#existing[@]} -eq 0 ]]; then
  echo "check_format: no C++ files found"
  exit 0
fi

if [[ "${1:-}" == "--fix" ]]; then
  "$clang_format" -i "${existing[@]}"
  echo "clang-format applied to ${#existing[@]} files"
else
  "$clang_format" --dry-run --Werror "${existing[@]}"
  echo "clang-format: ${#existing[@]} files OK"
fi

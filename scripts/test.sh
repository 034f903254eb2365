#!/usr/bin/env bash
# The test command: installs what is missing, builds with warnings as
# errors, checks the formatting and runs every unit and system test.
# Ends with one line "N passed, N failed".
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/install-deps.sh
build_dir=$(scripts/build.sh)

format_failures=0
echo "== clang-format check"
mapfile -t sources < <(git ls-files '*.cpp' '*.hpp')
if ! clang-format --dry-run --Werror "${sources[@]}"; then
  format_failures=1
  echo "clang-format: some files need formatting (run clang-format -i on them)"
fi

echo "== meson test"
meson_status=0
meson test -C "$build_dir" --print-errorlogs --num-processes 2 "$@" \
  || meson_status=$?

python3 scripts/summarize_tests.py "$build_dir/meson-logs/testlog.json" \
  "$format_failures"
if ((meson_status != 0 || format_failures != 0)); then
  exit 1
fi

#!/usr/bin/env bash
# The test command. It installs what is missing and builds build-asan/ with
# AddressSanitizer and UndefinedBehaviorSanitizer and warnings as errors.
# Then it checks the formatting, runs every unit and system test on that
# build, where any sanitizer report fails the test that caused it, and runs
# each fuzz target briefly (scripts/fuzz.sh). Ends with one line
# "N passed, N failed".
#
# PILOT_SANITIZE=0 builds and tests the plain build/ instead, which is
# quicker to build and run.
#
# Arguments go to meson test, such as the name of one test; the fuzz targets
# then run only when PILOT_FUZZ_SECONDS is set. PILOT_FUZZ_SECONDS sets how
# long each fuzz target runs (default 10).
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/install-deps.sh
build_options=()
timeout_multiplier=1
if [[ "${PILOT_SANITIZE:-1}" != 0 ]]; then
  build_options=(--sanitize)
  timeout_multiplier=2
fi
build_dir=$(scripts/build.sh "${build_options[@]}")

format_failures=0
echo "== clang-format check"
mapfile -t sources < <(git ls-files '*.cpp' '*.hpp')
if ! clang-format --dry-run --Werror "${sources[@]}"; then
  format_failures=1
  echo "clang-format: some files need formatting (run clang-format -i on them)"
fi

# A report ends the process with a non-zero status, and the system tests
# fail a test whose processes wrote one.
export ASAN_OPTIONS=halt_on_error=1:detect_leaks=1
export UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1

# AddressSanitizer's documentation gives a typical slowdown of 2x, so
# meson's time limits, which only catch hung tests, are doubled for it.
echo "== meson test ($build_dir)"
meson_status=0
meson test -C "$build_dir" --print-errorlogs --num-processes 2 \
  --timeout-multiplier "$timeout_multiplier" "$@" || meson_status=$?

fuzz_status=0
fuzz_summary=()
if (($# == 0)) || [[ -n "${PILOT_FUZZ_SECONDS:-}" ]]; then
  echo "== fuzz targets"
  fuzz_log="$build_dir/fuzz.log"
  scripts/fuzz.sh "${PILOT_FUZZ_SECONDS:-10}" 2>&1 | tee "$fuzz_log" \
    || fuzz_status=$?
  fuzz_summary=("$fuzz_log")
fi

python3 scripts/summarize_tests.py "$build_dir/meson-logs/testlog.json" \
  "$format_failures" "${fuzz_summary[@]}"
if ((meson_status != 0 || format_failures != 0 || fuzz_status != 0)); then
  exit 1
fi

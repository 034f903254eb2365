#!/usr/bin/env bash
# Builds the libFuzzer targets of tests/fuzz in build-fuzz/ with clang, ASan
# and UBSan. Runs each TARGET given (such as packet or http_response), or
# every target, for SECONDS (default 10) on a temporary copy of its seed
# corpus, so the repository is not modified. A crash, sanitizer report or
# failed check fails the run and names the saved input, which
# build-fuzz/tests/fuzz/fuzz_<target> <input> replays. Ends with the line
# "fuzz: N passed, N failed".
#
#   scripts/fuzz.sh            # every target for 10 s
#   scripts/fuzz.sh 600 packet # one target for 10 minutes
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$PWD

seconds=${1:-10}
if ! [[ "$seconds" =~ ^[0-9]+$ ]] || ((seconds == 0)); then
  echo "usage: scripts/fuzz.sh [SECONDS] [TARGET...]" >&2
  exit 2
fi
shift $(($# > 0 ? 1 : 0))

build_dir=${PILOT_FUZZ_BUILD_DIR:-build-fuzz}
if [[ ! -f "$build_dir/build.ninja" ]]; then
  CXX=${FUZZ_CXX:-clang++} meson setup "$build_dir" -Dfuzz=true -Dtests=false \
    >/dev/null
fi
echo "building the fuzz targets in $build_dir/" >&2
if ! ninja -C "$build_dir" >"$build_dir/build.log" 2>&1; then
  tail -n 60 "$build_dir/build.log" >&2
  echo "error: the fuzz build failed; the full output is in $build_dir/build.log" >&2
  exit 1
fi

targets=("$@")
if ((${#targets[@]} == 0)); then
  for dir in tests/fuzz/corpus/*/; do
    targets+=("$(basename "$dir")")
  done
fi

work=$(mktemp -d /tmp/pilot-fuzz-XXXXXX)
trap 'rm -rf "$work"' EXIT
artifacts="$repo/$build_dir/fuzz-crashes"
mkdir -p "$artifacts"

passed=0
failed=0
for target in "${targets[@]}"; do
  exe="$build_dir/tests/fuzz/fuzz_$target"
  if [[ ! -x "$exe" ]]; then
    echo "FAIL fuzz_$target: no such fuzz target" >&2
    failed=$((failed + 1))
    continue
  fi
  corpus="$work/$target"
  mkdir -p "$corpus"
  cp tests/fuzz/corpus/"$target"/* "$corpus"/ 2>/dev/null || true
  log="$work/$target.log"
  status=0
  "$exe" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 \
    -artifact_prefix="$artifacts/$target-" -print_final_stats=1 \
    "$corpus" >"$log" 2>&1 || status=$?
  if ((status == 0)); then
    runs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" \
      | grep -o '[0-9]*$' || echo "?")
    echo "PASS fuzz_$target ($runs runs in ${seconds}s)"
    passed=$((passed + 1))
  else
    tail -n 40 "$log"
    input=$(grep -o 'Test unit written to .*' "$log" | sed 's/Test unit written to //' || true)
    echo "FAIL fuzz_$target (exit $status); the input is ${input:-not saved}"
    echo "  replay: $exe ${input:-<input>}"
    failed=$((failed + 1))
  fi
done
echo "fuzz: $passed passed, $failed failed"
((failed == 0))

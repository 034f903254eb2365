#!/usr/bin/env bash
# Configures (once) and builds the project with warnings as errors. Compiler
# output goes to <build dir>/build.log and is shown only when the build
# fails. Prints the build directory on success.
#
#   scripts/build.sh             # build/
#   scripts/build.sh --sanitize  # build-asan/: AddressSanitizer and
#                                # UndefinedBehaviorSanitizer, for the tests
set -euo pipefail
cd "$(dirname "$0")/.."

options=(-Dwerror=true)
default_dir=build
if [[ "${1:-}" == --sanitize ]]; then
  # Under the sanitizers GCC reports uninitialized reads that cannot
  # happen (inside Beast's parser among others), so that one warning is
  # not an error there.
  # CAF 0.17.6 binds a reference to a null shared_ptr<tuple<>> in
  # init_fun_factory.hpp on every spawn without arguments, which UBSan's
  # `null` check reports from our objects, so that one check is off.
  # -O1 with line tables only (-g1): webhook_actor.cpp compiled in half
  # the time of -O2 -g here, and sanitizer reports still show file and line.
  options+=(-Db_sanitize=address,undefined -Doptimization=1 -Ddebug=false
    "-Dcpp_args=-g1 -Wno-error=maybe-uninitialized -fno-sanitize=null")
  default_dir=build-asan
elif (($# > 0)); then
  echo "usage: scripts/build.sh [--sanitize]" >&2
  exit 2
fi
build_dir=${PILOT_BUILD_DIR:-$default_dir}
if [[ -f "$build_dir/build.ninja" ]]; then
  # Options changed here since the directory was set up apply too.
  meson configure "$build_dir" "${options[@]}" >/dev/null
else
  meson setup "$build_dir" "${options[@]}" >/dev/null
fi
echo "building in $build_dir/ (the first build takes several minutes)" >&2
if ! ninja -C "$build_dir" >"$build_dir/build.log" 2>&1; then
  tail -n 60 "$build_dir/build.log" >&2
  echo "error: the build failed; the full output is in $build_dir/build.log" >&2
  exit 1
fi
echo "$build_dir"

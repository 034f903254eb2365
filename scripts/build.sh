#!/usr/bin/env bash
# Configures (once) and builds the project into build/ with warnings as
# errors. Compiler output goes to build/build.log and is shown only when the
# build fails. Prints the build directory on success.
set -euo pipefail
cd "$(dirname "$0")/.."
build_dir=${PILOT_BUILD_DIR:-build}
if [[ ! -f "$build_dir/build.ninja" ]]; then
  meson setup "$build_dir" -Dwerror=true >/dev/null
fi
echo "building in $build_dir/ (the first build takes several minutes)" >&2
if ! ninja -C "$build_dir" >"$build_dir/build.log" 2>&1; then
  tail -n 60 "$build_dir/build.log" >&2
  echo "error: the build failed; the full output is in $build_dir/build.log" >&2
  exit 1
fi
echo "$build_dir"

#!/usr/bin/env bash
# Configures (once) and builds the project into build/ with warnings as
# errors. Prints the build directory on success.
set -euo pipefail
cd "$(dirname "$0")/.."
build_dir=${PILOT_BUILD_DIR:-build}
if [[ ! -f "$build_dir/build.ninja" ]]; then
  meson setup "$build_dir" -Dwerror=true >/dev/null
fi
ninja -C "$build_dir" >&2
echo "$build_dir"

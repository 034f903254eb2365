#!/usr/bin/env bash
# Installs the Debian packages that building, testing and running the demo
# need, skipping the ones already installed. The fuzz targets need clang,
# its libFuzzer and sanitizer runtimes (libclang-rt-14-dev) and
# llvm-symbolizer (llvm). Needs root (or sudo) only when something is
# missing.
set -euo pipefail

packages=(
  clang
  clang-format
  doctest-dev
  g++
  libboost-json1.81-dev
  libboost-program-options1.81-dev
  libboost-url1.81-dev
  libboost1.81-dev
  libcaf-dev
  libclang-rt-14-dev
  libsimdjson-dev
  libssl-dev
  libsystemd-dev
  llvm
  meson
  ninja-build
  pkg-config
  python3
)

missing=()
for pkg in "${packages[@]}"; do
  status=$(dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null || true)
  [[ "$status" == "install ok installed" ]] || missing+=("$pkg")
done

if ((${#missing[@]} == 0)); then
  exit 0
fi

echo "installing missing packages: ${missing[*]}" >&2
run_as_root=()
if ((EUID != 0)); then
  command -v sudo >/dev/null || {
    echo "error: missing packages and no sudo; install as root: apt-get install ${missing[*]}" >&2
    exit 1
  }
  run_as_root=(sudo)
fi
export DEBIAN_FRONTEND=noninteractive
"${run_as_root[@]}" apt-get update -qq
"${run_as_root[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null

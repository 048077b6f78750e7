#!/usr/bin/env bash
# Installs what esfs needs to build and test, from Debian packages.
# Uses sudo when not root. Safe to run again: installs only what is missing.
set -euo pipefail
pkgs=(build-essential cmake pkg-config libfuse3-dev fuse3 libxxhash-dev libzstd-dev
      libcmocka-dev attr clang clang-format python3 procps)
[ "${ESFS_WITH_BENCH:-0}" = 1 ] && pkgs+=(postgresql libpq-dev)
missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  SUDO=""
  [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  echo "installing: ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq "${missing[@]}" >/dev/null
fi
[ -e /dev/fuse ] || { echo "deps: /dev/fuse is missing: FUSE mounts cannot work here" >&2; exit 1; }

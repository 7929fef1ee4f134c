#!/usr/bin/env bash
# Installs what ppmg needs to build and test on Debian 12, only what is missing (idempotent).
# Usage: scripts/setup.sh [--test]   (--test adds the tools the test suite uses)
set -euo pipefail

packages=(build-essential cmake pkg-config binutils libpoco-dev libxml2-dev libxslt1-dev
          libsimdjson-dev catch2 libxml2-utils)
if [[ "${1:-}" == "--test" ]]; then
  packages+=(xsltproc curl)
fi

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done

if ((${#missing[@]})); then
  echo "setup: installing ${missing[*]}"
  sudo_cmd=()
  [[ $(id -u) -eq 0 ]] || sudo_cmd=(sudo)
  export DEBIAN_FRONTEND=noninteractive
  "${sudo_cmd[@]}" apt-get update -qq
  "${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}"
else
  echo "setup: all build dependencies are installed"
fi

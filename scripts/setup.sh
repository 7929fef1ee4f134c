#!/usr/bin/env bash
# Installs what ppmg needs on Debian 12, only what is missing (idempotent).
# Usage: scripts/setup.sh [--test]
#   The package lists are scripts/packages/build.txt and, with --test, every other list there.
set -euo pipefail
cd "$(dirname "$0")/.."

lists=(scripts/packages/build.txt)
if [[ "${1:-}" == "--test" ]]; then
  for f in scripts/packages/*.txt; do [[ $f == scripts/packages/build.txt ]] || lists+=("$f"); done
fi

packages=()
while read -r p; do packages+=("$p"); done < <(cat "${lists[@]}" | sed 's/#.*//' | tr -s ' \t' '\n' | grep -v '^$' | sort -u)

missing=()
for p in "${packages[@]}"; do
  grep -q "install ok installed" <<<"$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null)" || missing+=("$p")
done

if ((${#missing[@]})); then
  echo "setup: installing ${missing[*]}"
  sudo_cmd=()
  [[ $(id -u) -eq 0 ]] || sudo_cmd=(sudo)
  export DEBIAN_FRONTEND=noninteractive
  "${sudo_cmd[@]}" apt-get update -qq
  "${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}"
else
  echo "setup: all ${#packages[@]} packages are installed"
fi

#!/usr/bin/env bash
# Compares the plugin's ABI with the stored baseline (docs/versioning.md).
#
# Usage: abi_check.sh PLUGIN.so BASELINE.abi HEADERS_DIR [--update]
#   --update  writes the plugin's ABI to BASELINE.abi instead of comparing (then commit it).
#
# The ABI is what abidw (Debian abigail-tools) reads from the plugin's debug info, kept to what
# integrators see: the exported symbol ppmg_entry and every type of ppmg.h, reachable from it or
# not (abi/public-types.abignore). abidiff then reports any change to either, -t including the
# function tables that get_api hands out as `const void*`.
set -euo pipefail

plugin=${1:?usage: abi_check.sh PLUGIN.so BASELINE.abi HEADERS_DIR [--update]}
baseline=${2:?baseline path}
headers=${3:?headers dir}
mode=${4:-check}
suppressions=$(dirname "$baseline")/public-types.abignore
regen="bash tests/packaging/abi_check.sh <build>/bin/libppmg_plugin.so abi/libppmg_plugin.abi sdk/include/ppmg --update"

for tool in abidw abidiff readelf; do
  if ! command -v "$tool" >/dev/null; then
    echo "abi_check: $tool is missing: install abigail-tools and binutils (scripts/setup.sh --test)" >&2
    exit 1
  fi
done
if ! grep -q '\.debug_info' <<<"$(readelf -S "$plugin")"; then
  echo "SKIPPED: $plugin has no debug info (build type without -g); the ABI check needs RelWithDebInfo or Debug"
  exit 0
fi

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
abidw --load-all-types --headers-dir "$headers" --drop-private-types --suppressions "$suppressions" \
      --short-locs --no-corpus-path --no-comp-dir-path --out-file "$work/current.abi" "$plugin"
if ! grep -q "name='ppmg_core_api_v1'" "$work/current.abi"; then
  echo "abi_check: abidw found no ppmg_core_api_v1 in $plugin's debug info; cannot check the ABI" >&2
  exit 1
fi

if [[ $mode == --update ]]; then
  cp "$work/current.abi" "$baseline"
  echo "abi_check: wrote $baseline; commit it with the version change it records"
  exit 0
fi

if [[ ! -f $baseline ]]; then
  cat >&2 <<EOF
abi_check: the ABI baseline $baseline is missing.
  Create it from a RelWithDebInfo build of the released ABI, review it, and commit it:
    $regen
EOF
  exit 1
fi

set +e
abidiff -t --hd1 "$headers" --hd2 "$headers" "$baseline" "$work/current.abi" >"$work/report.txt" 2>&1
rc=$?
set -e
if ((rc == 0)); then
  echo "abi_check: the plugin's ABI matches $baseline"
  exit 0
fi
cat "$work/report.txt"
if ((rc & 1)); then
  echo "abi_check: abidiff itself failed (status $rc)" >&2
  exit 1
fi
cat >&2 <<EOF
abi_check: the plugin's ABI differs from $baseline (abidiff status $rc; the report is above).
  Read docs/versioning.md. In short:
  - Appending members to the end of a table or struct, adding an enumerator or a new table id:
    bump PPMG_ABI_VERSION_MINOR in sdk/include/ppmg/ppmg.h and the project's minor version.
  - Anything else (removing, reordering, retyping, renumbering): that breaks hosts; bump
    PPMG_ABI_VERSION_MAJOR and the project's major version, or undo the change.
  Then regenerate and commit the baseline with the same change:
    $regen
EOF
exit 1

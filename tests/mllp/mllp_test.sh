#!/usr/bin/env bash
# The MLLP listener against a real MLLP peer (tests/mllp/mllp_peer_test.cjs): Medplum's
# @medplum/hl7 from the npm registry (tests/mllp/package-lock.json), installed with `npm ci` into
# the build tree on the first run.
# Usage: tests/mllp/mllp_test.sh BIN_DIR [NODE_MODULES_PARENT]
# Exit status: 0 passed, 1 failed, 77 skipped (node, npm or openssl missing, outside CI).
set -euo pipefail
bin=$(cd "${1:?usage: mllp_test.sh BIN_DIR}" && pwd)
cd "$(dirname "$0")/../.."
src=$PWD/tests/mllp
npmdir=${2:-$bin/../mllp-peer}
for need in node npm openssl; do
  if ! command -v "$need" >/dev/null 2>&1; then
    [[ -n ${CI:-} ]] && { echo "mllp: FAILED: $need is not installed (scripts/setup.sh --test)" >&2; exit 1; }
    echo "mllp: SKIPPED: $need is not installed"
    exit 77
  fi
done
mkdir -p "$npmdir"
if ! cmp -s "$src/package-lock.json" "$npmdir/package-lock.json" || [[ ! -d $npmdir/node_modules/@medplum/hl7 ]]; then
  cp "$src/package.json" "$src/package-lock.json" "$npmdir/"
  (cd "$npmdir" && npm ci --no-audit --no-fund --loglevel=error) || { echo "mllp: FAILED: npm ci (the npm registry is needed once)" >&2; exit 1; }
fi
cp "$src/mllp_peer_test.cjs" "$npmdir/"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
node "$npmdir/mllp_peer_test.cjs" "$bin/ppmg" "$work"

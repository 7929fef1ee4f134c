#!/usr/bin/env bash
# valgrind memcheck over the command line: `ppmg render` and `ppmg assess` on the bundled sample
# and on ../shared/examples, and `ppmg render` on a few hostile inputs (the error paths must not
# leak either). Any error or leak fails the stage.
set -euo pipefail
cd "$(dirname "$0")/../.."

build=${PPMG_BUILD_DIR:-build}
ppmg="$build/bin/ppmg"
[[ -x $ppmg ]] || { echo "valgrind: $ppmg is missing; run scripts/build.sh first" >&2; exit 1; }
command -v valgrind >/dev/null || { echo "valgrind: valgrind is not installed (scripts/setup.sh --test)" >&2; exit 1; }

inputs=(samples/sample-patient.json)
if [[ -d ../shared/examples ]]; then
  for f in ../shared/examples/*.json ../shared/examples/*.xml; do
    [[ $f == */expected.json ]] || inputs+=("$f")
  done
else
  echo "valgrind: NOTICE: ../shared is absent; checking the bundled sample only"
fi
hostile=(tests/hostile/json-truncated.json tests/hostile/xml-billion-laughs.xml tests/hostile/json-two-patients.json
         tests/hostile/xml-bad-decimal.xml tests/hostile/json-invalid-utf8.json)

log=$(mktemp -d)
trap 'rm -rf "$log"' EXIT
failed=0
runs=0
check() {  # expected-exit-status command...
  local want=$1; shift
  runs=$((runs + 1))
  local out="$log/run-$runs.log"
  set +e
  valgrind --tool=memcheck --leak-check=full --show-leak-kinds=definite,indirect,possible \
    --errors-for-leak-kinds=definite,indirect,possible --error-exitcode=99 --track-origins=yes \
    --log-file="$out" "$@" >/dev/null 2>&1
  local rc=$?
  set -e
  if [[ $rc -ne $want ]]; then
    echo "valgrind: FAILED (exit $rc, wanted $want): $*"
    cat "$out"
    failed=1
  else
    echo "valgrind: ok: ${*:2}"
  fi
}

start=$SECONDS
for f in "${inputs[@]}"; do
  check 0 "$ppmg" render --as-of 2025-11-15 "$f"
  check 0 "$ppmg" assess --as-of 2025-11-15 "$f"
done
check 0 "$ppmg" assess --as-of 2025-11-15 --format text samples/sample-patient.json
check 0 "$ppmg" render --as-of 2025-11-15 --format html samples/sample-patient.json
for f in "${hostile[@]}"; do
  check 2 "$ppmg" render --as-of 2025-11-15 "$f"
done
echo "valgrind: $runs runs in $((SECONDS - start)) s"
exit $failed

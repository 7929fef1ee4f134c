#!/usr/bin/env bash
# HL7 v2 against FHIR JSON for the same facts (docs/performance.md, "HL7 v2"): the v2 twins of
# ../shared/bench/data/bundle_50_*.json are made with ppmg-fhir-to-hl7v2 (bench/fhir_to_hl7v2.hpp),
# then `ppmg bench` times both, one after the other in one run, and prints the ratio of the p50s.
# The goal: v2 at most 2x the JSON time.
# Usage: bench/run_bench_hl7v2.sh [--check] [--unit document|render]
# Environment: PPMG_BIN_DIR (build/bin), PPMG_SHARED_DIR (../shared), PPMG_BENCH_AS_OF (2025-06-01).
set -euo pipefail
cd "$(dirname "$0")/.."
bin=${PPMG_BIN_DIR:-build/bin}
shared=${PPMG_SHARED_DIR:-../shared}
as_of=${PPMG_BENCH_AS_OF:-2025-06-01}
check=0 unit=document
while (($#)); do
  case $1 in
    --check) check=1 ;;
    --unit) unit=$2; shift ;;
    *) echo "usage: bench/run_bench_hl7v2.sh [--check] [--unit document|render]" >&2; exit 2 ;;
  esac
  shift
done
data=$shared/bench/data
[[ -d $data ]] || { echo "bench-hl7v2: NOTICE: SKIPPED: $data is absent"; exit 0; }
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
for f in "$data"/bundle_50_*.json; do
  "$bin/ppmg-fhir-to-hl7v2" "$f" "$out/$(basename "${f%.json}").hl7"
done
echo "bench-hl7v2: $(nproc) core(s), load average$(cut -d' ' -f1-3 /proc/loadavg | sed 's/^/ /'); unit $unit, as of $as_of"
"$bin/ppmg" bench --json --as-of "$as_of" --unit "$unit" "$data"/bundle_50_*.json > "$out/json.txt"
"$bin/ppmg" bench --json --as-of "$as_of" --unit "$unit" "$out"/bundle_50_*.hl7 > "$out/v2.txt"
field() { grep -o "\"$2\":[0-9.]*" "$1" | head -1 | cut -d: -f2; }
j=$(field "$out/json.txt" p50_us) v=$(field "$out/v2.txt" p50_us)
jb=$(field "$out/json.txt" input_bytes_mean || true) vb=$(field "$out/v2.txt" input_bytes_mean || true)
ratio=$(awk -v a="$v" -v b="$j" 'BEGIN { printf "%.2f", a / b }')
echo "bench-hl7v2: FHIR JSON p50 $j us, HL7 v2 p50 $v us: v2/JSON = $ratio (goal <= 2)"
echo "bench-hl7v2: reading floor: JSON $(grep -o '"floor":{[^}]*}' "$out/json.txt" | grep -o '"read_p50_us":[0-9.]*' | cut -d: -f2) us (simdjson), v2 $(grep -o '"floor":{[^}]*}' "$out/v2.txt" | grep -o '"read_p50_us":[0-9.]*' | cut -d: -f2) us (ER7 split)"
if ((check)) && awk -v r="$ratio" 'BEGIN { exit !(r > 2) }'; then
  echo "bench-hl7v2: FAILED: v2 takes more than twice the JSON time" >&2
  exit 1
fi

#!/usr/bin/env bash
# A smoke run of `ppmg bench` on the reference workload (../shared/bench/data): a few hundred
# documents, one and two threads, checking the shape of the --json output. Not a timed gate: the
# timings themselves are for bench/run_bench.sh (docs/performance.md). Skips, with a notice, when
# ../shared is absent.
set -euo pipefail
cd "$(dirname "$0")/../.."

build=${PPMG_BUILD_DIR:-build}
ppmg="$build/bin/ppmg"
data=../shared/bench/data
[[ -x $ppmg ]] || { echo "bench-smoke: $ppmg is missing; run scripts/build.sh first" >&2; exit 1; }
if [[ ! -d $data ]]; then
  echo "bench-smoke: NOTICE: SKIPPED: $data is absent (../shared is not here)"
  exit 0
fi

failed=0
# check NAME JSON: every key the bench promises is there with a number, and the numbers agree.
check() {
  local name=$1 json=$2 key value
  for key in p50_us p99_us docs_per_s peak_rss_kb p90_us mean_us bytes_out_per_doc \
             plugin_load_ms engine_create_ms rss_start_kb rss_end_kb iterations threads; do
    value=$(grep -o "\"$key\":[0-9][0-9.]*" <<<"$json" | head -1 | cut -d: -f2)
    if [[ -z $value ]]; then
      echo "bench-smoke: $name: no number for \"$key\" in: $json" >&2
      failed=1
    fi
  done
  local p50 p99 rate
  p50=$(grep -o '"p50_us":[0-9.]*' <<<"$json" | head -1 | cut -d: -f2)
  p99=$(grep -o '"p99_us":[0-9.]*' <<<"$json" | head -1 | cut -d: -f2)
  rate=$(grep -o '"docs_per_s":[0-9.]*' <<<"$json" | head -1 | cut -d: -f2)
  if ! awk -v a="${p50:-0}" -v b="${p99:-0}" -v r="${rate:-0}" 'BEGIN { exit !(a > 0 && b >= a && r > 0) }'; then
    echo "bench-smoke: $name: expected 0 < p50 <= p99 and a positive rate: $json" >&2
    failed=1
  fi
  [[ $(head -c1 <<<"$json") == "{" && $(tail -c2 <<<"$json") == "}" ]] || { echo "bench-smoke: $name: not one JSON object" >&2; failed=1; }
  echo "bench-smoke: $name: p50 $p50 us, p99 $p99 us, $rate documents/s"
}

run() {  # name ppmg-bench-arguments...
  local name=$1 json; shift
  if ! json=$("$ppmg" bench --json --as-of 2025-06-01 --warmup-ms 100 "$@"); then
    echo "bench-smoke: $name: ppmg bench failed" >&2
    failed=1
    return
  fi
  check "$name" "$json"
}

run "50 resources, assess_and_render (the default unit)" --iterations 300 "$data"/bundle_50_*.json
run "50 resources, 2 threads, render" --iterations 300 --threads 2 --unit render --no-floor "$data"/bundle_50_*.json
run "50 resources, two calls" --iterations 100 --unit two-calls --no-floor "$data"/bundle_50_*.json
run "1000 resources" --iterations 20 --no-floor "$data"/bundle_1000_*.json
run "XML twins" --iterations 100 --no-floor "$data"/bundle_50_0.xml "$data"/bundle_50_1.xml
# The C-CDA twins of two bundles (the parity test's converter), explicitly and by content.
converter="$build/bin/ppmg_fhir_to_ccda"
if [[ -x $converter ]]; then
  ccda=$(mktemp -d)
  trap 'rm -rf "$ccda"' EXIT
  for n in 0 1; do "$converter" "$data/bundle_50_$n.json" "$ccda/bundle_50_$n.xml" 2>/dev/null; done
  run "C-CDA twins" --iterations 100 --no-floor --input-format ccda "$ccda"/bundle_50_0.xml "$ccda"/bundle_50_1.xml
  run "C-CDA twins, recognised" --iterations 100 --no-floor "$ccda"/bundle_50_0.xml "$ccda"/bundle_50_1.xml
else
  echo "bench-smoke: $converter is missing" >&2
  failed=1
fi

((failed == 0)) || { echo "bench-smoke: FAILED" >&2; exit 1; }
echo "bench-smoke: passed"

#!/usr/bin/env bash
# The reference comparison of docs/performance.md, in one run on this machine: `ppmg bench --json`
# on the 50- and 1000-resource bundles of ../shared/bench/data (as of 2025-06-01), then the Node.js
# peer (`node bench_handjs.js`, run from a scratch copy because it writes its results beside
# itself), then the peer-to-product ratio of the p50s. The goal is at least 2 at both sizes.
#
# Two units are measured against the same peer run: document (one assess_and_render call: parse,
# rules, the JSON assessment and the CDA; the default unit of `ppmg bench`) and render (one render
# call: parse, rules, CDA; what a host that only shows the guidance calls, and the work the peer
# does). --full adds, for the record, the two separate calls (assess, then render).
#
# Usage: bench/run_bench.sh [--full] [--check]
#   --full   also the 200-resource bundles, the two separate calls, two threads against one, and
#            the start-up costs
#   --check  exit 1 when a peer-to-product ratio (render or document) is below 2, or a C-CDA
#            document takes more than 3 times its FHIR JSON twin
# Environment: PPMG_BIN (build/bin/ppmg), PPMG_SHARED_DIR (../shared), PPMG_BENCH_AS_OF (2025-06-01),
#   RUN_MS (the peer's time per case, 5000). On a shared machine, run it as `nice -n -20 ...`.
set -euo pipefail
cd "$(dirname "$0")/.."

ppmg=${PPMG_BIN:-build/bin/ppmg}
shared=${PPMG_SHARED_DIR:-../shared}
as_of=${PPMG_BENCH_AS_OF:-2025-06-01}
data=$shared/bench/data
full=0 check=0
for arg in "$@"; do
  case $arg in
    --full) full=1 ;;
    --check) check=1 ;;
    *) echo "usage: bench/run_bench.sh [--full] [--check]" >&2; exit 2 ;;
  esac
done

[[ -x $ppmg ]] || { echo "bench: $ppmg is missing; run scripts/build.sh first" >&2; exit 1; }
if [[ ! -d $data ]]; then
  echo "bench: NOTICE: $data is absent (../shared is not here); nothing to compare"
  exit 0
fi
command -v node >/dev/null || { echo "bench: node is needed for the peer (apt-get install nodejs)" >&2; exit 1; }

echo "bench: $(nproc) core(s), $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ *//'), load average$(cut -d' ' -f1-3 /proc/loadavg | sed 's/^/ /')"
echo "bench: as of $as_of, one thread; warm-up excluded"

out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT

# field FILE KEY: a number from the one-line JSON that `ppmg bench --json` prints.
field() { grep -o "\"$2\":[0-9.]*" "$1" | head -1 | cut -d: -f2; }

sizes=(50 1000)
((full)) && sizes=(50 200 1000)
for n in "${sizes[@]}"; do
  echo "bench: ppmg bench, $n resources (render, then assess_and_render$( ((full)) && echo ", then the two calls"))"
  "$ppmg" bench --json --as-of "$as_of" --unit render "$data"/bundle_"$n"_*.json > "$out/render_$n.json"
  "$ppmg" bench --json --as-of "$as_of" --unit document --no-floor "$data"/bundle_"$n"_*.json > "$out/ppmg_$n.json"
  if ((full)); then
    "$ppmg" bench --json --as-of "$as_of" --unit two-calls --no-floor "$data"/bundle_"$n"_*.json > "$out/calls_$n.json"
  fi
done

echo "bench: the peer (node bench_handjs.js, RUN_MS=${RUN_MS:-5000})"
mkdir "$out/peer"
cp "$shared/bench/bench_handjs.js" "$shared/bench/harness.js" "$out/peer/"
ln -s "$(cd "$data" && pwd)" "$out/peer/data"
(cd "$out/peer" && RUN_MS=${RUN_MS:-5000} node bench_handjs.js > peer.log)
peer() { node -e 'const r = require(process.argv[1]); console.log(r["e2e_" + process.argv[2]].p50_us.toFixed(1))' \
         "$out/peer/results_handjs.json" "$1"; }

echo
echo "p50 and p99 in microseconds; ratio = peer p50 / ppmg p50"
printf '%-9s | %-33s | %-33s | %9s | %15s\n' "" "render" "document (assess_and_render)" "peer" "ratio"
printf '%-9s | %9s %9s %13s | %9s %9s %13s | %9s | %7s %7s\n' resources p50 p99 docs/s p50 p99 docs/s p50 render doc
low=0
for n in "${sizes[@]}"; do
  f=$out/ppmg_$n.json r=$out/render_$n.json
  p50=$(field "$f" p50_us) p99=$(field "$f" p99_us) rate=$(field "$f" docs_per_s)
  rp50=$(field "$r" p50_us) rp99=$(field "$r" p99_us) rrate=$(field "$r" docs_per_s)
  peer50=$(peer "$n")
  ratio=$(awk -v a="$peer50" -v b="$p50" 'BEGIN { printf "%.2f", a / b }')
  rratio=$(awk -v a="$peer50" -v b="$rp50" 'BEGIN { printf "%.2f", a / b }')
  awk -v a="$ratio" -v b="$rratio" 'BEGIN { exit !(a < 2 || b < 2) }' && low=1
  printf '%-9s | %9s %9s %13s | %9s %9s %13s | %9s | %6sx %6sx\n' "$n" "$rp50" "$rp99" "$rrate" "$p50" "$p99" "$rate" "$peer50" "$rratio" "$ratio"
done
if ((full)); then
  echo
  echo "for the record, an assess call and then a render call (the record read twice):"
  for n in "${sizes[@]}"; do
    c=$out/calls_$n.json
    echo "  $n resources: p50 $(field "$c" p50_us) us (assess $(field "$c" assess_p50_us), render $(field "$c" render_p50_us)), p99 $(field "$c" p99_us) us"
  done
fi
f=$out/render_50.json
echo
echo "floor (50 resources): $(grep -o '"floor":{[^}]*}' "$f")"
echo "memory (50 resources): peak RSS $(field "$f" peak_rss_kb) KiB; RSS $(field "$f" rss_start_kb) -> $(field "$f" rss_end_kb) KiB over the measured run"

if ((full)); then
  echo
  echo "bench: two threads against one (50 resources)"
  one=$("$ppmg" bench --json --no-floor --as-of "$as_of" --unit document --threads 1 "$data"/bundle_50_*.json)
  two=$("$ppmg" bench --json --no-floor --as-of "$as_of" --unit document --threads 2 "$data"/bundle_50_*.json)
  r1=$(echo "$one" | grep -o '"docs_per_s":[0-9.]*' | cut -d: -f2) r2=$(echo "$two" | grep -o '"docs_per_s":[0-9.]*' | cut -d: -f2)
  echo "  1 thread $r1 docs/s, 2 threads $r2 docs/s: $(awk -v a="$r2" -v b="$r1" 'BEGIN { printf "%.2f", a / b }')x"
  echo "  start-up: plugin load $(echo "$one" | grep -o '"plugin_load_ms":[0-9.]*' | cut -d: -f2) ms, engine create $(echo "$one" | grep -o '"engine_create_ms":[0-9.]*' | cut -d: -f2) ms"
fi

# C-CDA: the 50-resource bundles' C-CDA twins (the same facts: ppmg_fhir_to_ccda, the parity test's
# converter) against the bundles themselves, document unit, three rounds alternating, the median
# p50 of each. The goal: a C-CDA document at most 3 times its FHIR JSON time.
converter=${PPMG_FHIR_TO_CCDA:-$(dirname "$ppmg")/ppmg_fhir_to_ccda}
if [[ -x $converter ]]; then
  mkdir "$out/ccda"
  for f in "$data"/bundle_50_*.json; do
    "$converter" "$f" "$out/ccda/$(basename "$f" .json).xml" 2>/dev/null
  done
  echo
  echo "bench: C-CDA twins of the 50-resource bundles ($(du -k "$out/ccda" | cut -f1) KiB for $(ls "$out/ccda" | wc -l) documents), document unit, 3 rounds"
  jp=() cp=()
  for round in 1 2 3; do
    jp+=("$("$ppmg" bench --json --no-floor --as-of "$as_of" --unit document "$data"/bundle_50_*.json | grep -o '"p50_us":[0-9.]*' | cut -d: -f2)")
    cp+=("$("$ppmg" bench --json --no-floor --as-of "$as_of" --unit document "$out"/ccda/*.xml | grep -o '"p50_us":[0-9.]*' | cut -d: -f2)")
  done
  median() { printf '%s\n' "$@" | sort -n | sed -n 2p; }
  j=$(median "${jp[@]}") c=$(median "${cp[@]}")
  cratio=$(awk -v a="$c" -v b="$j" 'BEGIN { printf "%.2f", a / b }')
  echo "  FHIR JSON p50 $j us (rounds: ${jp[*]}), C-CDA p50 $c us (rounds: ${cp[*]}): C-CDA/JSON ${cratio}x (goal: at most 3)"
  awk -v r="$cratio" 'BEGIN { exit !(r > 3) }' && low=1
else
  echo "bench: NOTICE: $converter is missing (build the ppmg_fhir_to_ccda target): no C-CDA comparison"
fi

echo
echo "bench: load average after the run$(cut -d' ' -f1-3 /proc/loadavg | sed 's/^/ /') (other work on the machine skews both sides)"
if ((check && low)); then
  echo "bench: FAILED: a peer-to-product ratio is below 2, or C-CDA above 3 times FHIR JSON" >&2
  exit 1
fi

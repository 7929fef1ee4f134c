#!/usr/bin/env bash
# A short fuzzing run: the libFuzzer targets fuzz_fhir_json, fuzz_fhir_xml, fuzz_hl7v2, fuzz_render and
# fuzz_ccda (the C-CDA reader, and the fast XML scanner against libxml2), built
# with clang (ASan + UBSan + coverage) in build-fuzz/, each for PPMG_FUZZ_SECONDS (60) from a seed
# corpus made at run time from ../shared/data, ../shared/examples, samples/, tests/hostile/ and
# tests/ccda/.
# Fails on any crash, leak, timeout or broken invariant, and says how to keep the input as a
# regression. Skips, with a notice, when ../shared is absent (no seed corpus).
#
# Usage: scripts/test.d/40-fuzz.sh [TARGET...]
# Environment: PPMG_FUZZ_SECONDS (60), PPMG_FUZZ_BUILD_DIR (build-fuzz), PPMG_FUZZ_JOBS (1).
set -euo pipefail
cd "$(dirname "$0")/../.."

seconds=${PPMG_FUZZ_SECONDS:-60}
build=${PPMG_FUZZ_BUILD_DIR:-build-fuzz}
targets=("$@")
((${#targets[@]})) || targets=(fuzz_fhir_json fuzz_fhir_xml fuzz_hl7v2 fuzz_render fuzz_ccda)
shared=../shared

if [[ ! -d $shared/data || ! -d $shared/examples ]]; then
  echo "fuzz: NOTICE: SKIPPED: $shared is absent, so there is no seed corpus; the fuzz stage did not run"
  exit 0
fi
command -v clang++ >/dev/null || { echo "fuzz: clang++ is not installed (scripts/setup.sh --test)" >&2; exit 1; }

start=$SECONDS
echo "fuzz: building ${targets[*]} with clang in $build"
CC=clang CXX=clang++ cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DPPMG_FUZZ=ON >/dev/null
cmake --build "$build" -j "$(nproc)" --target "${targets[@]}"
echo "fuzz: built in $((SECONDS - start)) s"

# The seed corpus, fresh each run, never in the repository: records no larger than 128 KB (so
# the fuzzer spends its minute on mutations, not on re-reading a few big bundles).
corpus=$build/corpus
artifacts=$build/artifacts
rm -rf "$corpus"
mkdir -p "$artifacts"
seed() {  # target, extension pattern
  local dir=$corpus/$1
  mkdir -p "$dir"
  find "$shared/data" "$shared/examples" samples tests/hostile tests/hl7v2 tests/fuzz/regressions tests/ccda -type f \
    \( -iname "$2" \) -size -128k ! -name expected.json -print0 |
    while IFS= read -r -d '' f; do cp "$f" "$dir/$(echo "$f" | tr '/' '_')"; done
}
export ASAN_OPTIONS="detect_leaks=1:abort_on_error=1:symbolize=1"
export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1"

failed=()
for target in "${targets[@]}"; do
  case $target in
    fuzz_fhir_json) seed "$target" '*.json' ;;
    fuzz_fhir_xml) seed "$target" '*.xml' ;;
    fuzz_hl7v2) seed "$target" '*.hl7' ;;
    fuzz_render) seed "$target" '*.json'; seed "$target" '*.xml' ;;
    fuzz_ccda) seed "$target" '*.xml' ;;
    *) echo "fuzz: unknown target $target" >&2; exit 2 ;;
  esac
  n=$(find "$corpus/$target" -type f | wc -l)
  echo "fuzz: $target: $seconds s from $n seed inputs"
  log=$build/$target.log
  set +e
  # -timeout: one input over 10 s is a hang; -rss_limit_mb: one over 2 GB is a memory bomb.
  "$build/bin/$target" "$corpus/$target" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 \
    -max_len=131072 -print_final_stats=1 -artifact_prefix="$artifacts/$target-" >"$log" 2>&1
  rc=$?
  set -e
  grep -E '^(stat::number_of_executed_units|stat::peak_rss_mb|#[0-9]+ *DONE)' "$log" | sed "s/^/fuzz: $target: /" || true
  if [[ $rc -ne 0 ]]; then
    failed+=("$target")
    echo "fuzz: $target: FAILED (exit $rc); the end of its log ($log):"
    tail -n 60 "$log"
  fi
done

echo "fuzz: done in $((SECONDS - start)) s"
if ((${#failed[@]})); then
  echo "fuzz: FAILED: ${failed[*]}. The inputs that broke them are in $artifacts/:"
  ls -l "$artifacts"
  cat <<'HOW'
fuzz: to reproduce one:      build-fuzz/bin/TARGET build-fuzz/artifacts/TARGET-crash-...
fuzz: to keep it as a test:  fix the bug, then
        cp build-fuzz/artifacts/TARGET-crash-... tests/fuzz/regressions/SHORT-NAME.bin
      and run `ctest -R fuzz_regressions` (it replays every file there through all five targets).
HOW
  exit 1
fi
echo "fuzz: no crash in ${targets[*]}"

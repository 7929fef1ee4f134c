#!/usr/bin/env bash
# The whole test suite under AddressSanitizer + UndefinedBehaviorSanitizer (preset asan, a Debug
# build in build-asan/) and under ThreadSanitizer (preset tsan, build-tsan/). Any report fails.
# Usage: scripts/test.d/20-sanitizers.sh [asan|tsan]...   (default: both)
set -euo pipefail
cd "$(dirname "$0")/../.."

presets=("$@")
((${#presets[@]})) || presets=(asan tsan)

# Reports go to stderr and stop the process (the build uses -fno-sanitize-recover=all).
# detect_leaks: LeakSanitizer runs with ASan. halt_on_error/abort_on_error: one report fails the test.
export ASAN_OPTIONS="detect_leaks=1:halt_on_error=1:abort_on_error=1:strict_string_checks=1:detect_stack_use_after_return=1:check_initialization_order=1:strict_init_order=1"
export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1:report_error_type=1"
# second_deadlock_stack for lock-order reports; history_size so races far apart are still named.
export TSAN_OPTIONS="halt_on_error=1:second_deadlock_stack=1:history_size=4"
export LSAN_OPTIONS="print_suppressions=0"

for preset in "${presets[@]}"; do
  start=$SECONDS
  echo "sanitizers: $preset: configuring and building (build-$preset)"
  cmake --preset "$preset" >/dev/null
  cmake --build --preset "$preset" -j "$(nproc)"
  echo "sanitizers: $preset: running the test suite"
  # The browser and packaging areas test the release artefacts, not the plugin's memory. Everything
  # else runs, the server tests (label server) included: they start the instrumented `ppmg serve`,
  # whose reports fail them as the test binaries' own do.
  servers=$(cd "build-$preset" && ctest -N -L server | sed -n 's/^Total Tests: //p')
  if [[ -z $servers || $servers -eq 0 ]]; then
    echo "sanitizers: $preset: no server test is registered (tests/server not built?)" >&2
    exit 1
  fi
  (cd "build-$preset" && ctest --output-on-failure -j "$(nproc)" -LE 'browser|packaging' --timeout 1800)
  echo "sanitizers: $preset: passed in $((SECONDS - start)) s, $servers of them server tests"
done

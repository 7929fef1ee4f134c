#!/usr/bin/env bash
# Sets up, builds, and runs the whole test suite through CTest, then the extra stages in
# scripts/test.d/ (sanitizer builds, fuzzing, packaging, ...), each of which also runs CTest.
# Usage: scripts/test.sh [--quick]   (--quick: the main CTest run only)
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh --test
scripts/build.sh -DPPMG_WERROR=ON  # CI: every warning is an error
echo "test: running the test suite"
(cd "${PPMG_BUILD_DIR:-build}" && ctest --output-on-failure -j "$(nproc)")
if [[ "${1:-}" != "--quick" ]]; then
  for stage in scripts/test.d/*.sh; do
    [[ -e $stage ]] || continue
    echo "test: stage $(basename "$stage")"
    bash "$stage"
  done
fi
echo "test: all stages passed"

#!/usr/bin/env bash
# Sets up, builds, and runs the whole test suite through CTest.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh --test
scripts/build.sh
cd "${PPMG_BUILD_DIR:-build}"
ctest --output-on-failure -j "$(nproc)" "$@"

#!/usr/bin/env bash
# Configures and builds ppmg into build/ (or $PPMG_BUILD_DIR). Extra arguments go to cmake.
set -euo pipefail
cd "$(dirname "$0")/.."
build_dir=${PPMG_BUILD_DIR:-build}
echo "build: configuring $build_dir"
cmake -S . -B "$build_dir" -DCMAKE_BUILD_TYPE=${PPMG_BUILD_TYPE:-RelWithDebInfo} "$@" >/dev/null
echo "build: compiling (this takes a minute or two the first time)"
cmake --build "$build_dir" -j "$(nproc)"

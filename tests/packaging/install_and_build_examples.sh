#!/usr/bin/env bash
# Installs the build into a temporary prefix, as an integrator would get it, and checks that:
#   1. the layout holds the program, the plugin, the headers, the loader library, the CMake
#      package, the pkg-config files, the content, the docs and the licence;
#   2. both example hosts (the copies installed in share/doc/ppmg/examples) build against the
#      prefix with CMake (find_package(ppmg CONFIG)) and with pkg-config, with -Wall -Wextra
#      -pedantic -Werror, and run: each loads the installed plugin and assesses the sample;
#   3. the installed `ppmg assess` and `ppmg render` work with nothing configured.
# The installed content is marked (a comment appended changes its SHA-256) so each run proves
# it loaded the installed content, not the source tree's.
#
# Usage: install_and_build_examples.sh --build-dir DIR --work-dir DIR --libdir LIBDIR
#          [--cmake CMAKE] [--cc CC] [--cxx CXX]
set -euo pipefail

cmake=cmake cc=cc cxx=c++ build_dir="" work="" libdir=lib
while (($#)); do
  case $1 in
    --build-dir) build_dir=$2 ;;
    --work-dir) work=$2 ;;
    --libdir) libdir=$2 ;;
    --cmake) cmake=$2 ;;
    --cc) cc=$2 ;;
    --cxx) cxx=$2 ;;
    *) echo "unknown argument $1" >&2; exit 2 ;;
  esac
  shift 2
done
[[ -n $build_dir && -n $work ]] || { echo "usage: $0 --build-dir DIR --work-dir DIR --libdir LIBDIR" >&2; exit 2; }
command -v pkg-config >/dev/null || { echo "install_examples: pkg-config is missing (scripts/setup.sh)" >&2; exit 1; }

fail() { echo "install_examples: FAILED: $*" >&2; exit 1; }
step() { echo "install_examples: $*"; }

rm -rf "$work"
mkdir -p "$work"
prefix=$work/prefix
log=$work/log.txt

# ---- 1. Install and check the layout --------------------------------------------------------
step "installing $build_dir into $prefix"
"$cmake" --install "$build_dir" --prefix "$prefix" >"$log" 2>&1 || { cat "$log"; fail "cmake --install"; }
docdir=$prefix/share/doc/ppmg
for f in bin/ppmg "$libdir/libppmg_plugin.so" "$libdir/libppmg_host.a" \
         include/ppmg/ppmg.h include/ppmg/ppmg.hpp include/ppmg/host/plugin_loader.hpp \
         "$libdir/cmake/ppmg/ppmgConfig.cmake" "$libdir/cmake/ppmg/ppmgConfigVersion.cmake" \
         "$libdir/cmake/ppmg/ppmgTargets.cmake" "$libdir/pkgconfig/ppmg.pc" "$libdir/pkgconfig/ppmg-host.pc" \
         share/ppmg/content/ppmg-content.xml share/ppmg/content/schema/ppmg-content.xsd \
         share/doc/ppmg/README.md share/doc/ppmg/LICENSE share/doc/ppmg/copyright \
         share/doc/ppmg/examples/sample-patient.json share/doc/ppmg/examples/c_host/main.c \
         share/doc/ppmg/examples/cpp_host/main.cpp; do
  [[ -e $prefix/$f ]] || fail "the install lacks $f"
done

content=$prefix/share/ppmg/content/ppmg-content.xml
printf '<!-- installed copy, marked by %s -->\n' "$(basename "$0")" >>"$content"
want_sha=$(sha256sum "$content" | cut -d' ' -f1)
sample=$docdir/examples/sample-patient.json

# Checks one host's output: an assessment that used the installed (marked) content.
check_output() {
  local what=$1 out=$2
  grep -q '"applicable":true' "$out" || { cat "$out"; fail "$what: no assessment in its output"; }
  grep -q "$want_sha" "$out" || { cat "$out"; fail "$what: did not load the installed content ($want_sha)"; }
  step "$what: ok"
}

# The examples must not see the source tree or the build tree, nor the environment's settings.
unset PPMG_CDA_SCHEMA CMAKE_PREFIX_PATH PKG_CONFIG_PATH ppmg_DIR
strict="-Wall -Wextra -pedantic -Werror"

# ---- 2a. CMake: find_package(ppmg CONFIG) ----------------------------------------------------
# Poco is hidden from CMake: the SDK, the loader library included, needs nothing but libdl.
for ex in c_host cpp_host; do
  bdir=$work/cmake-$ex
  step "$ex: configuring with CMake against $prefix (no Poco)"
  "$cmake" -S "$docdir/examples/$ex" -B "$bdir" -DCMAKE_PREFIX_PATH="$prefix" \
           -DCMAKE_C_COMPILER="$cc" -DCMAKE_CXX_COMPILER="$cxx" -DCMAKE_DISABLE_FIND_PACKAGE_Poco=ON \
           -DCMAKE_C_FLAGS="$strict" -DCMAKE_CXX_FLAGS="$strict" >"$log" 2>&1 || { cat "$log"; fail "$ex: cmake configure"; }
  found=$(sed -n 's/^ppmg_DIR:PATH=//p' "$bdir/CMakeCache.txt")
  [[ $(realpath "$found") == $(realpath "$prefix/$libdir/cmake/ppmg") ]] || fail "$ex: found ppmg in $found, not in $prefix"
  "$cmake" --build "$bdir" >"$log" 2>&1 || { cat "$log"; fail "$ex: cmake build"; }
  (cd "$work" && "$bdir/ppmg_$ex" --as-of 2025-11-15 "$sample") >"$work/out-cmake-$ex.txt" 2>&1 ||
    { cat "$work/out-cmake-$ex.txt"; fail "$ex (CMake build) exited with an error"; }
  check_output "$ex built with CMake" "$work/out-cmake-$ex.txt"
done

# A consumer of plain find_package(ppmg CONFIG) that links ppmg::sdk: with Poco, and on a machine
# without it, where the package must still be complete.
mkdir -p "$work/sdk_consumer"
cat >"$work/sdk_consumer/CMakeLists.txt" <<'CMAKE'
cmake_minimum_required(VERSION 3.16)
project(ppmg_sdk_consumer LANGUAGES C)
find_package(ppmg CONFIG REQUIRED)
if(NOT ppmg_sdk_FOUND OR NOT EXISTS "${ppmg_PLUGIN}" OR NOT TARGET ppmg::plugin)
  message(FATAL_ERROR "ppmg: sdk component, ppmg_PLUGIN or ppmg::plugin missing")
endif()
add_executable(consumer "${PPMG_EXAMPLE_MAIN}")
target_link_libraries(consumer PRIVATE ppmg::sdk ${CMAKE_DL_LIBS})
target_compile_definitions(consumer PRIVATE PPMG_EXAMPLE_PLUGIN="$<TARGET_FILE:ppmg::plugin>")
set_target_properties(consumer PROPERTIES C_STANDARD 11 C_EXTENSIONS OFF)
CMAKE
for poco in with without; do
  bdir=$work/sdk_consumer-$poco-poco
  extra=()
  [[ $poco == without ]] && extra=(-DCMAKE_DISABLE_FIND_PACKAGE_Poco=ON)
  "$cmake" -S "$work/sdk_consumer" -B "$bdir" -DCMAKE_PREFIX_PATH="$prefix" -DCMAKE_C_COMPILER="$cc" \
           -DCMAKE_C_FLAGS="$strict" -DPPMG_EXAMPLE_MAIN="$docdir/examples/c_host/main.c" "${extra[@]}" \
           >"$log" 2>&1 || { cat "$log"; fail "find_package(ppmg) $poco Poco: configure"; }
  "$cmake" --build "$bdir" >"$log" 2>&1 || { cat "$log"; fail "find_package(ppmg) $poco Poco: build"; }
  (cd "$work" && "$bdir/consumer" --as-of 2025-11-15 "$sample") >"$work/out-consumer.txt" 2>&1 ||
    { cat "$work/out-consumer.txt"; fail "find_package(ppmg) consumer $poco Poco exited with an error"; }
  check_output "find_package(ppmg) + ppmg::sdk, $poco Poco" "$work/out-consumer.txt"
done

# The loader header brings in no Poco: nothing of Poco in it once preprocessed.
"$cxx" -std=c++17 -E -I"$prefix/include" -x c++ "$prefix/include/ppmg/host/plugin_loader.hpp" >"$work/loader.i" 2>"$log" ||
  { cat "$log"; fail "preprocessing ppmg/host/plugin_loader.hpp"; }
! grep -q Poco "$work/loader.i" || fail "ppmg/host/plugin_loader.hpp pulls in Poco"
step "ppmg/host/plugin_loader.hpp: no Poco"

# ---- 2b. pkg-config (ppmg-host links no Poco: the link below would fail if the loader needed it)
export PKG_CONFIG_PATH=$prefix/$libdir/pkgconfig
pc_plugin=$(pkg-config --variable=plugin ppmg)
[[ $(realpath "$pc_plugin") == $(realpath "$prefix/$libdir/libppmg_plugin.so") ]] || fail "pkg-config plugin is $pc_plugin"
[[ $(pkg-config --modversion ppmg) == $(pkg-config --modversion ppmg-host) ]] || fail "ppmg and ppmg-host versions differ"
step "c_host: building with pkg-config"
# shellcheck disable=SC2046,SC2086  # word splitting of the flags is intended
"$cc" -std=c11 $strict "$docdir/examples/c_host/main.c" -o "$work/pc-c_host" \
      -DPPMG_EXAMPLE_PLUGIN="\"$pc_plugin\"" $(pkg-config --cflags --libs ppmg) >"$log" 2>&1 ||
  { cat "$log"; fail "c_host: pkg-config build"; }
(cd "$work" && "$work/pc-c_host" --as-of 2025-11-15 "$sample") >"$work/out-pc-c_host.txt" 2>&1 ||
  { cat "$work/out-pc-c_host.txt"; fail "c_host (pkg-config build) exited with an error"; }
check_output "c_host built with pkg-config" "$work/out-pc-c_host.txt"
step "cpp_host: building with pkg-config"
# shellcheck disable=SC2046,SC2086
"$cxx" -std=c++17 $strict "$docdir/examples/cpp_host/main.cpp" -o "$work/pc-cpp_host" -pthread \
       -DPPMG_EXAMPLE_PLUGIN="\"$pc_plugin\"" $(pkg-config --cflags --libs ppmg-host) >"$log" 2>&1 ||
  { cat "$log"; fail "cpp_host: pkg-config build"; }
(cd "$work" && "$work/pc-cpp_host" --as-of 2025-11-15 "$sample") >"$work/out-pc-cpp_host.txt" 2>&1 ||
  { cat "$work/out-pc-cpp_host.txt"; fail "cpp_host (pkg-config build) exited with an error"; }
check_output "cpp_host built with pkg-config" "$work/out-pc-cpp_host.txt"
unset PKG_CONFIG_PATH

# ---- 3. The installed program, nothing configured ---------------------------------------------
step "ppmg: assess and render with no configuration"
(cd "$work" && env -i PATH=/usr/bin:/bin "$prefix/bin/ppmg" assess --as-of 2025-11-15 "$sample") \
  >"$work/out-ppmg-assess.txt" 2>&1 || { cat "$work/out-ppmg-assess.txt"; fail "installed ppmg assess"; }
check_output "installed ppmg assess" "$work/out-ppmg-assess.txt"
(cd "$work" && env -i PATH=/usr/bin:/bin "$prefix/bin/ppmg" render --as-of 2025-11-15 -o "$work/guidance.xml" "$sample") \
  >"$log" 2>&1 || { cat "$log"; fail "installed ppmg render"; }
grep -q "<ClinicalDocument" "$work/guidance.xml" || fail "installed ppmg render wrote no CDA document"
grep -q "$want_sha" "$work/guidance.xml" || fail "installed ppmg render did not use the installed content"
step "installed ppmg render: ok"
# HL7's schema does not ship and no path to one is built in: one line on how to name it, exit 1.
set +e
(cd "$work" && env -i PATH=/usr/bin:/bin "$prefix/bin/ppmg" validate "$work/guidance.xml") >"$work/validate.out" 2>"$work/validate.err"
rc=$?
set -e
[[ $rc -eq 1 && ! -s $work/validate.out && $(wc -l <"$work/validate.err") -eq 1 ]] ||
  { cat "$work/validate.out" "$work/validate.err"; fail "installed ppmg validate without a schema: exit $rc"; }
grep -q -- "--schema" "$work/validate.err" && grep -q PPMG_CDA_SCHEMA "$work/validate.err" ||
  { cat "$work/validate.err"; fail "installed ppmg validate does not say how to name the schema"; }
step "installed ppmg validate without a schema: one line, exit 1"

rm -rf "$work"
echo "install_examples: all checks passed"

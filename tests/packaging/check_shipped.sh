#!/usr/bin/env bash
# Checks the release packages as they would reach another machine (issue 11, item 5):
#   1. no path of the machine that built them (the source tree, the build tree, /work) appears in
#      any file they ship: `strings` over every binary, a plain search over every other file;
#   2. they ship what the product needs at run time: the content, its schema, the stylesheets;
#   3. the program of the unpacked .tar.gz, run with nothing configured from a folder with no
#      ../shared, renders a CDA document (and its HTML view) from the packaged sample;
#   4. its `ppmg validate` without a schema says in one line how to name HL7's and exits 1, and
#      with HL7's schema (--schema, then PPMG_CDA_SCHEMA) finds the document valid. HL7's schema
#      comes from ../shared, which only the tests have; without it that step reports itself skipped.
#
# Usage: check_shipped.sh --deb FILE --tgz FILE --source-dir DIR --build-dir DIR [--shared-dir DIR]
set -euo pipefail

deb="" tgz="" src="" build="" shared=""
while (($#)); do
  case $1 in
    --deb) deb=$2 ;;
    --tgz) tgz=$2 ;;
    --source-dir) src=$2 ;;
    --build-dir) build=$2 ;;
    --shared-dir) shared=$2 ;;
    *) echo "check_shipped: unknown argument $1" >&2; exit 2 ;;
  esac
  shift 2
done
[[ -f $deb && -f $tgz && -d $src && -d $build ]] ||
  { echo "usage: $0 --deb FILE --tgz FILE --source-dir DIR --build-dir DIR [--shared-dir DIR]" >&2; exit 2; }
for tool in strings file dpkg-deb; do
  command -v "$tool" >/dev/null || { echo "check_shipped: $tool is missing (scripts/setup.sh --test)" >&2; exit 1; }
done

fail() { echo "check_shipped: FAILED: $*" >&2; exit 1; }
step() { echo "check_shipped: $*"; }

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/deb" "$work/tgz"
dpkg-deb -x "$deb" "$work/deb"
tar -xzf "$tgz" -C "$work/tgz"

# ---- 1. No build-machine path ------------------------------------------------------------------
# The trees as given and as resolved (a symbolic link in either would hide one spelling), absolute:
# a path relative to the tree, as Debian's build flags (-ffile-prefix-map=$PWD=.) leave in a static
# library's debug info, says nothing of the machine.
needles=()
for d in "$src" "$build"; do
  for p in "$(cd "$d" && pwd -L)" "$(realpath "$d")"; do needles+=("${p%/}"); done
done
checked=0
for root in "$work/deb" "$work/tgz"; do
  while IFS= read -r -d '' f; do
    rel=${f#"$work"/}
    checked=$((checked + 1))
    if grep -qE '^(ELF|current ar archive)' <<<"$(file -b "$f")"; then
      strings -a "$f" >"$work/strings.txt"
    else
      cp "$f" "$work/strings.txt"  # text, or compressed (man page, changelog): searched as bytes
      case $f in *.gz) gzip -dc "$f" >>"$work/strings.txt" ;; esac
    fi
    # /work as a folder of its own, not as part of a longer word
    if grep -aqE '(^|[^[:alnum:]_.-])/work(/|$)' "$work/strings.txt"; then
      fail "$rel holds a build-machine path: $(grep -aoE '(^|[^[:alnum:]_.-])/work(/[^[:space:]]*)?' "$work/strings.txt" | head -3)"
    fi
    for n in "${needles[@]}"; do
      grep -aqF -- "$n" "$work/strings.txt" && fail "$rel holds the path $n: $(grep -aoF -- "$n" "$work/strings.txt" | head -1)"
    done
  done < <(find "$root" -type f -print0)
done
((checked > 20)) || fail "only $checked files unpacked from the packages"
step "no path of the source tree, the build tree or /work in any of the $checked shipped files"

# ---- 2. What the product needs at run time ships --------------------------------------------------
prefix=$(echo "$work"/tgz/*)
for f in bin/ppmg share/ppmg/content/ppmg-content.xml share/ppmg/content/schema/ppmg-content.xsd \
         share/ppmg/content/xsl/cda-to-html.xsl share/doc/ppmg/examples/sample-patient.json; do
  [[ -f $prefix/$f ]] || fail "the .tar.gz lacks $f"
done
for f in usr/share/ppmg/content/ppmg-content.xml usr/share/ppmg/content/schema/ppmg-content.xsd \
         usr/share/ppmg/content/xsl/cda-to-html.xsl; do
  [[ -f $work/deb/$f ]] || fail "the .deb lacks /$f"
done
step "the content, its schema and the stylesheets ship in both packages"

# ---- 3. The unpacked .tar.gz renders with nothing configured, and no ../shared ---------------------
run=$work/run/here
mkdir -p "$run"
[[ ! -e $run/../shared && ! -e $work/shared ]] || fail "$run has a ../shared"
sample=$prefix/share/doc/ppmg/examples/sample-patient.json
ppmg() { (cd "$run" && env -i PATH=/usr/bin:/bin "$@" "$prefix/bin/ppmg" "${args[@]}"); }
args=(render --as-of 2025-11-15 -o "$run/guidance.xml" "$sample")
ppmg >"$work/render.log" 2>&1 || { cat "$work/render.log"; fail "the .tar.gz's ppmg render"; }
grep -q '<ClinicalDocument' "$run/guidance.xml" || fail "the .tar.gz's ppmg render wrote no CDA document"
args=(render --as-of 2025-11-15 --format html -o "$run/guidance.html" "$sample")
ppmg >"$work/render.log" 2>&1 || { cat "$work/render.log"; fail "the .tar.gz's ppmg render --format html"; }
grep -qi '<html' "$run/guidance.html" || fail "the .tar.gz's ppmg render --format html wrote no HTML"
step "the .tar.gz's ppmg renders the CDA document and its HTML view, nothing configured, no ../shared"

# ---- 4. validate: no schema built in; HL7's when given ---------------------------------------------
args=(validate "$run/guidance.xml")
set +e
ppmg >"$work/validate.out" 2>"$work/validate.err"
rc=$?
set -e
[[ $rc -eq 1 && ! -s $work/validate.out && $(wc -l <"$work/validate.err") -eq 1 ]] ||
  { cat "$work/validate.out" "$work/validate.err"; fail "ppmg validate without a schema: exit $rc"; }
grep -q -- '--schema' "$work/validate.err" && grep -q 'PPMG_CDA_SCHEMA' "$work/validate.err" ||
  { cat "$work/validate.err"; fail "ppmg validate without a schema does not say how to name one"; }
step "ppmg validate without a schema: one line naming --schema and PPMG_CDA_SCHEMA, exit 1"

xsd=${shared:+$shared/schemas/cda/schema/extensions/SDTC/infrastructure/cda/CDA_SDTC.xsd}
if [[ -z $xsd || ! -f $xsd ]]; then
  echo "check_shipped: SKIPPED: ../shared is absent; validation against HL7's CDA schema not run"
else
  xsd=$(realpath "$xsd")
  args=(validate --schema "$xsd" "$run/guidance.xml")
  ppmg >"$work/validate.out" 2>&1 || { cat "$work/validate.out"; fail "ppmg validate --schema HL7's schema"; }
  args=(validate "$run/guidance.xml")
  ppmg PPMG_CDA_SCHEMA="$xsd" >"$work/validate.out" 2>&1 || { cat "$work/validate.out"; fail "ppmg validate with PPMG_CDA_SCHEMA"; }
  step "the .tar.gz's document is valid against HL7's schema (--schema and PPMG_CDA_SCHEMA)"
fi
echo "check_shipped: all checks passed"

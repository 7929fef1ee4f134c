#!/usr/bin/env bash
# Sets up, builds, and renders the guidance for the bundled sample patient:
# prints the assessment, writes the CDA document and checks it against the HL7 schema.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
scripts/build.sh
ppmg=build/bin/ppmg
sample=samples/sample-patient.json
as_of=2025-11-15
mkdir -p out
echo
echo "== ppmg assess --as-of $as_of --format text $sample"
"$ppmg" assess --as-of "$as_of" --format text "$sample"
echo "== ppmg render --as-of $as_of -o out/sample-guidance.xml $sample"
"$ppmg" render --as-of "$as_of" -o out/sample-guidance.xml "$sample"
schema=../shared/schemas/cda/schema/extensions/SDTC/infrastructure/cda/CDA_SDTC.xsd
if [[ -f $schema ]]; then
  "$ppmg" validate --schema "$schema" out/sample-guidance.xml
else
  echo "(../shared absent: schema validation skipped)"
fi
echo "The CDA document is out/sample-guidance.xml."

#!/usr/bin/env bash
# Bounded load test of `ppmg serve` (the CDS Hooks service): 20,000 authenticated calls over 16
# kept-alive connections to 127.0.0.1, each with its own ES384 token. Fails on any answer that is
# not 2xx, on any connection error, or when it takes longer than the time bound.
#
# Usage: scripts/test.d/50-load.sh [--no-build]
# Environment: PPMG_LOAD_REQUESTS (20000), PPMG_LOAD_CONNECTIONS (16), PPMG_LOAD_MAX_SECONDS (300),
#   PPMG_BUILD_DIR (build), PPMG_BIN (its bin/), PPMG_LOAD_RESULT (a file for the JSON result line).
set -euo pipefail
cd "$(dirname "$0")/../.."
build=${PPMG_BUILD_DIR:-build}
bin=${PPMG_BIN:-$build/bin}
requests=${PPMG_LOAD_REQUESTS:-20000}
connections=${PPMG_LOAD_CONNECTIONS:-16}
max_seconds=${PPMG_LOAD_MAX_SECONDS:-300}

if [[ "${1:-}" != "--no-build" ]]; then
  cmake --build "$build" --target ppmg ppmg_plugin ppmg_cds_client -j 2 >/dev/null
fi

work=$(mktemp -d)
server_pid=
cleanup() {
  if [[ -n $server_pid ]] && kill -0 "$server_pid" 2>/dev/null; then kill -TERM "$server_pid"; wait "$server_pid" || true; fi
  rm -rf "$work"
}
trap cleanup EXIT

issuer=https://load-test.example.org/
"$bin/ppmg_cds_client" keygen --alg ES384 --kid load-key --key-out "$work/key.pem" --jwks-out "$work/jwks.json"

# The call: the bundled sample patient (a caesarean birth, 44 days before the as-of date).
patient_id=$(tr -d '\n' < samples/sample-patient.json | grep -o '"resourceType": *"Patient", *"id": *"[^"]*"' | head -n 1 | sed 's/.*"id": *"\([^"]*\)"/\1/')
[[ -n $patient_id ]] || { echo "load: cannot find the Patient id in samples/sample-patient.json" >&2; exit 1; }
{
  printf '{"hook":"patient-view","hookInstance":"5f1c0e9a-load-test","context":{"userId":"Practitioner/load","patientId":"%s"},' "$patient_id"
  printf '"prefetch":{"patient":{"resourceType":"Patient","id":"%s"},"record":' "$patient_id"
  cat samples/sample-patient.json
  printf '}}\n'
} > "$work/call.json"

# Under ThreadSanitizer (scripts/test.d/20-sanitizers.sh), the suppressions for uninstrumented Poco.
case ${TSAN_OPTIONS:-} in *suppressions=*) ;; *) export TSAN_OPTIONS="${TSAN_OPTIONS:+$TSAN_OPTIONS:}suppressions=$PWD/tests/server/tsan.supp" ;; esac

"$bin/ppmg" serve --listen 127.0.0.1:0 --jwks "$issuer=$work/jwks.json" --as-of 2025-11-15 \
  --threads 32 --access-log "$work/access.log" --store "sqlite:$work/store.db" 2> "$work/server.err" &
server_pid=$!
port=
for _ in $(seq 1 300); do
  port=$(grep -o 'listening on http://127.0.0.1:[0-9]*' "$work/server.err" | grep -o '[0-9]*$' || true)
  [[ -n $port ]] && break
  kill -0 "$server_pid" 2>/dev/null || break
  sleep 0.1
done
if [[ -z $port ]]; then
  echo "load: the server did not start:" >&2
  cat "$work/server.err" >&2
  exit 1
fi

echo "load: $requests calls over $connections connections to 127.0.0.1:$port (bounded to ${max_seconds}s)"
status=0
result=$(timeout $((max_seconds + 120)) "$bin/ppmg_cds_client" load --url "http://127.0.0.1:$port" \
  --key "$work/key.pem" --kid load-key --iss "$issuer" --body "$work/call.json" \
  --requests "$requests" --connections "$connections" --max-seconds "$max_seconds") || status=$?
echo "load: $result"
[[ -z ${PPMG_LOAD_RESULT:-} ]] || echo "$result" > "$PPMG_LOAD_RESULT"

# Every call the server logged must be a 200 with its critical/warning/info cards.
served=$(grep -c '"path":"/cds-services/postpartum-massage-guidance"' "$work/access.log" || true)
not_ok=$(grep '"path":"/cds-services/postpartum-massage-guidance"' "$work/access.log" | grep -vc '"status":200' || true)
kill -TERM "$server_pid"
wait "$server_pid" || { echo "load: the server did not stop cleanly" >&2; status=1; }
server_pid=
echo "load: the server logged $served calls, $not_ok of them not 200"
# Time inside the server (JWT check, prefetch merge, assessment, cards), from its access log.
grep '"path":"/cds-services/postpartum-massage-guidance"' "$work/access.log" | sed 's/.*"ms":\([0-9.]*\).*/\1/' | sort -n |
  awk '{v[NR]=$1} END {if (NR) printf "load: in the server: p50 %.3f ms, p99 %.3f ms, max %.3f ms\n", v[int(NR*0.5+0.5)], v[int(NR*0.99+0.5)], v[NR]}'

if [[ $status -ne 0 || $served -ne $requests || $not_ok -ne 0 ]]; then
  echo "load: FAILED" >&2
  tail -n 20 "$work/server.err" >&2
  exit 1
fi
echo "load: passed"

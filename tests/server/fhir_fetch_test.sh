#!/usr/bin/env bash
# FHIR Resource Access test of `ppmg serve`: a real FHIR server (Medplum's FHIR router and
# in-memory repository, from the npm registry; tests/server/fhir/) behind haproxy (Debian), which
# terminates TLS with a certificate of a CA made here and refuses any request without the bearer
# token. The test loads records into it, then calls the service without prefetch and checks:
#   - the cards equal those of a call whose prefetch an EHR made from the same server with the
#     discovery document's templates (clinical rule 21), also with part of the prefetch given;
#   - search results are followed through their next links (pages of 2);
#   - a wrong bearer token, a fhirServer outside --fhir-allow (no request reaches any server), a
#     CA that does not sign the server's certificate, and each bound (pages, bytes, time) give
#     412 naming what is missing, never cards;
#   - connections to the FHIR server are kept open across calls (haproxy logs each request with
#     the client's port: eight calls come over at most --fhir-parallel connections), and the
#     requests of one call run in parallel, at most --fhir-parallel at once (the slow server logs
#     how many it was serving when each came).
# With PPMG_FETCH_LOAD_REQUESTS=N it then runs N calls in fetch mode (PPMG_FETCH_LOAD_CONNECTIONS,
# 16, against PPMG_FETCH_LOAD_FHIR_PROCESSES, 1, FHIR server processes) and prints the load figures
# and how many TLS connections carried the FHIR requests (docs/cds-hooks.md section 9).
#
# Usage: tests/server/fhir_fetch_test.sh BIN_DIR [NODE_MODULES_PARENT]
#   NODE_MODULES_PARENT: where `npm ci` installs the FHIR server (default BIN_DIR/../fhir-server).
# Exit status: 0 passed, 1 failed, 77 skipped (node, npm, haproxy or openssl missing).
set -euo pipefail
bin=$(cd "${1:?usage: fhir_fetch_test.sh BIN_DIR}" && pwd)
cd "$(dirname "$0")/../.."
src=$PWD/tests/server/fhir
npmdir=${2:-$bin/../fhir-server}
started=$(date +%s)

say() { echo "fhir-fetch: $*"; }
# shellcheck source=tests/server/show_log.sh
source tests/server/show_log.sh  # from the repository root (cd above)
fail() {
  echo "fhir-fetch: FAILED: $*" >&2
  show_log "$work"/*.err "$work"/fhir.log "$work"/haproxy.log
  exit 1
}
for need in node npm haproxy openssl curl; do
  command -v "$need" >/dev/null 2>&1 || { echo "fhir-fetch: SKIPPED: $need is not installed"; exit 77; }
done

# ---- the FHIR server's packages (npm ci from the lock file; kept between runs) -------------
mkdir -p "$npmdir"
if ! cmp -s "$src/package-lock.json" "$npmdir/package-lock.json" || [[ ! -d $npmdir/node_modules/@medplum/fhir-router ]]; then
  cp "$src/package.json" "$src/package-lock.json" "$npmdir/"
  (cd "$npmdir" && npm ci --no-audit --no-fund --loglevel=error) || fail "npm ci (the npm registry is needed once)"
fi
cp "$src/server.mjs" "$src/tool.mjs" "$npmdir/"

work=$(mktemp -d)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
  for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
  rm -rf "$work"
}
trap cleanup EXIT

free_port() {
  local p
  for _ in $(seq 1 200); do
    p=$((20000 + RANDOM % 40000))
    if ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then echo "$p"; return; fi
  done
  return 1
}
wait_port() { for _ in $(seq 1 200); do (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0; sleep 0.05; done; return 1; }

# ---- certificates: a CA, the server's certificate for 127.0.0.1, and another CA -------------
openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj "/CN=ppmg test CA" -keyout "$work/ca.key" -out "$work/ca.pem" 2>/dev/null
openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj "/CN=another CA" -keyout "$work/other.key" -out "$work/other-ca.pem" 2>/dev/null
openssl req -newkey rsa:2048 -nodes -subj "/CN=127.0.0.1" -keyout "$work/server.key" -out "$work/server.csr" 2>/dev/null
printf 'subjectAltName=IP:127.0.0.1\n' >"$work/san.ext"
openssl x509 -req -in "$work/server.csr" -CA "$work/ca.pem" -CAkey "$work/ca.key" -CAcreateserial -days 2 \
  -extfile "$work/san.ext" -out "$work/server.crt" 2>/dev/null
cat "$work/server.crt" "$work/server.key" >"$work/server.pem"

# ---- the FHIR server, and haproxy in front of it (TLS, bearer token) ------------------------
fhir_token=$(openssl rand -hex 24)
start_fhir() { # NAME ARGS... -> port in $fhir_port
  local name=$1
  shift
  local log=--log
  [[ $name == loadfhir* ]] && log=
  node "$npmdir/server.mjs" --port 0 $log "$@" >"$work/$name.log" 2>"$work/$name.err" &
  pids+=($!)
  fhir_port=
  for _ in $(seq 1 300); do
    fhir_port=$(grep -o 'listening on http://127.0.0.1:[0-9]*' "$work/$name.log" | grep -o '[0-9]*$' || true)
    [[ -n $fhir_port ]] && return 0
    sleep 0.1
  done
  fail "the FHIR server $name did not start"
}
start_fhir fhir --page-size 2
node_port=$fhir_port
start_fhir slow --page-size 2 --delay-ms 400
slow_port=$fhir_port
ha_port=$(free_port)
slow_ha_port=$(free_port)
cat >"$work/haproxy.cfg" <<EOF
global
  maxconn 1000
  log stdout format raw local0
defaults
  mode http
  log global
  log-format "conn %ci:%cp %ST %Th/%Tw/%Tc/%Tr/%Ta %{+Q}r"
  timeout connect 2s
  timeout client 30s
  timeout server 30s
frontend fhir
  bind 127.0.0.1:$ha_port ssl crt $work/server.pem
  http-request return status 401 content-type application/fhir+json string "{\"resourceType\":\"OperationOutcome\",\"issue\":[{\"severity\":\"error\",\"code\":\"login\"}]}" unless { req.hdr(authorization) -m str "Bearer $fhir_token" }
  http-request set-header X-Forwarded-Proto https
  http-request set-header X-Forwarded-Host %[req.hdr(host)]
  default_backend node
frontend slowfhir
  bind 127.0.0.1:$slow_ha_port ssl crt $work/server.pem
  http-request return status 401 unless { req.hdr(authorization) -m str "Bearer $fhir_token" }
  http-request set-header X-Forwarded-Proto https
  http-request set-header X-Forwarded-Host %[req.hdr(host)]
  default_backend slownode
backend node
  server n1 127.0.0.1:$node_port
backend slownode
  server n1 127.0.0.1:$slow_port
EOF
haproxy -f "$work/haproxy.cfg" -db >"$work/haproxy.log" 2>&1 &
pids+=($!)
wait_port "$ha_port" || fail "haproxy did not start"
fhir="https://127.0.0.1:$ha_port/fhir"
say "FHIR server (Medplum) on $node_port, behind haproxy (TLS, bearer token) at $fhir"

# The records: the bundled sample patient, and one with more data than a page holds.
export NODE_EXTRA_CA_CERTS=$work/ca.pem
patients=$(node "$npmdir/tool.mjs" load "http://127.0.0.1:$node_port/fhir" samples/sample-patient.json "$src/records/dvt-paged.json") ||
  fail "loading the records"
node "$npmdir/tool.mjs" load "http://127.0.0.1:$slow_port/fhir" "$src/records/dvt-paged.json" >/dev/null || fail "loading the slow server"
say "loaded patients: $patients"
[[ $(curl -s -o /dev/null -w '%{http_code}' --cacert "$work/ca.pem" "$fhir/Patient") == 401 ]] || fail "haproxy let a request without the token through"
[[ $(curl -s -o /dev/null -w '%{http_code}' --cacert "$work/ca.pem" -H "Authorization: Bearer $fhir_token" "$fhir/Patient") == 200 ]] ||
  fail "the token does not open the FHIR server"

# ---- ppmg serve, fetching from the FHIR server ---------------------------------------------
issuer=https://fetch-test.example.org/
"$bin/ppmg_cds_client" keygen --alg ES384 --kid fetch-key --key-out "$work/key.pem" --jwks-out "$work/jwks.json"
public=https://cds.fetch-test.example  # --public-url: every token's aud names it
serve() { # NAME ARGS... -> port in $port
  local name=$1
  shift
  "$bin/ppmg" serve --listen 127.0.0.1:0 --public-url "$public" --jwks "$issuer=$work/jwks.json" --as-of 2025-11-15 \
    --store "sqlite:$work/$name.db" --access-log "$work/$name-access.log" "$@" 2>"$work/$name.err" &
  pids+=($!)
  port=
  for _ in $(seq 1 300); do
    port=$(grep -o 'listening on http://127.0.0.1:[0-9]*' "$work/$name.err" | grep -o '[0-9]*$' || true)
    [[ -n $port ]] && return 0
    sleep 0.1
  done
  fail "ppmg serve ($name) did not start"
}
svc=/cds-services/postpartum-massage-guidance
call() { # PORT BODY_FILE OUT_FILE -> HTTP status
  local t
  t=$("$bin/ppmg_cds_client" token --key "$work/key.pem" --kid fetch-key --iss "$issuer" --aud "$public$svc")
  # No answer at all (the service died: a sanitizer's report, a crash) is HTTP 000 and a failure
  # with the service's stderr shown, not a silent exit of this script (set -e).
  curl -s -o "$3" -w '%{http_code}' -H "Authorization: Bearer $t" -H 'Content-Type: application/json' --data-binary "@$2" "http://127.0.0.1:$1$svc" || true
}
request() { # PATIENT SERVER TOKEN [PREFETCH_JSON] -> a hook request on stdout
  printf '{"hook":"patient-view","hookInstance":"%s","fhirServer":"%s","fhirAuthorization":{"access_token":"%s","token_type":"Bearer","expires_in":300,"scope":"patient/*.read","subject":"ppmg"},"context":{"userId":"Practitioner/1","patientId":"%s"}%s}' \
    "$(openssl rand -hex 8)" "$2" "$3" "$1" "${4:+,\"prefetch\":$4}"
}

serve main --fhir-allow "$fhir" --fhir-ca-file "$work/ca.pem"
main=$port
curl -s "http://127.0.0.1:$main/cds-services" >"$work/discovery.json"

for p in $patients; do
  # What an EHR would prefetch, from the same server, by the discovery document's templates.
  node "$npmdir/tool.mjs" prefetch "$work/discovery.json" "$fhir" "$fhir_token" "$p" >"$work/prefetch-$p.json" || fail "prefetching $p"
  request "$p" "$fhir" "$fhir_token" "$(cat "$work/prefetch-$p.json")" >"$work/with-prefetch.json"
  request "$p" "$fhir" "$fhir_token" >"$work/without.json"
  # Part of it prefetched (the Patient and the conditions), the rest fetched.
  node -e 'const p=JSON.parse(require("fs").readFileSync(process.argv[1]));console.log(JSON.stringify({patient:p.patient,conditions:p.conditions}))' \
    "$work/prefetch-$p.json" >"$work/partial-$p.json"
  request "$p" "$fhir" "$fhir_token" "$(cat "$work/partial-$p.json")" >"$work/partial.json"
  before=$(wc -l <"$work/fhir.log")
  s=$(call "$main" "$work/with-prefetch.json" "$work/a.json")
  [[ $s == 200 ]] || fail "$p with prefetch: HTTP $s $(cat "$work/a.json")"
  [[ $(wc -l <"$work/fhir.log") == "$before" ]] || fail "a call with full prefetch fetched anyway"
  s=$(call "$main" "$work/without.json" "$work/b.json")
  [[ $s == 200 ]] || fail "$p without prefetch: HTTP $s $(cat "$work/b.json")"
  node "$npmdir/tool.mjs" compare "$work/a.json" "$work/b.json" >"$work/cmp.txt" || fail "$p: cards differ between prefetch and fetch"
  s=$(call "$main" "$work/partial.json" "$work/c.json")
  [[ $s == 200 ]] || fail "$p partly prefetched: HTTP $s $(cat "$work/c.json")"
  node "$npmdir/tool.mjs" compare "$work/a.json" "$work/c.json" >/dev/null || fail "$p: cards differ between prefetch and partial prefetch"
  say "$p: $(cat "$work/cmp.txt") by prefetch, by fetch and by partial prefetch"
done
grep -E -q 'GET /fhir/Condition\?patient=Patient(/|%2F)p-fetch-1.*_offset=2' "$work/fhir.log" ||
  fail "no next link was followed"
# The whole audit is read before it is searched: `grep -q` stopping early would break the pipe (pipefail).
"$bin/ppmg" audit --store "sqlite:$work/main.db" >"$work/audit.ndjson"
grep -q '"valueString":"fhir"' "$work/audit.ndjson" || fail "no AuditEvent says the data came from the FHIR server"
grep -q 'critical' "$work/b.json" || fail "the DVT was not found by fetching"
say "next links followed; the audit names the data source"

# ---- connections kept open across calls; the requests of one call in parallel ----------------
serve reuse --fhir-allow "$fhir" --fhir-ca-file "$work/ca.pem" --fhir-parallel 4
request p-fetch-1 "$fhir" "$fhir_token" >"$work/reuse.json"
mark=$(wc -l <"$work/haproxy.log")
for i in 1 2 3 4 5 6 7 8; do
  s=$(call "$port" "$work/reuse.json" "$work/r.json")
  [[ $s == 200 ]] || fail "call $i for connection reuse: HTTP $s $(head -c 400 "$work/r.json")"
done
sleep 0.3 # haproxy logs a request once its answer is sent
tail -n +$((mark + 1)) "$work/haproxy.log" | grep '^conn ' >"$work/reuse.log" || true
reqs=$(grep -c ' "GET /fhir/' "$work/reuse.log" || true)
conns=$(awk '{print $2}' "$work/reuse.log" | sort -u | wc -l)
[[ $reqs -ge 72 ]] || fail "eight calls made only $reqs requests"
# Without a pool each call opens its own connection(s), at least eight in all.
[[ $conns -le 4 ]] || fail "eight calls ($reqs requests) used $conns connections (TLS handshakes), not at most 4"
say "eight calls: $reqs requests over $conns kept-alive TLS connection(s)"

# On the slow server (each answer delayed 400 ms): in parallel, at most 4 at once, so the call
# takes well under the requests' delays one after the other.
serve parallel --fhir-allow "https://127.0.0.1:$slow_ha_port/fhir" --fhir-ca-file "$work/ca.pem" --fhir-budget-ms 20000 --fhir-parallel 4
request p-fetch-1 "https://127.0.0.1:$slow_ha_port/fhir" "$fhir_token" >"$work/x.json"
mark=$(wc -l <"$work/slow.log")
t0=$(date +%s%N)
s=$(call "$port" "$work/x.json" "$work/r.json")
elapsed=$((($(date +%s%N) - t0) / 1000000))
[[ $s == 200 ]] || fail "the call to the slow server: HTTP $s $(head -c 400 "$work/r.json")"
tail -n +$((mark + 1)) "$work/slow.log" | grep '^GET ' >"$work/parallel.log" || true
n=$(wc -l <"$work/parallel.log")
most=$(grep -o 'in flight: [0-9]*' "$work/parallel.log" | grep -o '[0-9]*$' | sort -n | tail -n 1)
[[ $n -ge 9 ]] || fail "the call made only $n requests"
[[ ${most:-0} -ge 2 ]] || fail "the requests of one call were not made in parallel (at most ${most:-0} at once)"
[[ $most -le 4 ]] || fail "one call had $most requests in flight, more than --fhir-parallel 4"
[[ $elapsed -lt $((n * 400 * 2 / 3)) ]] || fail "$n requests of 400 ms each took $elapsed ms: not in parallel"
say "one call's $n requests to a server answering in 400 ms: up to $most at once, $elapsed ms in all"

# ---- refusals: 412, no cards ---------------------------------------------------------------
expect412() { # PORT BODY_FILE WORDS...
  local port=$1 body=$2
  shift 2
  s=$(call "$port" "$body" "$work/r.json")
  [[ $s == 412 ]] || fail "expected 412 ($*), got $s: $(head -c 400 "$work/r.json")"
  grep -q '"cards"' "$work/r.json" && fail "a refusal carried cards"
  for w in "$@"; do grep -q -- "$w" "$work/r.json" || fail "the 412 does not say \"$w\": $(cat "$work/r.json")"; done
}
request p-fetch-1 "$fhir" wrong-token >"$work/x.json"
expect412 "$main" "$work/x.json" "HTTP 401"
# Outside the allow list: the FHIR server itself, plain, and a look-alike prefix. No request at all.
before=$(wc -l <"$work/fhir.log")
request p-fetch-1 "http://127.0.0.1:$node_port/fhir" "$fhir_token" >"$work/x.json"
expect412 "$main" "$work/x.json" "fhir-allow"
request p-fetch-1 "https://127.0.0.1:$ha_port/fhirx" "$fhir_token" >"$work/x.json"
expect412 "$main" "$work/x.json" "fhir-allow"
[[ $(wc -l <"$work/fhir.log") == "$before" ]] || fail "a server outside --fhir-allow was asked"
say "a wrong token and servers outside --fhir-allow give 412 (no request made)"

serve otherca --fhir-allow "$fhir" --fhir-ca-file "$work/other-ca.pem"
request p-fetch-1 "$fhir" "$fhir_token" >"$work/x.json"
expect412 "$port" "$work/x.json" "TLS"
serve pages --fhir-allow "$fhir" --fhir-ca-file "$work/ca.pem" --fhir-max-pages 1
expect412 "$port" "$work/x.json" "more than 1 pages" "Condition"
serve bytes --fhir-allow "$fhir" --fhir-ca-file "$work/ca.pem" --fhir-max-bytes 3000
expect412 "$port" "$work/x.json" "exceed 3000 bytes"
serve time --fhir-allow "https://127.0.0.1:$slow_ha_port/fhir" --fhir-ca-file "$work/ca.pem" --fhir-budget-ms 600
request p-fetch-1 "https://127.0.0.1:$slow_ha_port/fhir" "$fhir_token" >"$work/x.json"
t0=$(date +%s%N)
expect412 "$port" "$work/x.json" "time budget"
elapsed=$((($(date +%s%N) - t0) / 1000000))
[[ $elapsed -lt 2000 ]] || fail "the 600 ms budget took $elapsed ms"
say "an unknown CA, and the page, byte and time bounds give 412 (time bound answered in $elapsed ms)"

if [[ -n ${PPMG_FETCH_LOAD_REQUESTS:-} ]]; then
  # For the load, a FHIR server that does not log every request and serves pages of 100, behind
  # the same haproxy configuration (TLS, token).
  # PPMG_FETCH_LOAD_FHIR_PROCESSES=N (1) runs N such servers, each loaded, haproxy sharing the
  # requests among them: the Node server is single-threaded and is what saturates first.
  sed -n '/^global/,/^frontend slowfhir/p' "$work/haproxy.cfg" | sed '$d' |
    sed "s/bind 127.0.0.1:$ha_port/bind 127.0.0.1:$(free_port)/; s/default_backend node/default_backend loadnode/" >"$work/haproxy-load.cfg"
  printf 'backend loadnode\n  balance leastconn\n' >>"$work/haproxy-load.cfg"
  for i in $(seq 1 "${PPMG_FETCH_LOAD_FHIR_PROCESSES:-1}"); do
    start_fhir loadfhir$i
    node "$npmdir/tool.mjs" load "http://127.0.0.1:$fhir_port/fhir" "$src/records/dvt-paged.json" >/dev/null || fail "loading"
    printf '  server n%s 127.0.0.1:%s\n' "$i" "$fhir_port" >>"$work/haproxy-load.cfg"
  done
  load_ha=$(sed -n 's/.*bind 127.0.0.1:\([0-9]*\) ssl.*/\1/p' "$work/haproxy-load.cfg")
  haproxy -f "$work/haproxy-load.cfg" -db >"$work/haproxy-load.log" 2>&1 &
  pids+=($!)
  wait_port "$load_ha" || fail "haproxy (load) did not start"
  request p-fetch-1 "https://127.0.0.1:$load_ha/fhir" "$fhir_token" >"$work/load.json"
  serve load --fhir-allow "https://127.0.0.1:$load_ha/fhir" --fhir-ca-file "$work/ca.pem"
  result=$("$bin/ppmg_cds_client" load --url "http://127.0.0.1:$port" --aud-base "$public" --key "$work/key.pem" --kid fetch-key --iss "$issuer" \
    --body "$work/load.json" --requests "$PPMG_FETCH_LOAD_REQUESTS" --connections "${PPMG_FETCH_LOAD_CONNECTIONS:-16}" --max-seconds 300) ||
    fail "the fetch-mode load: $result"
  say "load (fetch mode): $result"
  grep '^conn ' "$work/haproxy-load.log" >"$work/load-conns.log" || true
  say "load (fetch mode): $(grep -c ' "GET /fhir/' "$work/load-conns.log" || true) requests to the FHIR server over $(awk '{print $2}' "$work/load-conns.log" | sort -u | wc -l) TLS connection(s)"
fi
say "passed in $(($(date +%s) - started)) s"

#!/usr/bin/env bash
# Scale-out test of `ppmg serve`: three replicas behind haproxy, sharing a PostgreSQL store and a
# Redis replay cache, all started here from Debian's packages (PostgreSQL as an unprivileged user
# when run as root). Shows that:
#   1. a JWT's jti used at one replica is refused at another (Redis);
#   2. a hook call and feedback posted through haproxy are read back with `ppmg audit` (PostgreSQL),
#      and the card's view link opens through haproxy, whichever replica serves it;
#   3. killing a replica (SIGKILL) under a feedback load loses no acknowledged feedback;
#   4. with Redis gone, a call is refused with 503, never accepted unchecked; with Redis back, each
#      replica answers its next call (the pooled connections that went stale are dropped).
# With PPMG_SCALE_LOAD_REQUESTS=N it then runs N hook calls through haproxy (the load figure in
# docs/cds-hooks.md), 16 connections unless PPMG_SCALE_LOAD_CONNECTIONS says otherwise.
#
# Usage: tests/server/scale_out_test.sh BIN_DIR     (BIN_DIR holds ppmg, ppmg_cds_client, ppmg_scale_client)
# Exit status: 0 passed, 1 failed, 77 skipped (a needed program is not installed).
set -euo pipefail
bin=$(cd "${1:?usage: scale_out_test.sh BIN_DIR}" && pwd)
cd "$(dirname "$0")/../.."
started=$(date +%s)

say() { echo "scale-out: $*"; }
# shellcheck source=tests/server/show_log.sh
source tests/server/show_log.sh  # from the repository root (cd above)
fail() {
  echo "scale-out: FAILED: $*" >&2
  show_log "$work"/r*.err "$work"/haproxy.log "$work"/pgsock/pg.log
  exit 1
}

pgbin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1 || true)
for need in redis-server haproxy "$pgbin/initdb" "$pgbin/pg_ctl" "$pgbin/psql" curl; do
  if ! command -v "$need" >/dev/null 2>&1 && [[ ! -x $need ]]; then
    echo "scale-out: SKIPPED: $need is not installed (scripts/packages/scale.txt)"
    exit 77
  fi
done
psql=$pgbin/psql
[[ -x $psql ]] || psql=$(command -v psql)

work=$(mktemp -d)
chmod 755 "$work"
pids=()
pg_started=
cleanup() {
  for p in "${pids[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
  for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
  if [[ -n $pg_started ]]; then as_pg "$pgbin/pg_ctl" -D "$work/pg" -m immediate stop >/dev/null 2>&1 || true; fi
  rm -rf "$work"
}
trap cleanup EXIT

# PostgreSQL refuses to run as root: then it runs as nobody.
as_pg() {
  if [[ $(id -u) -eq 0 ]]; then runuser -u nobody -- "$@"; else "$@"; fi
}

# A free loopback port: nothing answers on it now.
free_port() {
  local p
  for _ in $(seq 1 200); do
    p=$((20000 + RANDOM % 40000))
    if ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then echo "$p"; return; fi
  done
  return 1
}

# ---- PostgreSQL, Redis ---------------------------------------------------------------------
pgport=$(free_port)
mkdir -p "$work/pg" "$work/pgsock"
[[ $(id -u) -eq 0 ]] && chown nobody "$work/pg" "$work/pgsock"
as_pg "$pgbin/initdb" -D "$work/pg" -U ppmg -A trust -E UTF8 --no-sync >"$work/initdb.log" 2>&1 || { cat "$work/initdb.log" >&2; fail "initdb"; }
as_pg "$pgbin/pg_ctl" -D "$work/pg" -l "$work/pgsock/pg.log" -w -t 30 \
  -o "-p $pgport -k $work/pgsock -c listen_addresses=127.0.0.1 -c max_connections=200" start >/dev/null || fail "PostgreSQL did not start"
pg_started=1
"$psql" -q -h 127.0.0.1 -p "$pgport" -U ppmg -d postgres -c 'CREATE DATABASE ppmg' || fail "CREATE DATABASE"
store="postgresql://ppmg@127.0.0.1:$pgport/ppmg"
say "PostgreSQL on $pgport"

redisport=$(free_port)
redis-server --port "$redisport" --bind 127.0.0.1 --save '' --appendonly no >"$work/redis.log" 2>&1 &
redis_pid=$!
pids+=("$redis_pid")
for _ in $(seq 1 100); do (exec 3<>"/dev/tcp/127.0.0.1/$redisport") 2>/dev/null && break; sleep 0.05; done
say "Redis on $redisport"

# ---- three replicas behind haproxy --------------------------------------------------------
haport=$(free_port)
public="http://127.0.0.1:$haport"
issuer=https://scale-test.example.org/
"$bin/ppmg_cds_client" keygen --alg ES384 --kid scale-key --key-out "$work/key.pem" --jwks-out "$work/jwks.json"
token() { "$bin/ppmg_cds_client" token --key "$work/key.pem" --kid scale-key --iss "$issuer" --aud "$public$1"; }

ports=()
replica_pids=()
for r in 1 2 3; do
  "$bin/ppmg" serve --listen 127.0.0.1:0 --jwks "$issuer=$work/jwks.json" --public-url "$public" \
    --store "$store" --store-connections 8 --replay-cache "redis://127.0.0.1:$redisport" --as-of 2025-11-15 \
    --access-log "$work/r$r.log" 2>"$work/r$r.err" &
  replica_pids+=($!)
  pids+=($!)
done
for r in 1 2 3; do
  port=
  for _ in $(seq 1 300); do
    port=$(grep -o 'listening on http://127.0.0.1:[0-9]*' "$work/r$r.err" | grep -o '[0-9]*$' || true)
    [[ -n $port ]] && break
    kill -0 "${replica_pids[$((r - 1))]}" 2>/dev/null || break
    sleep 0.1
  done
  [[ -n $port ]] || fail "replica $r did not start"
  ports+=("$port")
done
say "replicas on ${ports[*]}"

cat >"$work/haproxy.cfg" <<EOF
global
  maxconn 1000
defaults
  mode http
  timeout connect 2s
  timeout client 30s
  timeout server 30s
  retries 3
  option redispatch
  retry-on conn-failure empty-response response-timeout
frontend cds
  bind 127.0.0.1:$haport
  default_backend replicas
backend replicas
  balance roundrobin
  option httpchk GET /healthz
  http-check expect status 200
  timeout check 2s
  default-server inter 300ms fall 3 rise 2
  server r1 127.0.0.1:${ports[0]} check
  server r2 127.0.0.1:${ports[1]} check
  server r3 127.0.0.1:${ports[2]} check
EOF
haproxy -f "$work/haproxy.cfg" -db >"$work/haproxy.log" 2>&1 &
pids+=($!)
for _ in $(seq 1 100); do (exec 3<>"/dev/tcp/127.0.0.1/$haport") 2>/dev/null && break; sleep 0.05; done
sleep 1  # the first health checks
say "haproxy on $haport"

svc=/cds-services/postpartum-massage-guidance
patient_id=$(tr -d '\n' <samples/sample-patient.json | grep -o '"resourceType": *"Patient", *"id": *"[^"]*"' | head -n 1 | sed 's/.*"id": *"\([^"]*\)"/\1/')
{
  printf '{"hook":"patient-view","hookInstance":"5f1c0e9a-scale-test","context":{"userId":"Practitioner/scale","patientId":"%s"},' "$patient_id"
  printf '"prefetch":{"patient":{"resourceType":"Patient","id":"%s"},"record":' "$patient_id"
  cat samples/sample-patient.json
  printf '}}\n'
} >"$work/call.json"
post() { # URL TOKEN FILE -> status on stdout, body in $work/body
  curl -s -o "$work/body" -w '%{http_code}' -H "Authorization: Bearer $2" -H 'Content-Type: application/json' --data-binary "@$3" "$1" || true
}  # no answer at all is HTTP 000, a failure that shows the replicas' stderr (not a silent exit)

# ---- 1. a jti used at one replica is refused at another ------------------------------------
t=$(token "$svc")
s1=$(post "http://127.0.0.1:${ports[0]}$svc" "$t" "$work/call.json")
[[ $s1 == 200 ]] || fail "a call at replica 1 answered $s1: $(cat "$work/body")"
s2=$(post "http://127.0.0.1:${ports[1]}$svc" "$t" "$work/call.json")
[[ $s2 == 401 ]] || fail "the same token at replica 2 answered $s2, not 401"
grep -q '"auth":"replayed"' "$work/r2.log" || fail "replica 2 did not log the replay"
say "1. a jti used at replica 1 is refused at replica 2 (401 replayed)"

# ---- 2. a call and its feedback through haproxy, read back with ppmg audit -----------------
s=$(post "$public$svc" "$(token "$svc")" "$work/call.json")
[[ $s == 200 ]] || fail "a call through haproxy answered $s"
card=$(grep -o '"uuid":"[0-9a-f-]*"' "$work/body" | head -n 1 | cut -d'"' -f4)
view=$(grep -o '"url":"http://127.0.0.1:'"$haport"'/view/[A-Za-z0-9_-]*"' "$work/body" | head -n 1 | cut -d'"' -f4)
[[ -n $card && -n $view ]] || fail "no card uuid or view link in $(head -c 300 "$work/body")"
system=$(grep -o '"overrideReasons":\[{"system":"[^"]*","code":"[^"]*"' "$work/body" | head -n 1)
reason_system=$(echo "$system" | sed 's/.*"system":"\([^"]*\)".*/\1/')
reason_code=$(echo "$system" | sed 's/.*"code":"\([^"]*\)"/\1/')
printf '{"feedback":[{"card":"%s","outcome":"overridden","overrideReason":{"reason":{"system":"%s","code":"%s"},"userComment":"scale test"},"outcomeTimestamp":"2026-11-25T10:00:00Z"}]}' \
  "$card" "$reason_system" "$reason_code" >"$work/feedback.json"
s=$(post "$public$svc/feedback" "$(token "$svc/feedback")" "$work/feedback.json")
[[ $s == 200 ]] || fail "feedback through haproxy answered $s: $(cat "$work/body")"
"$bin/ppmg" audit --store "$store" >"$work/audit.ndjson" || fail "ppmg audit"
grep -q "\"type\":\"feedback\".*\"card\":\"$card\".*\"outcome\":\"overridden\".*\"code\":\"$reason_code\"" "$work/audit.ndjson" ||
  fail "the feedback is not in ppmg audit: $(grep feedback "$work/audit.ndjson" | head -n 3)"
grep -q "\"type\":\"AuditEvent\".*\"reference\":\"Patient/$patient_id\".*\"valueString\":\"$card\"" "$work/audit.ndjson" ||
  fail "no AuditEvent names the card"
"$bin/ppmg" audit --store "$store" --patient nobody-else >"$work/audit-nobody.ndjson"
[[ -s $work/audit-nobody.ndjson ]] && fail "--patient did not filter"
# The view link through haproxy: served by whichever replica, from the shared store.
for _ in 1 2 3; do
  vs=$(curl -s -o "$work/view.html" -w '%{http_code}' "$view")
  [[ $vs == 200 ]] || fail "the view link answered $vs"
  grep -qi '<html' "$work/view.html" || fail "the view link is not a page"
done
[[ $(curl -s -o /dev/null -w '%{http_code}' "$public/view/AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA") == 404 ]] || fail "an unknown view token is not 404"
say "2. feedback through haproxy is in ppmg audit; the view link opens on every replica"

# ---- 3. SIGKILL a replica under a feedback load: no acknowledged feedback is lost ---------
"$bin/ppmg_scale_client" feedback-load --url "$public" --key "$work/key.pem" --kid scale-key --iss "$issuer" \
  --card "$card" --requests "${PPMG_SCALE_FEEDBACK_REQUESTS:-1500}" --connections 8 --max-seconds 90 \
  --acked-out "$work/acked.txt" >"$work/fl.json" 2>"$work/fl.err" &
load_pid=$!
# Kill while the load is running: once some feedback has been acknowledged.
for _ in $(seq 1 100); do
  [[ $(grep -c '"path":"/cds-services/postpartum-massage-guidance/feedback"' "$work/r2.log" || true) -ge 20 ]] && break
  sleep 0.05
done
kill -0 "$load_pid" 2>/dev/null || fail "the load ended before the kill (raise PPMG_SCALE_FEEDBACK_REQUESTS)"
kill -KILL "${replica_pids[1]}"
say "3. killed replica 2 (pid ${replica_pids[1]}) under load"
wait "$load_pid" || fail "the feedback load: $(cat "$work/fl.json" "$work/fl.err")"
say "   load: $(cat "$work/fl.json")"
"$bin/ppmg" audit --store "$store" --only feedback >"$work/feedback.ndjson"
acked=$(wc -l <"$work/acked.txt")
lost=0
while read -r ts; do
  grep -q "\"outcomeTimestamp\":\"$ts\"" "$work/feedback.ndjson" || { lost=$((lost + 1)); echo "lost: $ts" >&2; }
done <"$work/acked.txt"
[[ $lost -eq 0 ]] || fail "$lost of $acked acknowledged feedback posts are not in the store"
say "   all $acked acknowledged feedback posts are in the store"

# ---- 4. Redis gone: 503, never unchecked -------------------------------------------------
kill -TERM "$redis_pid"
wait "$redis_pid" 2>/dev/null || true
s=$(post "http://127.0.0.1:${ports[0]}$svc" "$(token "$svc")" "$work/call.json")
[[ $s == 503 ]] || fail "with Redis gone a call answered $s, not 503"
say "4. with Redis gone a call is refused with 503"
# Redis back: each replica's pooled connections went stale with it (the feedback load left
# several); the first call at each replica is answered, not refused for want of a good one.
redis-server --port "$redisport" --bind 127.0.0.1 --save '' --appendonly no >"$work/redis2.log" 2>&1 &
pids+=($!)
for _ in $(seq 1 100); do (exec 3<>"/dev/tcp/127.0.0.1/$redisport") 2>/dev/null && break; sleep 0.05; done
for r in 0 2; do
  s=$(post "http://127.0.0.1:${ports[$r]}$svc" "$(token "$svc")" "$work/call.json")
  [[ $s == 200 ]] || fail "with Redis back, the first call at replica $((r + 1)) answered $s, not 200"
done
say "   with Redis back, the first call at each replica is answered (its stale connections dropped)"

# ---- load through haproxy (optional) ---------------------------------------------------------
if [[ -n ${PPMG_SCALE_LOAD_REQUESTS:-} ]]; then
  # Replica 2 back, so that three serve the load.
  "$bin/ppmg" serve --listen "127.0.0.1:${ports[1]}" --jwks "$issuer=$work/jwks.json" --public-url "$public" \
    --store "$store" --store-connections 8 --replay-cache "redis://127.0.0.1:$redisport" --as-of 2025-11-15 \
    --access-log "$work/r2b.log" 2>"$work/r2b.err" &
  pids+=($!)
  sleep 2
  say "load: ${PPMG_SCALE_LOAD_REQUESTS} calls through haproxy over 3 replicas, ${PPMG_SCALE_LOAD_CONNECTIONS:-16} connections"
  result=$("$bin/ppmg_cds_client" load --url "$public" --key "$work/key.pem" --kid scale-key --iss "$issuer" \
    --body "$work/call.json" --requests "$PPMG_SCALE_LOAD_REQUESTS" --connections "${PPMG_SCALE_LOAD_CONNECTIONS:-16}" \
    --max-seconds 300) || fail "the load through haproxy: $result"
  say "load: $result"
  [[ -z ${PPMG_SCALE_LOAD_RESULT:-} ]] || echo "$result" >"$PPMG_SCALE_LOAD_RESULT"
fi

say "passed in $(($(date +%s) - started)) s"

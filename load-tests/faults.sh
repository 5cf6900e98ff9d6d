#!/usr/bin/env bash
# The no-loss fault suite: each scenario runs bounded load against the release collector on
# loopback while something breaks, then reconciles (accepted hits == rows, no duplicates).
#   load-tests/faults.sh short   # CI: about 3 minutes in all
#   load-tests/faults.sh full    # 10-minute steady run, 60 s ClickHouse outage, ...
# Scenarios: steady mixed load at 70% of the sustained max (the burst max stepped down until an
# open-loop probe holds its rate with a flat p99, see sustain.py); ClickHouse killed under load then
# restarted; ClickHouse frozen (SIGSTOP) then resumed; collector SIGTERMed under load and
# restarted; collector SIGKILLed under load (loss window measured); spool full (beacons 503,
# recovery); 3x overload (bounded memory, fast 503s, recovery).
# Raw output in .data/faults/<stamp>/; WRITE=1 puts the table into BENCHMARKS.md.
set -euo pipefail
SUITE=${1:-short}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
BIN=$ROOT/target/release
STAMP=$(date -u +%Y%m%dT%H%M%SZ)
OUT=$ROOT/.data/faults/$SUITE-$STAMP
mkdir -p "$OUT"
WORK=$(mktemp -d)
# shellcheck source=load-tests/lib.sh
. "$ROOT/load-tests/lib.sh"

if [ "$SUITE" = full ]; then
  PROBE_S=60 PROBE_WINDOW=10 PROBE_STEPS=5
  MEASURE_S=15 STEADY_S=600 WINDOW=60 CHKILL_S=100 CHDOWN_S=60 SLOW_S=60 FROZEN_S=20 RESTART_S=40 SPOOL_S=15 OVER_S=30
else
  PROBE_S=4 PROBE_WINDOW=1 PROBE_STEPS=3
  MEASURE_S=5 STEADY_S=15 WINDOW=5 CHKILL_S=14 CHDOWN_S=6 SLOW_S=12 FROZEN_S=5 RESTART_S=10 SPOOL_S=6 OVER_S=3
fi
[ "${SKIP_BUILD:-0}" = 1 ] || cargo build --release -q -p collector -p load-tests
[ -s "${GEOIP:-.data/geoip/GeoLite2-City.mmdb}" ] || scripts/setup
stack_init
ch_start
"$BIN/loadgen" --migrate-only >/dev/null
collector_start
FAILED=()
RESULTS=$OUT/results.jsonl
# Other work on the machine skews latency; the load average goes into the table.
LOAD_BEFORE=$(cut -d' ' -f1-3 /proc/loadavg)

# Runs loadgen in the background for scenario $1 (rest: flags); `wait_load` waits for it.
start_load() {
  local name=$1; shift
  loadgen --watch-pidfile "$WORK/collector.pid" --window "$WINDOW" --json "$OUT/$name.json" "$@" \
    >"$OUT/$name.txt" 2>&1 &
  GEN=$!
}
# Waits for the running load; sets GEN_RC.
wait_load() { GEN_RC=0; wait "$GEN" || GEN_RC=$?; }
# Records scenario $1 (after wait_load) with extra facts ($2, a JSON object).
finish() {
  local name=$1 extra=${2:-"{}"}
  [ "$GEN_RC" = 0 ] || FAILED+=("$name")
  echo "{\"name\": \"$name\", \"rc\": $GEN_RC, \"extra\": $extra}" >>"$RESULTS"
  log "$name: $(grep -E '^(RESULT|ClickHouse)' "$OUT/$name.txt" | tr '\n' ' ')"
}
check() { # name condition-description; run after a test command
  if [ "$2" != ok ]; then FAILED+=("$1: $2"); log "$1: $2"; fi
}

# 0. The maximum this machine sustains with the realistic mix (closed loop).
log "measuring max rate (${MEASURE_S}s closed loop, mixed)"
loadgen --mode max --duration "$MEASURE_S" --connections 32 --json "$OUT/measure.json" >"$OUT/measure.txt" \
  || FAILED+=(measure)
MAX=$(python3 -c "import json; print(int(json.load(open('$OUT/measure.json'))['req_per_s']))")
echo "{\"name\": \"measure\", \"rc\": 0, \"extra\": {\"max_req_per_s\": $MAX}}" >>"$RESULTS"
rate() { python3 -c "print(max(50, int($MAX * $1)))"; }
log "max $MAX req/s"

# 0b. The sustained max: a 15 s closed-loop burst overstates what the box keeps up for minutes
# once ClickHouse merges (a steady run at 70% of it saw p99 climb to 1.8 s). Open-loop probes of
# PROBE_S start at 80% of the burst max and step down by 20% until one holds its rate with a flat
# p99 (sustain.py: every window under SUSTAIN_P99_MS and within 3x the best one); that rate is
# the sustained max. If none holds, the lowest probe rate is used; the full suite then fails
# (the short one, 4 s probes in CI on a shared machine, only reports it).
SUSTAIN_P99_MS=${SUSTAIN_P99_MS:-100}
SUSTAINED=""; probe_rate=$(rate 0.8); PROBES="["
for step in $(seq 1 "$PROBE_STEPS"); do
  log "sustain probe $step: $probe_rate req/s for ${PROBE_S}s"
  loadgen --mode rate --rate "$probe_rate" --duration "$PROBE_S" --connections 32 --window "$PROBE_WINDOW" \
    --no-reconcile --max-requests "$(python3 -c "print(int($probe_rate * $PROBE_S * 1.05) + 1000)")" \
    --json "$OUT/probe-$step.json" >"$OUT/probe-$step.txt" 2>&1 || true
  held=0
  summary=$(python3 "$ROOT/load-tests/sustain.py" "$OUT/probe-$step.json" "$probe_rate" "$SUSTAIN_P99_MS") && held=1
  log "sustain probe $step: $summary"
  PROBES="$PROBES${summary:-null},"
  if [ "$held" = 1 ]; then SUSTAINED=$probe_rate; break; fi
  [ "$step" = "$PROBE_STEPS" ] || probe_rate=$(python3 -c "print(max(50, int($probe_rate * 0.8)))")
done
PROBES="${PROBES%,}]"
if [ -z "$SUSTAINED" ]; then
  SUSTAINED=$probe_rate; log "sustain: no probe held its rate with a flat p99"
  [ "$SUITE" != full ] || FAILED+=("sustain: no probe held its rate with a flat p99")
fi
echo "{\"name\": \"sustain\", \"rc\": 0, \"extra\": {\"sustained_req_per_s\": $SUSTAINED, \"probes\": $PROBES}}" >>"$RESULTS"
log "sustained max $SUSTAINED req/s (burst max $MAX)"
steady_rate=$(python3 -c "print(max(50, int($SUSTAINED * 0.7)))")

# 1. Steady mixed load at 70% of the sustained max; in the full suite its p99 must stay flat
# too (every window under STEADY_P99_MS; the short one in CI on a shared machine reports it).
STEADY_P99_MS=${STEADY_P99_MS:-250}
inserts0=$(metric collector_insert_duration_seconds_count)
log "steady: $steady_rate req/s for ${STEADY_S}s"
start_load steady --mode rate --rate "$steady_rate" --duration "$STEADY_S" --connections 32 \
  --max-requests "$(python3 -c "print(int($steady_rate * $STEADY_S * 1.05) + 1000)")"
wait_load
inserts=$(( $(metric collector_insert_duration_seconds_count) - inserts0 ))
per_s=$(python3 -c "import json; print(round($inserts / json.load(open('$OUT/steady.json'))['elapsed_s'], 2))")
worst=$(python3 -c "import json; print(max((w['latency']['p99_ms'] for w in json.load(open('$OUT/steady.json'))['windows']), default=0))" || echo 0)
finish steady "{\"inserts\": $inserts, \"inserts_per_s\": $per_s, \"sustained_req_per_s\": $SUSTAINED}"
if [ "$SUITE" = full ]; then
  python3 -c "import sys; sys.exit(0 if $worst <= $STEADY_P99_MS else 1)" \
    && check steady ok || check steady "p99 of a window reached $worst ms (limit $STEADY_P99_MS ms)"
fi
ch_truncate_hits

# 2. ClickHouse killed under load, restarted after CHDOWN_S.
log "clickhouse-kill: down ${CHDOWN_S}s under $(rate 0.3) req/s"
start_load clickhouse-kill --mode rate --rate "$(rate 0.3)" --duration "$CHKILL_S" --settle-timeout 240
sleep 3; ch_kill; sleep "$CHDOWN_S"; spooled=$(metric collector_spooled_hits_total); ch_start
wait_load; finish clickhouse-kill "{\"down_s\": $CHDOWN_S, \"spooled_hits\": $spooled}"; ch_truncate_hits

# 3. ClickHouse frozen (answers nothing, connections hang) for FROZEN_S, then resumed.
log "clickhouse-slow: frozen ${FROZEN_S}s"
start_load clickhouse-slow --mode rate --rate "$(rate 0.3)" --duration "$SLOW_S" --settle-timeout 240
sleep 3; ch_pause; sleep "$FROZEN_S"; ch_resume
wait_load; finish clickhouse-slow "{\"frozen_s\": $FROZEN_S}"; ch_truncate_hits

# 4. Collector SIGTERMed under load, restarted at once.
log "collector-term"
start_load collector-term --mode rate --rate "$(rate 0.3)" --duration "$RESTART_S" --settle-timeout 120
sleep 4; collector_term; term_rc=$TERM_RC; term_ms=$TERM_MS; collector_start
[ "$term_rc" = 0 ] && check collector-term ok || check collector-term "exit code $term_rc after SIGTERM"
wait_load; finish collector-term "{\"exit_code\": \"$term_rc\", \"drain_ms\": $term_ms}"; ch_truncate_hits

# 5. Collector SIGKILLed under load: what sat in the in-memory queue is lost; measure it.
log "collector-kill"
start_load collector-kill --mode rate --rate "$(rate 0.3)" --duration "$RESTART_S" --settle-timeout 120 --allow-loss
sleep 4
# In memory at the kill = accepted but neither written nor spooled (queue + open batch).
queued=$(metric collector_queue_hits)
in_memory=$(( $(metric collector_hits_accepted_total) - $(metric collector_hits_written_total) - $(metric collector_spooled_hits_total) ))
collector_kill; collector_start
wait_load; finish collector-kill "{\"queue_hits_at_kill\": $queued, \"in_memory_hits_at_kill\": $in_memory}"; ch_truncate_hits

# 6. Spool full: ClickHouse down, a 64 KiB spool and a 1000-hit queue; beacons must get 503 with
# Retry-After, /readyz 503; after ClickHouse returns and the spool drains, 202s again.
log "spool-full"
collector_term
COLLECTOR_EXTRA_ENV="COLLECTOR_SPOOL_MAX_BYTES=65536 COLLECTOR_QUEUE_CAPACITY=1000" collector_start
ch_kill
start_load spool-full --mode max --duration "$SPOOL_S" --connections 16 --beacon-share 1 --no-reconcile
sleep $((SPOOL_S / 2)); ready=$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$OPS_PORT/readyz")
wait_load; finish spool-full "{\"readyz_while_full\": $ready}"
python3 -c "import json,sys; t=json.load(open('$OUT/spool-full.json'))['tally']; sys.exit(0 if t['beacon_503']>0 else 1)" \
  && check spool-full ok || check spool-full "no 503 while queue and spool were full"
[ "$ready" = 503 ] && check spool-full ok || check spool-full "/readyz answered $ready while full"
ch_start
# Recovered = the backlog is gone: the spool is empty and so is the queue (while ClickHouse was
# down the queue filled up to its bound behind the full spool; with a 64 KiB spool, new beacons
# that arrive while that backlog is still being shipped find no room and get 503, as they should).
for _ in $(seq 1 240); do
  [ "$(metric collector_spool_bytes)" = 0 ] && [ "$(metric collector_queue_hits)" = 0 ] && break
  sleep 0.25
done
log "spool-full: spool and queue drained ($(metric collector_queue_hits) hits queued), checking recovery"
sleep 1
start_load spool-recovery --mode rate --rate "$(rate 0.01)" --duration 4 --beacon-share 1
wait_load; finish spool-recovery
# With a 64 KiB spool any INSERT slower than the 1000-hit queue fills still means a 503 now and
# then, so recovery means: nearly every beacon accepted again.
python3 -c "import json,sys; t=json.load(open('$OUT/spool-recovery.json'))['tally']; sys.exit(0 if t['beacon_accepted'] >= 0.95 * (t['beacon_accepted'] + t['beacon_503']) > 0 else 1)" \
  && check spool-recovery ok || check spool-recovery "beacons still refused after the spool drained"
read -r acc unk < <(python3 -c "import json; r=json.load(open('$OUT/spool-full.json')); print(r['expectation']['accepted'], r['expectation']['unknown'])")
site=$(python3 -c "import json; print(json.load(open('$OUT/spool-full.json'))['site'])")
"$BIN/loadgen" --check-only "$acc" --unknown "$unk" --site "$site" --settle-timeout 120 >"$OUT/spool-full-check.json" \
  && check spool-full ok || check spool-full "rows != accepted after recovery: $(cat "$OUT/spool-full-check.json")"
ch_truncate_hits
collector_term; collector_start

# 7. 3x overload (open loop at 3x max, ClickHouse up), then recovery at 30%.
log "overload: $(rate 3) req/s offered for ${OVER_S}s"
start_load overload-3x --mode rate --rate "$(rate 3)" --duration "$OVER_S" --connections 256 --timeout-ms 10000 \
  --settle-timeout 120 --max-requests "$(python3 -c "print(int($(rate 3) * $OVER_S) + 1000)")"
wait_load; finish overload-3x; ch_truncate_hits
start_load overload-recovery --mode rate --rate "$(rate 0.3)" --duration 5
wait_load; finish overload-recovery

cp "$WORK/collector.log" "$OUT/collector.log"
python3 "$ROOT/load-tests/faults_table.py" "$OUT" "$SUITE" "$LOAD_BEFORE" "$(cut -d' ' -f1-3 /proc/loadavg)" >"$OUT/table.md"
cat "$OUT/table.md"
if [ "${WRITE:-0}" = 1 ]; then python3 "$ROOT/load-tests/splice.py" BENCHMARKS.md "faults-$SUITE" "$OUT/table.md"; fi
log "raw output in $OUT"
if [ ${#FAILED[@]} -gt 0 ]; then
  log "FAILED: ${FAILED[*]}"
  echo "faults: $(( $(wc -l <"$RESULTS") - ${#FAILED[@]} )) passed, ${#FAILED[@]} failed"
  exit 1
fi
echo "faults: $(wc -l <"$RESULTS") passed, 0 failed"

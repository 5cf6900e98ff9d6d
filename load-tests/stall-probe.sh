#!/usr/bin/env bash
# Finds what the pixel p99 stalls line up with (BENCHMARKS.md "Benchmark", issue #2): a private
# ClickHouse with query_log and part_log on, the release collector logging every batch and
# INSERT, an optional wrk warm-up (the bench's max-rate run, which leaves merges behind), then
# one open-loop pixel run at RATE with its latency per 100 ms, the CPU of every thread of
# ClickHouse, the collector and loadgen every 50 ms, and ClickHouse's logs; stalls.py report
# lines them up. Wrap it in `flock /work/notes/bench.lock`. Output in .data/stalls/<stamp>/.
#   load-tests/stall-probe.sh     (RATE=50000 DURATION=20 WARM_S=10 CONNECTIONS=16)
# A/B knobs: CH_EXTRA_CONFIG / CH_EXTRA_PROFILE (XML put into the server config / the default
# profile), CH_NICE (ClickHouse started at that nice, every thread), COLLECTOR_EXTRA_ENV,
# AUTOGROUP_NICE (below). A cold start: the first ~0.5 s often shows 20-70 ms (WARM_S warms).
set -euo pipefail
# AUTOGROUP_NICE=-10: run in a session (scheduler autogroup) of its own at that nice. With
# autogroups on (/proc/sys/kernel/sched_autogroup_enabled), other sessions' `nice -n 19` work
# is not niced against us at all: each session gets an equal share of the cores.
if [ -n "${AUTOGROUP_NICE:-}" ] && [ -z "${IN_AUTOGROUP:-}" ]; then
  exec env IN_AUTOGROUP=1 setsid -w "$0" "$@"
fi
[ -n "${IN_AUTOGROUP:-}" ] && echo "$AUTOGROUP_NICE" >/proc/self/autogroup
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
BIN=$ROOT/target/release
RATE=${RATE:-50000}
DURATION=${DURATION:-20}
WARM_S=${WARM_S:-10}
STAMP=$(date -u +%Y%m%dT%H%M%SZ)
OUT=$ROOT/.data/stalls/$STAMP${TAG:+-$TAG}
mkdir -p "$OUT"
WORK=$(mktemp -d)
# shellcheck source=load-tests/lib.sh
. "$ROOT/load-tests/lib.sh"
[ "${SKIP_BUILD:-0}" = 1 ] || nice -n 19 cargo build --release -q -p collector -p load-tests
stack_init

# ClickHouse as scripts/clickhouse starts it, plus the two logs (and any experiment's XML).
# The logs go through the remote-servers hook of scripts/clickhouse; the profile is patched
# into the copied users.xml and re-read by the server (it watches the file).
extra=$WORK/extra.xml
cat >"$extra" <<EOF
<query_log><database>system</database><table>query_log</table><flush_interval_milliseconds>1000</flush_interval_milliseconds></query_log>
<part_log><database>system</database><table>part_log</table><flush_interval_milliseconds>1000</flush_interval_milliseconds></part_log>
${CH_EXTRA_CONFIG:-}
EOF
# CH_NICE: start ClickHouse (every thread of it) at this nice, below the collector and loadgen.
( ch_env; CLICKHOUSE_REMOTE_SERVERS_FILE=$extra nice -n "${CH_NICE:-0}" "$ROOT/scripts/clickhouse" start >/dev/null )
sed -i "/<profiles>/,/<\/profiles>/ s#<default>#<default><log_queries>1</log_queries>${CH_EXTRA_PROFILE:-}#" \
  "$WORK/clickhouse/users.xml"
if [ -n "${CH_EXTRA_PROFILE:-}" ]; then
  # Pool sizes are read at startup only: restart on the patched profile.
  kill "$(ch_pid)"; while kill -0 "$(ch_pid)" 2>/dev/null; do sleep 0.1; done
  nohup nice -n "${CH_NICE:-0}" /usr/sbin/clickhouse-server --config-file="$WORK/clickhouse/config.xml" \
    >"$WORK/clickhouse/log/stdout.log" 2>&1 &
  echo $! >"$WORK/clickhouse/server.pid"
  until curl -sf "http://127.0.0.1:$CH_HTTP/ping" >/dev/null; do sleep 0.2; done
fi
sleep 3
ch() { curl -sS --data-binary "$1" "http://127.0.0.1:$CH_HTTP/"; }
"$BIN/loadgen" --migrate-only >/dev/null
COLLECTOR_EXTRA_ENV="COLLECTOR_LOG=warn,collector::pipeline=debug ${COLLECTOR_EXTRA_ENV:-}" collector_start
LOAD_BEFORE=$(cut -d' ' -f1-3 /proc/loadavg)

if [ "$WARM_S" -gt 0 ]; then
  log "warm-up: wrk -t2 -c64 -d${WARM_S}s"
  WRK_SITE=warm wrk -t2 -c64 -d"${WARM_S}s" -s load-tests/lua/pixel.lua "http://127.0.0.1:$COL_PORT" \
    >"$OUT/wrk.txt" 2>&1
fi
since=$(date +%s)
log "open loop at $RATE req/s for ${DURATION}s"
"$BIN/loadgen" --target "127.0.0.1:$COL_PORT" --metrics-url "http://127.0.0.1:$OPS_PORT/metrics" \
  --mode rate --rate "$RATE" --duration "$DURATION" --connections "${CONNECTIONS:-16}" \
  --beacon-share 0 --series "$OUT/series.csv" --json "$OUT/run.json" >"$OUT/run.txt" &
gen=$!
python3 load-tests/stalls.py sample "$OUT/cpu.csv" ch="$(ch_pid)" col="$(collector_pid)" gen=$gen self=self &
sampler=$!
rc=0; wait "$gen" || rc=$?
kill "$sampler"; wait "$sampler" || true
LOAD_AFTER=$(cut -d' ' -f1-3 /proc/loadavg)
ch "SYSTEM FLUSH LOGS" || sleep 2
ch "SELECT toUnixTimestamp(query_start_time), query_duration_ms, written_rows FROM system.query_log
    WHERE type = 2 AND query LIKE 'INSERT%' AND query_start_time >= toDateTime($since - 1) ORDER BY query_start_time" \
  >"$OUT/query_log.tsv"
ch "SELECT toUnixTimestamp(event_time), toString(event_type), duration_ms, rows FROM system.part_log
    WHERE event_time >= toDateTime($since - 1) ORDER BY event_time" >"$OUT/part_log.tsv"
cp "$WORK/collector.log" "$OUT/collector.log"
{
  echo "rate $RATE duration $DURATION warm $WARM_S tag ${TAG:-} load before/after: $LOAD_BEFORE / $LOAD_AFTER autogroup: $(cat /proc/self/autogroup)"
  echo "ch nice ${CH_NICE:-0}; extra: ${CH_EXTRA_CONFIG:-} ${CH_EXTRA_PROFILE:-} ${COLLECTOR_EXTRA_ENV:-}"
  grep -E "p50|p99|reconcil|ok|MISMATCH" "$OUT/run.txt" | head -8
  python3 load-tests/stalls.py report "$OUT"
} >"$OUT/report.txt" 2>&1 || true
head -12 "$OUT/report.txt"
log "report in $OUT/report.txt (loadgen exit $rc)"
exit "$rc"

# Shared shell helpers of run-bench.sh and faults.sh: free ports, a private ClickHouse, the
# collector and the bare server as background processes we own (tracked by pid files in $WORK),
# and a cleanup that stops exactly those. Everything listens on 127.0.0.1 only.
# Callers set: ROOT (repo root), WORK (a fresh temp dir), BIN (target/release or target/debug).

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

log() { echo "[$(date -u +%H:%M:%S)] $*" >&2; }

# --- ClickHouse -------------------------------------------------------------------------------
ch_env() {
  export CLICKHOUSE_DIR="$WORK/clickhouse" CLICKHOUSE_HTTP_PORT="$CH_HTTP" CLICKHOUSE_TCP_PORT="$CH_TCP"
}
ch_start() { ( ch_env; "$ROOT/scripts/clickhouse" start >/dev/null ); }
ch_stop() { ( ch_env; "$ROOT/scripts/clickhouse" stop >/dev/null ) || true; }
ch_pid() { cat "$WORK/clickhouse/server.pid" 2>/dev/null; }
ch_kill() { local p; p=$(ch_pid); [ -n "$p" ] && kill -9 "$p" 2>/dev/null; sleep 0.5; rm -f "$WORK/clickhouse/server.pid"; }
ch_pause() { kill -STOP "$(ch_pid)"; }
ch_resume() { kill -CONT "$(ch_pid)"; }
# Empties `hits` once a scenario is reconciled: every later reconciliation runs OPTIMIZE FINAL on
# the table, and rewriting the steady run's ~30 M rows each time made the later scenarios race
# ClickHouse's own merges for CPU and disk (the disk filled up in a full run).
ch_truncate_hits() {
  curl -sfS --data-binary "TRUNCATE TABLE \`$DB\`.hits" "http://127.0.0.1:$CH_HTTP/" >/dev/null \
    || log "could not truncate hits (the next reconciliations only get slower)"
}

# --- the collector ----------------------------------------------------------------------------
# Extra settings go in COLLECTOR_EXTRA_ENV ("KEY=value KEY2=value").
collector_start() {
  local geo=""
  # Without the GeoLite2 file (setup could not fetch it) the collector runs without geo fields.
  [ -s "$GEOIP" ] && geo="GEOIP_CITY_DB=$GEOIP"
  # shellcheck disable=SC2086
  env COLLECTOR_LISTEN="127.0.0.1:$COL_PORT" COLLECTOR_OPS_LISTEN="127.0.0.1:$OPS_PORT" \
      CLICKHOUSE_URL="http://127.0.0.1:$CH_HTTP" CLICKHOUSE_DATABASE="$DB" \
      COLLECTOR_SPOOL_DIR="$WORK/spool" COLLECTOR_TRUSTED_PROXIES="127.0.0.1/32" \
      $geo COLLECTOR_LOG=warn ${COLLECTOR_EXTRA_ENV:-} \
      "$BIN/collector" >>"$WORK/collector.log" 2>&1 &
  echo $! >"$WORK/collector.pid"
  for _ in $(seq 1 100); do
    curl -sf "http://127.0.0.1:$OPS_PORT/healthz" >/dev/null 2>&1 && return 0
    kill -0 "$(cat "$WORK/collector.pid")" 2>/dev/null || break
    sleep 0.1
  done
  log "collector did not come up; log:"; tail -n 30 "$WORK/collector.log" >&2
  return 1
}
collector_pid() { cat "$WORK/collector.pid" 2>/dev/null; }
# SIGTERM and wait (bounded by a watchdog) for the exit; sets TERM_RC and TERM_MS.
collector_term() {
  local p t0 wd; p=$(collector_pid); TERM_RC=none; TERM_MS=0
  [ -n "$p" ] || return 0
  t0=$(date +%s%N)
  kill -TERM "$p" 2>/dev/null || true
  ( sleep "${TERM_LIMIT_S:-60}"; kill -9 "$p" 2>/dev/null ) & wd=$!
  TERM_RC=0; wait "$p" || TERM_RC=$?
  kill "$wd" 2>/dev/null || true
  TERM_MS=$(( ($(date +%s%N) - t0) / 1000000 ))
  rm -f "$WORK/collector.pid"
}
collector_kill() { local p; p=$(collector_pid); [ -n "$p" ] && kill -9 "$p" 2>/dev/null; sleep 0.2; rm -f "$WORK/collector.pid"; }
metric() { # sum of a metric over its series, from the collector's /metrics
  { curl -sf "http://127.0.0.1:$OPS_PORT/metrics" || true; } | awk -v n="$1" '$1==n || index($1, n"{")==1 {s+=$2} END {printf "%d\n", s}'
}

# --- the bare server --------------------------------------------------------------------------
bare_start() {
  BARE_LISTEN="127.0.0.1:$BARE_PORT" "$BIN/bare" >>"$WORK/bare.log" 2>&1 &
  echo $! >"$WORK/bare.pid"
  for _ in $(seq 1 50); do curl -sf "http://127.0.0.1:$BARE_PORT/" >/dev/null 2>&1 && return 0; sleep 0.1; done
  return 1
}

# --- setup and cleanup ------------------------------------------------------------------------
stack_init() {
  CH_HTTP=$(free_port); CH_TCP=$(free_port); COL_PORT=$(free_port); OPS_PORT=$(free_port); BARE_PORT=$(free_port)
  DB=${DB:-loadtest}
  GEOIP=${GEOIP:-$ROOT/.data/geoip/GeoLite2-City.mmdb}
  export CLICKHOUSE_URL="http://127.0.0.1:$CH_HTTP" CLICKHOUSE_DATABASE="$DB"
  trap stack_cleanup EXIT
}
stack_cleanup() {
  # Keep the logs with the raw output, whatever happened.
  [ -n "${OUT:-}" ] && cp "$WORK"/*.log "$OUT"/ 2>/dev/null
  for f in collector bare; do
    if [ -f "$WORK/$f.pid" ]; then
      { kill -9 "$(cat "$WORK/$f.pid")"; wait "$(cat "$WORK/$f.pid")"; } 2>/dev/null || true
    fi
  done
  if [ -n "$(ch_pid)" ]; then ch_resume 2>/dev/null || true; ch_stop; fi
  if [ "${KEEP:-0}" != 1 ]; then rm -rf "$WORK"; fi
}
loadgen() { "$BIN/loadgen" --target "127.0.0.1:$COL_PORT" --metrics-url "http://127.0.0.1:$OPS_PORT/metrics" "$@"; }

"""Builds the Markdown table of BENCHMARKS.md from one run-bench.sh output folder.
Usage: bench_table.py OUT BARE_RPS COLLECTOR_RPS RATIO BARE_P99 COLLECTOR_P99 WRK_ARGS SPOOLED
LOADAVG_BEFORE LOADAVG_AFTER"""
import json
import os
import sys

out, bare, col, ratio, bare_p99, col_p99, wrk_args, spooled, load_before, load_after = sys.argv[1:11]


def load(name):
    p = os.path.join(out, name)
    return json.load(open(p)) if os.path.exists(p) else None


def verdict(r):
    if r is None:
        return "not run"
    v = r.get("verdict") if "verdict" in r else r
    if v is None:
        return "no check"
    c = v["counts"]
    state = "ok" if v["ok"] else "MISMATCH: " + "; ".join(v["problems"])
    return f"{state} ({c['distinct']} rows = accepted, {v['duplicates_folded']} replays folded)"


half, mixed, over, wrk = load("half.json"), load("half-mixed.json"), load("overload.json"), load("check-wrk.json")
half_bare = load("half-bare.json")
rows = [
    ("Machine", "2 cores, 24 GiB; everything on loopback; ClickHouse 18.16, wrk/loadgen and the servers share the cores", ""),
    ("Load average before / after (other work on the machine)", f"{load_before} / {load_after}", ""),
    (f"Pixel throughput, wrk `{wrk_args}`, bare hyper GIF server", f"{float(bare):,.0f} req/s (p99 {bare_p99})", ""),
    ("Pixel throughput, same wrk settings, collector (GeoLite2 + UA enrichment, ClickHouse writes live)",
     f"{float(col):,.0f} req/s (p99 {col_p99})", ""),
    ("**Ratio collector / bare**", f"**{ratio}**", "≥ 0.6"),
    ("wrk run reconciled with ClickHouse", verdict(wrk), "exact"),
]
if half:
    lat = half["latency"]
    rows.append((f"p99 at half the collector's max ({half['target_rate']:,.0f} req/s open loop, pixels)",
                 f"**{lat['p99_ms']:.2f} ms** (p50 {lat['p50_ms']:.2f}, p99.9 {lat['p999_ms']:.2f}, max {lat['max_ms']:.2f})", "< 5 ms"))
    rows.append(("  reconciled", verdict(half), "exact"))
niced = os.path.join(out, "half-niced-cores.txt")
if half and os.path.exists(niced):
    rows.append(("  CPU taken by other sessions' niced work during that run (not ranked below it: scheduler autogroups)",
                 f"{open(niced).read().strip()} cores", ""))
if half_bare:
    lat = half_bare["latency"]
    rows.append(("  same open loop against the bare server (the floor of machine + generator)",
                 f"{lat['p99_ms']:.2f} ms (p50 {lat['p50_ms']:.2f}, max {lat['max_ms']:.2f})", ""))
if mixed:
    lat = mixed["latency"]
    rows.append((f"p99 at the same hit rate, realistic mix ({mixed['target_rate']:,.0f} req/s, 20% beacons of 1-20 hits, {mixed['hits_per_s']:,.0f} hits/s)",
                 f"{lat['p99_ms']:.2f} ms (p50 {lat['p50_ms']:.2f}, max {lat['max_ms']:.2f})", ""))
    rows.append(("  reconciled", verdict(mixed), "exact"))
if over:
    t = over["tally"]
    offered = t["beacon_accepted_hits"] + t["beacon_503_hits"] + t["unknown_hits"]
    absorbed = max(1, t["beacon_accepted_hits"])
    rows.append((f"Overload: beacons closed loop, 128 connections, ClickHouse down, 1 MiB spool, default 100k-hit queue ({over['elapsed_s']:.0f} s)",
                 f"{offered:,} hits offered = {offered / absorbed:.1f}x the {absorbed:,} queue + spool took ({spooled} spooled)", "10x"))
    rows.append(("  collector RSS at that overload",
                 f"**{over['rss']['max_mib']:.0f} MiB** max (first quarter {over['rss']['first_quarter_mib']:.0f}, last {over['rss']['last_quarter_mib']:.0f})", "< 300 MB"))
    rl = over["rejected_latency"]
    rows.append(("  503 + Retry-After answers", f"{t['beacon_503']:,} (p50 {rl['p50_ms']:.2f} ms, p99 {rl['p99_ms']:.2f} ms)", "fast"))
    rows.append(("  after ClickHouse came back (spool replayed)", verdict(over), "exact"))

print("| measure | result | target |")
print("|---|---|---|")
for a, b, c in rows:
    print(f"| {a} | {b} | {c} |")

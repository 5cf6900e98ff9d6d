"""Builds the Markdown results table of the fault suite from one faults.sh output folder.
Usage: faults_table.py OUT SUITE LOADAVG_BEFORE LOADAVG_AFTER"""
import json
import os
import sys

out, suite, load_before, load_after = sys.argv[1:5]
WHAT = {
    "steady": "steady mixed load at 70% of the sustained max",
    "clickhouse-kill": "ClickHouse SIGKILLed under load, restarted",
    "clickhouse-slow": "ClickHouse frozen (SIGSTOP), then SIGCONT",
    "collector-term": "collector SIGTERMed under load, restarted",
    "collector-kill": "collector SIGKILLed under load, restarted",
    "spool-full": "ClickHouse down, 64 KiB spool, 1000-hit queue: beacons flood",
    "spool-recovery": "after ClickHouse is back and the spool drained",
    "overload-3x": "open loop at 3x max, ClickHouse up",
    "overload-recovery": "right after the overload, 30% of max",
}

results = [json.loads(l) for l in open(os.path.join(out, "results.jsonl"))]
measure = next((r for r in results if r["name"] == "measure"), None)
sustain = next((r for r in results if r["name"] == "sustain"), None)
probes = "; ".join(f"{p['rate']:,.0f} req/s: p99 {p['p99_best_ms']}–{p['p99_worst_ms']} ms"
                   f"{'' if p['on_time'] else ', fell behind'} → {'held' if p['held'] else 'not held'}"
                   for p in (sustain["extra"]["probes"] if sustain else []) if p)
print(f"Suite `{suite}`, 2 cores. Max measured with the realistic mix (closed loop, 32 connections): "
      f"**{measure['extra']['max_req_per_s'] if measure else '?'} req/s** (burst). "
      f"Sustained max (open-loop probes stepping down from 80% of it until p99 stays flat): "
      f"**{sustain['extra']['sustained_req_per_s'] if sustain else '?'} req/s** ({probes}). "
      f"Load average before/after (other work on the machine): {load_before} / {load_after}.\n")
print("| scenario | load | accepted hits | rows in ClickHouse | lost | replays folded | 2xx p99 | 503s (p99) | collector RSS max / first→last quarter | notes | result |")
print("|---|---|---|---|---|---|---|---|---|---|---|")
for r in results:
    if r["name"] in ("measure", "sustain"):
        continue
    p = os.path.join(out, r["name"] + ".json")
    if not os.path.exists(p):
        print(f"| {r['name']} | | | | | | | | | no report | FAILED |")
        continue
    j = json.load(open(p))
    t, v = j["tally"], j.get("verdict")
    load = (f"{j['target_rate']:,.0f} req/s" if j["target_rate"] else "max") + f", {j['elapsed_s']:.0f} s"
    rows = f"{v['counts']['distinct']:,}" if v else "checked later" if r["name"] == "spool-full" else "-"
    lost = f"{v['lost']:,}" if v else "-"
    folded = f"{v['duplicates_folded']:,}" if v else "-"
    rss = j.get("rss") or {}
    rss_s = f"{rss.get('max_mib', 0):.0f} MiB / {rss.get('first_quarter_mib', 0):.0f}→{rss.get('last_quarter_mib', 0):.0f}" if rss else "-"
    rej = f"{t['beacon_503']:,} ({j['rejected_latency']['p99_ms']:.1f} ms)" if t["beacon_503"] else "0"
    notes = [WHAT.get(r["name"], "")]
    notes += [f"{k}={val}" for k, val in r["extra"].items()]
    if t["connect_errors"]:
        notes.append(f"{t['connect_errors']} requests refused while down")
    if t["unknown"]:
        notes.append(f"{t['unknown']} requests without answer ({t['unknown_hits']} hits)")
    if t.get("not_sent"):
        notes.append(f"{t['not_sent']:,} due requests not sent when the time ran out (backlog)")
    if j["intentional_drops"]:
        notes.append(f"{j['intentional_drops']} pixel hits dropped on purpose")
    if r["name"] == "steady" and j["windows"]:
        p99s = [w["latency"]["p99_ms"] for w in j["windows"]]
        notes.append(f"p99 per window {min(p99s):.1f}–{max(p99s):.1f} ms")
    result = "ok" if r["rc"] == 0 else "FAILED"
    print(f"| {r['name']} | {load} | {j['expectation']['accepted']:,} | {rows} | {lost} | {folded} | "
          f"{j['latency']['p99_ms']:.1f} ms | {rej} | {rss_s} | {'; '.join(n for n in notes if n)} | {result} |")

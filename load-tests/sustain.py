# Decides whether one sustain probe of faults.sh held its rate: the open-loop load at the probe
# rate was sent on time (achieved rate within 3% of the target, at most 0.1% of the due requests
# left unsent at the deadline) and the 2xx p99 stayed flat over the run (every window's p99 at
# most SUSTAIN_P99_MS and at most 3x the best window's, with a 30 ms floor so a few ms of noise
# cannot fail it).
# Usage: sustain.py PROBE_JSON TARGET_RATE P99_LIMIT_MS -> prints a JSON summary; exit 0 = held.
import json
import sys


def verdict(report, target, limit_ms):
    p99s = [w["latency"]["p99_ms"] for w in report["windows"] if w["latency"]["count"]]
    worst = max(p99s, default=float("inf"))
    best = min(p99s, default=0.0)
    t = report["tally"]
    unsent_ok = t.get("not_sent", 0) <= 0.001 * max(t["requests"], 1)
    on_time = unsent_ok and report["req_per_s"] >= 0.97 * target
    flat = worst <= limit_ms and worst <= max(3 * best, 30.0)
    return {"rate": target, "achieved": round(report["req_per_s"]), "on_time": on_time,
            "p99_best_ms": round(best, 1), "p99_worst_ms": round(worst, 1),
            "held": bool(on_time and flat)}


def main(path, target, limit_ms):
    with open(path) as f:
        v = verdict(json.load(f), float(target), float(limit_ms))
    print(json.dumps(v))
    return 0 if v["held"] else 1


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:4]))

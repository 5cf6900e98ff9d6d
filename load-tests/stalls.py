#!/usr/bin/env python3
# Evidence for latency stalls (load-tests/stall-probe.sh): `sample` records the CPU time of each
# thread of the given processes (and of the whole machine) every 50 ms; `report` lines the
# loadgen latency series (`--series`, 100 ms buckets) up with that CPU, the collector's INSERT
# debug lines and ClickHouse's query_log/part_log, and says what the slow buckets coincide with.
#   stalls.py sample OUT.csv NAME=PID [NAME=PID ...]      (until SIGTERM)
#   stalls.py report DIR                                    (reads DIR/{series,cpu}.csv, ...)
import collections
import csv
import datetime as dt
import os
import re
import signal
import sys
import time

TICK_MS = 1000.0 / os.sysconf("SC_CLK_TCK")
BUCKET_MS = 100
SLOW_MS = 5.0


def thread_ticks(pid):
    """{thread name: utime+stime ticks} summed over the threads of pid with that name."""
    out = collections.Counter()
    try:
        tids = os.listdir(f"/proc/{pid}/task")
    except OSError:
        return out
    for tid in tids:
        try:
            with open(f"/proc/{pid}/task/{tid}/stat") as f:
                s = f.read()
        except OSError:
            continue
        name = s[s.index("(") + 1 : s.rindex(")")]
        rest = s[s.rindex(")") + 2 :].split()
        # Thread names that end in a number (pool workers) are one group.
        out[re.sub(r"[-_ ]?\d+$", "", name)] += int(rest[11]) + int(rest[12])
    return out


def proc_ticks(pid):
    """utime+stime of a whole process, its exited threads included."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            s = f.read()
    except OSError:
        return 0
    rest = s[s.rindex(")") + 2 :].split()
    return int(rest[11]) + int(rest[12])


def others_ticks(ours):
    """{pid: CPU ticks} of every process but ours (other work on the machine)."""
    return {d: proc_ticks(d) for d in os.listdir("/proc") if d.isdigit() and d not in ours}


def machine():
    """(busy at normal priority, busy niced, softirq) ticks of the whole machine."""
    with open("/proc/stat") as f:
        v = [int(x) for x in f.readline().split()[1:]]
    return v[0] + v[2] + v[5], v[1], v[6]


def sample(path, procs):
    stop = []
    signal.signal(signal.SIGTERM, lambda *_: stop.append(1))
    # "self" is this sampler (its own cost shows in the figures too).
    procs = [(n, os.getpid() if p == "self" else p) for n, p in procs]
    ours = {str(p) for _, p in procs}
    prev = {n: thread_ticks(p) for n, p in procs}
    prev_total = {n: proc_ticks(p) for n, p in procs}
    prev_m, prev_o = machine(), others_ticks(ours)
    with open(path, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["unix_ms", "who", "thread", "ms"])
        while not stop:
            time.sleep(0.05)
            now = int(time.time() * 1000)
            for n, p in procs:
                cur = thread_ticks(p)
                for t, v in cur.items():
                    d = v - prev[n].get(t, 0)
                    if d > 0:
                        w.writerow([now, n, t, d * TICK_MS])
                prev[n] = cur
                tot = proc_ticks(p)
                w.writerow([now, n, "total", (tot - prev_total[n]) * TICK_MS])
                prev_total[n] = tot
            m, o = machine(), others_ticks(ours)
            for name, a, b in zip(["busy", "niced", "softirq"], m, prev_m):
                w.writerow([now, "machine", name, (a - b) * TICK_MS])
            # Processes that started meanwhile count from zero; those gone are left out.
            others = sum(v - prev_o.get(p, 0) for p, v in o.items())
            w.writerow([now, "others", "total", others * TICK_MS])
            prev_m, prev_o = m, o


def bucket(ms):
    return int(ms) // BUCKET_MS * BUCKET_MS


def log_time(s):
    """Unix ms of a tracing timestamp (2026-11-25T08:30:01.123456Z)."""
    return int(dt.datetime.fromisoformat(s.replace("Z", "+00:00")).timestamp() * 1000)


def read_inserts(path):
    """(start ms, end ms, rows) of every INSERT the collector logged."""
    out = []
    if not os.path.exists(path):
        return out
    pat = re.compile(r"^(\S+)\s+DEBUG.*insert.*rows=(\d+).*ms=([\d.]+)")
    for line in open(path, errors="replace"):
        m = pat.search(re.sub(r"\x1b\[[0-9;]*m", "", line))
        if m:
            end = log_time(m.group(1))
            out.append((end - float(m.group(3)), end, int(m.group(2))))
    return out


def read_tsv(path):
    if not os.path.exists(path):
        return []
    # Lines that are not rows (a server error text) are left out.
    rows = [line.rstrip("\n").split("\t") for line in open(path)]
    return [r for r in rows if r[0].isdigit()]


def report(d):
    series = {bucket(int(r["unix_ms"])): r for r in csv.DictReader(open(f"{d}/series.csv"))}
    cpu = collections.defaultdict(collections.Counter)
    for r in csv.DictReader(open(f"{d}/cpu.csv")):
        # A sample covers the 50 ms before it; put it in the bucket it mostly fell in.
        cpu[bucket(int(r["unix_ms"]) - 25)][(r["who"], r["thread"])] += float(r["ms"])
    inserts = read_inserts(f"{d}/collector.log")
    # query_log: start (s), duration ms, rows; part_log: event (s), type, duration ms, rows
    queries = [(int(r[0]) * 1000, int(r[1]), int(r[2])) for r in read_tsv(f"{d}/query_log.tsv")]
    parts = [(int(r[0]) * 1000, r[1], int(r[2]), int(r[3])) for r in read_tsv(f"{d}/part_log.tsv")]
    merges = [(t - ms, t, rows) for t, kind, ms, rows in parts if kind in ("MergeParts", "MERGE_PARTS")]

    def during(spans, b):
        return any(s < b + BUCKET_MS and e > b for s, e, *_ in spans)

    threads = collections.Counter()
    for c in cpu.values():
        for k, v in c.items():
            threads[k] += v
    top = [k for k, _ in threads.most_common(12) if k[0] not in ("machine", "self")][:9]
    print("CPU ms per thread group over the run:", ", ".join(f"{w}/{t}={v:.0f}" for (w, t), v in threads.most_common(14)))
    print()
    print("bucket(ms)   n   p99   max | ins merge | busy " + " ".join(f"{w[:3]}/{t[:10]:>10}" for w, t in top))
    keys = sorted(series)
    rows = []
    for b in keys:
        s = series[b]
        c = cpu.get(b, collections.Counter())
        ins = during([(a, e) for a, e, _ in inserts], b)
        mer = during(merges, b)
        rows.append((b, float(s["p99_ms"]), float(s["max_ms"]), ins, mer, c))
        print(f"{b % 100000:>9} {int(s['count']):>4} {float(s['p99_ms']):>5.1f} {float(s['max_ms']):>5.1f} |"
              f" {'I' if ins else '.':>3} {'M' if mer else '.':>5} | {c[('machine', 'busy')]:>4.0f} "
              + " ".join(f"{c[k]:>14.0f}" for k in top))
    print()
    slow = [r for r in rows if r[1] > SLOW_MS]
    calm = [r for r in rows if r[1] <= SLOW_MS]
    n = len(rows)
    print(f"{len(slow)} of {n} buckets have p99 > {SLOW_MS} ms")
    # Other sessions' work (autogroups: their nice does not yield to us) hides what the stack
    # does itself; the buckets where nothing else ran say that.
    quiet = sorted(r[1] for r in rows if r[5][("others", "total")] < 10)
    if quiet:
        q = lambda f: quiet[min(len(quiet) - 1, int(f * len(quiet)))]
        print(f"  buckets with other processes under 10 ms CPU: {len(quiet)}; of them p99 > {SLOW_MS} ms: "
              f"{sum(1 for v in quiet if v > SLOW_MS)}; bucket p99 median {q(0.5):.1f}, 90th {q(0.9):.1f}, max {quiet[-1]:.1f} ms")
    print(f"  CPU of other processes: {sum(r[5][('others', 'total')] for r in rows) / max(1, n) / BUCKET_MS:.2f} cores on average")
    for label, f in [("an INSERT in flight (collector log)", lambda r: r[3]), ("a merge running (part_log)", lambda r: r[4])]:
        a = sum(1 for r in slow if f(r))
        b = sum(1 for r in calm if f(r))
        print(f"  {label}: {a}/{len(slow)} slow buckets, {b}/{len(calm)} calm buckets")
    for k in top + [("machine", "busy"), ("machine", "niced"), ("machine", "softirq")]:
        ms = lambda rs: sum(r[5][k] for r in rs) / max(1, len(rs))
        print(f"  mean CPU ms per bucket of {k[0]}/{k[1]}: slow {ms(slow):.1f}, calm {ms(calm):.1f}")
    print()
    print(f"INSERTs (collector): {len(inserts)}; ms: " + ", ".join(f"{e - s:.0f}" for s, e, _ in inserts))
    print(f"INSERTs (query_log): {len(queries)}; ms: " + ", ".join(str(q[1]) for q in queries))
    print(f"merges (part_log): {len(merges)}; ms: " + ", ".join(f"{e - s:.0f}({r})" for s, e, r in merges))


if __name__ == "__main__":
    if len(sys.argv) >= 3 and sys.argv[1] == "sample":
        sample(sys.argv[2], [(a.split("=")[0], a.split("=")[1]) for a in sys.argv[3:]])
    elif len(sys.argv) == 3 and sys.argv[1] == "report":
        report(sys.argv[2])
    else:
        sys.exit(__doc__ or "usage: stalls.py sample OUT.csv NAME=PID... | report DIR")

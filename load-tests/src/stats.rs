//! Latency figures: every response's latency is kept (the run is bounded in count, so this is
//! bounded memory) and summarised exactly from a sorted copy, overall and per time window so a
//! long run can show whether p99 stays stable.

use serde::Serialize;

/// One response: when it was due (ms since the run started) and how long it took (µs).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Sample {
    /// Milliseconds from the start of the run to the request's intended send time.
    pub at_ms: u32,
    /// Microseconds from the send time (the due time if the worker was late) to the end of the
    /// response body.
    pub micros: u32,
}

/// Percentiles of a set of samples, in milliseconds.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Default)]
pub struct Summary {
    /// Number of samples.
    pub count: u64,
    /// Median.
    pub p50_ms: f64,
    /// 90th percentile.
    pub p90_ms: f64,
    /// 99th percentile.
    pub p99_ms: f64,
    /// 99.9th percentile.
    pub p999_ms: f64,
    /// Slowest.
    pub max_ms: f64,
}

/// Summarises latencies given in µs (nearest-rank percentiles).
pub fn summarize(micros: &mut [u32]) -> Summary {
    if micros.is_empty() {
        return Summary::default();
    }
    micros.sort_unstable();
    let at = |q: f64| {
        let rank = ((q * micros.len() as f64).ceil() as usize).clamp(1, micros.len());
        f64::from(micros[rank - 1]) / 1000.0
    };
    Summary {
        count: micros.len() as u64,
        p50_ms: at(0.50),
        p90_ms: at(0.90),
        p99_ms: at(0.99),
        p999_ms: at(0.999),
        max_ms: at(1.0),
    }
}

/// One window of a run.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Window {
    /// Start of the window, seconds from the start of the run.
    pub from_s: u32,
    /// Latencies of the responses due in this window.
    pub latency: Summary,
}

/// Summaries per window of `window_s` seconds, in time order.
pub fn windows(samples: &[Sample], window_s: u32) -> Vec<Window> {
    series(samples, window_s.max(1) * 1000)
        .into_iter()
        .map(|(at_ms, latency)| Window {
            from_s: at_ms / 1000,
            latency,
        })
        .collect()
}

/// Summaries per bucket of `bucket_ms` milliseconds of due time, in time order, as
/// (bucket start in ms from the run's start, latencies). Empty buckets are left out.
pub fn series(samples: &[Sample], bucket_ms: u32) -> Vec<(u32, Summary)> {
    let width = bucket_ms.max(1);
    let mut buckets: std::collections::BTreeMap<u32, Vec<u32>> = Default::default();
    for s in samples {
        buckets.entry(s.at_ms / width).or_default().push(s.micros);
    }
    buckets
        .into_iter()
        .map(|(k, mut v)| (k * width, summarize(&mut v)))
        .collect()
}

/// The series as CSV, one line per bucket: its start as Unix ms (`start_unix_ms` + offset),
/// the count and p50/p99/max in ms.
pub fn series_csv(samples: &[Sample], bucket_ms: u32, start_unix_ms: u64) -> String {
    let mut out = String::from("unix_ms,count,p50_ms,p99_ms,max_ms\n");
    for (at, s) in series(samples, bucket_ms) {
        out.push_str(&format!(
            "{},{},{:.3},{:.3},{:.3}\n",
            start_unix_ms + u64::from(at),
            s.count,
            s.p50_ms,
            s.p99_ms,
            s.max_ms
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_by_nearest_rank() {
        let mut v: Vec<u32> = (1..=1000).map(|i| i * 1000).collect();
        v.reverse();
        let s = summarize(&mut v);
        assert_eq!(s.count, 1000);
        assert_eq!(s.p50_ms, 500.0);
        assert_eq!(s.p99_ms, 990.0);
        assert_eq!(s.p999_ms, 999.0);
        assert_eq!(s.max_ms, 1000.0);
    }

    #[test]
    fn empty_and_single() {
        assert_eq!(summarize(&mut []).count, 0);
        let s = summarize(&mut [2500]);
        assert_eq!((s.p50_ms, s.p99_ms, s.max_ms), (2.5, 2.5, 2.5));
    }

    #[test]
    fn windows_split_by_due_time() {
        let samples: Vec<Sample> = (0..30_000u32)
            .map(|ms| Sample {
                at_ms: ms,
                micros: if ms < 10_000 { 100 } else { 9000 },
            })
            .collect();
        let w = windows(&samples, 10);
        assert_eq!(w.len(), 3);
        assert_eq!(w[0].from_s, 0);
        assert_eq!(w[0].latency.p99_ms, 0.1);
        assert_eq!(w[2].from_s, 20);
        assert_eq!(w[2].latency.p99_ms, 9.0);
    }

    #[test]
    fn series_in_buckets_with_wall_clock() {
        let samples: Vec<Sample> = (0..300u32)
            .map(|ms| Sample {
                at_ms: ms,
                micros: if ms < 200 { 500 } else { 7000 },
            })
            .collect();
        let csv = series_csv(&samples, 100, 1_000_000);
        let lines: Vec<&str> = csv.lines().collect();
        assert_eq!(lines.len(), 4);
        assert_eq!(lines[1], "1000000,100,0.500,0.500,0.500");
        assert_eq!(lines[3], "1000200,100,7.000,7.000,7.000");
    }
}

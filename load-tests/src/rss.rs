//! Resident memory of the collector, read from `/proc/PID/status` while the load runs. The pid
//! comes from a pid file re-read on every sample, so a restarted collector is followed.

use std::path::PathBuf;

use serde::Serialize;

/// Where to find the process to watch.
#[derive(Debug, Clone)]
pub enum Watched {
    /// A fixed pid.
    Pid(u32),
    /// A file holding the pid (rewritten by the scenario script on restart).
    PidFile(PathBuf),
}

/// RSS over a run, in MiB.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Default)]
pub struct RssSummary {
    /// Samples taken (the process was alive).
    pub samples: u64,
    /// Largest RSS seen.
    pub max_mib: f64,
    /// Mean of the first quarter of samples.
    pub first_quarter_mib: f64,
    /// Mean of the last quarter of samples; close to the first quarter means flat.
    pub last_quarter_mib: f64,
}

impl Watched {
    fn pid(&self) -> Option<u32> {
        match self {
            Watched::Pid(p) => Some(*p),
            Watched::PidFile(f) => std::fs::read_to_string(f).ok()?.trim().parse().ok(),
        }
    }

    /// Current RSS in KiB, None when the process is gone.
    pub fn rss_kib(&self) -> Option<u64> {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.pid()?)).ok()?;
        parse_vm_rss(&status)
    }
}

/// The `VmRSS:` line of a `/proc/PID/status` file, in KiB.
pub fn parse_vm_rss(status: &str) -> Option<u64> {
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

/// Summarises samples in KiB taken at a steady interval.
pub fn summarize(kib: &[u64]) -> RssSummary {
    if kib.is_empty() {
        return RssSummary::default();
    }
    let q = (kib.len() / 4).max(1);
    let mean = |s: &[u64]| s.iter().sum::<u64>() as f64 / s.len() as f64 / 1024.0;
    RssSummary {
        samples: kib.len() as u64,
        max_mib: kib.iter().copied().max().unwrap_or(0) as f64 / 1024.0,
        first_quarter_mib: mean(&kib[..q]),
        last_quarter_mib: mean(&kib[kib.len() - q..]),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_vm_rss() {
        let s = "Name:\tcollector\nVmPeak:\t  900 kB\nVmRSS:\t   51200 kB\nThreads: 4\n";
        assert_eq!(parse_vm_rss(s), Some(51200));
        assert_eq!(parse_vm_rss("Name: x\n"), None);
    }

    #[test]
    fn our_own_process_has_rss() {
        let me = Watched::Pid(std::process::id());
        assert!(me.rss_kib().is_some_and(|k| k > 0));
        assert_eq!(Watched::PidFile("/nonexistent/pid".into()).rss_kib(), None);
    }

    #[test]
    fn quarters_and_max() {
        let s = summarize(&[1024, 1024, 2048, 4096, 2048, 2048, 2048, 2048]);
        assert_eq!(s.samples, 8);
        assert_eq!(s.max_mib, 4.0);
        assert_eq!(s.first_quarter_mib, 1.0);
        assert_eq!(s.last_quarter_mib, 2.0);
    }
}

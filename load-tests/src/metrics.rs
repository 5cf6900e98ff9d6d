//! Reading the collector's Prometheus `/metrics`: the sum of one counter (optionally only the
//! series with given labels), and a tracker that keeps counting across collector restarts.

/// A metric name plus labels a series must carry, written like PromQL: `name{k="v",k2="v2"}`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Selector {
    /// Metric name.
    pub name: String,
    /// Labels that must all be present with these values.
    pub labels: Vec<(String, String)>,
}

impl std::str::FromStr for Selector {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        let (name, rest) = match s.find('{') {
            Some(i) => (&s[..i], Some(&s[i + 1..])),
            None => (s, None),
        };
        if name.is_empty()
            || !name
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b':')
        {
            return Err(format!(
                "{s:?}: expected name or name{{label=\"value\",...}}"
            ));
        }
        let mut labels = Vec::new();
        if let Some(rest) = rest {
            let inner = rest
                .strip_suffix('}')
                .ok_or_else(|| format!("{s:?}: missing }}"))?;
            for pair in inner.split(',').filter(|p| !p.trim().is_empty()) {
                let (k, v) = pair
                    .split_once('=')
                    .ok_or_else(|| format!("{s:?}: bad label {pair:?}"))?;
                let v = v.trim().trim_matches('"');
                labels.push((k.trim().to_string(), v.to_string()));
            }
        }
        Ok(Self {
            name: name.to_string(),
            labels,
        })
    }
}

/// Sum over every series of the text exposition that matches the selector.
pub fn sum(text: &str, sel: &Selector) -> f64 {
    let mut total = 0.0;
    for line in text.lines() {
        if line.starts_with('#') || !line.starts_with(sel.name.as_str()) {
            continue;
        }
        let rest = &line[sel.name.len()..];
        let (labels, value) = if let Some(r) = rest.strip_prefix('{') {
            match r.split_once('}') {
                Some((l, v)) => (l, v),
                None => continue,
            }
        } else if rest.starts_with(' ') {
            ("", rest)
        } else {
            continue; // a longer name sharing the prefix
        };
        let series = parse_labels(labels);
        if sel
            .labels
            .iter()
            .all(|(k, v)| series.iter().any(|(sk, sv)| sk == k && sv == v))
        {
            total += value
                .split_whitespace()
                .next()
                .and_then(|v| v.parse::<f64>().ok())
                .unwrap_or(0.0);
        }
    }
    total
}

fn parse_labels(s: &str) -> Vec<(String, String)> {
    // Label values in our catalogue are enum tags without commas or quotes, so a split suffices.
    s.split(',')
        .filter_map(|p| p.split_once('='))
        .map(|(k, v)| (k.trim().to_string(), v.trim().trim_matches('"').to_string()))
        .collect()
}

/// A counter followed across restarts of the process exposing it: the first scrape is the
/// baseline (what earlier runs counted is not ours), and a drop in value means the process
/// restarted, so what it had counted so far is kept.
#[derive(Debug, Default, Clone, Copy, PartialEq)]
pub struct CounterTracker {
    /// Value at the first scrape.
    baseline: Option<f64>,
    /// Counted by earlier lives of the process.
    before: f64,
    /// Last value seen.
    last: f64,
}

impl CounterTracker {
    /// Records a scrape.
    pub fn observe(&mut self, value: f64) {
        if self.baseline.is_none() {
            self.baseline = Some(value);
        } else if value < self.last {
            self.before += self.last;
        }
        self.last = value;
    }

    /// Total counted since the first scrape.
    pub fn total(&self) -> f64 {
        (self.before + self.last - self.baseline.unwrap_or(0.0)).max(0.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TEXT: &str = "# HELP collector_hits_dropped_total Hits dropped.\n\
# TYPE collector_hits_dropped_total counter\n\
collector_hits_dropped_total{route=\"pixel\",reason=\"intentional\"} 7\n\
collector_hits_dropped_total{route=\"beacon\",reason=\"intentional\"} 40\n\
collector_hits_dropped_total_extra 1000\n\
collector_queue_depth 12\n";

    #[test]
    fn sums_matching_series() {
        let all: Selector = "collector_hits_dropped_total".parse().expect("selector");
        assert_eq!(sum(TEXT, &all), 47.0);
        let px: Selector = "collector_hits_dropped_total{route=\"pixel\"}"
            .parse()
            .expect("selector");
        assert_eq!(px.labels, vec![("route".to_string(), "pixel".to_string())]);
        assert_eq!(sum(TEXT, &px), 7.0);
        let none: Selector = "collector_hits_dropped_total{route=\"x\"}"
            .parse()
            .expect("selector");
        assert_eq!(sum(TEXT, &none), 0.0);
        assert_eq!(
            sum(TEXT, &"collector_queue_depth".parse().expect("selector")),
            12.0
        );
    }

    #[test]
    fn bad_selectors_are_refused() {
        assert!("".parse::<Selector>().is_err());
        assert!("a{b=\"c\"".parse::<Selector>().is_err());
        assert!("a b".parse::<Selector>().is_err());
    }

    #[test]
    fn tracker_survives_restarts() {
        let mut t = CounterTracker::default();
        for v in [0.0, 5.0, 9.0, 2.0, 4.0, 0.0, 1.0] {
            t.observe(v);
        }
        assert_eq!(t.total(), 14.0);
    }

    #[test]
    fn tracker_counts_from_its_first_scrape() {
        let mut t = CounterTracker::default();
        assert_eq!(t.total(), 0.0);
        t.observe(500.0);
        assert_eq!(t.total(), 0.0);
        t.observe(530.0);
        assert_eq!(t.total(), 30.0);
        t.observe(4.0); // restarted: 30 before, 4 since
        assert_eq!(t.total(), 34.0);
    }
}

//! A generated scenario with known ground truth, end to end through the API on a real
//! ClickHouse 18.16: persons across accounts, a mailing with sends, machine and human opens
//! and clicks, later visits, funnel progress, conversions and a consent withdrawal; hits from
//! two replicas arriving out of order, with replayed duplicates. Every figure the API gives is
//! compared with the one computed here in plain Rust from the generated events.

mod metrics_support;

use std::collections::{BTreeMap, BTreeSet};

use common::hit::Hit;
use metrics_support::{insert_hits, sessionize, start, PageFact, Rng, Server};
use serde_json::{json, Value};
use uuid::Uuid;

/// 2026-03-02 00:00 UTC.
const DAY0_S: u64 = 1_772_409_600;
/// The mailing goes out at 08:00.
const T0_MS: u64 = (DAY0_S + 8 * 3600) * 1000;
const MIN: u64 = 60_000;
const HOUR: u64 = 3_600_000;
const DAY: u64 = 86_400_000;
/// p9 withdraws tracking consent two hours after the send.
const WITHDRAW_MS: u64 = T0_MS + 2 * HOUR;

const PERSONS: &[(&str, &str)] = &[
    ("p1", "a1"),
    ("p2", "a1"),
    ("p3", "a1"),
    ("p4", "a2"),
    ("p5", "a2"),
    ("p6", "a2"),
    ("p7", "a3"),
    ("p8", "a3"),
    ("p9", "a3"),
];

fn account_of(p: &str) -> &'static str {
    PERSONS
        .iter()
        .find(|(q, _)| *q == p)
        .map(|(_, a)| *a)
        .unwrap_or("")
}

/// Builds hits with ids that do not follow time order.
struct Gen {
    n: u128,
    hits: Vec<Hit>,
}

impl Gen {
    fn add(&mut self, site: &str, ty: &str, ts_ms: u64, visitor: &str, person: &str) -> &mut Hit {
        self.n += 1;
        let id = self
            .n
            .wrapping_mul(0x9e37_79b9_7f4a_7c15_f39c_c060_5ced_c835)
            ^ 0x5bd1e995;
        let account = if person.is_empty() {
            ""
        } else {
            account_of(person)
        };
        self.hits.push(Hit {
            event_id: Uuid::from_u128(id),
            received_at: (ts_ms / 1000) as u32,
            ts_ms,
            site: site.into(),
            r#type: ty.into(),
            visitor_id: visitor.into(),
            person_id: person.into(),
            account_id: account.into(),
            consent: u8::from(!person.is_empty()),
            ..Hit::default()
        });
        let last = self.hits.len() - 1;
        &mut self.hits[last]
    }

    fn page(
        &mut self,
        site: &str,
        ts_ms: u64,
        visitor: &str,
        person: &str,
        path: &str,
    ) -> &mut Hit {
        let h = self.add(site, "pageview", ts_ms, visitor, person);
        h.path = path.into();
        h
    }

    fn event(&mut self, site: &str, ts_ms: u64, visitor: &str, person: &str, name: &str) {
        let h = self.add(site, "event", ts_ms, visitor, person);
        h.event_name = name.into();
        h.path = "/signup".into();
        h.props = r#"{"plan":"pro"}"#.into();
    }

    fn mail(&mut self, ty: &str, ts_ms: u64, person: &str, link: &str, verdict: &str) {
        let h = self.add("mail", ty, ts_ms, "", person);
        h.mailing_id = "m1".into();
        h.link_id = link.into();
        h.verdict = verdict.into();
        h.is_bot = u8::from(verdict == "scanner");
    }

    /// A landing pageview after a mailing click.
    fn landing(&mut self, ts_ms: u64, person: &str, path: &str) {
        let visitor = format!("v-{person}");
        let h = self.page("shop", ts_ms, &visitor, person, path);
        h.mailing_id = "m1".into();
        h.utm_medium = "email".into();
        h.utm_campaign = "m1".into();
    }
}

/// The scenario's hits (each once) in time order of construction.
fn scenario() -> Vec<Hit> {
    let mut g = Gen { n: 0, hits: vec![] };
    let t = T0_MS;
    // p1: Apple prefetch, then a human open and click, a full funnel, both goals; a second
    // click two days later.
    g.mail("open", t + MIN, "p1", "", "apple_mpp");
    g.mail("open", t + 30 * MIN, "p1", "", "human");
    g.mail("click", t + 31 * MIN, "p1", "l1", "human");
    g.landing(t + 31 * MIN + 10_000, "p1", "/");
    g.page("shop", t + 33 * MIN, "v-p1", "p1", "/pricing");
    g.add("shop", "ping", t + 34 * MIN, "v-p1", "p1").path = "/pricing".into();
    g.event("shop", t + 36 * MIN, "v-p1", "p1", "signup");
    g.page("shop", t + 37 * MIN, "v-p1", "p1", "/thank-you");
    g.mail("click", t + 2 * DAY, "p1", "l2", "human");
    // p2: a link scanner clicks every link at once; p2 later converts on the site (identified
    // by the site's backend): a raw conversion, not a human one.
    g.mail("click", t + 5_000, "p2", "l1", "scanner");
    g.mail("click", t + 5_000, "p2", "l2", "scanner");
    g.mail("open", t + 2 * HOUR, "p2", "", "human");
    g.page("shop", t + HOUR, "v-p2", "p2", "/features");
    g.event("shop", t + HOUR + 2 * MIN, "v-p2", "p2", "signup");
    // p3: opens, clicks, sees home and pricing, leaves.
    g.mail("open", t + 10 * MIN, "p3", "", "human");
    g.mail("click", t + 12 * MIN, "p3", "l1", "human");
    g.landing(t + 12 * MIN + 30_000, "p3", "/");
    g.page("shop", t + 15 * MIN, "v-p3", "p3", "/pricing");
    // p4: only Apple's prefetch; visits the next day in two sessions (40 min gap).
    g.mail("open", t + MIN, "p4", "", "apple_mpp");
    g.page("shop", t + DAY + HOUR, "v-p4", "p4", "/");
    g.page("shop", t + DAY + HOUR + 2 * MIN, "v-p4", "p4", "/features");
    g.page("shop", t + DAY + HOUR + 42 * MIN, "v-p4", "p4", "/");
    // p5: opens and clicks late, lands on pricing; next day home and a signup (converts).
    g.mail("open", t + 3 * HOUR, "p5", "", "human");
    g.mail("click", t + 3 * HOUR + MIN, "p5", "l2", "human");
    g.landing(t + 3 * HOUR + 2 * MIN, "p5", "/pricing");
    g.page("shop", t + DAY, "v-p5", "p5", "/");
    g.event("shop", t + DAY + 5 * MIN, "v-p5", "p5", "signup");
    // p6: nothing at all.
    // p7: clicks without the open pixel (images off), home, pricing; signs up 8 days later,
    // outside the 7-day attribution window.
    g.mail("click", t + 20 * MIN, "p7", "l1", "human");
    g.landing(t + 20 * MIN + 30_000, "p7", "/");
    g.page("shop", t + 25 * MIN, "v-p7", "p7", "/pricing");
    g.event("shop", t + 8 * DAY, "v-p7", "p7", "signup");
    // p8: an open of unknown verdict (counted as human).
    g.mail("open", t + 40 * MIN, "p8", "", "unknown");
    // p9: opens, clicks, home, pricing, signs up 67 min after home (outside the funnel's
    // 1 h window), then withdraws consent; later visits are anonymous.
    g.mail("open", t + 30 * MIN, "p9", "", "human");
    g.mail("click", t + 32 * MIN, "p9", "l1", "human");
    g.landing(t + 33 * MIN, "p9", "/");
    g.page("shop", t + 35 * MIN, "v-p9", "p9", "/pricing");
    g.event("shop", t + HOUR + 40 * MIN, "v-p9", "p9", "signup");
    g.page("shop", WITHDRAW_MS + HOUR, "anon-9f2c", "", "/");
    // Anonymous traffic on the blog over three days: sessions with pings, 30-min gaps,
    // campaign and email entrances, goal events, a bot, and a session across midnight.
    let mut rng = Rng(0x5eed_cafe);
    let paths = ["/", "/post-1", "/post-2", "/about", "/thank-you"];
    for v in 0..24u64 {
        let visitor = format!("blogv{v:03}");
        for _ in 0..=rng.below(2) {
            let mut at = DAY0_S * 1000 + rng.below(3 * DAY - 4 * HOUR);
            let entry_source = rng.below(4);
            for k in 0..=rng.below(4) {
                let path = paths[rng.below(paths.len() as u64) as usize];
                let h = g.page("blog", at + rng.below(1000), &visitor, "", path);
                if k == 0 && entry_source == 1 {
                    h.utm_campaign = "spring".into();
                } else if k == 0 && entry_source == 2 {
                    h.referrer_kind = "email".into();
                }
                if rng.below(2) == 0 {
                    g.add("blog", "ping", at + 15_000, &visitor, "").path = path.into();
                }
                if rng.below(6) == 0 {
                    g.event("blog", at + 20_000, &visitor, "", "signup");
                }
                at += if rng.below(5) == 0 {
                    31 * MIN
                } else {
                    10_000 + rng.below(600_000)
                };
            }
        }
    }
    for k in 0..3 {
        let h = g.page("blog", DAY0_S * 1000 + DAY / 2 + k * MIN, "botv", "", "/");
        h.is_bot = 1;
    }
    let midnight = (DAY0_S * 1000) + DAY;
    g.page("blog", midnight - 10 * MIN, "nightowl", "", "/post-1");
    g.page("blog", midnight - 2 * MIN, "nightowl", "", "/post-2");
    g.page("blog", midnight + 5 * MIN, "nightowl", "", "/about");
    // A client retry of the 23:58 pageview (its first answer lost) received after midnight.
    g.hits
        .iter_mut()
        .filter(|h| h.visitor_id == "nightowl")
        .for_each(|h| h.client_id = format!("c-{}", h.ts_ms));
    g.page("blog", midnight + MIN, "nightowl", "", "/post-2")
        .client_id = format!("c-{}", midnight - 2 * MIN);
    // p8 reads the blog across the next midnight: one visit of two pages, and a retry of the
    // first pageview after midnight that counts nowhere.
    let midnight2 = midnight + DAY;
    g.page("blog", midnight2 - 3 * MIN, "v-p8", "p8", "/post-1")
        .client_id = "c-p8-1".into();
    g.page("blog", midnight2 + MIN, "v-p8", "p8", "/post-1")
        .client_id = "c-p8-1".into();
    g.page("blog", midnight2 + 4 * MIN, "v-p8", "p8", "/post-2")
        .client_id = "c-p8-2".into();
    g.hits
}

/// Inserts the hits as two collector replicas would: each hit to one replica, batches out
/// of time order, one in five batches replayed whole (same event ids).
async fn deliver(db: &common::ch::ChSettings, hits: &[Hit], seed: u64) {
    let mut rng = Rng(seed);
    let mut rows: Vec<Hit> = hits
        .iter()
        .map(|h| {
            let mut h = h.clone();
            h.replica = if rng.below(2) == 0 { "r1" } else { "r2" }.into();
            h
        })
        .collect();
    rng.shuffle(&mut rows);
    for batch in rows.chunks(9) {
        insert_hits(db, batch).await;
        if rng.below(5) == 0 {
            insert_hits(db, batch).await;
        }
    }
}

async fn crm_data(s: &Server) {
    let ch = s.db.client();
    for (p, a) in PERSONS {
        ch.query("INSERT INTO persons SELECT ?, ?, '', '{}', now(), 1")
            .bind(*p)
            .bind(*a)
            .execute()
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        let granted_at = (T0_MS - DAY) / 1000;
        ch.query("INSERT INTO consents SELECT ?, ?, 'tracking', 1, 'crm', 'v1', toDateTime(?), 't', now()")
            .bind(format!("c-{p}"))
            .bind(*p)
            .bind(granted_at)
            .execute()
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        ch.query("INSERT INTO mailing_sends SELECT 'm1', ?, toDateTime(?)")
            .bind(*p)
            .bind(T0_MS / 1000)
            .execute()
            .await
            .unwrap_or_else(|e| panic!("{e}"));
    }
    ch.query("INSERT INTO consents SELECT 'w-p9', 'p9', 'tracking', 0, 'crm', 'v1', toDateTime(?), 't', now()")
        .bind(WITHDRAW_MS / 1000)
        .execute()
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    for (name, body) in [
        ("signup", r#"{"event":"signup"}"#),
        ("thanks", r#"{"path":"/thank-you"}"#),
    ] {
        let (st, b) = s.call("PUT", &format!("/api/goals/{name}"), body).await;
        assert_eq!(st, 200, "{b}");
    }
    let funnel = r#"{"steps":[{"name":"home","path":"/"},{"name":"pricing","path":"/pricing"},
                    {"name":"signup","event":"signup"}],"window_s":3600}"#;
    let (st, b) = s.call("PUT", "/api/funnels/buy", funnel).await;
    assert_eq!(st, 200, "{b}");
}

fn ratio(a: u64, b: u64) -> f64 {
    if b == 0 {
        0.0
    } else {
        a as f64 / b as f64
    }
}

/// Expected `/api/pages` rows over the facts `keep` selects (a site, a range of days), from
/// the reference sessionizer. A visit of a page counts where its first view of the page in
/// the session falls (a session can run across midnight): the earliest fact of each (site,
/// visitor, session start, path) over all facts.
fn expected_pages(all: &[PageFact], keep: impl Fn(&PageFact) -> bool) -> Vec<Value> {
    let mut first_views: BTreeMap<(&str, &str, u64, &str), &PageFact> = BTreeMap::new();
    for f in all {
        let e = first_views
            .entry((&f.site, &f.visitor, f.start_ms, &f.path))
            .or_insert(f);
        if f.ts_ms < e.ts_ms {
            *e = f;
        }
    }
    let facts: Vec<&PageFact> = all.iter().filter(|f| keep(f)).collect();
    let mut by: BTreeMap<(String, String), Vec<&PageFact>> = BTreeMap::new();
    for f in facts {
        by.entry((f.site.clone(), f.path.clone()))
            .or_default()
            .push(f);
    }
    let mut rows: Vec<(u64, String, String, Value)> = by
        .into_iter()
        .map(|((site, path), fs)| {
            let pv = fs.len() as u64;
            let count = |p: &dyn Fn(&&PageFact) -> bool| fs.iter().filter(|f| p(f)).count() as u64;
            let entrances = count(&|f| f.entrance);
            let exits = count(&|f| f.exit);
            let bounces = count(&|f| f.bounce);
            let mut times: Vec<u64> = fs.iter().filter_map(|f| f.time_ms).collect();
            times.sort_unstable();
            let timed = times.len() as u64;
            let sum: u64 = times.iter().sum();
            let visitors: BTreeSet<&str> = fs.iter().map(|f| f.visitor.as_str()).collect();
            // The session's first view of the page, if it is among these facts.
            let first_view = |f: &&&PageFact| {
                std::ptr::eq(first_views[&(f.site.as_str(), f.visitor.as_str(), f.start_ms, f.path.as_str())], **f)
            };
            let visit = |f: &&PageFact| (f.visitor.clone(), f.start_ms);
            let visits: BTreeSet<_> = fs.iter().filter(first_view).map(visit).collect();
            let converting: BTreeSet<_> = fs
                .iter()
                .filter(first_view)
                .filter(|f| f.converts_after)
                .map(visit)
                .collect();
            let v = json!({
                "site": site, "path": path, "pageviews": pv, "visitors": visitors.len(),
                "entrances": entrances, "exits": exits, "bounces": bounces,
                "exit_rate": ratio(exits, pv), "bounce_rate": ratio(bounces, entrances),
                "avg_time_on_page_s": (timed > 0).then(|| ratio(sum, timed) / 1000.0),
                "median_time_on_page_s": (timed > 0).then(|| times[times.len() / 2] as f64 / 1000.0),
                "timed_pageviews": timed, "visits": visits.len(),
                "visits_from_mailings": count(&|f| f.entrance && f.source == 1),
                "visits_from_campaigns": count(&|f| f.entrance && f.source == 2),
                "converting_visits": converting.len(),
                "conversion_share": ratio(converting.len() as u64, visits.len() as u64),
            });
            (pv, site, path, v)
        })
        .collect();
    rows.sort_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(&b.1)).then(a.2.cmp(&b.2)));
    rows.into_iter().map(|r| r.3).collect()
}

/// quantileExact: the value at index floor(q * n) of the sorted values.
fn quantile(sorted: &[u64], q: f64) -> Option<f64> {
    (!sorted.is_empty())
        .then(|| sorted[((q * sorted.len() as f64) as usize).min(sorted.len() - 1)] as f64 / 1000.0)
}

/// Clicks and clickers of one link: raw, then human-only.
type LinkTally<'a> = (u64, BTreeSet<&'a str>, u64, BTreeSet<&'a str>);

/// Expected mailing response (goal signup, 7-day window).
fn expected_mailing(hits: &[Hit]) -> Value {
    let human = |h: &Hit| !matches!(h.verdict.as_str(), "apple_mpp" | "scanner");
    let mail: Vec<&Hit> = hits
        .iter()
        .filter(|h| h.mailing_id == "m1" && (h.r#type == "open" || h.r#type == "click"))
        .collect();
    let first = |p: &str, types: &[&str], only_human: bool| {
        mail.iter()
            .filter(|h| {
                h.person_id == p && types.contains(&h.r#type.as_str()) && (!only_human || human(h))
            })
            .map(|h| h.ts_ms)
            .min()
    };
    let signups: Vec<&Hit> = hits
        .iter()
        .filter(|h| h.r#type == "event" && h.event_name == "signup" && !h.person_id.is_empty())
        .collect();
    let converts = |p: &str, only_human: bool| {
        mail.iter()
            .filter(|c| c.person_id == p && c.r#type == "click" && (!only_human || human(c)))
            .any(|c| {
                signups
                    .iter()
                    .any(|s| s.person_id == p && s.ts_ms >= c.ts_ms && s.ts_ms <= c.ts_ms + 7 * DAY)
            })
    };
    let side = |only_human: bool| {
        let (mut opens, mut clickers, mut conv, mut clicks) = (0u64, 0u64, 0u64, 0u64);
        let (mut to_open, mut to_click) = (vec![], vec![]);
        let mut accounts: BTreeMap<&str, [u64; 4]> = BTreeMap::new();
        for (p, a) in PERSONS {
            let acc = accounts.entry(a).or_default();
            acc[0] += 1;
            if let Some(t) = first(p, &["open", "click"], only_human) {
                opens += 1;
                acc[1] += 1;
                to_open.push(t - T0_MS);
            }
            if let Some(t) = first(p, &["click"], only_human) {
                clickers += 1;
                acc[2] += 1;
                to_click.push(t - T0_MS);
            }
            if converts(p, only_human) {
                conv += 1;
                acc[3] += 1;
            }
            clicks += mail
                .iter()
                .filter(|h| h.person_id == *p && h.r#type == "click" && (!only_human || human(h)))
                .count() as u64;
        }
        to_open.sort_unstable();
        to_click.sort_unstable();
        let sends = PERSONS.len() as u64;
        (
            json!({
                "sends": sends, "unique_opens": opens, "open_rate": ratio(opens, sends),
                "unique_clickers": clickers, "click_rate": ratio(clickers, sends),
                "click_to_open_rate": ratio(clickers, opens), "clicks": clicks, "conversions": conv,
                "time_to_open_s": {"median": quantile(&to_open, 0.5), "p90": quantile(&to_open, 0.9)},
                "time_to_click_s": {"median": quantile(&to_click, 0.5), "p90": quantile(&to_click, 0.9)},
            }),
            accounts,
        )
    };
    let (mut raw, raw_acc) = side(false);
    let (hum, hum_acc) = side(true);
    let mut links: BTreeMap<&str, LinkTally> = BTreeMap::new();
    for c in mail.iter().filter(|h| h.r#type == "click") {
        let l = links.entry(c.link_id.as_str()).or_default();
        l.0 += 1;
        l.1.insert(&c.person_id);
        if human(c) {
            l.2 += 1;
            l.3.insert(&c.person_id);
        }
    }
    raw["human"] = hum;
    raw["links"] = links
        .iter()
        .map(|(id, l)| {
            json!({"link_id": id, "clicks": l.0, "unique_clickers": l.1.len(),
        "human": {"clicks": l.2, "unique_clickers": l.3.len()}})
        })
        .collect();
    raw["by_account"] = raw_acc.iter().map(|(a, r)| {
        let h = hum_acc[a];
        json!({"account_id": a, "sends": r[0], "unique_opens": r[1], "unique_clickers": r[2], "conversions": r[3],
               "human": {"unique_opens": h[1], "unique_clickers": h[2], "conversions": h[3]}})
    }).collect();
    raw
}

/// The fields of `actual` that `expected` names must be equal (extra fields are welcome).
fn assert_subset(expected: &Value, actual: &Value, at: &str) {
    match (expected, actual) {
        (Value::Object(e), Value::Object(a)) => {
            for (k, v) in e {
                assert_subset(v, a.get(k).unwrap_or(&Value::Null), &format!("{at}.{k}"));
            }
        }
        (Value::Array(e), Value::Array(a)) => {
            assert_eq!(
                e.len(),
                a.len(),
                "{at}: length\nexpected {expected}\nactual {actual}"
            );
            for (i, (x, y)) in e.iter().zip(a).enumerate() {
                assert_subset(x, y, &format!("{at}[{i}]"));
            }
        }
        // serde_json's default float parser is not correctly rounded in the last bit, so a
        // float printed by the server can read back one ulp off; integers compare exactly.
        (Value::Number(e), Value::Number(a)) if e.is_f64() || a.is_f64() => {
            let (x, y) = (
                e.as_f64().unwrap_or(f64::NAN),
                a.as_f64().unwrap_or(f64::NAN),
            );
            assert!(
                (x - y).abs() <= 1e-12 * x.abs().max(1.0),
                "{at}: {x} vs {y}"
            );
        }
        _ => assert_eq!(expected, actual, "{at}"),
    }
}

/// Expected activities (person, kind, event id) of persons whose consent stands.
fn expected_activities(hits: &[Hit], facts: &[PageFact]) -> BTreeSet<(String, String, String)> {
    let mut out = BTreeSet::new();
    let ok = |p: &str| !p.is_empty() && p != "p9";
    let mut seen = BTreeSet::new();
    for h in hits
        .iter()
        .filter(|h| ok(&h.person_id) && seen.insert(h.event_id))
    {
        let id = h.event_id.to_string();
        if matches!(h.r#type.as_str(), "open" | "click" | "event") {
            out.insert((h.person_id.clone(), h.r#type.clone(), id.clone()));
        }
        if (h.r#type == "event" && h.event_name == "signup")
            || (h.r#type == "pageview" && h.path == "/thank-you")
        {
            out.insert((h.person_id.clone(), "conversion".into(), id));
        }
    }
    let person_of: BTreeMap<&str, &str> = hits
        .iter()
        .filter(|h| !h.person_id.is_empty() && !h.visitor_id.is_empty())
        .map(|h| (h.visitor_id.as_str(), h.person_id.as_str()))
        .collect();
    for f in facts.iter().filter(|f| f.entrance) {
        if let Some(p) = person_of.get(f.visitor.as_str()).filter(|p| ok(p)) {
            out.insert((p.to_string(), "visit".into(), f.event_id.clone()));
        }
    }
    out
}

/// Reads the whole feed from `after`, `limit` at a time; returns the items and the last cursor.
async fn drain_feed(s: &Server, mut after: String) -> (Vec<(String, String, String)>, String) {
    let mut got = Vec::new();
    loop {
        let path = if after.is_empty() {
            "/api/activities?limit=4".to_string()
        } else {
            format!("/api/activities?limit=4&after={after}")
        };
        let page = s.get_ok(&path).await;
        let items = page["activities"].as_array().cloned().unwrap_or_default();
        after = page["next"].as_str().unwrap_or_default().to_string();
        if items.is_empty() {
            return (got, after);
        }
        // Funnel steps: feed_carries_the_funnel_steps_of_the_timelines checks them.
        for a in items.into_iter().filter(|a| a["kind"] != "funnel_step") {
            let f = |k: &str| a[k].as_str().unwrap_or_default().to_string();
            got.push((f("person_id"), f("kind"), f("event_id")));
        }
    }
}

#[tokio::test]
async fn every_figure_matches_the_ground_truth() {
    let s = start("scen").await;
    crm_data(&s).await;
    let hits = scenario();
    deliver(&s.db, &hits, 42).await;
    let (st, body) = s.call("POST", "/api/refresh", "").await;
    assert_eq!(st, 200, "{body}");

    let facts = sessionize(&hits, &["signup"], &["/thank-you"]);
    // Pages: every row and figure.
    let pages = s.get_ok("/api/pages?from=2026-03-02&to=2026-03-12").await;
    assert_subset(
        &json!(expected_pages(&facts, |_| true)),
        &pages["pages"],
        "pages",
    );
    let day0 = DAY0_S / 86_400;
    for (q, site, day) in [
        ("site=shop&from=2026-03-02&to=2026-03-03", "shop", day0),
        ("site=blog&from=2026-03-03&to=2026-03-04", "blog", day0 + 1),
        ("site=blog&from=2026-03-04&to=2026-03-05", "blog", day0 + 2),
    ] {
        let got = s.get_ok(&format!("/api/pages?{q}")).await;
        let want = expected_pages(&facts, |f| f.site == site && f.day == day);
        assert_subset(&json!(want), &got["pages"], q);
    }
    // The session across midnight is one session: its last pageview before midnight is not
    // an exit and runs until the one after it (7 minutes), which is no entrance; the retry
    // after midnight counts nowhere.
    let owl: Vec<&PageFact> = facts.iter().filter(|f| f.visitor == "nightowl").collect();
    let midnight = (DAY0_S + 86_400) * 1000;
    assert_eq!(owl.len(), 3, "{owl:?}");
    assert_eq!(owl.iter().filter(|f| f.entrance).count(), 1);
    assert!(owl.iter().all(|f| f.start_ms == midnight - 10 * MIN));
    assert!(
        !owl[1].exit && owl[1].time_ms == Some(7 * MIN),
        "{:?}",
        owl[1]
    );
    assert!(!owl[2].entrance && owl[2].day == day0 + 1 && owl[2].session == 0);

    // Mailing response with conversions to goal signup within 7 days.
    let m = s
        .get_ok("/api/mailings/m1/response?goal=signup&window_days=7")
        .await;
    assert_subset(&expected_mailing(&hits), &m, "m1");
    assert_eq!(
        (
            m["conversions"].as_u64(),
            m["human"]["conversions"].as_u64()
        ),
        (Some(4), Some(3))
    );
    let a2 = s
        .get_ok("/api/mailings/m1/response?goal=signup&account=a2")
        .await;
    assert_eq!(a2["sends"], 3);
    assert_eq!(a2["by_account"].as_array().map(Vec::len), Some(1));

    // Funnel: by construction (see scenario()).
    let f = s
        .get_ok("/api/funnels/buy?site=shop&from=2026-03-01&to=2026-03-20")
        .await;
    let visitors: Vec<u64> = f["steps"]
        .as_array()
        .map(|v| v.iter().filter_map(|x| x["visitors"].as_u64()).collect())
        .unwrap_or_default();
    let persons: Vec<u64> = f["steps"]
        .as_array()
        .map(|v| v.iter().filter_map(|x| x["persons"].as_u64()).collect())
        .unwrap_or_default();
    assert_eq!(visitors, [7, 4, 1], "{f}");
    assert_eq!(persons, [6, 4, 1], "{f}");
    assert_eq!(f["steps"][1]["median_s_from_previous"], 150.0);
    assert_eq!(f["steps"][2]["median_s_from_previous"], 180.0);
    assert_subset(
        &json!(4.0 / 7.0),
        &f["steps"][1]["conversion_from_previous"],
        "conv",
    );
    assert_eq!(
        f["dropped"],
        json!([
            {"after_step": "home", "after_step_index": 1, "person_id": "p4", "account_id": "a2"},
            {"after_step": "home", "after_step_index": 1, "person_id": "p5", "account_id": "a2"},
            {"after_step": "pricing", "after_step_index": 2, "person_id": "p3", "account_id": "a1"},
            {"after_step": "pricing", "after_step_index": 2, "person_id": "p7", "account_id": "a3"},
        ]),
        "p9 dropped too but withdrew consent"
    );
    let fa = s.get_ok("/api/funnels/buy?site=shop&account=a2").await;
    assert_eq!(fa["steps"][0]["visitors"], 2);
    assert_eq!(fa["steps"][1]["visitors"], 0);

    // Person timeline and engagement score of p1.
    let p1 = s.get_ok("/api/persons/p1/activities").await;
    let kinds: Vec<&str> = p1["activities"]
        .as_array()
        .map(|v| v.iter().filter_map(|a| a["kind"].as_str()).collect())
        .unwrap_or_default();
    let mut sorted = kinds.clone();
    sorted.sort_unstable();
    assert_eq!(
        sorted,
        [
            "click",
            "click",
            "conversion",
            "conversion",
            "event",
            "funnel_step",
            "funnel_step",
            "funnel_step",
            "open",
            "open",
            "visit"
        ]
    );
    // 1 mailing opened by a human + 3×2 human clicks + 2×1 visit + 3 pages + 2×1 event
    // + 5×3 funnel steps + 10×2 conversions.
    assert_eq!(p1["engagement_score"], 1 + 6 + 2 + 3 + 2 + 15 + 20);
    assert_eq!(p1["account_id"], "a1");
    let visit = p1["activities"]
        .as_array()
        .and_then(|v| v.iter().find(|a| a["kind"] == "visit"))
        .cloned()
        .unwrap_or_default();
    let pages_seen: Vec<&str> = visit["pages"]
        .as_array()
        .map(|v| v.iter().filter_map(|p| p["path"].as_str()).collect())
        .unwrap_or_default();
    assert_eq!(pages_seen, ["/", "/pricing", "/thank-you"]);
    // p8's visit across midnight is one visit of both pages, on the day it began; the retry
    // after midnight is no page of it.
    let p8 = s.get_ok("/api/persons/p8/activities").await;
    let visits: Vec<&Value> = p8["activities"]
        .as_array()
        .map(|v| v.iter().filter(|a| a["kind"] == "visit").collect())
        .unwrap_or_default();
    assert_eq!(visits.len(), 1, "{p8}");
    let pages_seen: Vec<&str> = visits[0]["pages"]
        .as_array()
        .map(|v| v.iter().filter_map(|p| p["path"].as_str()).collect())
        .unwrap_or_default();
    assert_eq!(pages_seen, ["/post-1", "/post-2"], "{p8}");
    // p9 withdrew: nothing about them is served.
    let p9 = s.get_ok("/api/persons/p9/activities").await;
    assert_eq!(
        (p9["consent"].clone(), p9["activities"].clone()),
        (json!(false), json!([]))
    );

    // The change feed: every activity of consenting persons exactly once.
    let (got, cursor) = drain_feed(&s, String::new()).await;
    let want = expected_activities(&hits, &facts);
    let got_set: BTreeSet<_> = got.iter().cloned().collect();
    assert_eq!(got.len(), got_set.len(), "no activity twice");
    assert_eq!(got_set, want);

    // An increment: a late replay of an old batch, a hit of day 0 that arrives late, and a
    // new signup; the feed resumes with exactly the new activities.
    let mut g = Gen {
        n: 10_000,
        hits: vec![],
    };
    g.event("shop", T0_MS + 45 * MIN, "v-p1", "p1", "whitepaper");
    g.event("shop", T0_MS + 3 * DAY, "v-p3", "p3", "signup");
    let mut late = g.hits.clone();
    late.extend(hits.iter().take(20).cloned());
    deliver(&s.db, &late, 7).await;
    let (st, r) = s.call("POST", "/api/refresh", "").await;
    assert_eq!(st, 200, "{r}");
    let (more, _) = drain_feed(&s, cursor).await;
    let more: BTreeSet<_> = more.into_iter().collect();
    let id = |h: &Hit| h.event_id.to_string();
    let expect_more: BTreeSet<_> = [
        ("p1".to_string(), "event".to_string(), id(&g.hits[0])),
        ("p3".into(), "event".into(), id(&g.hits[1])),
        ("p3".into(), "conversion".into(), id(&g.hits[1])),
    ]
    .into_iter()
    .collect();
    assert_eq!(more, expect_more);
    // Once merges have folded the replays, a refresh with nothing new recomputes nothing.
    s.exec("OPTIMIZE TABLE hits FINAL").await;
    s.call("POST", "/api/refresh", "").await;
    let again = s.call("POST", "/api/refresh", "").await.1;
    let idle = again["jobs"]
        .as_array()
        .is_some_and(|j| j.iter().all(|r| r["buckets"] == json!([])));
    assert!(idle, "nothing changed, nothing recomputed: {again}");
    // The mailing figures still match the truth over all hits.
    let all: Vec<Hit> = hits.iter().chain(g.hits.iter()).cloned().collect();
    let m = s.get_ok("/api/mailings/m1/response?goal=signup").await;
    assert_subset(&expected_mailing(&all), &m, "m1 after increment");
}

#[tokio::test]
async fn bad_parameters_are_named() {
    let s = start("scenbad").await;
    for (path, field) in [
        ("/api/pages?from=yesterday", "from"),
        ("/api/pages?from=2026-03-05&to=2026-03-01", "to"),
        ("/api/pages?site=a%20b", "site"),
        ("/api/pages?limit=0", "limit"),
        ("/api/funnels/buy", "site"),
        ("/api/activities?after=not-a-cursor", "after"),
        ("/api/mailings/m1/response?window_days=0", "window_days"),
        ("/api/persons/p1/activities?to=2026-02-30", "to"),
    ] {
        let (st, body) = s.call("GET", path, "").await;
        assert_eq!(
            (st, body["field"].as_str()),
            (400, Some(field)),
            "{path}: {body}"
        );
    }
    for (path, body, field) in [
        ("/api/funnels/x", r#"{"steps":[],"window_s":60}"#, "steps"),
        (
            "/api/funnels/x",
            r#"{"steps":[{"name":"a","path":"nope"}],"window_s":60}"#,
            "steps[0].path",
        ),
        (
            "/api/funnels/x",
            r#"{"steps":[{"name":"a","path":"/"}],"window_s":0}"#,
            "window_s",
        ),
        ("/api/goals/g", r#"{"path":"x"}"#, "path"),
    ] {
        let (st, b) = s.call("PUT", path, body).await;
        assert_eq!(
            (st, b["field"].as_str()),
            (400, Some(field)),
            "{path} {body}: {b}"
        );
    }
    let (st, _) = s.call("GET", "/api/funnels/unknown?site=shop", "").await;
    assert_eq!(st, 404);
    let (st, _) = s.call("GET", "/api/persons/nobody/activities", "").await;
    assert_eq!(st, 404);
    let (st, b) = s
        .call("GET", "/api/mailings/m1/response?goal=nope", "")
        .await;
    assert!(st == 404 || (st == 400 && b["field"] == "goal"), "{st} {b}");
    let (st, _) = s.call("POST", "/api/refresh?force=1", "").await;
    assert_eq!(st, 200);
    let (st, text) = s.call_text("GET", "/metrics", "").await;
    assert_eq!(st, 200);
    for name in [
        "aggregator_job_runs_total{job=\"days\"}",
        "aggregator_job_runs_total{job=\"mailings\"}",
        "aggregator_job_duration_seconds_bucket{job=\"days\"",
        "aggregator_job_last_success_timestamp_seconds{job=\"mailings\"}",
    ] {
        assert!(text.contains(name), "{name} missing from /metrics:\n{text}");
    }
}

#[tokio::test]
async fn the_scheduler_refreshes_on_its_own() {
    let s = start("scensched").await;
    let mut g = Gen { n: 0, hits: vec![] };
    g.page("shop", T0_MS, "v1", "", "/");
    insert_hits(&s.db, &g.hits).await;
    let mut config = s.state.config.clone();
    config.refresh_s = 1;
    let state = aggregator::api::AppState::new(config);
    let _jobs = aggregator::metrics::scheduler::spawn(std::sync::Arc::new(state));
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    loop {
        let pages = s.get_ok("/api/pages").await;
        if pages["pages"].as_array().is_some_and(|p| p.len() == 1) {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "no background refresh within 30 s"
        );
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
}

/// Without `goal`, a mailing's conversions count the clicking recipients who reached any
/// defined goal (the signup event or the /thank-you page) within 7 days after a click, raw
/// and human-only; computed here from the hits.
#[tokio::test]
async fn conversions_without_a_goal_count_every_goal() {
    let s = start("scen_any_goal").await;
    crm_data(&s).await;
    let hits = scenario();
    deliver(&s.db, &hits, 7).await;
    let (st, body) = s.call("POST", "/api/refresh", "").await;
    assert_eq!(st, 200, "{body}");
    let human = |h: &Hit| !matches!(h.verdict.as_str(), "apple_mpp" | "scanner");
    let is_goal = |h: &Hit| {
        (h.r#type == "event" && h.event_name == "signup")
            || (h.r#type == "pageview" && h.path == "/thank-you")
    };
    let converts = |p: &str, only_human: bool| {
        hits.iter()
            .filter(|c| c.person_id == p && c.mailing_id == "m1" && c.r#type == "click")
            .filter(|c| !only_human || human(c))
            .any(|c| {
                hits.iter().any(|g| {
                    g.person_id == p
                        && is_goal(g)
                        && g.ts_ms >= c.ts_ms
                        && g.ts_ms <= c.ts_ms + 7 * DAY
                })
            })
    };
    let count = |only_human: bool| {
        PERSONS
            .iter()
            .filter(|(p, _)| converts(p, only_human))
            .count()
    };
    let any = s.get_ok("/api/mailings/m1/response").await;
    assert_eq!(any["goal"], Value::Null);
    assert_eq!(any["conversions"], json!(count(false)), "{any}");
    assert_eq!(any["human"]["conversions"], json!(count(true)), "{any}");
    let signup = s.get_ok("/api/mailings/m1/response?goal=signup").await;
    assert!(any["conversions"].as_u64() >= signup["conversions"].as_u64());
}

/// The change feed carries every funnel step of the consenting persons' timelines exactly
/// once (same funnel, step and time as `/api/persons/{id}/activities`), and a refresh with
/// nothing new hands out none again.
#[tokio::test]
async fn feed_carries_the_funnel_steps_of_the_timelines() {
    let s = start("scen_feed_steps").await;
    crm_data(&s).await;
    deliver(&s.db, &scenario(), 11).await;
    let (st, body) = s.call("POST", "/api/refresh", "").await;
    assert_eq!(st, 200, "{body}");
    let step = |p: &str, a: &Value| {
        (
            p.to_string(),
            a["funnel"].as_str().unwrap_or_default().to_string(),
            a["step_index"].as_u64().unwrap_or(0),
            a["ts_ms"].as_u64().unwrap_or(0),
        )
    };
    let mut want = BTreeSet::new();
    for (p, _) in PERSONS {
        let t = s.get_ok(&format!("/api/persons/{p}/activities")).await;
        for a in t["activities"].as_array().into_iter().flatten() {
            if a["kind"] == "funnel_step" {
                want.insert(step(p, a));
            }
        }
    }
    assert!(
        want.len() >= 5,
        "the scenario has funnel progress: {want:?}"
    );
    let mut got = Vec::new();
    let mut after = String::new();
    loop {
        let page = s
            .get_ok(&format!("/api/activities?limit=7&after={after}"))
            .await;
        let items = page["activities"].as_array().cloned().unwrap_or_default();
        after = page["next"].as_str().unwrap_or_default().to_string();
        if items.is_empty() {
            break;
        }
        for a in items.iter().filter(|a| a["kind"] == "funnel_step") {
            assert!(a["step"].is_string(), "{a}");
            got.push(step(a["person_id"].as_str().unwrap_or_default(), a));
        }
    }
    let got_set: BTreeSet<_> = got.iter().cloned().collect();
    assert_eq!(got.len(), got_set.len(), "no step twice");
    assert_eq!(got_set, want);
    let (st, _) = s.call("POST", "/api/refresh", "").await;
    assert_eq!(st, 200);
    let again = s.get_ok(&format!("/api/activities?after={after}")).await;
    assert_eq!(again["activities"], json!([]), "{again}");
}

/// Every funnel step the change feed hands out from its start: (person, funnel, step, time).
async fn feed_steps(s: &Server) -> BTreeSet<(String, String, u64, u64)> {
    let mut got = BTreeSet::new();
    let mut after = String::new();
    loop {
        let page = s
            .get_ok(&format!("/api/activities?limit=50&after={after}"))
            .await;
        let items = page["activities"].as_array().cloned().unwrap_or_default();
        after = page["next"].as_str().unwrap_or_default().to_string();
        if items.is_empty() {
            break;
        }
        for a in items.iter().filter(|a| a["kind"] == "funnel_step") {
            got.insert((
                a["person_id"].as_str().unwrap_or_default().to_string(),
                a["funnel"].as_str().unwrap_or_default().to_string(),
                a["step_index"].as_u64().unwrap_or(0),
                a["ts_ms"].as_u64().unwrap_or(0),
            ));
        }
    }
    got
}

/// Job funnels keeps the persons' activities per day between runs and reads only the days
/// that changed: after the hits of one day arrive late, the steps of every timeline (which
/// span several days) equal those of a forced run that reads every day again.
#[tokio::test]
async fn funnel_steps_after_a_late_day_equal_a_forced_run() {
    let s = start("scen_steps_late").await;
    crm_data(&s).await;
    let hits = scenario();
    let late_day = T0_MS / 1000 / 86_400;
    let (late, early): (Vec<Hit>, Vec<Hit>) = hits
        .into_iter()
        .partition(|h| u64::from(h.received_at) / 86_400 == late_day);
    assert!(
        !late.is_empty() && !early.is_empty(),
        "the scenario spans days"
    );
    deliver(&s.db, &early, 5).await;
    let (st, body) = s.call("POST", "/api/refresh", "").await;
    assert_eq!(st, 200, "{body}");
    let before = feed_steps(&s).await;
    deliver(&s.db, &late, 6).await;
    let (st, body) = s.call("POST", "/api/refresh", "").await;
    assert_eq!(st, 200, "{body}");
    let incremental = feed_steps(&s).await;
    assert_ne!(incremental, before, "the late day adds funnel progress");
    let (st, body) = s.call("POST", "/api/refresh?force=1", "").await;
    assert_eq!(st, 200, "{body}");
    assert_eq!(feed_steps(&s).await, incremental);
}

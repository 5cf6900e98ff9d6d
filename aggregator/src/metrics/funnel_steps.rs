//! The person half of job "funnels": per funnel, the steps each known person's timeline
//! reached, written to `r_funnel_steps` (bucket `{funnel}|steps`, recomputed when any day or
//! the definition changed), which the activity change feed serves as `funnel_step`
//! activities. Every person's activities are kept per day in the process
//! (`activity_cache`), so a run reads only the days whose generation changed.

use std::collections::BTreeMap;

use super::activity_cache::{self, PersonActivity};
use super::funnel::{timeline_entry, timeline_hits, FunnelDef};
use super::funnel_spans::{bucket, def_hash, Run, Written};
use super::queries;

/// The steps funnel `name` reached on each person's timeline: parallel arrays of person,
/// time and the step as JSON.
fn person_steps(
    name: &str,
    def: &FunnelDef,
    acts: &[&PersonActivity],
) -> (Vec<String>, Vec<u64>, Vec<String>) {
    let (mut persons, mut times, mut details) = (Vec::new(), Vec::new(), Vec::new());
    for person in acts.chunk_by(|a, b| a.person_id == b.person_id) {
        let reached = super::funnel::walk(
            def,
            &timeline_hits(person.iter().map(|a| timeline_entry!(a))),
        );
        for (i, t) in reached.into_iter().enumerate() {
            let step = def.steps.get(i).map_or("", |s| s.name.as_str());
            persons.push(person[0].person_id.clone());
            times.push(t);
            details.push(
                serde_json::json!({ "funnel": name, "step": step, "step_index": i + 1 })
                    .to_string(),
            );
        }
    }
    (persons, times, details)
}

/// Every person's activities as held by the process, after reading the days whose
/// generation changed since the copy held (a forced run reads every day again).
async fn activities(run: &Run<'_>) -> Result<activity_cache::Days, clickhouse::error::Error> {
    let mut held = activity_cache::take(run.database);
    if run.force {
        held.clear();
    }
    let wanted: Vec<(&str, u64)> = run
        .days
        .iter()
        .map(|(d, (_, g))| (d.as_str(), *g))
        .collect();
    let missing = activity_cache::missing(&mut held, &wanted);
    let (Some(first), Some(last)) = (missing.first(), missing.last()) else {
        return Ok(held);
    };
    let generation = |d: &str| run.days.get(d).map_or(0, |(_, g)| *g);
    let versions: Vec<u64> = missing.iter().map(|d| generation(d)).collect();
    let fetched: Vec<PersonActivity> = run
        .ch
        .query(queries::FUNNEL_PERSON_ACTIVITIES)
        .bind(*first)
        .bind(*last)
        .bind(versions)
        .bind(&missing)
        .fetch_all()
        .await?;
    let mut by_day: BTreeMap<&str, Vec<PersonActivity>> =
        missing.iter().map(|d| (*d, Vec::new())).collect();
    for a in fetched {
        if let Some(v) = by_day.get_mut(a.day.as_str()) {
            v.push(a);
        }
    }
    for (d, v) in by_day {
        held.insert(d.to_string(), (generation(d), std::sync::Arc::new(v)));
    }
    Ok(held)
}

/// Writes each funnel's person steps whose fingerprint (definition, every day's generation,
/// CRM persons) changed; returns the milliseconds spent reading the activities.
pub(super) async fn run(
    run: &Run<'_>,
    funnels: &[(String, String)],
    out: &mut Written,
) -> Result<u128, clickhouse::error::Error> {
    let all_days: Vec<String> = run
        .days
        .iter()
        .map(|(d, (_, g))| format!("{d}:{g}"))
        .collect();
    let days_hash = def_hash(&all_days.join(","));
    let mut due = Vec::new();
    for (name, text) in funnels {
        let Ok(def) = serde_json::from_str::<FunnelDef>(text) else {
            continue;
        };
        let b = bucket(name, "steps");
        let fp = format!("{}:{days_hash}#{}", def_hash(text), run.persons_fp);
        let previous = run.done.get(&b).map_or(0, |(_, g)| *g);
        if !run.force && run.done.get(&b).is_some_and(|(f, _)| *f == fp) {
            continue;
        }
        due.push((name, def, b, fp, previous));
    }
    if due.is_empty() {
        return Ok(0);
    }
    let started = std::time::Instant::now();
    let held = activities(run).await?;
    let acts = activity_cache::timelines(&held);
    let read_ms = started.elapsed().as_millis();
    for (name, def, b, fp, previous) in due {
        let (persons, times, details) = person_steps(name, &def, &acts);
        run.ch
            .query(queries::JOB_FUNNEL_STEPS)
            .bind(name)
            .bind(run.version)
            .bind(persons)
            .bind(times)
            .bind(details)
            .bind(name)
            .bind(previous)
            .execute()
            .await?;
        out.push(b, fp);
    }
    drop(acts);
    activity_cache::put(run.database, held);
    Ok(read_ms)
}

//! The real consent and identity directory: follows the ClickHouse ledger (consents, persons,
//! identity links, recent sends) by reloading a snapshot in the background, and serves the
//! enricher from memory. It also makes identity links (batched, off the request path), judges
//! mailing opens and clicks (machine verdict), and adds the short-lived person token to a
//! click's landing URL when the person's consent stands.
//!
//! Timing: a snapshot is reloaded every `refresh` (at most 30 s), so a consent withdrawal
//! reaches every hit within that plus one load, well inside the 60 s the contract allows.

mod linker;
mod recent;
mod snapshot;

use std::collections::HashMap;
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

use common::ch::ChSettings;
use common::hit::{Hit, HitRef};
use common::token::{safe_redirect_target, Claims, Keyring, TokenKind};
use enrich::verdict::{verdict, MailingSignal, Verdict};
use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;

pub use linker::{ConflictRow, LinkRow, LinkWrite};
pub use snapshot::Snapshot;

/// Query parameter that carries the person token from a click to the landing page, where
/// the tracker (`t.js`) picks it up, removes it from the address bar and sends it as `pt`.
pub const LANDING_PARAM: &str = "tq_pt";
/// Lifetime of that token: long enough to load the landing page, short enough that a
/// forwarded or bookmarked URL soon stops identifying anyone.
pub const LANDING_TOKEN_TTL_S: u32 = 600;
/// Overlay links are kept this many refresh periods (by then they are in the snapshot, or
/// were erased).
const OVERLAY_PERIODS: u64 = 4;

/// A link made by this process that the snapshot may not have yet.
#[derive(Debug, Clone)]
struct FreshLink {
    /// The person.
    person_id: String,
    /// When it was made (Unix ms).
    at_ms: u64,
}

/// The directory. Cheap to query from any thread: a read lock and a hash lookup.
pub struct Identity {
    /// The current snapshot, swapped whole on reload.
    snapshot: RwLock<Arc<Snapshot>>,
    /// Links made here since the snapshot: site → visitor → link.
    fresh: RwLock<HashMap<String, HashMap<String, FreshLink>>>,
    /// Where new links go to be written.
    links_tx: mpsc::Sender<LinkWrite>,
    /// Recent clicks for the burst rules of the verdict.
    recent: Mutex<recent::RecentClicks>,
    /// Signs landing tokens; None = no landing tokens.
    keys: Option<Keyring>,
    /// Reload period.
    refresh: Duration,
}

impl std::fmt::Debug for Identity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Identity")
            .field("refresh", &self.refresh)
            .finish_non_exhaustive()
    }
}

/// The background tasks of the directory; await them after `stop` turns true.
pub struct IdentityTasks {
    /// Reloads the snapshot.
    pub reload: JoinHandle<()>,
    /// Writes links.
    pub writer: JoinHandle<()>,
}

impl IdentityTasks {
    /// Waits for both tasks to end (they end when `stop` turns true).
    pub async fn join(self) {
        let _ = self.reload.await;
        let _ = self.writer.await;
    }
}

impl Identity {
    /// An empty directory (nobody consents) and the channel its links go to. For tests and
    /// for [`start`].
    pub fn new(keys: Option<Keyring>, refresh: Duration) -> (Arc<Self>, mpsc::Receiver<LinkWrite>) {
        let (tx, rx) = mpsc::channel(linker::CHANNEL_CAPACITY);
        let me = Self {
            snapshot: RwLock::new(Arc::new(Snapshot::default())),
            fresh: RwLock::new(HashMap::new()),
            links_tx: tx,
            recent: Mutex::new(recent::RecentClicks::default()),
            keys,
            refresh,
        };
        (Arc::new(me), rx)
    }

    /// The current snapshot.
    pub fn snapshot(&self) -> Arc<Snapshot> {
        match self.snapshot.read() {
            Ok(g) => Arc::clone(&g),
            Err(poisoned) => Arc::clone(&poisoned.into_inner()),
        }
    }

    /// Puts a new snapshot in place and forgets overlay links it now holds (or that are old
    /// enough to have been written or erased).
    pub fn install(&self, snap: Snapshot, now_ms: u64) {
        let keep_ms = self.refresh.as_millis() as u64 * OVERLAY_PERIODS;
        if let Ok(mut fresh) = self.fresh.write() {
            for (site, visitors) in fresh.iter_mut() {
                visitors.retain(|v, l| {
                    now_ms.saturating_sub(l.at_ms) < keep_ms
                        && snap.linked_person(site, v) != Some(l.person_id.as_str())
                });
            }
            fresh.retain(|_, v| !v.is_empty());
        }
        let snap = Arc::new(snap);
        match self.snapshot.write() {
            Ok(mut g) => *g = snap,
            Err(poisoned) => *poisoned.into_inner() = snap,
        }
    }

    /// The person a visitor is linked to, newest first (consent not checked).
    fn linked_person(&self, site: &str, visitor_id: &str) -> Option<String> {
        let fresh = self.fresh.read().ok().and_then(|f| {
            f.get(site)
                .and_then(|m| m.get(visitor_id))
                .map(|l| l.person_id.clone())
        });
        fresh.or_else(|| {
            self.snapshot()
                .linked_person(site, visitor_id)
                .map(str::to_string)
        })
    }

    /// After enrichment of a tracker hit: when it carries a person (a valid `pt` of a
    /// consenting person, already checked by the enricher) and a consented visitor id `v`,
    /// make sure the visitor is linked to that person. A visitor linked to someone else gets
    /// a new link and a conflict row; persons are never merged. `consented_visitor` must be
    /// the `v` the client sent (empty when it sent none or asked for anonymity).
    pub fn observe(&self, hit: &HitRef<'_>, consented_visitor: &str, now_ms: u64) {
        if hit.person_id.is_empty() || hit.consent != 1 || consented_visitor.is_empty() {
            return;
        }
        if hit.visitor_id != consented_visitor {
            return;
        }
        let existing = self.linked_person(hit.site, consented_visitor);
        if existing.as_deref() == Some(hit.person_id) {
            return;
        }
        let Ok(mut fresh) = self.fresh.write() else {
            return;
        };
        let site_links = fresh.entry(hit.site.to_owned()).or_default();
        // Re-check under the write lock: a concurrent hit may have just made this link.
        if site_links
            .get(consented_visitor)
            .is_some_and(|l| l.person_id == hit.person_id)
        {
            return;
        }
        let at = u32::try_from(now_ms / 1000).unwrap_or(u32::MAX);
        let write = LinkWrite {
            link: LinkRow {
                visitor_id: consented_visitor.to_string(),
                person_id: hit.person_id.to_owned(),
                site: hit.site.to_owned(),
                source: "pt".into(),
                linked_at: at,
                revoked: 0,
                version: now_ms,
            },
            conflict: existing.map(|other| ConflictRow {
                visitor_id: consented_visitor.to_string(),
                existing_person_id: other,
                new_person_id: hit.person_id.to_owned(),
                site: hit.site.to_owned(),
                at,
            }),
        };
        if self.links_tx.try_send(write).is_err() {
            crate::telemetry::identity_links("dropped", 1);
            return;
        }
        site_links.insert(
            consented_visitor.to_string(),
            FreshLink {
                person_id: hit.person_id.to_owned(),
                at_ms: now_ms,
            },
        );
    }

    /// Sets the machine verdict of a mailing open or click (and remembers the click for the
    /// burst rules).
    pub fn judge(&self, hit: &mut Hit, claims: &Claims, info: &enrich::RequestInfo<'_>) {
        let is_click = claims.kind == TokenKind::Click;
        let prior = if is_click {
            match self.recent.lock() {
                Ok(mut r) => r.record(
                    &claims.mailing_id,
                    &claims.person_id,
                    &claims.link_id,
                    hit.ts_ms,
                ),
                Err(_) => Default::default(),
            }
        } else {
            Default::default()
        };
        let (v, reason) = verdict(&MailingSignal {
            is_click,
            user_agent: info.user_agent,
            ip: info.ip,
            method_head: info.method_head,
            now_ms: hit.ts_ms,
            sent_at_s: self
                .snapshot()
                .sent_at(&claims.mailing_id, &claims.person_id),
            prior,
        });
        tracing::debug!(verdict = v.as_str(), reason, "mailing event judged");
        hit.verdict = v.as_str().to_string();
    }

    /// Where a click redirects: the signed target, plus [`LANDING_PARAM`] with a short-lived
    /// person token when the click carries a consenting person (the enricher kept the person
    /// on the hit) and it was not judged a machine. Scanners never get a person token, so a
    /// scanner that runs scripts cannot link its own visitor id to the person.
    pub fn landing_url(&self, claims: &Claims, hit: &Hit) -> String {
        let machine = [Verdict::Scanner, Verdict::AppleMpp]
            .iter()
            .any(|v| v.as_str() == hit.verdict);
        let Some(keys) = &self.keys else {
            return claims.url.clone();
        };
        if hit.person_id.is_empty() || machine {
            return claims.url.clone();
        }
        let token = keys.sign(&Claims {
            kind: TokenKind::Person,
            kid: String::new(),
            expires_at: hit.received_at.saturating_add(LANDING_TOKEN_TTL_S),
            mailing_id: String::new(),
            person_id: hit.person_id.clone(),
            link_id: String::new(),
            url: String::new(),
        });
        match token {
            Ok(t) => with_param(&claims.url, LANDING_PARAM, &t)
                .filter(|u| safe_redirect_target(u))
                .unwrap_or_else(|| claims.url.clone()),
            Err(_) => claims.url.clone(),
        }
    }
}

/// `url` with `name=value` added to its query (before any fragment). `value` must be
/// URL-safe already (a token is base64url).
pub fn with_param(url: &str, name: &str, value: &str) -> Option<String> {
    let (base, fragment) = match url.split_once('#') {
        Some((b, f)) => (b, Some(f)),
        None => (url, None),
    };
    let sep = match base.find('?') {
        None => "?",
        Some(_) if base.ends_with('?') || base.ends_with('&') => "",
        Some(_) => "&",
    };
    let mut out = format!("{base}{sep}{name}={value}");
    if let Some(f) = fragment {
        out.push('#');
        out.push_str(f);
    }
    (out.len() <= common::token::MAX_URL_LEN).then_some(out)
}

impl enrich::Directory for Identity {
    fn consented_person(&self, person_id: &str) -> Option<String> {
        self.snapshot()
            .consented_account(person_id)
            .map(str::to_string)
    }

    fn person_of_visitor(&self, site: &str, visitor_id: &str) -> Option<(String, String)> {
        let person = self.linked_person(site, visitor_id)?;
        let account = self.consented_person(&person)?;
        Some((person, account))
    }
}

/// Starts the directory: an initial load (bounded, so a ClickHouse outage does not hold up
/// the start; hits are then anonymous until a load succeeds), the reload loop and the link
/// writer. Both tasks end when `stop` turns true.
pub async fn start(
    settings: &ChSettings,
    keys: Option<Keyring>,
    refresh: Duration,
    stop: watch::Receiver<bool>,
) -> (Arc<Identity>, IdentityTasks) {
    let (identity, rx) = Identity::new(keys, refresh);
    let ch = settings.client();
    match tokio::time::timeout(Duration::from_secs(3), snapshot::load(&ch)).await {
        Ok(Ok(s)) => {
            crate::telemetry::directory_reload(true, s.consented.len());
            identity.install(s, crate::now_ms());
        }
        Ok(Err(e)) => {
            crate::telemetry::directory_reload(false, 0);
            tracing::warn!(error = %e, "consent directory not loaded; hits stay anonymous until it is");
        }
        Err(_) => tracing::warn!("consent directory load timed out; retrying in the background"),
    }
    let reload = tokio::spawn(reload_loop(Arc::clone(&identity), ch.clone(), stop.clone()));
    let writer = tokio::spawn(linker::write_loop(ch, rx, stop));
    (identity, IdentityTasks { reload, writer })
}

/// Without a successful load for this long the directory fails closed: everyone is treated
/// as not consenting until ClickHouse answers again, so a withdrawal the collector could not
/// see never keeps a person identified past the contract's 60 s.
const FAIL_CLOSED_AFTER: Duration = Duration::from_secs(45);

async fn reload_loop(
    identity: Arc<Identity>,
    ch: clickhouse::Client,
    mut stop: watch::Receiver<bool>,
) {
    let mut last_ok = tokio::time::Instant::now();
    loop {
        tokio::select! {
            _ = tokio::time::sleep(identity.refresh) => {}
            _ = async { let _ = stop.wait_for(|s| *s).await; } => return,
        }
        let budget = identity.refresh.max(Duration::from_secs(1));
        let failure = match tokio::time::timeout(budget, snapshot::load(&ch)).await {
            Ok(Ok(s)) => {
                crate::telemetry::directory_reload(true, s.consented.len());
                identity.install(s, crate::now_ms());
                last_ok = tokio::time::Instant::now();
                continue;
            }
            Ok(Err(e)) => e.to_string(),
            Err(_) => "timed out".to_string(),
        };
        crate::telemetry::directory_reload(false, 0);
        if last_ok.elapsed() >= FAIL_CLOSED_AFTER {
            tracing::warn!(error = %failure, "consent directory stale; treating everyone as not consenting");
            identity.install(Snapshot::default(), crate::now_ms());
        } else {
            tracing::warn!(error = %failure, "consent directory reload failed; keeping the previous one");
        }
    }
}

#[cfg(test)]
mod tests;

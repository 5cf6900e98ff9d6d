//! Unit tests of the directory: consent gating, linking and conflicts, the overlay, the
//! landing parameter.

use super::*;
use enrich::Directory;

const NOW: u64 = 1_772_400_000_000;

fn keys() -> Keyring {
    Keyring::parse("k1:0123456789abcdef0123").unwrap_or_else(|| panic!("keys"))
}

fn snapshot() -> Snapshot {
    let mut s = Snapshot::default();
    s.consented.insert("alice".into(), "acme".into());
    s.consented.insert("bob".into(), "".into());
    s.links
        .entry("shop".into())
        .or_default()
        .insert("v-old".into(), "bob".into());
    s.links
        .entry("shop".into())
        .or_default()
        .insert("v-carol".into(), "carol".into());
    s.mailings.insert("m1".into(), 1_772_399_000);
    s
}

fn person_hit(person: &str, visitor: &str) -> Hit {
    Hit {
        site: "shop".into(),
        person_id: person.into(),
        account_id: "acme".into(),
        consent: 1,
        visitor_id: visitor.into(),
        ts_ms: NOW,
        received_at: (NOW / 1000) as u32,
        ..Hit::default()
    }
}

#[test]
fn consent_gates_persons_and_links() {
    let (id, _rx) = Identity::new(None, Duration::from_secs(15));
    assert_eq!(id.consented_person("alice"), None, "empty until loaded");
    id.install(snapshot(), NOW);
    assert_eq!(id.consented_person("alice").as_deref(), Some("acme"));
    assert_eq!(id.consented_person("carol"), None);
    assert_eq!(
        id.person_of_visitor("shop", "v-old"),
        Some(("bob".into(), "".into()))
    );
    // Linked, but carol has no consent: anonymous.
    assert_eq!(id.person_of_visitor("shop", "v-carol"), None);
    assert_eq!(id.person_of_visitor("other-site", "v-old"), None);
}

#[test]
fn observe_links_once_and_records_conflicts() {
    let (id, mut rx) = Identity::new(None, Duration::from_secs(15));
    id.install(snapshot(), NOW);
    let hit = person_hit("alice", "v-new");
    id.observe(&hit.row(), "v-new", NOW);
    id.observe(&hit.row(), "v-new", NOW + 1);
    let w = rx.try_recv().unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        (w.link.visitor_id.as_str(), w.link.person_id.as_str()),
        ("v-new", "alice")
    );
    assert!(w.conflict.is_none());
    assert!(
        rx.try_recv().is_err(),
        "the second hit makes no second link"
    );
    assert_eq!(
        id.person_of_visitor("shop", "v-new"),
        Some(("alice".into(), "acme".into())),
        "visible before the next reload"
    );

    // v-old belongs to bob: alice's token there makes a new link and a conflict.
    id.observe(&person_hit("alice", "v-old").row(), "v-old", NOW);
    let w = rx.try_recv().unwrap_or_else(|e| panic!("{e}"));
    let c = w.conflict.unwrap_or_else(|| panic!("no conflict"));
    assert_eq!(
        (c.existing_person_id.as_str(), c.new_person_id.as_str()),
        ("bob", "alice")
    );

    // No consented visitor id, or an anonymous hit: nothing.
    id.observe(&person_hit("alice", "hash").row(), "", NOW);
    id.observe(
        &Hit {
            consent: 0,
            ..person_hit("alice", "v-x")
        }
        .row(),
        "v-x",
        NOW,
    );
    id.observe(&person_hit("alice", "hash-not-v").row(), "v-y", NOW);
    assert!(rx.try_recv().is_err());
}

#[test]
fn overlay_gives_way_to_the_snapshot_and_to_time() {
    let (id, mut rx) = Identity::new(None, Duration::from_secs(1));
    id.install(snapshot(), NOW);
    id.observe(&person_hit("alice", "v-new").row(), "v-new", NOW);
    assert!(rx.try_recv().is_ok());
    // A reload without the link (not yet written) keeps it for a few periods ...
    id.install(snapshot(), NOW + 1_000);
    assert!(id.person_of_visitor("shop", "v-new").is_some());
    // ... then lets it go (it was erased, or the write was lost).
    id.install(snapshot(), NOW + 10_000);
    assert!(id.person_of_visitor("shop", "v-new").is_none());
    // A withdrawal in the next snapshot ends the person-level view at once.
    let mut s = snapshot();
    s.consented.remove("bob");
    id.install(s, NOW + 11_000);
    assert_eq!(id.person_of_visitor("shop", "v-old"), None);
}

#[test]
fn landing_url_carries_a_short_person_token_only_for_consenting_humans() {
    let (id, _rx) = Identity::new(Some(keys()), Duration::from_secs(15));
    let claims = Claims {
        kind: TokenKind::Click,
        kid: "k1".into(),
        expires_at: 0,
        mailing_id: "m1".into(),
        person_id: "alice".into(),
        link_id: "cta".into(),
        url: "https://shop.example.com/spring?x=1#top".into(),
    };
    let mut hit = person_hit("alice", "");
    hit.verdict = "human".into();
    let url = id.landing_url(&claims, &hit);
    let token = url
        .strip_prefix("https://shop.example.com/spring?x=1&tq_pt=")
        .and_then(|t| t.strip_suffix("#top"))
        .unwrap_or_else(|| panic!("{url}"));
    let c = keys()
        .verify_kind(token, TokenKind::Person, hit.received_at)
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(c.person_id, "alice");
    assert_eq!(c.expires_at, hit.received_at + LANDING_TOKEN_TTL_S);
    hit.verdict = "scanner".into();
    assert_eq!(id.landing_url(&claims, &hit), claims.url);
    let anonymous = Hit {
        verdict: "human".into(),
        ..Hit::default()
    };
    assert_eq!(id.landing_url(&claims, &anonymous), claims.url);
}

#[test]
fn params_are_appended_in_the_right_place() {
    let cases = [
        ("https://a.example", "https://a.example?k=v"),
        ("https://a.example/", "https://a.example/?k=v"),
        ("https://a.example/p?x=1", "https://a.example/p?x=1&k=v"),
        ("https://a.example/p?", "https://a.example/p?k=v"),
        ("https://a.example/p#f?g", "https://a.example/p?k=v#f?g"),
    ];
    for (url, want) in cases {
        assert_eq!(with_param(url, "k", "v").as_deref(), Some(want), "{url}");
    }
    let long = format!("https://a.example/{}", "x".repeat(2040));
    assert_eq!(with_param(&long, "k", "v"), None);
}

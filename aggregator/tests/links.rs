//! Signed links and person tokens: what the API hands out verifies with the keyring and says
//! what was asked; unsafe targets are refused with the field named; old links verify after a
//! key rotation.

mod support;

use common::token::{Keyring, TokenKind};
use support::{call, start, start_with};

fn token_of<'a>(url: &'a str, prefix: &str, suffix: &str) -> &'a str {
    url.strip_prefix(prefix)
        .and_then(|t| t.strip_suffix(suffix))
        .unwrap_or_else(|| panic!("{url} is not {prefix}TOKEN{suffix}"))
}

#[tokio::test]
async fn single_and_bulk_forms_sign_verifiable_urls() {
    let s = start("links_sign").await;
    let keys = Keyring::parse(support::KEYS).unwrap_or_else(|| panic!("keys"));
    let a = call(
        s.addr,
        "POST",
        "/api/links/sign",
        r#"{"mailing_id":"m1","person_id":"p1","links":[{"link_id":"cta","url":"https://shop.example.com/spring?x=1"}]}"#,
    )
    .await;
    assert_eq!(a.status, 200, "{}", a.body);
    let j = a.json();
    let open = token_of(
        j["open_url"].as_str().unwrap_or(""),
        "https://t.example.com/o/",
        ".gif",
    );
    let c = keys
        .verify_kind(open, TokenKind::Open, 1_800_000_000)
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!((c.mailing_id.as_str(), c.person_id.as_str()), ("m1", "p1"));
    assert!(c.expires_at > 1_800_000_000, "links live about two years");
    let click = token_of(
        j["links"][0]["url"].as_str().unwrap_or(""),
        "https://t.example.com/r/",
        "",
    );
    let c = keys
        .verify_kind(click, TokenKind::Click, 1_800_000_000)
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(c.url, "https://shop.example.com/spring?x=1");
    assert_eq!(c.link_id, "cta");
    assert_eq!(j["links"][0]["link_id"], "cta");

    let a = call(
        s.addr,
        "POST",
        "/api/links/sign",
        r#"{"mailing_id":"m1","links":[{"link_id":"cta","url":"https://a.example/"}],
            "recipients":[{"person_id":"p1"},{"person_id":"p2","links":[{"link_id":"own","url":"https://b.example/"}]}]}"#,
    )
    .await;
    assert_eq!(a.status, 200, "{}", a.body);
    let r = &a.json()["recipients"];
    assert_eq!(r[0]["person_id"], "p1");
    let t = token_of(
        r[1]["links"][0]["url"].as_str().unwrap_or(""),
        "https://t.example.com/r/",
        "",
    );
    let c = keys.verify(t, 0).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        (c.person_id.as_str(), c.url.as_str()),
        ("p2", "https://b.example/")
    );
    let t = token_of(
        r[0]["links"][0]["url"].as_str().unwrap_or(""),
        "https://t.example.com/r/",
        "",
    );
    assert_eq!(
        keys.verify(t, 0).map(|c| c.person_id).ok().as_deref(),
        Some("p1")
    );
}

#[tokio::test]
async fn unsafe_targets_are_refused_naming_the_field() {
    let s = start("links_unsafe").await;
    for bad in [
        "//evil.example",
        "https:\\\\evil.example",
        "https://good.example@evil.example/",
        "javascript:alert(1)",
        "data:text/html,hi",
        "https://evil.example/\r\nSet-Cookie: x=1",
        "ftp://files.example/",
        "/relative",
        "",
    ] {
        let body = serde_json::json!({"mailing_id": "m1", "person_id": "p1",
            "links": [{"link_id": "ok", "url": "https://ok.example/"}, {"link_id": "bad", "url": bad}]});
        let a = call(s.addr, "POST", "/api/links/sign", &body.to_string()).await;
        assert_eq!(a.status, 400, "{bad:?}: {}", a.body);
        assert_eq!(a.json()["field"], "links[1].url", "{bad:?}: {}", a.body);
    }
    let body = serde_json::json!({"mailing_id": "m1", "recipients": [{"person_id": "p1",
        "links": [{"link_id": "bad", "url": "javascript:x"}]}]});
    let a = call(s.addr, "POST", "/api/links/sign", &body.to_string()).await;
    assert_eq!(a.status, 400);
    assert_eq!(
        (a.json()["field"].as_str(), a.json()["index"].as_u64()),
        (Some("links[0].url"), Some(0))
    );
    let a = call(
        s.addr,
        "POST",
        "/api/links/sign",
        r#"{"person_id":"p1","links":[]}"#,
    )
    .await;
    assert_eq!(
        (a.status, a.json()["field"].as_str()),
        (400, Some("mailing_id"))
    );
}

#[tokio::test]
async fn person_tokens_expire_and_old_links_survive_rotation() {
    let db = testkit::shared_server().fresh_db("links_rotation").await;
    let before = start_with(support::config(&db, &[])).await;
    let a = call(before.addr, "POST", "/api/persons/p%201/token", "").await;
    assert_eq!(a.status, 200, "{}", a.body);
    let token = a.json()["token"].as_str().unwrap_or_default().to_string();
    let keys = Keyring::parse(support::KEYS).unwrap_or_else(|| panic!("keys"));
    let c = keys
        .verify_kind(&token, TokenKind::Person, 0)
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(c.person_id, "p 1");
    assert!(c.expires_at > 0, "person tokens expire");
    assert!(keys.verify(&token, c.expires_at + 1).is_err());

    // Rotate: a new key signs, the old one still verifies.
    let rotated = "k2:fedcba9876543210fedc,k1:0123456789abcdef0123";
    let after = start_with(support::config(&db, &[("LINK_KEYS", rotated)])).await;
    let a = call(after.addr, "POST", "/api/persons/p2/token", "").await;
    let new_token = a.json()["token"].as_str().unwrap_or_default().to_string();
    let ring = Keyring::parse(rotated).unwrap_or_else(|| panic!("keys"));
    assert_eq!(
        ring.verify(&new_token, 0).map(|c| c.kid).ok().as_deref(),
        Some("k2")
    );
    assert_eq!(
        ring.verify(&token, 0).map(|c| c.kid).ok().as_deref(),
        Some("k1")
    );
    assert!(
        keys.verify(&new_token, 0).is_err(),
        "the old ring does not know k2"
    );
}

//! The committed user-agent corpus, table-driven: every UA must classify as the corpus says.

use enrich::testdata::{parse_ua_corpus, UA_CORPUS};
use enrich::ua::classify;

#[test]
fn corpus_classifies_as_expected() {
    let text = std::fs::read_to_string(UA_CORPUS).unwrap_or_else(|e| panic!("{UA_CORPUS}: {e}"));
    let cases = parse_ua_corpus(&text).unwrap_or_else(|e| panic!("{UA_CORPUS}: {e}"));
    assert!(cases.len() >= 40, "only {} UAs", cases.len());
    let mut wrong = Vec::new();
    for c in &cases {
        let got = classify(&c.user_agent);
        let got = (
            got.browser.as_str(),
            got.os.as_str(),
            got.device,
            got.is_bot(),
        );
        let want = (
            c.browser.as_str(),
            c.os.as_str(),
            c.device.as_str(),
            c.is_bot,
        );
        if got != want {
            wrong.push(format!("{}\n  got  {got:?}\n  want {want:?}", c.user_agent));
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}

#[test]
fn corpus_covers_every_device_and_bot_kind() {
    let text = std::fs::read_to_string(UA_CORPUS).unwrap_or_default();
    let cases = parse_ua_corpus(&text).unwrap_or_default();
    for device in ["desktop", "mobile", "tablet", "bot", "other"] {
        assert!(cases.iter().any(|c| c.device == device), "no {device} UA");
    }
    let reasons: std::collections::BTreeSet<&str> = cases
        .iter()
        .map(|c| classify(&c.user_agent).bot_reason)
        .collect();
    for reason in ["crawler", "headless", "monitor", "tool", "empty_ua"] {
        assert!(reasons.contains(reason), "no {reason} UA in the corpus");
    }
}

#[test]
fn malformed_corpus_lines_are_reported() {
    assert!(parse_ua_corpus("only\ttwo").is_err());
    assert!(parse_ua_corpus("ua\tb\to\td\tyes").is_err());
    assert!(parse_ua_corpus("# comment\n\nua\tb\to\td\t1").is_ok_and(|c| c.len() == 1));
}

//! The pixel's query string: `application/x-www-form-urlencoded` pairs, decoded strictly
//! (a `%` must start a two-digit hex escape and the result must be UTF-8).

use crate::error::Rejection;
use crate::raw::{Fields, Key, RawHit};
use std::borrow::Cow;

/// Longest query string accepted, in bytes (the URL cap plus room for the other fields).
pub const MAX_QUERY: usize = 16 * 1024;

/// Parses the raw query string (after `?`) of a pixel hit. Unknown keys are ignored; when a
/// key repeats, its first value wins.
pub fn parse_query(query: &str) -> Result<RawHit, Rejection> {
    if query.len() > MAX_QUERY {
        return Err(Rejection::too_long("query", MAX_QUERY));
    }
    let mut fields = Fields::default();
    for (k, v) in pairs(query) {
        let name = decode(k).ok_or_else(|| bad_encoding("query"))?;
        let Some(key) = Key::from_name(&name) else {
            continue;
        };
        let value = decode(v).ok_or_else(|| bad_encoding(key.name()))?;
        fields.set(key, value)?;
    }
    fields.finish()
}

fn bad_encoding(field: &'static str) -> Rejection {
    Rejection::new(
        field,
        "bad_encoding",
        format!("`{field}` has a bad percent-escape or is not UTF-8"),
    )
}

/// The non-empty `key=value` pairs of a query (a pair without `=` has an empty value), found
/// in one pass over the bytes rather than a split per separator.
fn pairs(query: &str) -> impl Iterator<Item = (&str, &str)> {
    let bytes = query.as_bytes();
    let mut start = 0;
    std::iter::from_fn(move || {
        while start < bytes.len() {
            let mut eq = None;
            let mut end = bytes.len();
            for (i, &b) in bytes[start..].iter().enumerate() {
                if b == b'&' {
                    end = start + i;
                    break;
                }
                if b == b'=' && eq.is_none() {
                    eq = Some(start + i);
                }
            }
            let pair = (start, eq, end);
            start = end + 1;
            // '&' and '=' are ASCII, so these indices are char boundaries.
            match pair {
                (s, _, e) if s == e => continue,
                (s, Some(q), e) => return Some((&query[s..q], &query[q + 1..e])),
                (s, None, e) => return Some((&query[s..e], "")),
            }
        }
        None
    })
}

/// Value of a hex digit, or 0xff for any other byte.
const HEX: [u8; 256] = {
    let mut t = [0xffu8; 256];
    let mut i = 0;
    while i < 10 {
        t[b'0' as usize + i] = i as u8;
        i += 1;
    }
    let mut i = 0;
    while i < 6 {
        t[b'a' as usize + i] = 10 + i as u8;
        t[b'A' as usize + i] = 10 + i as u8;
        i += 1;
    }
    t
};

/// Form-decodes `s` (`+` is a space); `None` on a malformed escape or non-UTF-8 result.
/// Writes into a buffer sized once (the output is never longer than the input) instead of
/// pushing byte by byte with a capacity check each (decoding was the parser's largest cost).
pub(crate) fn decode(s: &str) -> Option<Cow<'_, str>> {
    let bytes = s.as_bytes();
    let Some(first) = bytes.iter().position(|&b| b == b'%' || b == b'+') else {
        return Some(Cow::Borrowed(s));
    };
    let mut out = vec![0u8; bytes.len()];
    out[..first].copy_from_slice(&bytes[..first]);
    let (mut i, mut o) = (first, first);
    while let (Some(&b), Some(slot)) = (bytes.get(i), out.get_mut(o)) {
        *slot = match b {
            b'%' => {
                let hi = HEX[usize::from(*bytes.get(i + 1)?)];
                let lo = HEX[usize::from(*bytes.get(i + 2)?)];
                if hi > 15 || lo > 15 {
                    return None;
                }
                i += 2;
                hi << 4 | lo
            }
            b'+' => b' ',
            _ => b,
        };
        i += 1;
        o += 1;
    }
    out.truncate(o);
    String::from_utf8(out).ok().map(Cow::Owned)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::raw::HitKind;

    fn reject(q: &str) -> (&'static str, &'static str) {
        match parse_query(q) {
            Ok(h) => panic!("{q:?} accepted as {h:?}"),
            Err(r) => (r.field, r.reason),
        }
    }

    #[test]
    fn minimal_pageview() {
        let h = parse_query("s=shop&u=https%3A%2F%2Fexample.com%2Fa%3Fb%3D1")
            .unwrap_or_else(|r| panic!("{r}"));
        assert_eq!(h.site, "shop");
        assert_eq!(h.kind, HitKind::Pageview);
        assert_eq!(h.url, "https://example.com/a?b=1");
        assert_eq!(h.referrer, "");
    }

    #[test]
    fn every_field() {
        let q = "s=a.b_c-1&e=event&u=https://x.example/p&r=https://google.com/&t=Hello+W%C3%B6rld\
                 &v=abcdEFGH_-12&pt=tok&n=signup&p=%7B%22plan%22%3A%22pro%22%7D\
                 &id=67E55044-10B1-426F-9247-BB680E5FE0C8&sw=1920&sh=1080&lang=de-DE&zz=ignored";
        let h = parse_query(q).unwrap_or_else(|r| panic!("{r}"));
        let want = RawHit {
            site: "a.b_c-1".into(),
            kind: HitKind::Event,
            url: "https://x.example/p".into(),
            referrer: "https://google.com/".into(),
            title: "Hello Wörld".into(),
            visitor: "abcdEFGH_-12".into(),
            person_token: "tok".into(),
            event_name: "signup".into(),
            props: r#"{"plan":"pro"}"#.into(),
            client_id: "67e55044-10b1-426f-9247-bb680e5fe0c8".into(),
            screen_w: 1920,
            screen_h: 1080,
            lang: "de-DE".into(),
        };
        assert_eq!(h, want);
    }

    #[test]
    fn first_value_wins_and_empty_pairs_skip() {
        let h = parse_query("&&s=one&s=two&u=https://a.b/&&t=").unwrap_or_else(|r| panic!("{r}"));
        assert_eq!(h.site, "one");
        assert_eq!(h.title, "");
    }

    #[test]
    fn rejections_name_the_field() {
        let long_url = format!("s=a&u=https://a.b/{}", "x".repeat(4096));
        let long_title = format!("s=a&u=https://a.b/&t={}", "é".repeat(513));
        let cases: &[(&str, (&str, &str))] = &[
            ("", ("s", "missing_field")),
            ("u=https://a.b/", ("s", "missing_field")),
            ("s=a", ("u", "missing_field")),
            ("s=&u=https://a.b/", ("s", "missing_field")),
            ("s=a%20b&u=https://a.b/", ("s", "bad_value")),
            ("s=a&u=ftp://a.b/", ("u", "bad_url")),
            ("s=a&u=javascript:alert(1)", ("u", "bad_url")),
            ("s=a&u=/relative", ("u", "bad_url")),
            ("s=a&u=https://a.b/%", ("u", "bad_encoding")),
            ("s=a&u=https://a.b/%4", ("u", "bad_encoding")),
            ("s=a&u=https://a.b/%zz", ("u", "bad_encoding")),
            ("s=a&u=https://a.b/&t=%FF%FE", ("t", "bad_encoding")),
            ("s%=a&u=https://a.b/", ("query", "bad_encoding")),
            (&long_url, ("u", "too_long")),
            (&long_title, ("t", "too_long")),
            ("s=a&u=https://a.b/&e=click", ("e", "bad_value")),
            ("s=a&u=https://a.b/&e=event", ("n", "missing_field")),
            ("s=a&u=https://a.b/&v=short", ("v", "bad_value")),
            ("s=a&u=https://a.b/&v=has+space1", ("v", "bad_value")),
            ("s=a&u=https://a.b/&id=nope", ("id", "bad_value")),
            ("s=a&u=https://a.b/&sw=70000", ("sw", "bad_value")),
            ("s=a&u=https://a.b/&sh=-1", ("sh", "bad_value")),
            ("s=a&u=https://a.b/&lang=en%20US", ("lang", "bad_value")),
            ("s=a&u=https://a.b/&r=https://x/%0A", ("r", "bad_url")),
            ("s=a&u=https://a.b/&e=event&n=x&p=%5B%5D", ("p", "bad_json")),
            (
                "s=a&u=https://a.b/&e=event&n=x&p=%7B%22a%22%3A%7B%7D%7D",
                ("p", "nested"),
            ),
            ("s=a&u=https://a.b/&e=event&n=a%0Ab", ("n", "bad_value")),
        ];
        for (q, want) in cases {
            assert_eq!(reject(q), *want, "{q}");
        }
        let huge = "x".repeat(MAX_QUERY + 1);
        assert_eq!(reject(&huge), ("query", "too_long"));
    }

    #[test]
    fn decode_table() {
        assert_eq!(decode("a+b%2B").as_deref(), Some("a b+"));
        assert_eq!(decode("%C3%A9").as_deref(), Some("é"));
        assert_eq!(decode("%c3%a9").as_deref(), Some("é"));
        assert_eq!(decode("%C3"), None);
        assert_eq!(decode("%"), None);
        assert_eq!(decode("%%41"), None);
        assert!(matches!(decode("plain"), Some(Cow::Borrowed("plain"))));
        assert_eq!(decode("%0g"), None);
        assert_eq!(decode("%g0"), None);
        assert_eq!(
            decode("%ff%FF").map(|c| c.len()),
            None,
            "0xff twice is not UTF-8"
        );
        assert_eq!(decode("%41%7a").as_deref(), Some("Az"));
    }

    #[test]
    fn pairs_table() {
        let got: Vec<(&str, &str)> = pairs("a=1&&b&c=x=y&=v&").collect();
        assert_eq!(got, [("a", "1"), ("b", ""), ("c", "x=y"), ("", "v")]);
        assert_eq!(pairs("").count(), 0);
        assert_eq!(pairs("&&&").count(), 0);
    }
}

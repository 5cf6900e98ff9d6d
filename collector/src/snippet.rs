//! The tags a site pastes into its pages (`collector snippet --site ID --origin URL`): the
//! async tracker script and the `<noscript>` pixel. Pure text; the CLI wrapper only prints.

/// Why no snippet can be made.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SnippetError {
    /// The site id is not 1-64 of `[A-Za-z0-9._-]` (what the collector accepts as `s`).
    #[error("--site {0:?}: expected 1-64 of [A-Za-z0-9._-]")]
    Site(String),
    /// The origin is not an absolute http(s) URL without query, fragment or quotes.
    #[error("--origin {0:?}: expected an absolute http(s) URL such as https://t.example.com (a path is allowed, no query or fragment)")]
    Origin(String),
    /// The command line is not `snippet --site ID --origin URL`.
    #[error("{0}; usage: collector snippet --site ID --origin URL")]
    Usage(String),
}

fn valid_site(site: &str) -> bool {
    (1..=64).contains(&site.len())
        && site
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b))
}

/// The origin without its trailing slashes, if it is usable inside an HTML attribute as-is.
fn clean_origin(origin: &str) -> Option<&str> {
    let rest = origin
        .strip_prefix("https://")
        .or_else(|| origin.strip_prefix("http://"))?;
    let host = rest.split('/').next().unwrap_or("");
    let safe = origin
        .bytes()
        .all(|b| b.is_ascii_graphic() && !b"\"'<>`?#\\&".contains(&b));
    (safe && !host.is_empty() && !host.starts_with(':')).then(|| origin.trim_end_matches('/'))
}

/// The HTML to paste into every page, just before `</body>`. When the origin has a path (the
/// collector behind the site's own proxy), `data-collector` names it, because the tracker's
/// default destination is the bare origin its script came from.
pub fn snippet(site: &str, origin: &str) -> Result<String, SnippetError> {
    if !valid_site(site) {
        return Err(SnippetError::Site(site.to_string()));
    }
    let base = clean_origin(origin).ok_or_else(|| SnippetError::Origin(origin.to_string()))?;
    let scheme_end = base.find("://").map_or(0, |i| i + 3);
    let collector = if base[scheme_end..].contains('/') {
        format!(" data-collector=\"{base}\"")
    } else {
        String::new()
    };
    Ok(format!(
        "<!-- tq tracker: paste just before </body> on every page. Commands: README, Tracker. -->\n\
         <script async src=\"{base}/t.js\" data-site=\"{site}\"{collector}></script>\n\
         <!-- Without JavaScript: replace PAGE_URL with the page's URL, URL-encoded. -->\n\
         <noscript><img src=\"{base}/p.gif?s={site}&amp;u=PAGE_URL\" alt=\"\" width=\"1\" height=\"1\"></noscript>\n"
    ))
}

/// `collector snippet --site ID --origin URL`: `None` when `args` (without the program name)
/// are not a snippet command; otherwise prints the snippet (or the error) and returns the
/// exit code (0, or 64 for bad arguments).
pub fn command(args: &[String]) -> Option<u8> {
    let (first, rest) = args.split_first()?;
    if first != "snippet" {
        return None;
    }
    match parse_and_make(rest) {
        Ok(text) => {
            print!("{text}");
            Some(0)
        }
        Err(e) => {
            eprintln!("collector snippet: {e}");
            Some(64)
        }
    }
}

fn parse_and_make(args: &[String]) -> Result<String, SnippetError> {
    let (mut site, mut origin) = (None, None);
    let mut it = args.iter();
    while let Some(a) = it.next() {
        let (key, inline) = match a.split_once('=') {
            Some((k, v)) => (k, Some(v.to_string())),
            None => (a.as_str(), None),
        };
        let slot = match key {
            "--site" => &mut site,
            "--origin" => &mut origin,
            other => return Err(SnippetError::Usage(format!("unknown argument {other:?}"))),
        };
        let value = inline.or_else(|| it.next().cloned());
        *slot = Some(value.ok_or_else(|| SnippetError::Usage(format!("{key} needs a value")))?);
    }
    match (site, origin) {
        (Some(s), Some(o)) => snippet(&s, &o),
        _ => Err(SnippetError::Usage(
            "both --site and --origin are required".into(),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(s: &str) -> Vec<String> {
        s.split_whitespace().map(String::from).collect()
    }

    #[test]
    fn tags_for_a_plain_origin() {
        let text = snippet("shop-1", "https://t.example.com/").unwrap_or_default();
        assert!(text.contains(
            "<script async src=\"https://t.example.com/t.js\" data-site=\"shop-1\"></script>"
        ));
        assert!(text.contains(
            "<noscript><img src=\"https://t.example.com/p.gif?s=shop-1&amp;u=PAGE_URL\""
        ));
        assert!(!text.contains("data-collector"));
    }

    #[test]
    fn a_proxied_path_is_named_as_the_collector() {
        let text = snippet("a.b", "https://www.example.com/stats").unwrap_or_default();
        assert!(text.contains(
            "src=\"https://www.example.com/stats/t.js\" data-site=\"a.b\" data-collector=\"https://www.example.com/stats\""
        ));
    }

    #[test]
    fn bad_input_is_refused_not_escaped_into_html() {
        let cases: &[(&str, &str, &str)] = &[
            ("", "https://t.example.com", "--site"),
            ("a b", "https://t.example.com", "--site"),
            (&"x".repeat(65), "https://t.example.com", "--site"),
            ("s\"><script>", "https://t.example.com", "--site"),
            ("s", "t.example.com", "--origin"),
            ("s", "ftp://t.example.com", "--origin"),
            ("s", "https://", "--origin"),
            ("s", "https://:80", "--origin"),
            ("s", "https://t.example.com/?x=1", "--origin"),
            ("s", "https://t.example.com/#x", "--origin"),
            ("s", "https://t.example.com/\"onload=\"x", "--origin"),
            ("s", "https://t.example.com/a b", "--origin"),
        ];
        for (site, origin, flag) in cases {
            let err = snippet(site, origin).err().map(|e| e.to_string());
            assert!(
                err.as_deref().is_some_and(|e| e.starts_with(flag)),
                "{site:?} {origin:?}: {err:?}"
            );
        }
    }

    #[test]
    fn command_line() {
        assert_eq!(command(&args("--config x.toml")), None);
        assert_eq!(command(&[]), None);
        assert_eq!(
            command(&args("snippet --site s --origin https://t.example.com")),
            Some(0)
        );
        assert_eq!(
            command(&args("snippet --site=s --origin=http://127.0.0.1:8080")),
            Some(0)
        );
        assert_eq!(command(&args("snippet --site s")), Some(64));
        assert_eq!(command(&args("snippet --site")), Some(64));
        assert_eq!(command(&args("snippet --bogus 1")), Some(64));
        assert_eq!(
            parse_and_make(&args("--origin https://t.example.com --site s")),
            snippet("s", "https://t.example.com")
        );
    }
}

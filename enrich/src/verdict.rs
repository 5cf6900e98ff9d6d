//! The machine verdict of a mailing open or click: Apple Mail Privacy Protection prefetch,
//! link scanner, human, or unknown. Pure: everything it needs (the request, the send time,
//! the recipient's recent clicks) comes in as arguments, and it reads no clock.
//!
//! A verdict is stored beside the hit (`hits.verdict`), never a reason to drop it; the
//! response metrics report raw and human figures side by side. `apple_mpp` and `scanner` are
//! machine verdicts; `human` and `unknown` are not.

use std::net::IpAddr;

/// What the event most likely was.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// A person: a browser or mail client fetched it.
    Human,
    /// Apple Mail Privacy Protection prefetched the open pixel.
    AppleMpp,
    /// A link scanner, preview bot or HTTP library.
    Scanner,
    /// Nothing to tell either way (no user agent, a caching mail proxy).
    Unknown,
}

impl Verdict {
    /// The value stored in `hits.verdict`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Human => "human",
            Self::AppleMpp => "apple_mpp",
            Self::Scanner => "scanner",
            Self::Unknown => "unknown",
        }
    }

    /// True for the verdicts the human-only figures leave out.
    pub fn is_machine(self) -> bool {
        matches!(self, Self::AppleMpp | Self::Scanner)
    }
}

/// A click this soon after the send was made by a machine: security gateways follow every
/// link on delivery, people need longer to open, read and click.
pub const SCANNER_AFTER_SEND_S: u64 = 10;
/// Two clicks of one recipient on different links this close together are a scanner walking
/// the mail.
pub const BURST_MS: u64 = 2_000;
/// This many different links of one mail clicked within [`SPREE_WINDOW_MS`] is a scanner
/// clicking every link at once.
pub const SPREE_LINKS: usize = 3;
/// Window for [`SPREE_LINKS`].
pub const SPREE_WINDOW_MS: u64 = 10_000;

/// What the recipient's earlier clicks on the same mailing say.
#[derive(Debug, Clone, Copy, Default)]
pub struct PriorClicks {
    /// Time of the latest earlier click on a different link (Unix ms).
    pub last_other_link_ms: Option<u64>,
    /// Different links (this one included) clicked within [`SPREE_WINDOW_MS`] before now.
    pub distinct_links_in_window: usize,
}

/// Everything the verdict looks at.
#[derive(Debug, Clone, Copy)]
pub struct MailingSignal<'a> {
    /// A click (else an open).
    pub is_click: bool,
    /// `User-Agent`, empty when absent.
    pub user_agent: &'a str,
    /// Full client IP (before truncation).
    pub ip: IpAddr,
    /// The request was a HEAD.
    pub method_head: bool,
    /// When the event arrived (Unix ms).
    pub now_ms: u64,
    /// When the mail went to this recipient (Unix s), if known.
    pub sent_at_s: Option<u32>,
    /// The recipient's earlier clicks on this mailing (clicks only).
    pub prior: PriorClicks,
}

/// Substrings (lower case) of user agents that are never a person reading mail.
const SCANNER_AGENTS: &[&str] = &[
    "barracuda",
    "mimecast",
    "proofpoint",
    "messagelabs",
    "symantec",
    "forcepoint",
    "trendmicro",
    "trend micro",
    "sophos",
    "fireeye",
    "ironport",
    "cisco",
    "zscaler",
    "safelinks",
    "safe links",
    "microsoft office protocol discovery",
    "bitdefender",
    "checkpoint",
    "paloalto",
    "spamtitan",
    "vadesecure",
    "hornetsecurity",
    "slackbot",
    "twitterbot",
    "facebookexternalhit",
    "linkedinbot",
    "whatsapp",
    "skypeuripreview",
    "discordbot",
    "telegrambot",
    "headlesschrome",
    "phantomjs",
    "python-requests",
    "python-urllib",
    "aiohttp",
    "go-http-client",
    "java/",
    "okhttp",
    "libwww-perl",
    "curl/",
    "wget/",
    "httpclient",
    "node-fetch",
    "axios/",
    "scrapy",
    "bot/",
    "bot;",
    "crawler",
    "spider",
    "scanner",
    "preview",
];

/// Caching image proxies of webmail: they fetch when a person opens, but hide who and how.
const MAIL_PROXIES: &[&str] = &["googleimageproxy", "yahoomailproxy", "ymailproxy"];

/// Apple's own network (17.0.0.0/8, 2620:149::/32), where Mail Privacy Protection fetches.
pub fn is_apple_network(ip: IpAddr) -> bool {
    match ip.to_canonical() {
        IpAddr::V4(v4) => v4.octets()[0] == 17,
        IpAddr::V6(v6) => {
            let s = v6.segments();
            s[0] == 0x2620 && s[1] == 0x0149
        }
    }
}

/// The verdict and a short reason (for logs and tests).
pub fn verdict(sig: &MailingSignal<'_>) -> (Verdict, &'static str) {
    if sig.method_head {
        return (Verdict::Scanner, "head_request");
    }
    let ua = sig.user_agent.trim();
    let lower = ua.to_ascii_lowercase();
    if SCANNER_AGENTS.iter().any(|s| lower.contains(s)) {
        return (Verdict::Scanner, "scanner_agent");
    }
    if !sig.is_click {
        // MPP fetches with the bare agent "Mozilla/5.0" from Apple's network.
        if ua == "Mozilla/5.0" {
            return (Verdict::AppleMpp, "apple_mpp_agent");
        }
        if is_apple_network(sig.ip) {
            return (Verdict::AppleMpp, "apple_network");
        }
    } else {
        if is_apple_network(sig.ip) {
            // Apple does not click for people; its link previews do.
            return (Verdict::Scanner, "apple_network_click");
        }
        if let Some(sent) = sig.sent_at_s {
            let sent_ms = u64::from(sent) * 1000;
            if sig.now_ms >= sent_ms && sig.now_ms - sent_ms < SCANNER_AFTER_SEND_S * 1000 {
                return (Verdict::Scanner, "too_soon_after_send");
            }
        }
        if sig
            .prior
            .last_other_link_ms
            .is_some_and(|t| sig.now_ms.saturating_sub(t) < BURST_MS)
        {
            return (Verdict::Scanner, "click_burst");
        }
        if sig.prior.distinct_links_in_window >= SPREE_LINKS {
            return (Verdict::Scanner, "every_link_clicked");
        }
    }
    if ua.is_empty() {
        return (Verdict::Unknown, "no_agent");
    }
    if MAIL_PROXIES.iter().any(|p| lower.contains(p)) {
        return (Verdict::Unknown, "mail_proxy");
    }
    if lower.starts_with("mozilla/") && ua.len() > "Mozilla/5.0".len() {
        return (Verdict::Human, "browser");
    }
    if lower.contains("outlook") || lower.contains("thunderbird") || lower.contains("mail") {
        return (Verdict::Human, "mail_client");
    }
    (Verdict::Unknown, "unrecognised_agent")
}

#[cfg(test)]
mod tests {
    use super::*;

    const SAFARI: &str = "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.1 Safari/605.1.15";
    const CHROME: &str = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36";

    fn sig(is_click: bool, ua: &'static str, ip: &str) -> MailingSignal<'static> {
        MailingSignal {
            is_click,
            user_agent: ua,
            ip: ip.parse().unwrap_or(IpAddr::from([0, 0, 0, 0])),
            method_head: false,
            now_ms: 1_772_400_000_000,
            sent_at_s: Some(1_772_300_000),
            prior: PriorClicks::default(),
        }
    }

    #[test]
    fn table() {
        let now_s = 1_772_400_000u32;
        let cases: Vec<(MailingSignal<'static>, Verdict, &str)> = vec![
            (sig(false, "Mozilla/5.0", "17.58.1.2"), Verdict::AppleMpp, "apple_mpp_agent"),
            (sig(false, "Mozilla/5.0", "203.0.113.9"), Verdict::AppleMpp, "apple_mpp_agent"),
            (sig(false, SAFARI, "17.58.1.2"), Verdict::AppleMpp, "apple_network"),
            (sig(false, SAFARI, "2620:149:a:b::1"), Verdict::AppleMpp, "apple_network"),
            (sig(false, SAFARI, "::ffff:17.1.2.3"), Verdict::AppleMpp, "apple_network"),
            (sig(false, SAFARI, "203.0.113.9"), Verdict::Human, "browser"),
            (sig(false, "", "203.0.113.9"), Verdict::Unknown, "no_agent"),
            (
                sig(false, "Mozilla/5.0 (Windows NT 5.1; rv:11.0) Gecko Firefox/11.0 (via ggpht.com GoogleImageProxy)", "66.102.1.1"),
                Verdict::Unknown,
                "mail_proxy",
            ),
            (sig(false, "Microsoft Office/16.0 (Microsoft Outlook 16.0.1)", "198.51.100.1"), Verdict::Human, "mail_client"),
            (sig(true, CHROME, "198.51.100.1"), Verdict::Human, "browser"),
            (sig(true, "Mozilla/5.0 (compatible; Barracuda Sentinel)", "198.51.100.1"), Verdict::Scanner, "scanner_agent"),
            (sig(true, "python-requests/2.31", "198.51.100.1"), Verdict::Scanner, "scanner_agent"),
            (sig(true, "Slackbot-LinkExpanding 1.0 (+https://api.slack.com/robots)", "198.51.100.1"), Verdict::Scanner, "scanner_agent"),
            (sig(true, "Mozilla/5.0 HeadlessChrome/120.0", "198.51.100.1"), Verdict::Scanner, "scanner_agent"),
            (sig(true, CHROME, "17.10.10.10"), Verdict::Scanner, "apple_network_click"),
            (
                MailingSignal { method_head: true, ..sig(true, CHROME, "198.51.100.1") },
                Verdict::Scanner,
                "head_request",
            ),
            (
                MailingSignal { sent_at_s: Some(now_s - 3), ..sig(true, CHROME, "198.51.100.1") },
                Verdict::Scanner,
                "too_soon_after_send",
            ),
            (
                MailingSignal { sent_at_s: Some(now_s - 60), ..sig(true, CHROME, "198.51.100.1") },
                Verdict::Human,
                "browser",
            ),
            (
                // An open right after the send is a person with the mail open: not a scanner.
                MailingSignal { sent_at_s: Some(now_s - 3), ..sig(false, CHROME, "198.51.100.1") },
                Verdict::Human,
                "browser",
            ),
            (
                MailingSignal {
                    prior: PriorClicks { last_other_link_ms: Some(1_772_400_000_000 - 500), distinct_links_in_window: 2 },
                    ..sig(true, CHROME, "198.51.100.1")
                },
                Verdict::Scanner,
                "click_burst",
            ),
            (
                MailingSignal {
                    prior: PriorClicks { last_other_link_ms: Some(1_772_400_000_000 - 4_000), distinct_links_in_window: 3 },
                    ..sig(true, CHROME, "198.51.100.1")
                },
                Verdict::Scanner,
                "every_link_clicked",
            ),
            (
                MailingSignal {
                    prior: PriorClicks { last_other_link_ms: Some(1_772_400_000_000 - 30_000), distinct_links_in_window: 1 },
                    ..sig(true, CHROME, "198.51.100.1")
                },
                Verdict::Human,
                "browser",
            ),
            (sig(true, "SomeTool", "198.51.100.1"), Verdict::Unknown, "unrecognised_agent"),
        ];
        for (i, (s, want, reason)) in cases.iter().enumerate() {
            assert_eq!(verdict(s), (*want, *reason), "case {i}: {s:?}");
        }
    }

    #[test]
    fn machine_verdicts() {
        assert!(Verdict::AppleMpp.is_machine() && Verdict::Scanner.is_machine());
        assert!(!Verdict::Human.is_machine() && !Verdict::Unknown.is_machine());
        assert_eq!(Verdict::AppleMpp.as_str(), "apple_mpp");
    }
}

//! The bot verdict from a user agent: crawlers, headless browsers, monitoring agents and
//! HTTP tools. Hits from them are stored with `is_bot = 1` and a reason, never dropped, so an
//! analyst can always see (and argue with) what was excluded.

/// Headless and automation browsers.
const HEADLESS: &[&str] = &[
    "headlesschrome",
    "phantomjs",
    "playwright",
    "puppeteer",
    "slimerjs",
    "htmlunit",
    "chrome-lighthouse",
    "electron-headless",
];

/// Uptime and synthetic-monitoring agents.
const MONITORS: &[&str] = &[
    "uptimerobot",
    "pingdom",
    "statuscake",
    "site24x7",
    "datadogsynthetics",
    "datadog agent",
    "newrelicpinger",
    "betteruptime",
    "better uptime",
    "checkly",
    "freshping",
    "uptime-kuma",
    "hetrixtools",
    "nagios",
    "zabbix",
    "monitis",
];

/// HTTP libraries and command-line tools, matched at the start of the UA.
const TOOLS: &[&str] = &[
    "curl/",
    "wget/",
    "python-requests/",
    "python-urllib/",
    "python-httpx/",
    "aiohttp/",
    "go-http-client/",
    "okhttp/",
    "java/",
    "apache-httpclient/",
    "libwww-perl/",
    "axios/",
    "node-fetch",
    "undici",
    "got (",
    "ruby",
    "php/",
    "guzzlehttp/",
    "httpie/",
    "postmanruntime/",
    "insomnia/",
    "k6/",
    "wrk",
];

/// Crawler markers anywhere in the UA (beyond what woothee already knows).
const CRAWLERS: &[&str] = &[
    "bot/",
    "bot;",
    "bot)",
    "bot ",
    "bot-",
    "bot_",
    "-bot",
    "crawler",
    "crawl/",
    "spider",
    "slurp",
    "facebookexternalhit",
    "mediapartners-google",
    "feedfetcher",
    "archiver",
    "httrack",
    "scrapy",
    "bingpreview",
    "preview/",
    "+http",
];

/// Why a UA looks automated (`empty_ua`, `headless`, `monitor`, `tool`, `crawler`), or None.
/// `woothee_category` is woothee's category for the same UA (`crawler` counts).
pub fn bot_reason(user_agent: &str, woothee_category: &str) -> Option<&'static str> {
    let ua = user_agent.trim();
    if ua.is_empty() || ua == "-" {
        return Some("empty_ua");
    }
    let lower = ua.to_ascii_lowercase();
    if HEADLESS.iter().any(|m| lower.contains(m)) {
        return Some("headless");
    }
    if MONITORS.iter().any(|m| lower.contains(m)) {
        return Some("monitor");
    }
    if TOOLS.iter().any(|m| lower.starts_with(m)) {
        return Some("tool");
    }
    if woothee_category == "crawler" {
        return Some("crawler");
    }
    // "Cubot" is a phone maker whose models say e.g. "CUBOT_X30 Build": not a crawler.
    let scrubbed = lower.replace("cubot", "cu");
    if CRAWLERS.iter().any(|m| scrubbed.contains(m)) {
        return Some("crawler");
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table() {
        let cases: &[(&str, Option<&str>)] = &[
            ("", Some("empty_ua")),
            ("  ", Some("empty_ua")),
            ("-", Some("empty_ua")),
            ("Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) HeadlessChrome/120.0.0.0 Safari/537.36", Some("headless")),
            ("Mozilla/5.0 (Unknown; Linux x86_64) AppleWebKit/538.1 (KHTML, like Gecko) PhantomJS/2.1.1 Safari/538.1", Some("headless")),
            ("Mozilla/5.0 (compatible; UptimeRobot/2.0; http://www.uptimerobot.com/)", Some("monitor")),
            ("Pingdom.com_bot_version_1.4_(http://www.pingdom.com/)", Some("monitor")),
            ("Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36 DatadogSynthetics", Some("monitor")),
            ("curl/8.5.0", Some("tool")),
            ("python-requests/2.31.0", Some("tool")),
            ("Go-http-client/1.1", Some("tool")),
            ("Wget/1.21.4", Some("tool")),
            ("Mozilla/5.0 (compatible; SemrushBot/7~bl; +http://www.semrush.com/bot.html)", Some("crawler")),
            ("facebookexternalhit/1.1 (+http://www.facebook.com/externalhit_uatext.php)", Some("crawler")),
            ("Mozilla/5.0 (Linux; Android 10; CUBOT_X30 Build/QP1A) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/90.0.4430.91 Mobile Safari/537.36", None),
            ("Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36", None),
            ("Mozilla/5.0 (iPhone; CPU iPhone OS 17_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.1 Mobile/15E148 Safari/604.1", None),
        ];
        for (ua, want) in cases {
            assert_eq!(bot_reason(ua, ""), *want, "{ua}");
        }
        assert_eq!(bot_reason("Googlebot", "crawler"), Some("crawler"));
    }
}

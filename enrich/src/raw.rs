//! The parsed hit ([`RawHit`]) and the per-field rules both the pixel query and the beacon
//! body go through, so the two entry points accept exactly the same hits.

use crate::error::Rejection;
use crate::url::split_http_url;
use std::borrow::Cow;

/// Longest site id.
pub const MAX_SITE: usize = 64;
/// Longest page or referrer URL, in bytes.
pub const MAX_URL: usize = 4096;
/// Longest page title, in characters.
pub const MAX_TITLE_CHARS: usize = 512;
/// Shortest and longest visitor id.
pub const VISITOR_LEN: std::ops::RangeInclusive<usize> = 8..=64;
/// Longest custom event name, in characters.
pub const MAX_EVENT_NAME_CHARS: usize = 200;
/// Longest custom properties object, as normalised JSON text in bytes.
pub const MAX_PROPS: usize = 2048;
/// Longest language tag (BCP 47 tags are at most 35 characters).
pub const MAX_LANG: usize = 35;

/// Hit type sent by the tracker (`e`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub enum HitKind {
    /// A page was viewed (the default).
    #[default]
    Pageview,
    /// A custom event (`n`, `p`).
    Event,
    /// The page is still open (time on page).
    Ping,
    /// A click on a link to another site.
    Outbound,
    /// A click on a download link.
    Download,
}

impl HitKind {
    /// The `type` column value.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pageview => "pageview",
            Self::Event => "event",
            Self::Ping => "ping",
            Self::Outbound => "outbound",
            Self::Download => "download",
        }
    }

    /// The kind named by `e`.
    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "pageview" => Self::Pageview,
            "event" => Self::Event,
            "ping" => Self::Ping,
            "outbound" => Self::Outbound,
            "download" => Self::Download,
            _ => return None,
        })
    }
}

/// A hit as sent, checked for shape but not yet enriched. Optional fields are empty when
/// absent (and `screen_w`/`screen_h` zero).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RawHit {
    /// Site id (`s`).
    pub site: String,
    /// Hit type (`e`).
    pub kind: HitKind,
    /// Page URL, absolute http(s) (`u`).
    pub url: String,
    /// Referrer URL (`r`), as sent.
    pub referrer: String,
    /// Page title (`t`).
    pub title: String,
    /// Visitor id chosen by the tracker with consent (`v`).
    pub visitor: String,
    /// Signed person token (`pt`), not yet verified.
    pub person_token: String,
    /// Custom event name (`n`).
    pub event_name: String,
    /// Custom properties (`p`) as normalised JSON text (compact, keys sorted), or empty.
    pub props: String,
    /// Client-chosen event id (`id`), lower-case hyphenated UUID.
    pub client_id: String,
    /// Screen width (`sw`).
    pub screen_w: u16,
    /// Screen height (`sh`).
    pub screen_h: u16,
    /// Browser language (`lang`).
    pub lang: String,
}

/// The keys a hit may carry; anything else is ignored.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Key {
    Site,
    Kind,
    Url,
    Referrer,
    Title,
    Visitor,
    PersonToken,
    EventName,
    Props,
    ClientId,
    ScreenW,
    ScreenH,
    Lang,
}

impl Key {
    pub(crate) fn from_name(name: &str) -> Option<Self> {
        Some(match name {
            "s" => Self::Site,
            "e" => Self::Kind,
            "u" => Self::Url,
            "r" => Self::Referrer,
            "t" => Self::Title,
            "v" => Self::Visitor,
            "pt" => Self::PersonToken,
            "n" => Self::EventName,
            "p" => Self::Props,
            "id" => Self::ClientId,
            "sw" => Self::ScreenW,
            "sh" => Self::ScreenH,
            "lang" => Self::Lang,
            _ => return None,
        })
    }

    /// The parameter name, as rejections report it.
    pub(crate) fn name(self) -> &'static str {
        match self {
            Self::Site => "s",
            Self::Kind => "e",
            Self::Url => "u",
            Self::Referrer => "r",
            Self::Title => "t",
            Self::Visitor => "v",
            Self::PersonToken => "pt",
            Self::EventName => "n",
            Self::Props => "p",
            Self::ClientId => "id",
            Self::ScreenW => "sw",
            Self::ScreenH => "sh",
            Self::Lang => "lang",
        }
    }

    fn bit(self) -> u16 {
        1 << (self as u16)
    }
}

/// Collects the fields of one hit, checking each as it arrives.
#[derive(Debug, Default)]
pub(crate) struct Fields {
    hit: RawHit,
    /// Keys already set: the first occurrence of a repeated key wins.
    seen: u16,
}

fn id_chars(s: &str, extra: &[u8]) -> bool {
    s.bytes()
        .all(|b| b.is_ascii_alphanumeric() || extra.contains(&b))
}

impl Fields {
    /// Sets `key` from its decoded text value. An empty value counts as absent.
    /// Takes the value by `Cow` so an already owned (decoded) string is moved, not copied.
    pub(crate) fn set(&mut self, key: Key, value: Cow<'_, str>) -> Result<(), Rejection> {
        if self.seen & key.bit() != 0 || value.is_empty() {
            return Ok(());
        }
        let owned = value;
        let value: &str = &owned;
        self.seen |= key.bit();
        let f = key.name();
        let h = &mut self.hit;
        match key {
            Key::Site => {
                if value.len() > MAX_SITE {
                    return Err(Rejection::too_long(f, MAX_SITE));
                }
                if !id_chars(value, b"._-") {
                    return Err(Rejection::bad_value(f, "1-64 of [A-Za-z0-9._-]"));
                }
                h.site = owned.into_owned();
            }
            Key::Kind => {
                h.kind = HitKind::parse(value).ok_or_else(|| {
                    Rejection::bad_value(f, "one of pageview, event, ping, outbound, download")
                })?;
            }
            Key::Url => {
                if value.len() > MAX_URL {
                    return Err(Rejection::too_long(f, MAX_URL));
                }
                if split_http_url(value).is_none() {
                    return Err(Rejection::new(
                        f,
                        "bad_url",
                        "`u` must be an absolute http(s) URL",
                    ));
                }
                h.url = owned.into_owned();
            }
            Key::Referrer => {
                // Any referrer is kept (android-app://… is real); only its size is capped.
                if value.len() > MAX_URL {
                    return Err(Rejection::too_long(f, MAX_URL));
                }
                if value.bytes().any(|b| b.is_ascii_control()) {
                    return Err(Rejection::new(
                        f,
                        "bad_url",
                        "`r` contains control characters",
                    ));
                }
                h.referrer = owned.into_owned();
            }
            Key::Title => {
                if value.len() > MAX_TITLE_CHARS && value.chars().count() > MAX_TITLE_CHARS {
                    return Err(Rejection::too_long(f, MAX_TITLE_CHARS));
                }
                h.title = owned.into_owned();
            }
            Key::Visitor => {
                if !VISITOR_LEN.contains(&value.len()) || !id_chars(value, b"_-") {
                    return Err(Rejection::bad_value(f, "8-64 of [A-Za-z0-9_-]"));
                }
                h.visitor = owned.into_owned();
            }
            Key::PersonToken => {
                if value.len() > common::token::MAX_TOKEN_LEN {
                    return Err(Rejection::too_long(f, common::token::MAX_TOKEN_LEN));
                }
                h.person_token = owned.into_owned();
            }
            Key::EventName => {
                if value.len() > MAX_EVENT_NAME_CHARS
                    && value.chars().count() > MAX_EVENT_NAME_CHARS
                {
                    return Err(Rejection::too_long(f, MAX_EVENT_NAME_CHARS));
                }
                if value.chars().any(char::is_control) {
                    return Err(Rejection::bad_value(f, "free of control characters"));
                }
                h.event_name = owned.into_owned();
            }
            Key::Props => h.props = crate::props::normalize_text(value)?,
            Key::ClientId => {
                let id =
                    uuid::Uuid::try_parse(value).map_err(|_| Rejection::bad_value(f, "a UUID"))?;
                h.client_id = id.hyphenated().to_string();
            }
            Key::ScreenW | Key::ScreenH => {
                let n: u16 = value
                    .parse()
                    .map_err(|_| Rejection::bad_value(f, "a whole number 0-65535"))?;
                if key == Key::ScreenW {
                    h.screen_w = n;
                } else {
                    h.screen_h = n;
                }
            }
            Key::Lang => {
                if value.len() > MAX_LANG {
                    return Err(Rejection::too_long(f, MAX_LANG));
                }
                if !id_chars(value, b"-_") {
                    return Err(Rejection::bad_value(f, "a language tag like en-US"));
                }
                h.lang = owned.into_owned();
            }
        }
        Ok(())
    }

    /// Sets the properties from an already parsed JSON object (beacons may send `p` as one).
    pub(crate) fn set_props_value(&mut self, value: &serde_json::Value) -> Result<(), Rejection> {
        if self.seen & Key::Props.bit() != 0 {
            return Ok(());
        }
        self.seen |= Key::Props.bit();
        self.hit.props = crate::props::normalize_value(value)?;
        Ok(())
    }

    /// Checks what only the whole hit can tell (required fields) and returns it.
    pub(crate) fn finish(self) -> Result<RawHit, Rejection> {
        let h = self.hit;
        if h.site.is_empty() {
            return Err(Rejection::missing("s"));
        }
        if h.url.is_empty() {
            return Err(Rejection::missing("u"));
        }
        if h.kind == HitKind::Event && h.event_name.is_empty() {
            return Err(Rejection::new(
                "n",
                "missing_field",
                "an `event` hit needs `n`",
            ));
        }
        Ok(h)
    }
}

//! Signed URLs for mailings (`POST /api/links/sign`, one recipient or a whole send list) and
//! person tokens for the site's `identify` (`POST /api/persons/{id}/token`).

use std::sync::Arc;

use common::token::{safe_redirect_target, Claims, TokenError, TokenKind};
use serde_json::{json, Map, Value};

use super::validate::{self, Row};
use super::{ok_json, ApiError, ApiResult, AppState, Req};
use crate::store::now_s;
use crate::telemetry;

/// Most recipients × links signed in one request.
const MAX_SIGNATURES: usize = 200_000;

/// One link to sign.
struct LinkSpec {
    /// The mailing tool's id of the link.
    link_id: String,
    /// Where the click goes.
    url: String,
}

/// `POST /api/links/sign`: the single form `{mailing_id, person_id, links}` or the bulk form
/// `{mailing_id, recipients: [{person_id, links}], links}` (top-level `links` apply to every
/// recipient that has none of its own).
pub async fn sign(state: Arc<AppState>, req: Req) -> ApiResult {
    let body: Value = req.json()?;
    let Some(top) = body.as_object() else {
        return Err(ApiError::body("expected a JSON object"));
    };
    let r = Row::new(0, top);
    r.only(&["mailing_id", "person_id", "links", "recipients"])
        .map_err(without_index)?;
    let mailing_id = r.id("mailing_id").map_err(without_index)?;
    let shared = match top.get("links") {
        Some(v) => Some(links(v, "links", None)?),
        None => None,
    };
    let signer = Signer::new(&state, mailing_id);
    match top.get("recipients") {
        None => {
            let person_id = r.id("person_id").map_err(without_index)?;
            let links = shared.ok_or_else(|| ApiError::field("links", "required"))?;
            let one = signer.recipient(&person_id, &links, "links", None)?;
            ok_json(&one)
        }
        Some(Value::Array(recipients)) => {
            if top.contains_key("person_id") {
                return Err(ApiError::field(
                    "person_id",
                    "give either person_id (one recipient) or recipients, not both",
                ));
            }
            let per = shared.as_ref().map_or(1, Vec::len).max(1);
            if recipients.len().saturating_mul(per) > MAX_SIGNATURES {
                return Err(ApiError::field(
                    "recipients",
                    format!("at most {MAX_SIGNATURES} links per request"),
                ));
            }
            let mut out = Vec::with_capacity(recipients.len());
            for (i, rec) in recipients.iter().enumerate() {
                let fields = rec
                    .as_object()
                    .ok_or_else(|| ApiError::row(i, "recipients", "expected an object"))?;
                let rr = Row::new(i, fields);
                rr.only(&["person_id", "links"])?;
                let person_id = rr.id("person_id")?;
                let own = match fields.get("links") {
                    Some(v) => Some(links(v, "links", Some(i))?),
                    None => None,
                };
                let Some(l) = own.as_ref().or(shared.as_ref()) else {
                    return Err(ApiError::row(i, "links", "required (here or at the top)"));
                };
                out.push(signer.recipient(&person_id, l, "links", Some(i))?);
            }
            ok_json(&json!({ "mailing_id": signer.mailing_id, "recipients": out }))
        }
        Some(_) => Err(ApiError::field("recipients", "expected an array")),
    }
}

/// `POST /api/persons/{id}/token`: `{"token", "expires_at"}` for the site's `identify`.
pub async fn person_token(state: Arc<AppState>, req: Req) -> ApiResult {
    let person_id = validate::check_id(req.param("id")).map_err(|m| ApiError::field("id", m))?;
    let expires_at = now_s().saturating_add(state.config.person_token_ttl_s as u32);
    let claims = Claims {
        kind: TokenKind::Person,
        kid: String::new(),
        expires_at,
        mailing_id: String::new(),
        person_id,
        link_id: String::new(),
        url: String::new(),
    };
    let token = state
        .config
        .keys
        .sign(&claims)
        .map_err(|e| ApiError::field("id", e.to_string()))?;
    metrics::counter!(telemetry::TOKENS_SIGNED, "kind" => "person").increment(1);
    ok_json(&json!({
        "token": token,
        "expires_at": validate::format_time(expires_at),
    }))
}

/// Signs the URLs of one mailing.
struct Signer<'a> {
    /// Keys and public URL.
    state: &'a AppState,
    /// The mailing every token names.
    mailing_id: String,
    /// Expiry of every token (0 = none).
    expires_at: u32,
}

impl<'a> Signer<'a> {
    fn new(state: &'a AppState, mailing_id: String) -> Self {
        let days = state.config.link_ttl_days;
        let expires_at = if days == 0 {
            0
        } else {
            now_s().saturating_add((days * 86_400).min(u64::from(u32::MAX)) as u32)
        };
        Self {
            state,
            mailing_id,
            expires_at,
        }
    }

    fn token(
        &self,
        kind: TokenKind,
        person_id: &str,
        link: Option<&LinkSpec>,
    ) -> Result<String, TokenError> {
        self.state.config.keys.sign(&Claims {
            kind,
            kid: String::new(),
            expires_at: self.expires_at,
            mailing_id: self.mailing_id.clone(),
            person_id: person_id.to_string(),
            link_id: link.map(|l| l.link_id.clone()).unwrap_or_default(),
            url: link.map(|l| l.url.clone()).unwrap_or_default(),
        })
    }

    /// `{"person_id", "open_url", "links": [{"link_id", "url"}]}` for one recipient.
    fn recipient(
        &self,
        person_id: &str,
        links: &[LinkSpec],
        field: &str,
        index: Option<usize>,
    ) -> Result<Value, ApiError> {
        let base = &self.state.config.public_url;
        let fail = |e: TokenError, f: String| ApiError::Invalid {
            message: e.to_string(),
            field: Some(f),
            index,
        };
        let open = self
            .token(TokenKind::Open, person_id, None)
            .map_err(|e| fail(e, "person_id".into()))?;
        let mut out = Vec::with_capacity(links.len());
        for (j, l) in links.iter().enumerate() {
            let t = self
                .token(TokenKind::Click, person_id, Some(l))
                .map_err(|e| fail(e, format!("{field}[{j}].url")))?;
            out.push(json!({ "link_id": l.link_id, "url": format!("{base}/r/{t}") }));
        }
        metrics::counter!(telemetry::TOKENS_SIGNED, "kind" => "open").increment(1);
        metrics::counter!(telemetry::TOKENS_SIGNED, "kind" => "click")
            .increment(links.len() as u64);
        Ok(json!({
            "person_id": person_id,
            "open_url": format!("{base}/o/{open}.gif"),
            "links": out,
        }))
    }
}

/// The links array: `[{"link_id", "url"}]`, every url a safe absolute http(s) target.
fn links(v: &Value, field: &str, index: Option<usize>) -> Result<Vec<LinkSpec>, ApiError> {
    let err = |f: String, m: &str| ApiError::Invalid {
        message: m.to_string(),
        field: Some(f),
        index,
    };
    let Value::Array(items) = v else {
        return Err(err(field.into(), "expected an array of {link_id, url}"));
    };
    let mut out = Vec::with_capacity(items.len());
    let empty = Map::new();
    for (j, item) in items.iter().enumerate() {
        let obj = item.as_object().unwrap_or(&empty);
        if !item.is_object() {
            return Err(err(format!("{field}[{j}]"), "expected an object"));
        }
        if let Some(k) = obj
            .keys()
            .find(|k| !matches!(k.as_str(), "link_id" | "url"))
        {
            return Err(err(format!("{field}[{j}].{k}"), "unknown field"));
        }
        let link_id = match obj.get("link_id") {
            Some(Value::String(s)) => {
                validate::check_id(s).map_err(|m| err(format!("{field}[{j}].link_id"), &m))?
            }
            _ => return Err(err(format!("{field}[{j}].link_id"), "required string")),
        };
        let url = match obj.get("url") {
            Some(Value::String(s)) if safe_redirect_target(s) => s.clone(),
            Some(Value::String(_)) => {
                return Err(err(
                    format!("{field}[{j}].url"),
                    "unsafe target: must be an absolute http(s) URL without userinfo, spaces, \
                     control characters or backslashes, at most 2048 bytes",
                ))
            }
            _ => return Err(err(format!("{field}[{j}].url"), "required string")),
        };
        out.push(LinkSpec { link_id, url });
    }
    Ok(out)
}

/// Top-level fields have no row index.
fn without_index(e: ApiError) -> ApiError {
    match e {
        ApiError::Invalid { message, field, .. } => ApiError::Invalid {
            message,
            field,
            index: None,
        },
        other => other,
    }
}

//! A small route table: `(method, "/api/things/{id}/part", handler)`, matched segment by
//! segment, so each endpoint module registers its handlers in a few lines and the metric
//! label is the template, never the raw path.

use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use bytes::Bytes;
use http::Method;

use super::{ApiError, ApiResult, AppState};

/// A boxed handler future.
pub type HandlerFuture = Pin<Box<dyn Future<Output = ApiResult> + Send>>;

/// A handler: the shared state and the parsed request. Register `async fn`s with
/// `|s, r| Box::pin(my_handler(s, r))`.
pub type Handler = fn(Arc<AppState>, Req) -> HandlerFuture;

/// One endpoint.
#[derive(Clone)]
pub struct Route {
    /// HTTP method it answers.
    pub method: Method,
    /// Path template; `{name}` segments capture into [`Req::params`].
    pub template: &'static str,
    /// The code that answers.
    pub handler: Handler,
}

impl Route {
    /// A route.
    pub fn new(method: Method, template: &'static str, handler: Handler) -> Self {
        Self {
            method,
            template,
            handler,
        }
    }

    /// The captures if `path` fits the template.
    fn captures(&self, path: &str) -> Option<HashMap<&'static str, String>> {
        let mut caps = HashMap::new();
        let mut want = self.template.split('/');
        let mut got = path.split('/');
        loop {
            match (want.next(), got.next()) {
                (None, None) => return Some(caps),
                (Some(w), Some(g)) => {
                    if let Some(name) = w.strip_prefix('{').and_then(|n| n.strip_suffix('}')) {
                        let value = percent_decode(g)?;
                        if value.is_empty() {
                            return None;
                        }
                        caps.insert(name, value);
                    } else if w != g {
                        return None;
                    }
                }
                _ => return None,
            }
        }
    }
}

fn percent_decode(s: &str) -> Option<String> {
    // form_urlencoded would turn '+' into a space; a path segment keeps it.
    let bytes: Vec<u8> = form_urlencoded::parse(format!("x={}", s.replace('+', "%2B")).as_bytes())
        .next()
        .map(|(_, v)| v.into_owned().into_bytes())?;
    String::from_utf8(bytes).ok()
}

/// The outcome of matching a request against the table.
pub enum Matched<'a> {
    /// A route and its captures.
    Found(&'a Route, HashMap<&'static str, String>),
    /// The path exists but not for this method.
    WrongMethod,
    /// Nothing fits.
    Nothing,
}

/// Finds the route for `method` and `path`.
pub fn find<'a>(routes: &'a [Route], method: &Method, path: &str) -> Matched<'a> {
    let mut path_known = false;
    for r in routes {
        if let Some(caps) = r.captures(path) {
            if r.method == *method {
                return Matched::Found(r, caps);
            }
            path_known = true;
        }
    }
    if path_known {
        Matched::WrongMethod
    } else {
        Matched::Nothing
    }
}

/// A request as handlers see it: authenticated, body read within the cap.
#[derive(Debug, Clone, Default)]
pub struct Req {
    /// Captures of the path template (`{id}` → `params["id"]`), percent-decoded.
    pub params: HashMap<&'static str, String>,
    /// Query parameters; a repeated key keeps its last value.
    pub query: HashMap<String, String>,
    /// The whole body.
    pub body: Bytes,
    /// Headers of the request.
    pub headers: http::HeaderMap,
}

impl Req {
    /// A path capture (always present for captures the template names).
    pub fn param(&self, name: &str) -> &str {
        self.params.get(name).map(String::as_str).unwrap_or("")
    }

    /// A query parameter, if given and non-empty.
    pub fn query(&self, name: &str) -> Option<&str> {
        self.query
            .get(name)
            .map(String::as_str)
            .filter(|v| !v.is_empty())
    }

    /// The body parsed as JSON into `T`; a 400 naming the JSON path of the first problem.
    pub fn json<T: serde::de::DeserializeOwned>(&self) -> Result<T, ApiError> {
        if self.body.is_empty() {
            return Err(ApiError::body("empty body: expected JSON"));
        }
        serde_json::from_slice(&self.body).map_err(|e| ApiError::body(format!("bad JSON: {e}")))
    }
}

/// Parses a query string into a map.
pub fn parse_query(q: Option<&str>) -> HashMap<String, String> {
    q.map(|q| form_urlencoded::parse(q.as_bytes()).into_owned().collect())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn nop(_: Arc<AppState>, _: Req) -> HandlerFuture {
        Box::pin(async { Err(ApiError::NotFound) })
    }

    #[test]
    fn matches_templates_and_methods() {
        let routes = [
            Route::new(Method::POST, "/api/persons", nop),
            Route::new(Method::GET, "/api/persons/{id}/export", nop),
            Route::new(Method::DELETE, "/api/persons/{id}", nop),
        ];
        match find(&routes, &Method::GET, "/api/persons/p%2F1/export") {
            Matched::Found(r, caps) => {
                assert_eq!(r.template, "/api/persons/{id}/export");
                assert_eq!(caps["id"], "p/1");
            }
            _ => panic!("no match"),
        }
        match find(&routes, &Method::DELETE, "/api/persons/a+b") {
            Matched::Found(_, caps) => assert_eq!(caps["id"], "a+b"),
            _ => panic!("no match"),
        }
        assert!(matches!(
            find(&routes, &Method::GET, "/api/persons"),
            Matched::WrongMethod
        ));
        assert!(matches!(
            find(&routes, &Method::GET, "/api/persons//export"),
            Matched::Nothing
        ));
        assert!(matches!(
            find(&routes, &Method::GET, "/api/persons/x/export/more"),
            Matched::Nothing
        ));
    }
}

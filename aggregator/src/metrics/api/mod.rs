//! The metric endpoints, registered in `crate::api::routes`: page effectiveness, mailing
//! response, funnels, goals, person activities with the change feed, and the refresh.

mod activities;
mod admin;
mod cache;
mod funnels;
mod mailings;
mod pages;

use http::Method as M;

use crate::api::{ApiError, Route};

/// Every metric endpoint.
pub fn routes() -> Vec<Route> {
    vec![
        Route::new(M::GET, "/api/pages", |s, q| Box::pin(pages::get(s, q))),
        Route::new(M::GET, "/api/mailings/{id}/response", |s, q| {
            Box::pin(mailings::response(s, q))
        }),
        Route::new(M::PUT, "/api/funnels/{name}", |s, q| {
            Box::pin(funnels::put(s, q))
        }),
        Route::new(M::GET, "/api/funnels/{name}", |s, q| {
            Box::pin(funnels::get(s, q))
        }),
        Route::new(M::PUT, "/api/goals/{name}", |s, q| {
            Box::pin(admin::put_goal(s, q))
        }),
        Route::new(M::GET, "/api/persons/{id}/activities", |s, q| {
            Box::pin(activities::person(s, q))
        }),
        Route::new(M::GET, "/api/activities", |s, q| {
            Box::pin(activities::feed(s, q))
        }),
        Route::new(M::POST, "/api/refresh", |s, q| {
            Box::pin(admin::refresh(s, q))
        }),
    ]
}

/// A path capture that must be an identifier (`id`, `name`): 400 naming it otherwise.
fn ident_param(req: &crate::api::Req, name: &str) -> Result<String, ApiError> {
    let v = req.param(name);
    if super::range::valid_ident(v) {
        Ok(v.to_string())
    } else {
        Err(ApiError::field(
            name,
            format!("`{name}` must be 1-64 of letters, digits, '.', '_', '@' or '-'"),
        ))
    }
}

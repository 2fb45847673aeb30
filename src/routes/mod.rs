//! HTTP handlers, one module per resource; each exposes `configure`.

pub mod auth;
pub mod ops;
pub mod post;
pub mod user;

use actix_web::web;

/// The whole route table. Paths are registered without a trailing slash; the
/// app trims one before routing, so both forms are served without redirects.
pub fn configure(cfg: &mut web::ServiceConfig) {
    ops::configure(cfg);
    auth::configure(cfg);
    user::configure(cfg);
    post::configure(cfg);
}

//! HTTP handlers, one module per resource. Each handler carries one
//! declaration, `#[utoipa::path]` over an actix route macro: the route macro
//! gives the path and method to both the router and the OpenAPI document,
//! and each module's `configure` registers its handlers through
//! `utoipa_actix_web`, which collects the documentation of whatever it routes.

pub mod auth;
pub mod media;
pub mod moderation;
pub mod notification;
pub mod ops;
pub mod post;
pub mod privacy;
pub mod search;
pub mod stream;
pub mod user;

use actix_web::web;
use utoipa_actix_web::service_config::ServiceConfig;

/// The whole API route table, in matching order.
pub fn api(cfg: &mut ServiceConfig) {
    ops::configure(cfg);
    auth::configure(cfg);
    privacy::configure(cfg);
    search::configure(cfg);
    user::configure(cfg);
    post::configure(cfg);
    media::configure(cfg);
    notification::configure(cfg);
    moderation::configure(cfg);
    stream::configure(cfg);
}

/// The same table on a plain actix config (what the app mounts).
pub fn configure(cfg: &mut web::ServiceConfig) {
    api(&mut ServiceConfig::new(cfg));
}

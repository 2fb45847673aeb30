//! HTTP-level tests: the real actix app, in process, against a fresh
//! PostgreSQL database per test (`#[sqlx::test]`). One binary for all areas.

mod helpers;

mod attacks;
mod auth;
mod cli;
mod compression;
mod conventions;
mod follows;
mod hardening;
mod likes;
mod limits;
mod live;
mod metrics;
mod notification_routes;
mod notifications;
mod numbering;
mod own_postgres;
mod passwords;
mod post_create;
mod post_edit;
mod post_lists;
mod post_read;
mod profiles;
mod races;
mod registration;
mod routes;
mod seed;
mod serve_process;
mod shared_limits;
mod stream;
mod stream_outages;
mod stream_resume;
mod tls;

//! HTTP-level tests: the real actix app, in process, against a fresh
//! PostgreSQL database per test (`#[sqlx::test]`). One binary for all areas.

mod client;
mod helpers;

mod attacks;
mod auth;
mod cli;
mod cli_startup;
mod client_errors;
mod compression;
mod conventions;
mod dev_database;
mod follows;
mod hardening;
mod harness;
mod input_rules;
mod likes;
mod limits;
mod live;
mod metrics;
mod notification_routes;
mod notifications;
mod own_postgres;
mod passwords;
mod post_create;
mod post_edit;
mod post_lists;
mod post_read;
mod profiles;
mod races;
mod races_content;
mod registration;
mod routes;
mod seed;
mod serve_process;
mod served;
mod shared_limits;
mod stream;
mod stream_outages;
mod stream_resume;
mod surfaces;
mod tls;
mod username_rule;

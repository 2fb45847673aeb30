//! pamps: a twitter-like blog API over PostgreSQL.

pub mod app;
pub mod auth;
pub mod bus;
pub mod cli;
pub mod compression;
pub mod config;
pub mod db;
pub mod error;
pub mod extract;
pub mod fd_budget;
pub mod metrics;
pub mod middleware;
pub mod models;
pub mod openapi;
pub mod pagination;
pub mod proxy;
pub mod rate_limit;
pub mod routes;
pub mod security;
pub mod seed;
pub mod server;
pub mod state;
pub mod telemetry;
pub mod validation;
pub mod web;

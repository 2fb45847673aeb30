//! `[server]`: the HTTP listener, logging, and the URLs and origins it
//! answers for.

use serde::Deserialize;

use super::{ConfigError, in_range};
use crate::validation::is_hostname;

/// Log output style.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    Pretty,
    Json,
}

/// `[server]`: the HTTP listener.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServerSettings {
    pub host: String,
    pub port: u16,
    /// Worker threads; 0 means the number of CPU cores.
    pub workers: usize,
    /// Origins allowed by CORS; empty allows none.
    pub cors_origins: Vec<String>,
    /// Peer addresses whose `X-Forwarded-For` is believed.
    pub trusted_proxies: Vec<String>,
    pub log_format: LogFormat,
    pub log_level: String,
    /// The public base URL (`https://api.example.com`); empty means unset.
    /// Read it through [`super::Settings::public_url`].
    pub public_url: String,
    /// How long a request body may take to arrive.
    pub body_timeout_ms: u64,
}

impl ServerSettings {
    /// `trusted_proxies` parsed as addresses.
    pub(super) fn trusted_proxy_addrs(&self) -> Result<Vec<std::net::IpAddr>, ConfigError> {
        self.trusted_proxies
            .iter()
            .map(|p| {
                p.trim().parse().map_err(|_| {
                    ConfigError(format!(
                        "server.trusted_proxies: {p:?} is not an IP address"
                    ))
                })
            })
            .collect()
    }

    pub(super) fn check(&self) -> Result<(), ConfigError> {
        self.trusted_proxy_addrs()?;
        for origin in &self.cors_origins {
            check_cors_origin(origin).map_err(|why| {
                ConfigError(format!(
                    "server.cors_origins: {origin:?} {why}; \
                     list origins like https://app.example.com"
                ))
            })?;
        }
        if !self.public_url.is_empty() {
            check_public_url(&self.public_url).map_err(|why| {
                ConfigError(format!(
                    "server.public_url {:?} {why}; use an absolute URL like \
                     https://api.example.com (empty means unset)",
                    self.public_url
                ))
            })?;
        }
        in_range("server.body_timeout_ms", self.body_timeout_ms, 100, 600_000)
    }
}

/// Checks the `scheme://host[:port]` start of a URL; returns what follows.
fn origin_tail(value: &str) -> Result<&str, &'static str> {
    let (scheme, rest) = value
        .split_once("://")
        .ok_or("has no scheme (it must start with http:// or https://)")?;
    if scheme != "http" && scheme != "https" {
        return Err("must use http or https");
    }
    let (authority, tail) = rest.split_at(rest.find(['/', '?', '#']).unwrap_or(rest.len()));
    let (host_ok, port) = match authority.strip_prefix('[') {
        Some(bracketed) => match bracketed.split_once(']') {
            Some((ip6, "")) => (ip6.parse::<std::net::Ipv6Addr>().is_ok(), None),
            Some((ip6, after)) => (
                ip6.parse::<std::net::Ipv6Addr>().is_ok(),
                Some(after.strip_prefix(':').ok_or("has no valid host")?),
            ),
            None => (false, None),
        },
        None => match authority.split_once(':') {
            Some((host, port)) => (is_hostname(host), Some(port)),
            None => (is_hostname(authority), None),
        },
    };
    if !host_ok {
        return Err("has no valid host");
    }
    if port.is_some_and(|p| !p.parse::<u16>().is_ok_and(|p| p > 0)) {
        return Err("has an invalid port");
    }
    Ok(tail)
}

/// An allowed CORS origin: exactly what browsers send in `Origin`.
fn check_cors_origin(origin: &str) -> Result<(), &'static str> {
    if origin.trim() == "*" {
        return Err("is not allowed (pamps never allows every origin: \
                    list each web client's origin instead)");
    }
    if origin_tail(origin)?.is_empty() {
        Ok(())
    } else {
        Err("has a path, query or trailing slash (an origin is scheme://host[:port])")
    }
}

/// The public base URL: an origin, optionally a path, no query or fragment.
fn check_public_url(url: &str) -> Result<(), &'static str> {
    let tail = origin_tail(url)?;
    if tail.contains(['?', '#']) {
        return Err("must not have a query or fragment");
    }
    if !tail.bytes().all(|b| (b'!'..=b'~').contains(&b)) {
        return Err("has a path with spaces or non-ASCII characters");
    }
    Ok(())
}

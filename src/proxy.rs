//! What a request says about where it came from: the client's address, the
//! scheme and host it was sent to, and its request id. Forwarding headers
//! (`X-Forwarded-*`, `X-Request-Id`) are believed only from the addresses in
//! `server.trusted_proxies`; from anyone else they are ignored.

use std::net::IpAddr;

use actix_web::HttpRequest;
use actix_web::http::header;

/// How far forwarding headers are believed, and the public origin if fixed:
/// what links and request ids need (registered as app data).
#[derive(Debug, Clone, Default)]
pub struct Forwarding {
    /// `server.public_url`, without a trailing slash.
    pub public_url: Option<String>,
    /// `server.trusted_proxies`.
    pub trusted_proxies: Vec<IpAddr>,
}

impl Forwarding {
    /// The `scheme://host` for links in a response to `req` (see [`origin`]).
    pub fn origin(&self, req: &HttpRequest) -> Option<String> {
        origin(req, self.public_url.as_deref(), &self.trusted_proxies)
    }

    /// The balancer's request id, if it sent one (see [`forwarded_request_id`]).
    pub fn request_id(&self, req: &HttpRequest) -> Option<String> {
        forwarded_request_id(req, &self.trusted_proxies)
    }
}

/// The client's address: the peer's, or, when the peer is a trusted proxy,
/// the nearest untrusted address in `X-Forwarded-For`.
pub fn client_ip(req: &HttpRequest, trusted_proxies: &[IpAddr]) -> Option<IpAddr> {
    let peer = req.peer_addr()?.ip();
    if !trusted_proxies.contains(&peer) {
        return Some(peer);
    }
    let forwarded: Vec<&str> = req
        .headers()
        .get_all("x-forwarded-for")
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .collect();
    for hop in forwarded.iter().rev() {
        match hop.trim().parse::<IpAddr>() {
            Ok(ip) if trusted_proxies.contains(&ip) => continue,
            Ok(ip) => return Some(ip),
            Err(_) => break,
        }
    }
    Some(peer)
}

/// True when the request came straight from a trusted proxy.
pub fn from_trusted_proxy(req: &HttpRequest, trusted_proxies: &[IpAddr]) -> bool {
    req.peer_addr()
        .is_some_and(|peer| trusted_proxies.contains(&peer.ip()))
}

fn header_str<'a>(req: &'a HttpRequest, name: &str) -> Option<&'a str> {
    req.headers().get(name).and_then(|v| v.to_str().ok())
}

/// A `Host` value: a DNS name, IPv4 or bracketed IPv6 address, and an
/// optional port. Anything else (spaces, `@`, `/`, a second host) is malformed.
pub fn valid_host(host: &str) -> bool {
    let (name, port) = match host.strip_prefix('[') {
        Some(rest) => match rest.split_once(']') {
            Some((ip, port)) if ip.parse::<std::net::Ipv6Addr>().is_ok() => ("v6", port),
            _ => return false,
        },
        None => match host.rsplit_once(':') {
            Some((name, port)) => (name, &host[name.len()..][..port.len() + 1]),
            None => (host, ""),
        },
    };
    let port_ok = port.is_empty()
        || port
            .strip_prefix(':')
            .is_some_and(|p| (1..=5).contains(&p.len()) && p.bytes().all(|b| b.is_ascii_digit()));
    let name_ok = (1..=253).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.' || b == b'_');
    port_ok && name_ok
}

/// The `scheme://host` that links in a response should use: `public_url`
/// when set; else the forwarded scheme and host from a trusted proxy; else
/// the connection's scheme and the `Host` header. `None` when the request
/// names no host (links are then relative).
pub fn origin(
    req: &HttpRequest,
    public_url: Option<&str>,
    trusted_proxies: &[IpAddr],
) -> Option<String> {
    if let Some(url) = public_url {
        return Some(url.to_owned());
    }
    let own_scheme = if req.app_config().secure() {
        "https"
    } else {
        "http"
    };
    let (scheme, host) = if from_trusted_proxy(req, trusted_proxies) {
        let scheme = match header_str(req, "x-forwarded-proto") {
            Some("https") => "https",
            Some("http") => "http",
            _ => own_scheme,
        };
        let host = header_str(req, "x-forwarded-host").or_else(|| header_str(req, "host"));
        (scheme, host)
    } else {
        (own_scheme, header_str(req, header::HOST.as_str()))
    };
    host.filter(|h| valid_host(h))
        .map(|host| format!("{scheme}://{host}"))
}

/// The request id a trusted proxy assigned (`X-Request-Id`), when it is a
/// plausible id: up to 128 characters of letters, digits, `-`, `_`, `.`.
pub fn forwarded_request_id(req: &HttpRequest, trusted_proxies: &[IpAddr]) -> Option<String> {
    if !from_trusted_proxy(req, trusted_proxies) {
        return None;
    }
    header_str(req, "x-request-id")
        .filter(|id| {
            (1..=128).contains(&id.len())
                && id
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
        })
        .map(str::to_owned)
}

#[cfg(test)]
mod tests {
    use super::*;
    use actix_web::test::TestRequest;

    #[test]
    fn hosts_are_names_or_addresses_with_an_optional_port() {
        for good in [
            "example.com",
            "localhost:8000",
            "127.0.0.1:80",
            "[::1]:8000",
            "[2001:db8::1]",
            "a_b.local",
        ] {
            assert!(valid_host(good), "{good}");
        }
        for bad in [
            "",
            "evil.com>; rel=\"next\", <http://x",
            "a b",
            "x@y",
            "x/y",
            "[::1",
            "host:",
            "host:123456",
            "h:8:9",
            "[nope]:1",
        ] {
            assert!(!valid_host(bad), "{bad}");
        }
    }

    #[test]
    fn forwarded_scheme_and_host_count_only_from_trusted_proxies() {
        let proxy: IpAddr = "10.0.0.1".parse().unwrap();
        let req = |peer: &str| {
            TestRequest::default()
                .peer_addr(peer.parse().unwrap())
                .insert_header(("host", "api.example"))
                .insert_header(("x-forwarded-proto", "javascript"))
                .insert_header(("x-forwarded-host", "other.example"))
                .to_http_request()
        };
        assert_eq!(
            origin(&req("203.0.113.5:1"), None, &[proxy]).unwrap(),
            "http://api.example"
        );
        assert_eq!(
            origin(&req("10.0.0.1:1"), None, &[proxy]).unwrap(),
            "http://other.example"
        );
        assert_eq!(
            origin(
                &req("203.0.113.5:1"),
                Some("https://pamps.example"),
                &[proxy]
            )
            .unwrap(),
            "https://pamps.example"
        );
    }

    #[test]
    fn forwarded_for_is_believed_only_from_trusted_proxies() {
        let proxy: IpAddr = "10.0.0.1".parse().unwrap();
        let req = |peer: &str, xff: &str| {
            TestRequest::default()
                .peer_addr(peer.parse().unwrap())
                .insert_header(("X-Forwarded-For", xff))
                .to_http_request()
        };
        let untrusted = req("203.0.113.5:1000", "198.51.100.7");
        assert_eq!(
            client_ip(&untrusted, &[proxy]),
            Some("203.0.113.5".parse().unwrap())
        );
        let trusted = req("10.0.0.1:1000", "1.2.3.4, 198.51.100.7");
        assert_eq!(
            client_ip(&trusted, &[proxy]),
            Some("198.51.100.7".parse().unwrap())
        );
        let garbage = req("10.0.0.1:1000", "not-an-ip");
        assert_eq!(client_ip(&garbage, &[proxy]), Some(proxy));
    }
}

//! The HTTP metrics middleware: requests by route template, method and
//! status, and their latency.

use std::time::Instant;

use actix_web::Error;
use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::Method;
use actix_web::middleware::Next;
use metrics::{counter, histogram};

/// The label of every request no route matched: raw paths would make a
/// series per scanner probe.
pub const UNMATCHED: &str = "unmatched";

/// Counts each request and times it until its response head is ready (a
/// stream's lifetime is not its latency). Wraps the whole app, so it sees
/// the method the client sent and the route the router chose.
pub async fn track(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, Error> {
    let started = Instant::now();
    let method = method_label(req.method());
    let result = next.call(req).await;
    let elapsed = started.elapsed().as_secs_f64();
    let (route, status) = match &result {
        Ok(res) => (
            res.request()
                .match_pattern()
                .unwrap_or_else(|| UNMATCHED.into()),
            res.status().as_u16(),
        ),
        // An error that escaped every handler becomes a 500 in actix.
        Err(err) => (
            UNMATCHED.into(),
            err.as_response_error().status_code().as_u16(),
        ),
    };
    let labels = [("method", method.to_owned()), ("route", route)];
    histogram!("pamps_http_request_duration_seconds", &labels).record(elapsed);
    let [method, route] = labels;
    counter!(
        "pamps_http_requests_total",
        &[method, route, ("status", status.to_string())]
    )
    .increment(1);
    result
}

/// The method, or `other` for one outside HTTP's standard set (any token
/// is a valid method, so clients could otherwise mint labels).
fn method_label(method: &Method) -> &'static str {
    match *method {
        Method::GET => "GET",
        Method::HEAD => "HEAD",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::PATCH => "PATCH",
        Method::DELETE => "DELETE",
        Method::OPTIONS => "OPTIONS",
        _ => "other",
    }
}

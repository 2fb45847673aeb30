//! Middlewares: HEAD as GET, path normalisation (Host, trailing slash), the body-size guard, JSON bodies for
//! errors raised outside handlers, conditional GET, the numberer's wake after a write, and the request log.

use std::time::Instant;

use actix_web::body::{BoxBody, EitherBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::{self, HeaderName, HeaderValue};
use actix_web::http::uri::{PathAndQuery, Uri};
use actix_web::http::{Method, StatusCode};
use actix_web::middleware::{ErrorHandlerResponse, Next};
use actix_web::{Error, HttpMessage, HttpRequest, HttpResponse, ResponseError, web};
use sha2::{Digest, Sha256};
use tracing::Instrument;
use uuid::Uuid;

use crate::auth::AuthUser;
use crate::error::{ApiError, ErrorBody};
use crate::input::{MAX_BODY_BYTES, declared_body_too_large};
use crate::proxy::{self, Forwarding};
use crate::route_table::RouteTable;
use crate::state::AppState;

/// Answers `HEAD` as `GET`, before routing (actix-http then sends the
/// headers without the body).
pub async fn head_as_get(
    mut req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, Error> {
    if req.method() == Method::HEAD {
        req.head_mut().method = Method::GET;
    }
    next.call(req).await
}

/// Before routing: refuses a malformed `Host` (400; it would end up in
/// links), and serves `/post/` and `/post` alike (whichever form the route
/// was declared with; the first route that matches either form wins, as
/// the router would pick it; no redirect).
pub async fn normalize_path(
    mut req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<EitherBody<impl MessageBody, BoxBody>>, Error> {
    let host = req
        .headers()
        .get(header::HOST)
        .map(|h| h.to_str().unwrap_or(""));
    if host.is_some_and(|h| !proxy::valid_host(h)) {
        let res = ApiError::BadRequest("Malformed Host header".into()).error_response();
        return Ok(req.into_response(res).map_into_right_body());
    }
    if let Some(path) = canonical_path(&RouteTable::of(req.request()), req.path()) {
        let path_and_query = match req.query_string() {
            "" => path,
            q => format!("{path}?{q}"),
        };
        let mut parts = req.head().uri.clone().into_parts();
        if let Ok(pq) = PathAndQuery::try_from(path_and_query) {
            parts.path_and_query = Some(pq);
            if let Ok(uri) = Uri::from_parts(parts) {
                req.match_info_mut().get_mut().update(&uri);
                req.head_mut().uri = uri;
            }
        }
    }
    next.call(req)
        .await
        .map(ServiceResponse::map_into_left_body)
}

/// The other form of `path` when that is the one a route declares.
fn canonical_path(table: &RouteTable, path: &str) -> Option<String> {
    if path.len() <= 1 {
        return None;
    }
    let other = match path.strip_suffix('/') {
        Some(trimmed) => trimmed.to_owned(),
        None => format!("{path}/"),
    };
    for route in table.candidates(path) {
        if route.pattern.is_match(path) {
            return None;
        }
        if route.pattern.is_match(&other) {
            return Some(other);
        }
    }
    None
}

/// The API's default service: 405 with `Allow` when a route has this path
/// (under another method), 404 otherwise.
pub async fn no_route(req: HttpRequest) -> HttpResponse {
    let table = RouteTable::of(&req);
    let methods: Vec<&str> = table
        .candidates(req.path())
        .filter(|route| route.pattern.is_match(req.path()))
        .flat_map(|route| route.methods.iter().copied())
        .collect();
    if methods.is_empty() {
        return ApiError::NotFound("Not Found").error_response();
    }
    method_not_allowed(&methods.join(", "))
}

/// 405 with `Allow` and a JSON `detail`.
pub fn method_not_allowed(allow: &str) -> HttpResponse {
    HttpResponse::MethodNotAllowed()
        .insert_header((header::ALLOW, allow))
        .json(ErrorBody::new("Method Not Allowed"))
}

/// HEAD on the live stream: answered as GET would be (status and headers:
/// 401, 429, or 200 `text/event-stream`), but the stream itself is dropped
/// at once. actix-http would otherwise keep polling a never-ending body it
/// does not send, holding the connection and a stream slot.
pub async fn head_without_stream(
    mut req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, Error> {
    let head = req.method() == Method::HEAD;
    if head {
        req.head_mut().method = Method::GET;
        // A HEAD is never a WebSocket handshake.
        req.headers_mut().remove(header::UPGRADE);
    }
    let res = next.call(req).await?;
    Ok(res.map_body(|_, body| {
        if head {
            BoxBody::new(actix_web::body::None::new())
        } else {
            body.boxed()
        }
    }))
}

/// While the database probe says the database is down, answers every API
/// request but the probes at once with 503 and `Retry-After`, instead of
/// letting each wait for a connection that will not come.
pub async fn fail_fast_without_db(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<EitherBody<impl MessageBody, BoxBody>>, Error> {
    let down = req
        .app_data::<web::Data<AppState>>()
        .is_some_and(|state| !state.db_health.is_up());
    if down && !matches!(req.path(), "/health" | "/ready") {
        let res = ApiError::Unavailable.error_response();
        return Ok(req.into_response(res).map_into_right_body());
    }
    next.call(req)
        .await
        .map(ServiceResponse::map_into_left_body)
}

/// After a successful write, wakes this instance's event numberer, so the
/// events the write appended reach the streams within milliseconds instead
/// of waiting for the numbering role's poll (a read never appends events).
pub async fn wake_numberer(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, Error> {
    let writes = !matches!(*req.method(), Method::GET | Method::HEAD | Method::OPTIONS);
    let res = next.call(req).await?;
    if writes
        && res.status().is_success()
        && let Some(state) = res.request().app_data::<web::Data<AppState>>()
    {
        state.numbering.wake();
    }
    Ok(res)
}

/// Refuses a declared body over 64 KiB with 413 before anything reads it.
pub async fn limit_body(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<EitherBody<impl MessageBody, BoxBody>>, Error> {
    if declared_body_too_large(&req) {
        let res = ApiError::PayloadTooLarge(MAX_BODY_BYTES).error_response();
        return Ok(req.into_response(res).map_into_right_body());
    }
    next.call(req)
        .await
        .map(ServiceResponse::map_into_left_body)
}

/// Gives every error response without a JSON body one in the contract's shape.
pub fn json_error_body<B: MessageBody + 'static>(
    res: ServiceResponse<B>,
) -> actix_web::Result<ErrorHandlerResponse<B>> {
    let is_json = res
        .headers()
        .get(header::CONTENT_TYPE)
        .is_some_and(|v| v.as_bytes().starts_with(b"application/json"));
    if is_json {
        return Ok(ErrorHandlerResponse::Response(res.map_into_left_body()));
    }
    let status = res.status();
    let (req, old) = res.into_parts();
    let mut new = HttpResponse::build(status);
    for name in [header::ALLOW, header::WWW_AUTHENTICATE, header::RETRY_AFTER] {
        if let Some(value) = old.headers().get(&name) {
            new.insert_header((name, value.clone()));
        }
    }
    let detail = status.canonical_reason().unwrap_or("Error");
    let res = new.json(ErrorBody::new(detail));
    Ok(ErrorHandlerResponse::Response(
        ServiceResponse::new(req, res).map_into_right_body(),
    ))
}

/// Adds a strong `ETag` to successful GET responses and answers a matching
/// `If-None-Match` with 304. Responses to token-bearing requests depend on
/// the caller, so they are marked `Cache-Control: private`.
pub async fn conditional_get(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, Error> {
    let cacheable = matches!(*req.method(), Method::GET | Method::HEAD);
    let if_none_match = req.headers().get(header::IF_NONE_MATCH).cloned();
    let personal = req.headers().contains_key(header::AUTHORIZATION);
    let res = next.call(req).await?;
    if !cacheable || res.status() != StatusCode::OK {
        return Ok(res.map_into_boxed_body());
    }
    let (req, res) = res.into_parts();
    let (mut head, body) = res.into_parts();
    let bytes = actix_web::body::to_bytes(body)
        .await
        .map_err(|e| actix_web::error::ErrorInternalServerError(e.into()))?;
    let digest = Sha256::digest(&bytes);
    let etag = format!("\"{}\"", hex_prefix(&digest, 16));
    let headers = head.headers_mut();
    headers.insert(
        header::ETAG,
        HeaderValue::from_str(&etag).expect("hex is a valid header"),
    );
    let cache_control = if personal {
        "private, no-cache"
    } else {
        "no-cache"
    };
    headers.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static(cache_control),
    );
    headers.append(header::VARY, HeaderValue::from_static("Authorization"));
    let not_modified = if_none_match
        .as_ref()
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| etag_matches(v, &etag));
    let res = if not_modified {
        let mut res = HttpResponse::NotModified().finish();
        for name in [header::ETAG, header::CACHE_CONTROL, header::VARY] {
            for value in head.headers().get_all(&name) {
                res.headers_mut().append(name.clone(), value.clone());
            }
        }
        res
    } else {
        head.set_body(BoxBody::new(bytes))
    };
    Ok(ServiceResponse::new(req, res))
}

fn hex_prefix(bytes: &[u8], n: usize) -> String {
    bytes.iter().take(n).map(|b| format!("{b:02x}")).collect()
}

/// `If-None-Match` semantics: `*` or any listed tag, compared weakly.
pub(crate) fn etag_matches(if_none_match: &str, etag: &str) -> bool {
    if_none_match.split(',').map(str::trim).any(|candidate| {
        candidate == "*" || candidate.strip_prefix("W/").unwrap_or(candidate) == etag
    })
}

/// Gives each request an id (returned as `X-Request-Id`; a trusted proxy's
/// own id is kept, so one id follows a request through the balancer) and logs one line
/// when it completes: method, route, status, latency and the user id when
/// authenticated. Bodies and headers are never logged.
pub async fn request_log(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, Error> {
    let started = Instant::now();
    let request_id = req
        .app_data::<web::Data<Forwarding>>()
        .and_then(|f| f.request_id(req.request()))
        .unwrap_or_else(|| Uuid::new_v4().to_string());
    let method = req.method().clone();
    let span = tracing::info_span!("request", %request_id);
    let result = next.call(req).instrument(span.clone()).await;
    let _entered = span.enter();
    let latency_ms = started.elapsed().as_secs_f64() * 1000.0;
    match result {
        Ok(mut res) => {
            let route = res
                .request()
                .match_pattern()
                .unwrap_or_else(|| "(unmatched)".into());
            let user_id = res.request().extensions().get::<AuthUser>().map(|u| u.id);
            let status = res.status().as_u16();
            tracing::info!(%method, %route, status, latency_ms, user_id, "request");
            let id = HeaderValue::from_str(&request_id).expect("request ids are valid headers");
            res.headers_mut()
                .insert(HeaderName::from_static("x-request-id"), id);
            Ok(res)
        }
        Err(err) => {
            tracing::warn!(%method, latency_ms, error = %err, "request failed");
            Err(err)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn if_none_match_lists_and_weak_tags_match() {
        let tag = "\"abc\"";
        for header in ["\"abc\"", "W/\"abc\"", "\"x\", \"abc\"", "*"] {
            assert!(etag_matches(header, tag), "{header}");
        }
        for header in ["\"abcd\"", "abc", ""] {
            assert!(!etag_matches(header, tag), "{header}");
        }
    }
}

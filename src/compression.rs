//! Response compression for the API surface: gzip or brotli, as the client's
//! `Accept-Encoding` asks, for bodies worth it.
//!
//! actix's `Compress` encodes every body; a JSON error or a single small
//! object gains nothing from it and costs an encoder per response. So
//! [`mark_small`] (inside `Compress`) tags small bodies with
//! `Content-Encoding: identity`, which `Compress` leaves alone, and
//! [`finish`] (outside it) removes the tag again and weakens the `ETag` of
//! an encoded body, as the strong tag names the unencoded bytes.

use actix_web::Error;
use actix_web::body::{BodySize, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::{self, HeaderValue};
use actix_web::middleware::Next;

/// Bodies below this many bytes go out unencoded (a TCP segment holds them).
pub const MIN_BYTES: u64 = 1024;

const IDENTITY: HeaderValue = HeaderValue::from_static("identity");

/// Tags bodies under [`MIN_BYTES`] so `Compress` passes them through.
pub async fn mark_small(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, Error> {
    let mut res = next.call(req).await?;
    if matches!(res.response().body().size(), BodySize::Sized(n) if n < MIN_BYTES) {
        res.headers_mut().insert(header::CONTENT_ENCODING, IDENTITY);
    }
    Ok(res)
}

/// Removes the tag of [`mark_small`]; an encoded body's `ETag` becomes weak.
pub async fn finish(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, Error> {
    let mut res = next.call(req).await?;
    let headers = res.headers_mut();
    match headers.get(header::CONTENT_ENCODING) {
        Some(v) if v == IDENTITY => {
            headers.remove(header::CONTENT_ENCODING);
        }
        Some(_) => {
            let weak = headers
                .get(header::ETAG)
                .and_then(|tag| tag.to_str().ok())
                .filter(|tag| !tag.starts_with("W/"))
                .and_then(|tag| HeaderValue::from_str(&format!("W/{tag}")).ok());
            if let Some(weak) = weak {
                headers.insert(header::ETAG, weak);
            }
        }
        None => {}
    }
    Ok(res)
}

//! The built-in web client: the files of `web/`, embedded in the binary.
//!
//! `GET /` serves `web/index.html`; every other file is served under
//! `/static/<version>/<path>`, where `<version>` is a digest of all the files,
//! so those URLs never change content and are cached for a year. The page
//! itself names its assets `/static/<path>`; they are rewritten to the
//! versioned form once, at startup. An unversioned or stale-versioned asset
//! URL still answers, with revalidation instead of long-lived caching.

use std::sync::LazyLock;

use actix_web::http::header::{self, HeaderValue};
use actix_web::{HttpRequest, HttpResponse, web};
use rust_embed::RustEmbed;
use sha2::{Digest, Sha256};

use crate::error::ErrorBody;
use crate::middleware::etag_matches;

#[derive(RustEmbed)]
#[folder = "web/"]
struct Files;

/// A strict policy: scripts, styles and connections only from this origin
/// (no inline script, no eval). Avatars are people's own URLs, over https
/// only (the client shows an initial for the others).
const CONTENT_SECURITY_POLICY: &str = "default-src 'none'; script-src 'self'; style-src 'self'; \
    img-src 'self' data: https:; connect-src 'self'; font-src 'self'; manifest-src 'self'; \
    base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

const IMMUTABLE: &str = "public, max-age=31536000, immutable";
const REVALIDATE: &str = "no-cache";

/// The page with versioned asset URLs, and the version.
struct Page {
    version: String,
    html: Vec<u8>,
    etag: String,
}

static PAGE: LazyLock<Page> = LazyLock::new(|| {
    let mut names: Vec<_> = Files::iter().collect();
    names.sort();
    let mut digest = Sha256::new();
    for name in &names {
        if let Some(file) = Files::get(name) {
            digest.update(name.as_bytes());
            digest.update(file.metadata.sha256_hash());
        }
    }
    let version = hex(&digest.finalize()[..6]);
    let index = Files::get("index.html").map(|f| f.data.into_owned());
    let html = String::from_utf8_lossy(&index.unwrap_or_default())
        .replace("\"/static/", &format!("\"/static/{version}/"))
        .into_bytes();
    let etag = format!("\"{}\"", hex(&Sha256::digest(&html)[..16]));
    Page {
        version,
        html,
        etag,
    }
});

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// `GET /` and the client's assets under `/static/`.
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/", web::get().to(index));
    cfg.route("/static/{path:.*}", web::get().to(asset));
}

async fn index(req: HttpRequest) -> HttpResponse {
    let page = &*PAGE;
    respond(
        &req,
        &page.etag,
        "text/html; charset=utf-8",
        REVALIDATE,
        || page.html.clone(),
    )
}

async fn asset(req: HttpRequest, path: web::Path<String>) -> HttpResponse {
    let path = path.into_inner();
    let (name, cache) = match path.split_once('/') {
        Some((version, rest)) if version == PAGE.version => (rest, IMMUTABLE),
        Some((version, rest)) if is_version(version) => (rest, REVALIDATE),
        _ => (path.as_str(), REVALIDATE),
    };
    let Some(file) = Files::get(name).filter(|_| name != "index.html") else {
        return HttpResponse::NotFound()
            .insert_header((header::CACHE_CONTROL, REVALIDATE))
            .json(ErrorBody::new("Not Found"));
    };
    let etag = format!("\"{}\"", hex(&file.metadata.sha256_hash()[..16]));
    respond(&req, &etag, content_type(name), cache, || {
        file.data.into_owned()
    })
}

fn is_version(segment: &str) -> bool {
    segment.len() == 12 && segment.bytes().all(|b| b.is_ascii_hexdigit())
}

fn respond(
    req: &HttpRequest,
    etag: &str,
    content_type: &str,
    cache: &'static str,
    body: impl FnOnce() -> Vec<u8>,
) -> HttpResponse {
    let matches = req
        .headers()
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| etag_matches(v, etag));
    let mut res = if matches {
        HttpResponse::NotModified()
    } else {
        HttpResponse::Ok()
    };
    res.insert_header((header::ETAG, etag))
        .insert_header((header::CACHE_CONTROL, cache))
        .insert_header((
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static(CONTENT_SECURITY_POLICY),
        ))
        .insert_header((header::X_CONTENT_TYPE_OPTIONS, "nosniff"))
        .insert_header((header::REFERRER_POLICY, "no-referrer"))
        .insert_header((header::X_FRAME_OPTIONS, "DENY"));
    if matches {
        return res.finish();
    }
    res.content_type(content_type).body(body())
}

fn content_type(name: &str) -> &'static str {
    match name.rsplit_once('.').map(|(_, ext)| ext) {
        Some("html") => "text/html; charset=utf-8",
        Some("js" | "mjs") => "text/javascript; charset=utf-8",
        Some("css") => "text/css; charset=utf-8",
        Some("svg") => "image/svg+xml",
        Some("png") => "image/png",
        Some("ico") => "image/x-icon",
        Some("json" | "webmanifest") => "application/json",
        Some("txt" | "md") => "text/plain; charset=utf-8",
        Some("woff2") => "font/woff2",
        _ => "application/octet-stream",
    }
}

//! Response compression: large API bodies as the client's Accept-Encoding
//! asks, small ones as they are, the ETag weak when the bytes are encoded.

use std::io::Read;

use actix_web::test::TestRequest;
use sqlx::PgPool;

use crate::helpers::{TestApp, TestResponse};

async fn get_encoded(app: &TestApp, path: &str, accept: &str) -> TestResponse {
    app.send(
        TestRequest::get()
            .uri(path)
            .insert_header(("Accept-Encoding", accept)),
    )
    .await
}

/// An app with a post list of several KiB.
async fn app_with_posts(pool: PgPool) -> TestApp {
    let app = TestApp::new(pool).await;
    let (_, token) = app.user("writer").await;
    for i in 0..20 {
        let text = format!("post number {i} with some text to make the list worth compressing");
        app.create_post(&token, &text, None).await;
    }
    app
}

#[sqlx::test(migrator = "pamps::db::MIGRATOR")]
async fn large_lists_are_gzipped_with_a_weak_etag_and_decode_to_the_plain_body(pool: PgPool) {
    let app = app_with_posts(pool).await;
    let plain = app.get("/post/", None).await;
    plain.assert_status(200);
    assert!(plain.header("content-encoding").is_none());
    assert!(plain.body.len() as u64 >= pamps::compression::MIN_BYTES);
    let strong = plain.header("etag").unwrap().to_owned();
    assert!(!strong.starts_with("W/"), "{strong}");

    let gz = get_encoded(&app, "/post/", "gzip").await;
    gz.assert_status(200);
    assert_eq!(gz.header("content-encoding"), Some("gzip"));
    assert_eq!(gz.header("etag"), Some(format!("W/{strong}").as_str()));
    assert!(
        gz.body.len() < plain.body.len() / 2,
        "{} bytes",
        gz.body.len()
    );
    let mut decoded = Vec::new();
    flate2::read::GzDecoder::new(gz.body.as_slice())
        .read_to_end(&mut decoded)
        .unwrap();
    assert_eq!(decoded, plain.body);

    let again = app
        .send(
            TestRequest::get()
                .uri("/post/")
                .insert_header(("Accept-Encoding", "gzip"))
                .insert_header(("If-None-Match", format!("W/{strong}"))),
        )
        .await;
    again.assert_status(304);
}

#[sqlx::test(migrator = "pamps::db::MIGRATOR")]
async fn brotli_is_chosen_when_preferred(pool: PgPool) {
    let app = app_with_posts(pool).await;
    let plain = app.get("/post/", None).await;
    let res = get_encoded(&app, "/post/", "br;q=1.0, gzip;q=0.5").await;
    assert_eq!(res.header("content-encoding"), Some("br"));
    let mut decoded = Vec::new();
    brotli_decompressor::Decompressor::new(res.body.as_slice(), 4096)
        .read_to_end(&mut decoded)
        .unwrap();
    assert_eq!(decoded, plain.body);
}

#[sqlx::test(migrator = "pamps::db::MIGRATOR")]
async fn small_bodies_and_errors_are_sent_as_they_are(pool: PgPool) {
    let app = TestApp::new(pool).await;
    for path in ["/health", "/post/999999/", "/user/nobody/"] {
        let res = get_encoded(&app, path, "gzip, br").await;
        assert!(
            res.header("content-encoding").is_none(),
            "{path}: {:?}",
            res.headers
        );
        assert!((res.body.len() as u64) < pamps::compression::MIN_BYTES);
        res.json();
    }
}

#[sqlx::test(migrator = "pamps::db::MIGRATOR")]
async fn identity_is_honoured_for_large_bodies(pool: PgPool) {
    let app = app_with_posts(pool).await;
    let res = get_encoded(&app, "/post/", "identity").await;
    res.assert_status(200);
    assert!(res.header("content-encoding").is_none());
    res.json();
}

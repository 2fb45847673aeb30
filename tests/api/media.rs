//! Pictures: uploads, alt text, serving, attaching to posts, deleting,
//! sweeping, avatars and headers.

use std::io::Cursor;
use std::path::Path;

use actix_web::test::TestRequest;
use image::{DynamicImage, ImageFormat, RgbImage};
use serde_json::{Value, json};
use sqlx::PgPool;

use crate::helpers::{TestApp, TestResponse};

/// A picture of `width` x `height` in `format`, with a gradient (so the
/// re-encoded bytes cannot match by accident).
pub fn picture(width: u32, height: u32, format: ImageFormat) -> Vec<u8> {
    let rgb = RgbImage::from_fn(width, height, |x, y| {
        image::Rgb([
            (x * 7 % 256) as u8,
            (y * 5 % 256) as u8,
            ((x + y) % 256) as u8,
        ])
    });
    let mut out = Vec::new();
    DynamicImage::ImageRgb8(rgb)
        .write_to(&mut Cursor::new(&mut out), format)
        .unwrap();
    out
}

/// A JPEG carrying an EXIF segment with a GPS position and a marker.
pub fn jpeg_with_exif() -> Vec<u8> {
    let plain = picture(64, 48, ImageFormat::Jpeg);
    let mut exif = b"Exif\0\0II*\0\x08\0\0\0".to_vec();
    exif.extend_from_slice(b"GPS 51.5007N 0.1246W SECRET-LOCATION");
    let mut out = plain[..2].to_vec();
    out.extend_from_slice(&[0xFF, 0xE1]);
    out.extend_from_slice(&((exif.len() + 2) as u16).to_be_bytes());
    out.extend_from_slice(&exif);
    out.extend_from_slice(&plain[2..]);
    out
}

const BOUNDARY: &str = "pamps-test-boundary-7MA4YWxkTrZu0gW";

/// One part of a multipart body: name, filename, content type, bytes.
pub type Part<'a> = (&'a str, Option<&'a str>, Option<&'a str>, &'a [u8]);

/// A `multipart/form-data` body.
pub fn multipart(parts: &[Part<'_>]) -> Vec<u8> {
    let mut body = Vec::new();
    for (name, filename, content_type, bytes) in parts {
        body.extend_from_slice(format!("--{BOUNDARY}\r\n").as_bytes());
        let filename = filename.map_or_else(String::new, |f| format!("; filename=\"{f}\""));
        body.extend_from_slice(
            format!("Content-Disposition: form-data; name=\"{name}\"{filename}\r\n").as_bytes(),
        );
        if let Some(ct) = content_type {
            body.extend_from_slice(format!("Content-Type: {ct}\r\n").as_bytes());
        }
        body.extend_from_slice(b"\r\n");
        body.extend_from_slice(bytes);
        body.extend_from_slice(b"\r\n");
    }
    body.extend_from_slice(format!("--{BOUNDARY}--\r\n").as_bytes());
    body
}

/// POSTs a multipart body to `path`.
pub async fn send_multipart(app: &TestApp, path: &str, token: &str, body: Vec<u8>) -> TestResponse {
    app.send(
        TestRequest::post()
            .uri(path)
            .insert_header(("Authorization", format!("Bearer {token}")))
            .insert_header((
                "Content-Type",
                format!("multipart/form-data; boundary={BOUNDARY}"),
            ))
            .set_payload(body),
    )
    .await
}

/// Uploads `bytes` as `content_type` with alt text.
pub async fn upload(
    app: &TestApp,
    token: &str,
    bytes: &[u8],
    content_type: &str,
    description: &str,
) -> TestResponse {
    let body = multipart(&[
        ("description", None, None, description.as_bytes()),
        ("file", Some("picture"), Some(content_type), bytes),
    ]);
    send_multipart(app, "/media/", token, body).await
}

/// Uploads a small PNG; its JSON.
pub async fn upload_png(app: &TestApp, token: &str) -> Value {
    let res = upload(
        app,
        token,
        &picture(30, 20, ImageFormat::Png),
        "image/png",
        "",
    )
    .await;
    res.assert_status(201);
    res.json()
}

/// An app whose files go under `dir`.
pub async fn app_in(pool: PgPool, dir: &Path) -> TestApp {
    TestApp::with_settings(pool, &[("PAMPS_MEDIA__ROOT", dir.to_str().unwrap())]).await
}

/// The stored files' names under `dir`, sorted.
pub fn stored(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    names.sort();
    names
}

/// The key of a `/media/files/KEY` URL.
pub fn key_of(url: &Value) -> String {
    url.as_str().unwrap().rsplit('/').next().unwrap().to_owned()
}

#[sqlx::test]
async fn upload_returns_201_with_the_attachment_and_stores_re_encoded_files(pool: PgPool) {
    let dir = tempfile::tempdir().unwrap();
    let app = app_in(pool, dir.path()).await;
    let (id, token) = app.user("alice").await;
    let original = picture(800, 600, ImageFormat::Png);
    let res = upload(&app, &token, &original, "image/png", "  A gradient  ").await;
    res.assert_status(201);
    let body = res.json();
    let media_id = body["id"].as_i64().unwrap();
    assert_eq!(
        res.header("location"),
        Some(format!("/media/{media_id}/").as_str())
    );
    assert_eq!(body["type"], "image");
    assert_eq!(body["description"], "A gradient");
    assert_eq!(
        body["meta"],
        json!({"original": {"width": 800, "height": 600}, "small": {"width": 400, "height": 300}})
    );
    assert_eq!(body["blurhash"].as_str().unwrap().len(), 28);
    let (url, preview) = (key_of(&body["url"]), key_of(&body["preview_url"]));
    assert!(body["url"].as_str().unwrap().starts_with("/media/files/"));
    assert_eq!(stored(dir.path()), {
        let mut both = vec![url.clone(), preview.clone()];
        both.sort();
        both
    });
    let full = std::fs::read(dir.path().join(&url)).unwrap();
    assert_ne!(full, original, "the uploaded bytes are never stored");
    let decoded = image::load_from_memory(&full).unwrap();
    assert_eq!((decoded.width(), decoded.height()), (800, 600));
    let row: (i64, String, Option<i64>, String) =
        sqlx::query_as("SELECT user_id, description, post_id, purpose FROM media WHERE id = $1")
            .bind(media_id)
            .fetch_one(&app.pool)
            .await
            .unwrap();
    assert_eq!(row, (id, "A gradient".into(), None, "post".into()));
}

#[sqlx::test]
async fn each_accepted_format_is_re_encoded(pool: PgPool) {
    let dir = tempfile::tempdir().unwrap();
    let app = app_in(pool, dir.path()).await;
    let (_, token) = app.user("alice").await;
    for (format, ct, served) in [
        (ImageFormat::Png, "image/png", "image/png"),
        (ImageFormat::Jpeg, "image/jpeg", "image/jpeg"),
        (ImageFormat::Gif, "image/gif", "image/png"),
        (ImageFormat::WebP, "image/webp", "image/png"),
    ] {
        let original = picture(40, 30, format);
        let res = upload(&app, &token, &original, ct, "").await;
        res.assert_status(201);
        let file = app.get(res.json()["url"].as_str().unwrap(), None).await;
        file.assert_status(200);
        assert_eq!(file.header("content-type"), Some(served), "{ct}");
        assert_ne!(file.body, original, "{ct}");
        assert_eq!(image::load_from_memory(&file.body).unwrap().width(), 40);
    }
}

#[sqlx::test]
async fn exif_and_gps_are_stripped_from_a_jpeg(pool: PgPool) {
    let dir = tempfile::tempdir().unwrap();
    let app = app_in(pool, dir.path()).await;
    let (_, token) = app.user("alice").await;
    let original = jpeg_with_exif();
    assert!(original.windows(15).any(|w| w == b"SECRET-LOCATION"));
    let res = upload(&app, &token, &original, "image/jpeg", "").await;
    res.assert_status(201);
    for name in stored(dir.path()) {
        let bytes = std::fs::read(dir.path().join(&name)).unwrap();
        assert!(!bytes.windows(4).any(|w| w == b"Exif"), "{name} has EXIF");
        assert!(
            !bytes.windows(15).any(|w| w == b"SECRET-LOCATION"),
            "{name}"
        );
    }
}

#[sqlx::test]
async fn files_are_served_inert_and_cached_for_good(pool: PgPool) {
    let dir = tempfile::tempdir().unwrap();
    let app = app_in(pool, dir.path()).await;
    let (_, token) = app.user("alice").await;
    let body = upload_png(&app, &token).await;
    for url in [&body["url"], &body["preview_url"]] {
        let res = app.get(url.as_str().unwrap(), None).await;
        res.assert_status(200);
        assert_eq!(res.header("content-type"), Some("image/png"));
        assert_eq!(res.header("x-content-type-options"), Some("nosniff"));
        assert_eq!(
            res.header("content-security-policy"),
            Some("default-src 'none'; sandbox")
        );
        assert_eq!(
            res.header("cache-control"),
            Some("public, max-age=31536000, immutable")
        );
        let on_disk = std::fs::read(dir.path().join(key_of(url))).unwrap();
        assert_eq!(res.body, on_disk);
    }
}

#[sqlx::test]
async fn unknown_or_malformed_file_names_are_404(pool: PgPool) {
    let dir = tempfile::tempdir().unwrap();
    let app = app_in(pool, dir.path()).await;
    for path in [
        "/media/files/0123456789abcdef0123456789abcdef.png",
        "/media/files/..%2F..%2Fetc%2Fpasswd",
        "/media/files/x.html",
    ] {
        let res = app.get(path, None).await;
        res.assert_status(404);
        assert_eq!(res.json(), json!({"detail": "File not found"}), "{path}");
    }
}

#[sqlx::test]
async fn upload_without_token_returns_401_and_stores_nothing(pool: PgPool) {
    let dir = tempfile::tempdir().unwrap();
    let app = app_in(pool, dir.path()).await;
    let res = upload(
        &app,
        "not-a-token",
        &picture(10, 10, ImageFormat::Png),
        "image/png",
        "",
    )
    .await;
    res.assert_status(401);
    assert_eq!(
        res.json(),
        json!({"detail": "Could not validate credentials"})
    );
    assert_eq!(app.count("media").await, 0);
    assert!(stored(dir.path()).is_empty());
}

#[sqlx::test]
async fn refused_uploads_get_clear_errors_and_store_nothing(pool: PgPool) {
    let dir = tempfile::tempdir().unwrap();
    let app = app_in(pool, dir.path()).await;
    let (_, token) = app.user("alice").await;
    let png = picture(10, 10, ImageFormat::Png);
    let cases: Vec<(Vec<u8>, u16, &str)> = vec![
        (
            multipart(&[("file", Some("a.png"), Some("image/jpeg"), &png)]),
            422,
            "is not a image/jpeg picture",
        ),
        (
            multipart(&[(
                "file",
                Some("a.html"),
                Some("text/html"),
                b"<script>alert(1)</script>",
            )]),
            422,
            "must be a PNG, JPEG, GIF or WebP",
        ),
        (
            multipart(&[("file", Some("a.png"), None, &png)]),
            422,
            "must be a PNG, JPEG, GIF or WebP",
        ),
        (
            multipart(&[("description", None, None, b"no file")]),
            422,
            "file is required",
        ),
        (
            multipart(&[
                ("description", None, None, "x".repeat(1501).as_bytes()),
                ("file", Some("a.png"), Some("image/png"), &png),
            ]),
            422,
            "description must be at most 1500",
        ),
        (b"--nope\r\n\r\n".to_vec(), 400, "Malformed multipart"),
    ];
    for (body, status, detail) in cases {
        let res = send_multipart(&app, "/media/", &token, body).await;
        res.assert_status(status);
        assert!(
            res.body
                .windows(detail.len())
                .any(|w| w == detail.as_bytes()),
            "{:?}",
            res.json()
        );
    }
    let json_body = app
        .post("/media/", &json!({"file": "x"}), Some(&token))
        .await;
    json_body.assert_status(415);
    assert_eq!(
        json_body.json(),
        json!({"detail": "Send the picture as multipart/form-data"})
    );
    assert_eq!(app.count("media").await, 0);
    assert!(stored(dir.path()).is_empty());
}

#[sqlx::test]
async fn an_upload_over_the_byte_limit_returns_413(pool: PgPool) {
    let dir = tempfile::tempdir().unwrap();
    let app = TestApp::with_settings(
        pool,
        &[
            ("PAMPS_MEDIA__ROOT", dir.path().to_str().unwrap()),
            ("PAMPS_MEDIA__MAX_BYTES", "2000"),
        ],
    )
    .await;
    let (_, token) = app.user("alice").await;
    let big = picture(300, 300, ImageFormat::Png);
    assert!(big.len() > 2000);
    let res = upload(&app, &token, &big, "image/png", "").await;
    res.assert_status(413);
    assert_eq!(
        res.json(),
        json!({"detail": "Request body is larger than 2000 bytes"})
    );
    let small = upload(
        &app,
        &token,
        &picture(8, 8, ImageFormat::Png),
        "image/png",
        "",
    )
    .await;
    small.assert_status(201);
    assert_eq!(app.count("media").await, 1);
}

#[sqlx::test]
async fn alt_text_is_set_with_put_and_uploads_are_private(pool: PgPool) {
    let dir = tempfile::tempdir().unwrap();
    let app = app_in(pool, dir.path()).await;
    let (_, alice) = app.user("alice").await;
    let (_, bob) = app.user("bob").await;
    let media = upload_png(&app, &alice).await;
    assert_eq!(media["description"], Value::Null);
    let path = format!("/media/{}/", media["id"]);
    let put = |body: Value, token: String| {
        let path = path.clone();
        let app = &app;
        async move {
            app.send(
                TestRequest::put()
                    .uri(&path)
                    .insert_header(("Authorization", format!("Bearer {token}")))
                    .set_json(body),
            )
            .await
        }
    };
    let res = put(json!({"description": "A cat on a mat"}), alice.clone()).await;
    res.assert_status(200);
    assert_eq!(res.json()["description"], "A cat on a mat");
    let got = app.get(&path, Some(&alice)).await;
    got.assert_status(200);
    assert_eq!(got.json(), res.json());
    let too_long = put(json!({"description": "é".repeat(1501)}), alice.clone()).await;
    too_long.assert_status(422);
    assert_eq!(too_long.error_locs(), vec![vec!["body", "description"]]);
    for res in [
        put(json!({"description": "mine now"}), bob.clone()).await,
        app.get(&path, Some(&bob)).await,
    ] {
        res.assert_status(404);
        assert_eq!(res.json(), json!({"detail": "Media not found"}));
    }
    app.get(&path, None).await.assert_status(401);
    let description: String = sqlx::query_scalar("SELECT description FROM media")
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert_eq!(description, "A cat on a mat");
}

#[sqlx::test]
async fn a_post_takes_up_to_four_uploads_in_order_and_shows_them(pool: PgPool) {
    let dir = tempfile::tempdir().unwrap();
    let app = app_in(pool, dir.path()).await;
    let (_, token) = app.user("alice").await;
    let mut ids = Vec::new();
    for _ in 0..4 {
        ids.push(upload_png(&app, &token).await["id"].as_i64().unwrap());
    }
    ids.reverse();
    let res = app
        .post(
            "/post/",
            &json!({"text": "four pictures", "media_ids": ids}),
            Some(&token),
        )
        .await;
    res.assert_status(201);
    let post = res.json();
    let shown: Vec<i64> = post["media"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["id"].as_i64().unwrap())
        .collect();
    assert_eq!(shown, ids);
    let read = app
        .get(&format!("/post/{}/", post["id"]), None)
        .await
        .json();
    assert_eq!(read["media"], post["media"]);
    let listed = app.get("/post/", None).await.json();
    assert_eq!(listed[0]["media"], post["media"]);
    let plain = app
        .post("/post/", &json!({"text": "no pictures"}), Some(&token))
        .await
        .json();
    assert_eq!(plain["media"], json!([]));
    let rows: Vec<(i64, i16)> =
        sqlx::query_as("SELECT id, position FROM media WHERE post_id = $1 ORDER BY position")
            .bind(post["id"].as_i64().unwrap())
            .fetch_all(&app.pool)
            .await
            .unwrap();
    assert_eq!(
        rows,
        ids.iter()
            .enumerate()
            .map(|(i, id)| (*id, i as i16))
            .collect::<Vec<_>>()
    );
}

#[sqlx::test]
async fn media_ids_that_are_not_ones_own_unattached_uploads_return_422_and_create_no_post(
    pool: PgPool,
) {
    let dir = tempfile::tempdir().unwrap();
    let app = app_in(pool, dir.path()).await;
    let (_, alice) = app.user("alice").await;
    let (_, bob) = app.user("bob").await;
    let bobs = upload_png(&app, &bob).await["id"].as_i64().unwrap();
    let used = upload_png(&app, &alice).await["id"].as_i64().unwrap();
    app.post(
        "/post/",
        &json!({"text": "first", "media_ids": [used]}),
        Some(&alice),
    )
    .await
    .assert_status(201);
    let mut five = Vec::new();
    for _ in 0..5 {
        five.push(upload_png(&app, &alice).await["id"].as_i64().unwrap());
    }
    let posts_before = app.count("posts").await;
    for ids in [
        vec![bobs],
        vec![used],
        vec![999_999],
        five.clone(),
        vec![five[0], five[0]],
    ] {
        let res = app
            .post(
                "/post/",
                &json!({"text": "hi", "media_ids": ids}),
                Some(&alice),
            )
            .await;
        res.assert_status(422);
        assert_eq!(res.error_locs(), vec![vec!["body", "media_ids"]], "{ids:?}");
    }
    assert_eq!(app.count("posts").await, posts_before);
    let attached: i64 = sqlx::query_scalar("SELECT count(*) FROM media WHERE post_id IS NOT NULL")
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert_eq!(attached, 1);
}

#[sqlx::test]
async fn two_posts_racing_for_one_upload_never_both_get_it(pool: PgPool) {
    let dir = tempfile::tempdir().unwrap();
    let app = app_in(pool, dir.path()).await;
    let (_, token) = app.user("alice").await;
    for round in 0..15 {
        let id = upload_png(&app, &token).await["id"].as_i64().unwrap();
        let body = json!({"text": format!("race {round}"), "media_ids": [id]});
        let (a, b) = tokio::join!(
            app.post("/post/", &body, Some(&token)),
            app.post("/post/", &body, Some(&token))
        );
        let mut statuses = [a.status.as_u16(), b.status.as_u16()];
        statuses.sort();
        assert_eq!(statuses, [201, 422], "round {round}");
        let holders: i64 = sqlx::query_scalar(
            "SELECT count(*) FROM posts p WHERE EXISTS (SELECT 1 FROM media m WHERE m.post_id = p.id AND m.id = $1)",
        )
        .bind(id)
        .fetch_one(&app.pool)
        .await
        .unwrap();
        assert_eq!(holders, 1);
    }
    assert_eq!(app.count("posts").await, 15);
}

#[sqlx::test]
async fn deleting_a_post_removes_its_pictures_and_files(pool: PgPool) {
    let dir = tempfile::tempdir().unwrap();
    let app = app_in(pool, dir.path()).await;
    let (_, token) = app.user("alice").await;
    let kept = upload_png(&app, &token).await;
    let gone = upload_png(&app, &token).await;
    let post = app
        .post(
            "/post/",
            &json!({"text": "soon gone", "media_ids": [gone["id"]]}),
            Some(&token),
        )
        .await
        .json();
    assert_eq!(stored(dir.path()).len(), 4);
    app.delete_post(&token, post["id"].as_i64().unwrap()).await;
    let mut left = vec![key_of(&kept["url"]), key_of(&kept["preview_url"])];
    left.sort();
    assert_eq!(stored(dir.path()), left);
    assert_eq!(app.count("media").await, 1);
    assert_eq!(app.count("media_trash").await, 0);
    app.get(gone["url"].as_str().unwrap(), None)
        .await
        .assert_status(404);
}

/// Deleting a post without pictures leaves the media trash to the sweep: a
/// file queued earlier (here by hand) is still queued after it, and goes
/// with the next delete of a post that had pictures.
#[sqlx::test]
async fn deleting_a_post_without_pictures_does_not_empty_the_trash(pool: PgPool) {
    let dir = tempfile::tempdir().unwrap();
    let app = app_in(pool, dir.path()).await;
    let (_, token) = app.user("alice").await;
    sqlx::query("INSERT INTO media_trash (file_key) VALUES ('queued-earlier.png')")
        .execute(&app.pool)
        .await
        .unwrap();
    let plain = app.create_post(&token, "no pictures", None).await;
    app.delete_post(&token, plain).await;
    assert_eq!(app.count("media_trash").await, 1);
    let picture = upload_png(&app, &token).await;
    let post = app
        .post(
            "/post/",
            &json!({"text": "with a picture", "media_ids": [picture["id"]]}),
            Some(&token),
        )
        .await
        .json();
    app.delete_post(&token, post["id"].as_i64().unwrap()).await;
    assert_eq!(app.count("media_trash").await, 0);
    assert!(stored(dir.path()).is_empty());
}

#[sqlx::test]
async fn the_sweep_removes_day_old_unattached_uploads_only_and_skips_when_locked(pool: PgPool) {
    let dir = tempfile::tempdir().unwrap();
    let app = app_in(pool.clone(), dir.path()).await;
    let (_, token) = app.user("alice").await;
    let old = upload_png(&app, &token).await;
    let fresh = upload_png(&app, &token).await;
    let attached = upload_png(&app, &token).await;
    app.post(
        "/post/",
        &json!({"text": "kept", "media_ids": [attached["id"]]}),
        Some(&token),
    )
    .await
    .assert_status(201);
    sqlx::query("UPDATE media SET created_at = now() - interval '25 hours' WHERE id = ANY ($1)")
        .bind(vec![
            old["id"].as_i64().unwrap(),
            attached["id"].as_i64().unwrap(),
        ])
        .execute(&pool)
        .await
        .unwrap();
    let settings =
        crate::helpers::test_settings(&[("PAMPS_MEDIA__ROOT", dir.path().to_str().unwrap())]);
    let media = pamps::media::Media::new(&settings.media);
    let mut holder = pool.begin().await.unwrap();
    sqlx::query("SELECT pg_advisory_xact_lock($1)")
        .bind(0x006d_6564_6961_i64)
        .execute(&mut *holder)
        .await
        .unwrap();
    assert_eq!(
        pamps::media::sweep::sweep_once(&pool, &media)
            .await
            .unwrap(),
        None
    );
    assert_eq!(app.count("media").await, 3);
    holder.rollback().await.unwrap();
    assert_eq!(
        pamps::media::sweep::sweep_once(&pool, &media)
            .await
            .unwrap(),
        Some((1, 2))
    );
    let ids: Vec<i64> = sqlx::query_scalar("SELECT id FROM media ORDER BY id")
        .fetch_all(&pool)
        .await
        .unwrap();
    assert_eq!(
        ids,
        vec![
            fresh["id"].as_i64().unwrap(),
            attached["id"].as_i64().unwrap()
        ]
    );
    assert!(!stored(dir.path()).contains(&key_of(&old["url"])));
    assert_eq!(stored(dir.path()).len(), 4);
}

#[sqlx::test]
async fn avatar_and_header_uploads_set_the_profile_and_replace_the_old_files(pool: PgPool) {
    let dir = tempfile::tempdir().unwrap();
    let app = app_in(pool, dir.path()).await;
    let (id, token) = app.user("alice").await;
    let png = picture(500, 500, ImageFormat::Png);
    let body = || multipart(&[("file", Some("me.png"), Some("image/png"), &png)]);
    let first = send_multipart(&app, "/user/me/avatar/", &token, body()).await;
    first.assert_status(200);
    let profile = first.json();
    assert_eq!(profile["id"], id);
    let avatar = profile["avatar"].as_str().unwrap().to_owned();
    assert!(avatar.contains("/media/files/"), "{avatar}");
    let path = &avatar[avatar.find("/media/files/").unwrap()..];
    app.get(path, None).await.assert_status(200);
    let second = send_multipart(&app, "/user/me/avatar/", &token, body())
        .await
        .json();
    assert_ne!(second["avatar"], profile["avatar"]);
    app.get(path, None).await.assert_status(404);
    let header = send_multipart(&app, "/user/me/header/", &token, body()).await;
    header.assert_status(200);
    let header = header.json();
    assert!(header["header"].as_str().unwrap().contains("/media/files/"));
    assert_eq!(header["avatar"], second["avatar"]);
    assert_eq!(app.profile("alice", None).await["header"], header["header"]);
    assert_eq!(stored(dir.path()).len(), 4);
    let purposes: Vec<String> = sqlx::query_scalar("SELECT purpose FROM media ORDER BY id")
        .fetch_all(&app.pool)
        .await
        .unwrap();
    assert_eq!(purposes, ["avatar", "header"]);
    let bad = send_multipart(
        &app,
        "/user/me/avatar/",
        &token,
        multipart(&[("file", Some("x"), Some("image/png"), b"not a png")]),
    )
    .await;
    bad.assert_status(422);
    assert_eq!(bad.error_locs(), vec![vec!["body", "file"]]);
    send_multipart(&app, "/user/me/header/", "bad-token", body())
        .await
        .assert_status(401);
}

#[sqlx::test]
async fn deleting_an_account_queues_its_files_for_removal(pool: PgPool) {
    let dir = tempfile::tempdir().unwrap();
    let app = app_in(pool.clone(), dir.path()).await;
    let (id, token) = app.user("alice").await;
    upload_png(&app, &token).await;
    sqlx::query("DELETE FROM users WHERE id = $1")
        .bind(id)
        .execute(&pool)
        .await
        .unwrap();
    assert_eq!(app.count("media_trash").await, 2);
    let settings =
        crate::helpers::test_settings(&[("PAMPS_MEDIA__ROOT", dir.path().to_str().unwrap())]);
    let media = pamps::media::Media::new(&settings.media);
    assert_eq!(media.empty_trash(&pool).await.unwrap(), 2);
    assert!(stored(dir.path()).is_empty());
    assert_eq!(app.count("media_trash").await, 0);
}
